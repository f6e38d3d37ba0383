//! The wrapping forms of RFC 3261 §23, RFC 3893 and RFC 8591, built from a message.
//!
//! Every form is written once here and shared by sign and encrypt:
//! - `multipart/signed` with a detached `application/pkcs7-signature` (RFC 3261 §23.2, RFC 1847):
//!   over the body (`body`), over a `message/sip` copy (`sip`, §23.4) or over a
//!   `message/sipfrag` Authenticated Identity Body (`aib`, RFC 3893), the latter beside the
//!   original body in `multipart/mixed`;
//! - `application/pkcs7-mime; smime-type=signed-data` with the content attached (`cms`,
//!   RFC 8591);
//! - `application/pkcs7-mime; smime-type=enveloped-data` (or `auth-enveloped-data`, RFC 8591
//!   §4.2) of the body or of a `message/sip` copy (§23.4.3).
//!
//! The signature is made over the first part's octets exactly as they are then written: the
//! part is rendered once, signed, and the written multipart is checked to hold those very bytes.

use super::inner::{body_header_name, InnerPolicy, BODY_HEADERS};
use crate::crypto::{self, CmsEncryptOptions, CmsError, CmsSignOptions, Signer};
use crate::error::ParseError;
use crate::message::{unfold, HeaderKind, LineEnding, Message};
use crate::mime::{self, BuildError, Part, PartHead, WrittenPart};
use crate::uri::Aor;

/// Why a wrapping form could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    #[error("the message has no body to {0}")]
    NoBody(&'static str),
    #[error("the body has no Content-Type, so its type cannot be carried inside")]
    NoContentType,
    #[error("the message lacks {0}, which the identity body must carry")]
    MissingHeader(&'static str),
    #[error("a header of the message does not parse: {0}")]
    Parse(#[from] ParseError),
    #[error("building the MIME body: {0}")]
    Build(#[from] BuildError),
    #[error(transparent)]
    Cms(#[from] CmsError),
    #[error("the written first part differs from the signed octets")]
    SignedPartMismatch,
}

/// The `handling` parameter of Content-Disposition (RFC 3261 §20.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Required,
    Optional,
}

impl Handling {
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Required => "required",
            Handling::Optional => "optional",
        }
    }
}

/// Content-Transfer-Encoding of the CMS bodies: binary (RFC 3853 §3) or base64 for peers that
/// cannot take binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfer {
    #[default]
    Binary,
    Base64,
}

impl Transfer {
    pub fn as_str(self) -> &'static str {
        match self {
            Transfer::Binary => "binary",
            Transfer::Base64 => "base64",
        }
    }

    /// The DER as it is written: unchanged, or base64 in lines of 76 (RFC 2045 §6.8).
    fn encode(self, der: Vec<u8>, eol: LineEnding) -> Vec<u8> {
        match self {
            Transfer::Binary => der,
            Transfer::Base64 => {
                let text = openssl::base64::encode_block(&der);
                let mut out = Vec::with_capacity(text.len() + text.len() / 38);
                for (i, line) in text.as_bytes().chunks(76).enumerate() {
                    if i > 0 {
                        out.extend_from_slice(eol.as_bytes());
                    }
                    out.extend_from_slice(line);
                }
                out
            }
        }
    }
}

/// A MIME entity: the header fields that describe a body, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Entity {
    /// A MIME part read back (e.g. the first part of a signature being replaced).
    pub fn of_part(part: &Part<'_>) -> Entity {
        Entity {
            headers: part
                .fields()
                .iter()
                .map(|f| {
                    (
                        String::from_utf8_lossy(part.field_name(f)).into_owned(),
                        unfold(part.field_value(f)).into_owned(),
                    )
                })
                .collect(),
            body: part.body().to_vec(),
        }
    }
}

/// The body of `message` with its describing headers ([`BODY_HEADERS`], unfolded, under their
/// full names), written as a MIME entity straight from the message. Refused when there is no
/// body or no Content-Type.
pub fn body_entity(message: &Message, purpose: &'static str) -> Result<WrittenPart, WrapError> {
    if message.body().is_empty() {
        return Err(WrapError::NoBody(purpose));
    }
    let mut head = PartHead::new(message.line_ending());
    let mut has_type = false;
    for f in message.fields() {
        if let Some(name) = body_header_name(message, f) {
            has_type |= name == BODY_HEADERS[0];
            head.field(name, &unfold(message.field_value(f)))?;
        }
    }
    if !has_type {
        return Err(WrapError::NoContentType);
    }
    Ok(head.content(message.body()))
}

