//! Recognising the S/MIME forms in a SIP message body, without any cryptography: which form
//! it is, the exact octets a signature covers, and the DER of the CMS (base64 undone).
//!
//! Forms (RFC 3261 §23, RFC 3893, RFC 8591):
//! - `multipart/signed` whose first part is the original body (`body`), a `message/sip` copy
//!   (`sip`) or a `message/sipfrag` identity body (`aib`);
//! - `multipart/mixed` holding the original body beside such a `multipart/signed` AIB (`aib`);
//! - `application/pkcs7-mime; smime-type=signed-data` (`cms`, the content inside the CMS);
//! - `application/pkcs7-mime; smime-type=enveloped-data` or `authEnveloped-data` (`envelope`).

pub use super::Form;
use crate::header::MediaType;
use crate::message::{unfold, HeaderKind, Message};
use crate::mime::{Multipart, Part};
use std::borrow::Cow;

/// Why a body that claims an S/MIME form is not one. Never repaired: refused with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("multipart/signed is malformed: {0}")]
    BadMultipart(String),
    #[error("multipart/signed needs exactly two parts, found {0}")]
    PartCount(usize),
    #[error("the second part of multipart/signed is {0:?}, not application/pkcs7-signature")]
    NotASignature(String),
    #[error("the {0} part is not valid base64")]
    BadBase64(&'static str),
    #[error("Content-Type {0:?} does not parse")]
    BadContentType(String),
    #[error(
        "the Content-Type repeats the parameter {0:?}: recipients may read either occurrence, \
         so it is refused"
    )]
    RepeatedParameter(String),
}

/// A signed body as found: the DER signature, and the signed entity for detached forms.
#[derive(Debug, Clone)]
pub struct SignedBody<'a> {
    pub form: Form,
    pub signature: Cow<'a, [u8]>,
    /// The exact octets of the first part of multipart/signed; `None` for `cms`.
    pub detached: Option<&'a [u8]>,
    /// For an AIB inside multipart/mixed: the other parts (not covered by the signature).
    pub uncovered: Vec<Part<'a>>,
}

/// What the body of a message is.
#[derive(Debug, Clone)]
pub enum Protection<'a> {
    Signed(SignedBody<'a>),
    /// An EnvelopedData or AuthEnvelopedData body, DER.
    Enveloped(Cow<'a, [u8]>),
    /// Not an S/MIME body.
    Plain,
}

/// Classifies the body of `message` (or of a MIME entity's header/body pair).
pub fn classify(message: &Message) -> Result<Protection<'_>, FormError> {
    let Some(ct) = message.value(HeaderKind::ContentType) else {
        return Ok(Protection::Plain);
    };
    // Looked up only for a pkcs7-mime body: a search by name through every field, for each
    // message a verifier forwards.
    let cte = || message.values_named("Content-Transfer-Encoding").next();
    classify_entity(ct, cte, message.body())
}

/// Classifies a body given its raw Content-Type, and its Content-Transfer-Encoding value
/// when asked for.
pub fn classify_entity<'a, 'c>(
    content_type: &'a [u8],
    cte: impl FnOnce() -> Option<&'c [u8]>,
    body: &'a [u8],
) -> Result<Protection<'a>, FormError> {
    let unfolded = unfold(content_type);
    let mt = MediaType::parse(&unfolded)
        .map_err(|_| FormError::BadContentType(String::from_utf8_lossy(&unfolded).into()))?;
    let interpreted = ["signed", "mixed"].iter().any(|s| mt.is("multipart", s))
        || mt.is("application", "pkcs7-mime")
        || mt.is("application", "x-pkcs7-mime");
    if let Some(name) = mt.repeated_param().filter(|_| interpreted) {
        return Err(FormError::RepeatedParameter(
            String::from_utf8_lossy(name).into_owned(),
        ));
    }
    if mt.is("multipart", "signed") {
        return multipart_signed(content_type, body, Vec::new()).map(Protection::Signed);
    }
    if mt.is("multipart", "mixed") {
        return mixed(content_type, body);
    }
    if mt.is("application", "pkcs7-mime") || mt.is("application", "x-pkcs7-mime") {
        let der = decode_cte(body, cte(), "application/pkcs7-mime")?;
        let smime_type = mt
            .param("smime-type")
            .map(|t| t.to_ascii_lowercase())
            .unwrap_or_default();
        let signed = match smime_type.as_slice() {
            b"signed-data" => true,
            b"enveloped-data" | b"authenveloped-data" => false,
            // No smime-type: the CMS itself says (RFC 8551 §3.2.2 makes the parameter optional).
            _ => matches!(
                crate::crypto::content_type(&der),
                Ok(crate::crypto::CmsContentType::SignedData)
            ),
        };
        return Ok(if signed {
            Protection::Signed(SignedBody {
                form: Form::Cms,
                signature: der,
                detached: None,
                uncovered: Vec::new(),
            })
        } else {
            Protection::Enveloped(der)
        });
    }
    Ok(Protection::Plain)
}

fn mixed<'a>(content_type: &'a [u8], body: &'a [u8]) -> Result<Protection<'a>, FormError> {
    let Ok(mp) = Multipart::with_content_type(content_type, body) else {
        // A broken multipart/mixed that claims nothing about signatures is not ours to judge.
        return Ok(Protection::Plain);
    };
    let parts = mp.parts();
    let signed_at = parts.iter().position(|p| {
        p.content_type().is_some_and(|ct| {
            MediaType::parse(&unfold(ct)).is_ok_and(|m| m.is("multipart", "signed"))
        })
    });
    let Some(at) = signed_at else {
        return Ok(Protection::Plain);
    };
    let inner = &parts[at];
    let ct = inner.content_type().unwrap_or_default();
    let uncovered = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, p)| p.clone())
        .collect();
    let mut signed = multipart_signed(ct, inner.body(), uncovered)?;
    signed.form = Form::Aib;
    Ok(Protection::Signed(signed))
}