/// A Date value in the RFC 1123 form SIP requires (RFC 3261 §20.17), GMT.
pub fn format_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Written piece by piece: `format!` with its padding was most of what adding a Date cost.
    let mut out = String::with_capacity(29);
    out.push_str(DAYS[days.rem_euclid(7) as usize]);
    out.push_str(", ");
    push_padded(&mut out, day, 2);
    out.push(' ');
    out.push_str(MONTHS[(month - 1) as usize]);
    out.push(' ');
    push_padded(&mut out, year, 4);
    for (sep, value) in [(' ', secs / 3600), (':', secs / 60 % 60), (':', secs % 60)] {
        out.push(sep);
        push_padded(&mut out, value, 2);
    }
    out.push_str(" GMT");
    out
}

/// Appends `value` zero-padded to `width` digits, as `{value:0width$}` would.
fn push_padded(out: &mut String, value: i64, width: u32) {
    if !(0..10i64.pow(width)).contains(&value) {
        use std::fmt::Write;
        let _ = write!(out, "{value:0w$}", w = width as usize);
        return;
    }
    for place in (0..width).rev() {
        let digit = (value / 10i64.pow(place) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// Adds a Date header when the message has none (RFC 3261 §23.4.1: inner and outer carry the
/// same Date, so it is added before any inner copy is made). True when one was added.
pub fn ensure_date(message: &mut Message, now: i64) -> Result<bool, WrapError> {
    if message.value(HeaderKind::Date).is_some() {
        return Ok(false);
    }
    message.append_field("Date", format_date(now).as_bytes())?;
    Ok(true)
}

/// Replaces the body and the headers that describe it; Content-Length follows.
pub fn replace_body(
    message: &mut Message,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<(), WrapError> {
    // One pass over the index rather than a search per name; from the end, so the indices
    // still to visit stay valid.
    for i in (0..message.fields().len()).rev() {
        if body_header_name(message, &message.fields()[i]).is_some() {
            message.remove_field(i);
        }
    }
    for (name, value) in headers {
        message.append_field(name, value)?;
    }
    message.set_body(body)?;
    Ok(())
}

/// How to sign: the identity, the CMS options, and how the signature is presented.
pub struct SignSpec<'a> {
    pub signer: &'a Signer,
    /// Digest and whether certificates are included; `detached` is set by each form.
    pub options: CmsSignOptions,
    pub handling: Handling,
    pub transfer: Transfer,
}

/// A built body with the Content-Type that announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// `multipart/signed` over `first`, with a detached signature of exactly its octets.
pub fn multipart_signed(
    first: &WrittenPart,
    spec: &SignSpec<'_>,
    eol: LineEnding,
) -> Result<Wrapped, WrapError> {
    let options = CmsSignOptions {
        detached: true,
        ..spec.options.clone()
    };
    let der = crypto::sign(first.bytes(), spec.signer, &options)?;
    let disposition = match spec.handling {
        Handling::Required => "attachment;handling=required;filename=smime.p7s",
        Handling::Optional => "attachment;handling=optional;filename=smime.p7s",
    };
    let mut head = PartHead::new(eol);
    head.field(
        "Content-Type",
        b"application/pkcs7-signature;name=smime.p7s",
    )?
    .field("Content-Disposition", disposition.as_bytes())?
    .field(
        "Content-Transfer-Encoding",
        spec.transfer.as_str().as_bytes(),
    )?;
    let signature = head.content(&spec.transfer.encode(der, eol));
    let built = mime::build_multipart_written(&[first, &signature], eol)?;
    if built.part(0) != Some(first.bytes()) {
        return Err(WrapError::SignedPartMismatch);
    }
    let mut content_type = String::with_capacity(120);
    content_type.push_str("multipart/signed;protocol=\"application/pkcs7-signature\";micalg=");
    content_type.push_str(options.digest.micalg());
    content_type.push_str(";boundary=");
    content_type.push_str(&built.boundary);
    Ok(Wrapped {
        content_type,
        body: built.body,
    })
}

fn set_wrapped(message: &mut Message, wrapped: &Wrapped) -> Result<(), WrapError> {
    replace_body(
        message,
        &[("Content-Type", wrapped.content_type.as_bytes())],
        &wrapped.body,
    )
}

/// The `body` form: the body in `multipart/signed` (RFC 3261 §23.2). Headers stay as they are.
/// The sign forms take the message and change it into the result, rather than copy it.
pub fn sign_body(mut message: Message, spec: &SignSpec<'_>) -> Result<Message, WrapError> {
    let entity = body_entity(&message, "sign (the body form covers only the body)")?;
    let wrapped = multipart_signed(&entity, spec, message.line_ending())?;
    set_wrapped(&mut message, &wrapped)?;
    Ok(message)
}

/// The `sip` form: a cleaned copy of the whole message as `message/sip` in `multipart/signed`
/// (RFC 3261 §23.4). The outer message keeps its headers.
pub fn sign_sip(
    mut message: Message,
    policy: &InnerPolicy,
    spec: &SignSpec<'_>,
) -> Result<Message, WrapError> {
    let eol = message.line_ending();
    let mut head = PartHead::new(eol);
    head.field("Content-Type", b"message/sip")?;
    let part = head.content(policy.copy(&message).as_bytes());
    let wrapped = multipart_signed(&part, spec, eol)?;
    set_wrapped(&mut message, &wrapped)?;
    Ok(message)
}

fn header_value(message: &Message, kind: HeaderKind) -> Result<&[u8], WrapError> {
    message
        .value(kind)
        .ok_or(WrapError::MissingHeader(kind.name().unwrap_or("a header")))
}

/// Appends the `message/sipfrag` of an Authenticated Identity Body (RFC 3893 §2, §5, §6) to
/// `out`. A request's carries From, To, Contact, Date, Call-ID, CSeq. A response's From is the
/// responder (`signed_as`), the request's To is left out, and Contact, Date, Call-ID, CSeq are
/// the response's own.
pub fn write_aib_fragment(
    out: &mut Vec<u8>,
    message: &Message,
    signed_as: &Aor,
) -> Result<(), WrapError> {
    let eol = message.line_ending();
    let mut field = |name: &str, raw: &[u8]| mime::write_field(out, name, &unfold(raw), eol);
    if message.is_request() {
        field("From", header_value(message, HeaderKind::From)?)?;
        field("To", header_value(message, HeaderKind::To)?)?;
    } else {
        let to = message.to()?;
        if to.uri().aor().as_ref() == Some(signed_as) {
            field("From", header_value(message, HeaderKind::To)?)?;
        } else {
            let mut v = format!("<sip:{signed_as}>").into_bytes();
            if let Some(tag) = to.tag() {
                v.extend_from_slice(b";tag=");
                v.extend_from_slice(tag);
            }
            field("From", &v)?;
        }
    }
    if let Some(contact) = message.value(HeaderKind::Contact) {
        field("Contact", contact)?;
    }
    // Each is looked up before anything is written for it, so a missing one is named.
    for kind in [HeaderKind::Date, HeaderKind::CallId, HeaderKind::CSeq] {
        let value = header_value(message, kind)?;
        field(kind.name().unwrap_or_default(), value)?;
    }
    Ok(())
}

/// The `aib` form: the signed AIB beside the original body in `multipart/mixed` (RFC 3893 §3),
/// or alone when the message has no body. The body is not covered by the signature.
pub fn sign_aib(
    mut message: Message,
    signed_as: &Aor,
    spec: &SignSpec<'_>,
) -> Result<Message, WrapError> {
    let eol = message.line_ending();
    let mut fragment = Vec::with_capacity(256);
    write_aib_fragment(&mut fragment, &message, signed_as)?;
    let mut head = PartHead::new(eol);
    head.field("Content-Type", b"message/sipfrag")?
        .field("Content-Disposition", b"aib;handling=optional")?;
    let signed = multipart_signed(&head.content(&fragment), spec, eol)?;
    let wrapped = if message.body().is_empty() {
        signed
    } else {
        let original = body_entity(&message, "carry")?;
        let mut head = PartHead::new(eol);
        head.field("Content-Type", signed.content_type.as_bytes())?;
        let signed_part = head.content(&signed.body);
        let mixed = mime::build_multipart_written(&[&original, &signed_part], eol)?;
        let mut content_type = String::from("multipart/mixed;boundary=");
        content_type.push_str(&mixed.boundary);
        Wrapped {
            content_type,
            body: mixed.body,
        }
    };
    set_wrapped(&mut message, &wrapped)?;
    Ok(message)
}

/// Sets an `application/pkcs7-mime` body with its disposition and transfer encoding.
fn set_pkcs7_mime(
    message: &mut Message,
    smime_type: &str,
    handling: Handling,
    transfer: Transfer,
    der: Vec<u8>,
) -> Result<(), WrapError> {
    let content_type = format!("application/pkcs7-mime;smime-type={smime_type};name=smime.p7m");
    let disposition = format!(
        "attachment;handling={};filename=smime.p7m",
        handling.as_str()
    );
    let eol = message.line_ending();
    let body = transfer.encode(der, eol);
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Content-Type", content_type.as_bytes()),
        ("Content-Disposition", disposition.as_bytes()),
    ];
    if transfer == Transfer::Base64 {
        headers.push(("Content-Transfer-Encoding", b"base64"));
    }
    replace_body(message, &headers, &body)
}

/// The `cms` form: `application/pkcs7-mime; smime-type=signed-data` holding the body as a MIME
/// entity (RFC 8591 §4.1). Headers stay as they are.
pub fn sign_cms(mut message: Message, spec: &SignSpec<'_>) -> Result<Message, WrapError> {
    let entity = body_entity(&message, "sign (the cms form covers only the body)")?;
    let options = CmsSignOptions {
        detached: false,
        ..spec.options.clone()
    };
    let der = crypto::sign(entity.bytes(), spec.signer, &options)?;
    set_pkcs7_mime(
        &mut message,
        "signed-data",
        spec.handling,
        spec.transfer,
        der,
    )?;
    Ok(message)
}

/// How to encrypt.
pub struct EncryptSpec<'a> {
    pub recipients: &'a [openssl::x509::X509],
    pub options: CmsEncryptOptions,
    pub transfer: Transfer,
}

/// The smime-type of an envelope: RFC 8591 §4.2 spells the AuthEnvelopedData one
/// `auth-enveloped-data`.
pub fn envelope_smime_type(options: &CmsEncryptOptions) -> &'static str {
    if options.cipher.is_aead() {
        "auth-enveloped-data"
    } else {
        "enveloped-data"
    }
}

fn set_envelope(
    message: &mut Message,
    content: &[u8],
    spec: &EncryptSpec<'_>,
) -> Result<(), WrapError> {
    let der = crypto::encrypt(content, spec.recipients, &spec.options)?;
    set_pkcs7_mime(
        message,
        envelope_smime_type(&spec.options),
        Handling::Required,
        spec.transfer,
        der,
    )
}

/// Encrypts the body (with its describing headers, as a MIME entity). Headers stay outside.
pub fn encrypt_body(message: &Message, spec: &EncryptSpec<'_>) -> Result<Message, WrapError> {
    let entity = body_entity(message, "encrypt")?;
    let mut out = message.clone();
    set_envelope(&mut out, entity.bytes(), spec)?;
    Ok(out)
}

/// Encrypts a cleaned copy of the whole message as `message/sip` (RFC 3261 §23.4.3); the
/// headers named in `hide` are then removed from the outer message, so they travel only inside.
pub fn encrypt_sip(
    message: &Message,
    policy: &InnerPolicy,
    hide: &[String],
    spec: &EncryptSpec<'_>,
) -> Result<Message, WrapError> {
    let inner = policy.copy(message);
    let mut head = PartHead::new(message.line_ending());
    head.field("Content-Type", b"message/sip")?;
    let entity = head.content(inner.as_bytes());
    let mut out = message.clone();
    for name in hide {
        out.remove_named(name);
    }
    set_envelope(&mut out, entity.bytes(), spec)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::SipDate;

    #[test]
    fn dates_are_rfc1123_and_read_back() {
        assert_eq!(format_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        // Years outside four digits are written as `{year:04}` would.
        assert_eq!(
            format_date(253_402_300_800),
            "Sat, 01 Jan 10000 00:00:00 GMT"
        );
        assert_eq!(
            format_date(-62_198_755_200),
            "Fri, 01 Jan -001 00:00:00 GMT"
        );
        for t in [1, 68_169_600, 1_700_000_000, 4_102_444_799] {
            assert_eq!(SipDate::parse(format_date(t).as_bytes()).unwrap().unix, t);
        }
    }

    #[test]
    fn base64_lines_are_76_wide() {
        let out = Transfer::Base64.encode(vec![7u8; 200], LineEnding::CrLf);
        let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert!(lines.len() > 1 && lines[..lines.len() - 1].iter().all(|l| l.len() == 77));
        assert_eq!(
            Transfer::Binary.encode(vec![1, 2], LineEnding::CrLf),
            [1, 2]
        );
    }

    fn aib_fragment(message: &Message, signed_as: &Aor) -> Result<Vec<u8>, WrapError> {
        let mut out = Vec::new();
        write_aib_fragment(&mut out, message, signed_as).map(|()| out)
    }

    fn msg(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r\n").into_bytes()).unwrap()
    }

    #[test]
    fn aib_fragments_follow_rfc3893() {
        let req = msg(
            "INVITE sip:b@example.net SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:g@cc.example>;tag=1\nTo: <sip:b@example.net>\nCall-ID: c\nCSeq: 1 INVITE\n\
            Contact: <sip:a@h>\nDate: Sun, 06 Nov 1994 08:49:37 GMT\nContent-Length: 0\n\n",
        );
        let g = Aor::parse("g@cc.example").unwrap();
        assert_eq!(
            String::from_utf8(aib_fragment(&req, &g).unwrap()).unwrap(),
            "From: <sip:g@cc.example>;tag=1\r\nTo: <sip:b@example.net>\r\nContact: <sip:a@h>\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        );
        // A response whose To is not the responder: From names the responder, tag kept.
        let resp = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:b@example.net>;tag=1\nTo: <sip:alias@cc.example>;tag=9\nCall-ID: c\n\
            CSeq: 1 INVITE\nDate: Sun, 06 Nov 1994 08:49:37 GMT\nContent-Length: 0\n\n");
        let frag = String::from_utf8(aib_fragment(&resp, &g).unwrap()).unwrap();
        assert!(
            frag.starts_with("From: <sip:g@cc.example>;tag=9\r\nDate:"),
            "{frag}"
        );
        // Without a Date the AIB cannot be made (callers add one first).
        let undated = msg("SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:b@example.net>;tag=1\nTo: <sip:g@cc.example>;tag=9\nCall-ID: c\n\
            CSeq: 1 INVITE\nContent-Length: 0\n\n");
        assert!(matches!(
            aib_fragment(&undated, &g),
            Err(WrapError::MissingHeader("Date"))
        ));
    }

    #[test]
    fn the_body_entity_carries_the_describing_headers_unfolded() {
        let m = msg(
            "MESSAGE sip:b@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:a@x>;tag=1\nc: text/plain;\n charset=utf-8\nTo: <sip:b@x>\n\
            Content-Language: en\nCall-ID: c\nCSeq: 1 MESSAGE\nContent-Length: 2\n\nhi",
        );
        assert_eq!(
            body_entity(&m, "sign").unwrap().bytes(),
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Language: en\r\n\r\nhi"
        );
    }

    #[test]
    fn replacing_the_body_takes_every_describing_header_and_keeps_the_rest_in_order() {
        let mut m = msg(
            "MESSAGE sip:b@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nc: text/plain\n\
            From: <sip:a@x>;tag=1\ncontent-language: en\nTo: <sip:b@x>\n\
            Content-Disposition: render\nCall-ID: c\nContent-Encoding: gzip\nCSeq: 1 MESSAGE\n\
            Content-Transfer-Encoding: binary\nContent-Length: 2\n\nhi",
        );
        replace_body(&mut m, &[("Content-Type", b"a/b")], b"new").unwrap();
        assert_eq!(
            String::from_utf8(m.into_bytes()).unwrap(),
            "MESSAGE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n\
             Content-Length: 3\r\nContent-Type: a/b\r\n\r\nnew"
        );
    }

    #[test]
    fn bodies_without_type_are_refused() {
        let m = msg(
            "MESSAGE sip:b@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: c\nCSeq: 1 MESSAGE\n\
            Content-Length: 2\n\nhi",
        );
        assert!(matches!(
            body_entity(&m, "sign"),
            Err(WrapError::NoContentType)
        ));
        let empty = msg(
            "MESSAGE sip:b@x SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
            From: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: c\nCSeq: 1 MESSAGE\n\
            Content-Length: 0\n\n",
        );
        assert!(matches!(
            body_entity(&empty, "sign"),
            Err(WrapError::NoBody(_))
        ));
    }
}