fn multipart_signed<'a>(
    content_type: &'a [u8],
    body: &'a [u8],
    uncovered: Vec<Part<'a>>,
) -> Result<SignedBody<'a>, FormError> {
    let mp = Multipart::with_content_type(content_type, body)
        .map_err(|e| FormError::BadMultipart(e.to_string()))?;
    let parts = mp.parts();
    if parts.len() != 2 {
        return Err(FormError::PartCount(parts.len()));
    }
    let sig_ct = parts[1].content_type().map(unfold).unwrap_or_default();
    let sig_ok = MediaType::parse(&sig_ct).is_ok_and(|m| {
        m.is("application", "pkcs7-signature") || m.is("application", "x-pkcs7-signature")
    });
    if !sig_ok {
        return Err(FormError::NotASignature(
            String::from_utf8_lossy(&sig_ct).into(),
        ));
    }
    let signature = decode_cte(
        parts[1].body(),
        parts[1].value_named("Content-Transfer-Encoding"),
        "application/pkcs7-signature",
    )?;
    let first_ct = parts[0].content_type().map(unfold).unwrap_or_default();
    let form = match MediaType::parse(&first_ct) {
        Ok(m) if m.is("message", "sip") => Form::Sip,
        Ok(m) if m.is("message", "sipfrag") => Form::Aib,
        _ => Form::Body,
    };
    Ok(SignedBody {
        form,
        signature,
        detached: Some(parts[0].bytes()),
        uncovered,
    })
}

/// Undoes a base64 Content-Transfer-Encoding; binary, 8bit, 7bit and none pass as they are.
pub fn decode_cte<'a>(
    body: &'a [u8],
    cte: Option<&[u8]>,
    what: &'static str,
) -> Result<Cow<'a, [u8]>, FormError> {
    let is_b64 = cte.is_some_and(|v| unfold(v).trim_ascii().eq_ignore_ascii_case(b"base64"));
    if !is_b64 {
        return Ok(Cow::Borrowed(body));
    }
    let text: String = body
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| b as char)
        .collect();
    if text.is_empty() || !text.is_ascii() {
        return Err(FormError::BadBase64(what));
    }
    openssl::base64::decode_block(&text)
        .map(Cow::Owned)
        .map_err(|_| FormError::BadBase64(what))
}

/// A MIME entity (the signed or decrypted content): its Content-Type and its body with any
/// base64 transfer encoding undone.
pub struct EntityView<'a> {
    pub content_type: Option<&'a [u8]>,
    pub disposition: Option<&'a [u8]>,
    pub body: Cow<'a, [u8]>,
}

impl<'a> EntityView<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<EntityView<'a>, FormError> {
        let part = Part::parse(bytes).map_err(|e| FormError::BadMultipart(e.to_string()))?;
        let body = decode_cte(
            part.body(),
            part.value_named("Content-Transfer-Encoding"),
            "protected content",
        )?;
        Ok(EntityView {
            content_type: part.content_type(),
            disposition: part.value(HeaderKind::ContentDisposition),
            body,
        })
    }

    /// The media type, lower-cased `type/subtype`, or empty.
    pub fn media_type(&self) -> String {
        self.content_type
            .map(unfold)
            .and_then(|ct| {
                MediaType::parse(&ct).ok().map(|m| {
                    let mut media = String::with_capacity(m.type_.len() + m.subtype.len() + 1);
                    media.push_str(&String::from_utf8_lossy(m.type_));
                    media.push('/');
                    media.push_str(&String::from_utf8_lossy(m.subtype));
                    media.make_ascii_lowercase();
                    media
                })
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ct: &str, body: &[u8]) -> Message {
        let mut m = format!(
            "MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n\
             CSeq: 1 MESSAGE\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        m.extend_from_slice(body);
        Message::parse(m).unwrap()
    }

    #[test]
    fn recognises_each_form() {
        let signed = b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
            Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            AAEC\r\n--b--\r\n";
        let m = msg(
            "multipart/signed;protocol=\"application/pkcs7-signature\";boundary=b",
            signed,
        );
        match classify(&m).unwrap() {
            Protection::Signed(s) => {
                assert_eq!(s.form, Form::Body);
                assert_eq!(&*s.signature, &[0, 1, 2]);
                assert_eq!(s.detached, Some(&b"Content-Type: text/plain\r\n\r\nhi"[..]));
            }
            other => panic!("{other:?}"),
        }
        let m = msg(
            "application/pkcs7-mime;smime-type=enveloped-data",
            b"\x30\x00",
        );
        assert!(matches!(classify(&m).unwrap(), Protection::Enveloped(_)));
        let m = msg("application/sdp", b"v=0\r\n");
        assert!(matches!(classify(&m).unwrap(), Protection::Plain));
    }

    #[test]
    fn damaged_forms_are_refused_not_repaired() {
        let one_part = b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
        let m = msg("multipart/signed;boundary=b", one_part);
        assert_eq!(classify(&m).unwrap_err(), FormError::PartCount(1));
        let truncated = b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n0";
        let m = msg("multipart/signed;boundary=b", truncated);
        assert!(matches!(classify(&m), Err(FormError::BadMultipart(_))));
        let bad64 = b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
            Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            !!!!\r\n--b--\r\n";
        let m = msg("multipart/signed;boundary=b", bad64);
        assert!(matches!(classify(&m), Err(FormError::BadBase64(_))));
    }
}
