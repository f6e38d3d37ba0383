//! PASSporT objects (RFC 8225) with the SHAKEN (RFC 8588) and `div` (RFC 8946) extensions:
//! typed header and claims, their deterministic JSON (RFC 8225 §9: keys in code-point order,
//! no white space, integers as integers, strings escaped as JSON) and a strict reading of the
//! JSON a full-form token carries.

use super::b64url;
use super::tn::{is_canonical_tn, Party};
use serde::Deserialize;
use std::fmt;

/// The PASSporT extension (`ppt`) of a token; `None` in [`PassportHeader::ppt`] is the
/// baseline PASSporT of RFC 8225.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ppt {
    /// RFC 8588: adds `attest` and `origid`.
    Shaken,
    /// RFC 8946: a diverted call, adds `div`.
    Div,
}

impl Ppt {
    pub fn as_str(self) -> &'static str {
        match self {
            Ppt::Shaken => "shaken",
            Ppt::Div => "div",
        }
    }

    /// The extensions this crate verifies; others make the verifier ignore the header
    /// (RFC 8224 §6.2 step 1).
    pub fn parse(text: &str) -> Option<Ppt> {
        match text {
            "shaken" => Some(Ppt::Shaken),
            "div" => Some(Ppt::Div),
            _ => None,
        }
    }
}

/// SHAKEN attestation (RFC 8588 §4): A full, B partial, C gateway. Ordered so that
/// `A > B > C` (a policy asks for "at least B").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Attestation {
    C,
    B,
    A,
}

impl Attestation {
    pub fn as_str(self) -> &'static str {
        match self {
            Attestation::A => "A",
            Attestation::B => "B",
            Attestation::C => "C",
        }
    }

    pub fn parse(text: &str) -> Option<Attestation> {
        match text {
            "A" => Some(Attestation::A),
            "B" => Some(Attestation::B),
            "C" => Some(Attestation::C),
            _ => None,
        }
    }
}

impl fmt::Display for Attestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The only algorithm RFC 8224 makes mandatory, and the only one this crate signs or accepts.
pub const ES256: &str = "ES256";

/// The protected header: `{"alg":"ES256","ppt":…,"typ":"passport","x5u":…}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassportHeader {
    pub ppt: Option<Ppt>,
    pub x5u: String,
}

/// One media key fingerprint (RFC 8225 §5.2.2): the `a=fingerprint` algorithm and the digest
/// in hexadecimal without colons.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct MediaKey {
    pub alg: String,
    pub dig: String,
}

/// The `mky` claim's order (RFC 8225 §5.2.2): by the concatenation of `alg` and `dig`.
pub fn sort_media_keys(keys: &mut [MediaKey]) {
    keys.sort_by(|a, b| {
        (a.alg.as_bytes().iter().chain(a.dig.as_bytes()))
            .cmp(b.alg.as_bytes().iter().chain(b.dig.as_bytes()))
    });
}

/// The claims. `dest` holds at least one identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub orig: Party,
    pub dest: Vec<Party>,
    pub iat: i64,
    /// SHAKEN: the attestation level.
    pub attest: Option<Attestation>,
    /// SHAKEN: the origination identifier, a UUID.
    pub origid: Option<String>,
    /// div: the identity the call was diverted from.
    pub div: Option<Party>,
    /// The SDP's media key fingerprints, in the claim's order; empty: no `mky` claim.
    pub mky: Vec<MediaKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passport {
    pub header: PassportHeader,
    pub claims: Claims,
}

/// Why a PASSporT's JSON is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassportError {
    #[error("the {part} is not a JSON object of the expected shape: {detail}")]
    Json { part: &'static str, detail: String },
    #[error("`typ` is {0:?}, not \"passport\"")]
    NotPassport(String),
    #[error("`alg` is {0:?}; only ES256 is supported")]
    UnsupportedAlg(String),
    #[error("`ppt` {0:?} is not an extension this verifier supports")]
    UnsupportedPpt(String),
    #[error("`{0}` must hold exactly one of `tn` and `uri`")]
    BadIdentity(&'static str),
    #[error(
        "`{claim}` holds {value:?}, which is not a canonical telephone number (digits, `#`, `*`)"
    )]
    BadTn { claim: &'static str, value: String },
    #[error("`dest` names no identity")]
    EmptyDest,
    #[error("a SHAKEN PASSporT needs `attest` A, B or C (found {0:?})")]
    BadAttest(Option<String>),
    #[error("a SHAKEN PASSporT needs `origid`, a UUID (found {0:?})")]
    BadOrigid(Option<String>),
    #[error("a div PASSporT needs a `div` claim")]
    MissingDiv,
    #[error("`{0}` belongs to another PASSporT extension than the header's `ppt`")]
    ForeignClaim(&'static str),
}

/// Appends `s` as a JSON string (quotes and escapes as serde_json writes them).
fn push_json_string(out: &mut String, s: &str) {
    // Writing a &str into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn push_member(out: &mut String, first: &mut bool, key: &str) {
    if !*first {
        out.push(',');
    }
    *first = false;
    push_json_string(out, key);
    out.push(':');
}

fn push_one(out: &mut String, party: &Party) {
    out.push('{');
    push_json_string(out, party.key());
    out.push(':');
    push_json_string(out, party.value());
    out.push('}');
}

impl PassportHeader {
    /// The deterministic JSON (RFC 8225 §9).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + self.x5u.len());
        out.push_str("{\"alg\":\"ES256\",");
        if let Some(ppt) = self.ppt {
            out.push_str("\"ppt\":");
            push_json_string(&mut out, ppt.as_str());
            out.push(',');
        }
        out.push_str("\"typ\":\"passport\",\"x5u\":");
        push_json_string(&mut out, &self.x5u);
        out.push('}');
        out
    }
}

impl Claims {
    /// The deterministic JSON (RFC 8225 §9): `attest, dest, div, iat, mky, orig, origid`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(160);
        let mut first = true;
        out.push('{');
        if let Some(a) = self.attest {
            push_member(&mut out, &mut first, "attest");
            push_json_string(&mut out, a.as_str());
        }
        push_member(&mut out, &mut first, "dest");
        out.push('{');
        let mut first_kind = true;
        for kind in ["tn", "uri"] {
            let mut values = self.dest.iter().filter(|p| p.key() == kind).peekable();
            if values.peek().is_none() {
                continue;
            }
            push_member(&mut out, &mut first_kind, kind);
            out.push('[');
            for (i, p) in values.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, p.value());
            }
            out.push(']');
        }
        out.push('}');
        if let Some(div) = &self.div {
            push_member(&mut out, &mut first, "div");
            push_one(&mut out, div);
        }
        push_member(&mut out, &mut first, "iat");
        out.push_str(itoa::Buffer::new().format(self.iat));
        if !self.mky.is_empty() {
            push_member(&mut out, &mut first, "mky");
            out.push('[');
            for (i, k) in self.mky.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"alg\":");
                push_json_string(&mut out, &k.alg);
                out.push_str(",\"dig\":");
                push_json_string(&mut out, &k.dig);
                out.push('}');
            }
            out.push(']');
        }
        push_member(&mut out, &mut first, "orig");
        push_one(&mut out, &self.orig);
        if let Some(o) = &self.origid {
            push_member(&mut out, &mut first, "origid");
            push_json_string(&mut out, o);
        }
        out.push('}');
        out
    }
}

impl Passport {
    /// `BASE64URL(header) "." BASE64URL(claims)`: the JWS signing input (RFC 7515 §5.1).
    pub fn signing_input(&self) -> String {
        let header = self.header.to_json();
        let claims = self.claims.to_json();
        let mut out = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 4);
        b64url::encode_into(header.as_bytes(), &mut out);
        out.push('.');
        b64url::encode_into(claims.as_bytes(), &mut out);
        out
    }

    /// Reads the decoded JSON of a full-form token. Duplicate members are refused (serde's
    /// derived readers do so), unknown members are extensions and ignored, `iat` must be an
    /// integer, and each extension must carry what it requires and nothing of another's.
    pub fn from_json(header: &[u8], claims: &[u8]) -> Result<Passport, PassportError> {
        let h: RawHeader = serde_json::from_slice(header).map_err(|e| PassportError::Json {
            part: "header",
            detail: e.to_string(),
        })?;
        let c: RawClaims = serde_json::from_slice(claims).map_err(|e| PassportError::Json {
            part: "claims",
            detail: e.to_string(),
        })?;
        if h.typ != "passport" {
            return Err(PassportError::NotPassport(h.typ));
        }
        if h.alg != ES256 {
            return Err(PassportError::UnsupportedAlg(h.alg));
        }
        let ppt = match h.ppt {
            None => None,
            Some(p) => Some(Ppt::parse(&p).ok_or(PassportError::UnsupportedPpt(p))?),
        };
        let claims = Claims {
            orig: c.orig.party("orig")?,
            dest: c.dest.parties()?,
            iat: c.iat,
            attest: c
                .attest
                .as_deref()
                .map(|a| Attestation::parse(a).ok_or(PassportError::BadAttest(Some(a.into()))))
                .transpose()?,
            origid: c.origid,
            div: c.div.map(|d| d.party("div")).transpose()?,
            mky: c.mky.unwrap_or_default(),
        };
        let passport = Passport {
            header: PassportHeader { ppt, x5u: h.x5u },
            claims,
        };
        passport.check_extension()?;
        Ok(passport)
    }

    /// What each `ppt` requires: SHAKEN `attest` and a UUID `origid`; div a `div` claim.
    pub fn check_extension(&self) -> Result<(), PassportError> {
        let c = &self.claims;
        match self.header.ppt {
            Some(Ppt::Shaken) => {
                if c.attest.is_none() {
                    return Err(PassportError::BadAttest(None));
                }
                if !c.origid.as_deref().is_some_and(is_uuid) {
                    return Err(PassportError::BadOrigid(c.origid.clone()));
                }
                if c.div.is_some() {
                    return Err(PassportError::ForeignClaim("div"));
                }
            }
            Some(Ppt::Div) => {
                if c.div.is_none() {
                    return Err(PassportError::MissingDiv);
                }
                if c.attest.is_some() {
                    return Err(PassportError::ForeignClaim("attest"));
                }
            }
            None => {
                if c.attest.is_some() {
                    return Err(PassportError::ForeignClaim("attest"));
                }
                if c.div.is_some() {
                    return Err(PassportError::ForeignClaim("div"));
                }
            }
        }
        Ok(())
    }
}

/// `8-4-4-4-12` hexadecimal digits (RFC 4122 §3), either case.
pub fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    typ: String,
    x5u: String,
    ppt: Option<String>,
}

#[derive(Deserialize)]
struct RawClaims {
    orig: RawOne,
    dest: RawMany,
    iat: i64,
    attest: Option<String>,
    origid: Option<String>,
    div: Option<RawOne>,
    mky: Option<Vec<MediaKey>>,
}

#[derive(Deserialize)]
struct RawOne {
    tn: Option<String>,
    uri: Option<String>,
}

#[derive(Deserialize)]
struct RawMany {
    tn: Option<Vec<String>>,
    uri: Option<Vec<String>>,
}

fn tn_claim(claim: &'static str, value: String) -> Result<Party, PassportError> {
    if is_canonical_tn(&value) {
        Ok(Party::Tn(value))
    } else {
        Err(PassportError::BadTn { claim, value })
    }
}

impl RawOne {
    fn party(self, claim: &'static str) -> Result<Party, PassportError> {
        match (self.tn, self.uri) {
            (Some(tn), None) => tn_claim(claim, tn),
            (None, Some(uri)) => Ok(Party::Uri(uri)),
            _ => Err(PassportError::BadIdentity(claim)),
        }
    }
}

impl RawMany {
    fn parties(self) -> Result<Vec<Party>, PassportError> {
        let mut out = Vec::new();
        for tn in self.tn.unwrap_or_default() {
            out.push(tn_claim("dest", tn)?);
        }
        out.extend(self.uri.unwrap_or_default().into_iter().map(Party::Uri));
        if out.is_empty() {
            return Err(PassportError::EmptyDest);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaken() -> Passport {
        Passport {
            header: PassportHeader {
                ppt: Some(Ppt::Shaken),
                x5u: "https://cert.example.org/passport.pem".into(),
            },
            claims: Claims {
                orig: Party::Tn("12155550121".into()),
                dest: vec![Party::Tn("12155550131".into())],
                iat: 1443208345,
                attest: Some(Attestation::A),
                origid: Some("123e4567-e89b-12d3-a456-426655440000".into()),
                div: None,
                mky: vec![],
            },
        }
    }

    #[test]
    fn canonical_json_of_the_rfc8588_example() {
        let p = shaken();
        assert_eq!(
            p.header.to_json(),
            r#"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://cert.example.org/passport.pem"}"#
        );
        assert_eq!(
            p.claims.to_json(),
            r#"{"attest":"A","dest":{"tn":["12155550131"]},"iat":1443208345,"orig":{"tn":"12155550121"},"origid":"123e4567-e89b-12d3-a456-426655440000"}"#
        );
        // The canonical form is what serde_json writes for the same object with sorted keys.
        let v: serde_json::Value = serde_json::from_str(&p.claims.to_json()).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), p.claims.to_json());
    }

    #[test]
    fn baseline_div_mixed_dest_and_escaping() {
        let p = Passport {
            header: PassportHeader {
                ppt: Some(Ppt::Div),
                x5u: "https://x.example/a\"b\\c\u{1}".into(),
            },
            claims: Claims {
                orig: Party::Uri("sip:alice@example.com".into()),
                dest: vec![
                    Party::Uri("sip:bob@example.com".into()),
                    Party::Tn("12155551213".into()),
                    Party::Tn("12155551214".into()),
                ],
                iat: -1,
                attest: None,
                origid: None,
                div: Some(Party::Tn("12155551213".into())),
                mky: vec![],
            },
        };
        assert_eq!(
            p.header.to_json(),
            r#"{"alg":"ES256","ppt":"div","typ":"passport","x5u":"https://x.example/a\"b\\c\u0001"}"#
        );
        assert_eq!(
            p.claims.to_json(),
            r#"{"dest":{"tn":["12155551213","12155551214"],"uri":["sip:bob@example.com"]},"div":{"tn":"12155551213"},"iat":-1,"orig":{"uri":"sip:alice@example.com"}}"#
        );
        let back =
            Passport::from_json(p.header.to_json().as_bytes(), p.claims.to_json().as_bytes())
                .unwrap();
        assert_eq!(back.header, p.header);
        assert_eq!(back.claims.to_json(), p.claims.to_json());
    }

    #[test]
    fn json_round_trip_and_non_canonical_input_reads() {
        let p = shaken();
        let back =
            Passport::from_json(p.header.to_json().as_bytes(), p.claims.to_json().as_bytes())
                .unwrap();
        assert_eq!(back, p);
        // White space and another key order read the same (the signature covers the bytes).
        let spaced = br#"{ "x5u":"https://cert.example.org/passport.pem", "typ":"passport", "ppt":"shaken", "alg":"ES256" }"#;
        assert_eq!(
            Passport::from_json(spaced, p.claims.to_json().as_bytes())
                .unwrap()
                .header,
            p.header
        );
    }

    fn refuse(header: &str, claims: &str) -> PassportError {
        Passport::from_json(header.as_bytes(), claims.as_bytes()).unwrap_err()
    }

    const H: &str = r#"{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://x/"}"#;
    const C: &str = r#"{"attest":"A","dest":{"tn":["2"]},"iat":1,"orig":{"tn":"1"},"origid":"123e4567-e89b-12d3-a456-426655440000"}"#;

    #[test]
    fn every_refusal() {
        assert!(Passport::from_json(H.as_bytes(), C.as_bytes()).is_ok());
        let dup =
            r#"{"alg":"ES256","alg":"ES256","ppt":"shaken","typ":"passport","x5u":"https://x/"}"#;
        assert!(matches!(
            refuse(dup, C),
            PassportError::Json { part: "header", .. }
        ));
        let dup_orig = C.replace(
            r#""orig":{"tn":"1"}"#,
            r#""orig":{"tn":"1"},"orig":{"tn":"3"}"#,
        );
        assert!(matches!(
            refuse(H, &dup_orig),
            PassportError::Json { part: "claims", .. }
        ));
        let string_iat = C.replace(r#""iat":1"#, r#""iat":"1""#);
        assert!(matches!(refuse(H, &string_iat), PassportError::Json { .. }));
        let float_iat = C.replace(r#""iat":1"#, r#""iat":1.5"#);
        assert!(matches!(refuse(H, &float_iat), PassportError::Json { .. }));
        assert!(matches!(refuse(H, "[]"), PassportError::Json { .. }));
        assert_eq!(
            refuse(&H.replace("passport", "jwt"), C),
            PassportError::NotPassport("jwt".into())
        );
        assert_eq!(
            refuse(&H.replace("ES256", "RS256"), C),
            PassportError::UnsupportedAlg("RS256".into())
        );
        assert_eq!(
            refuse(&H.replace("shaken", "rph"), C),
            PassportError::UnsupportedPpt("rph".into())
        );
        let both = C.replace(r#"{"tn":"1"}"#, r#"{"tn":"1","uri":"sip:a@b"}"#);
        assert_eq!(refuse(H, &both), PassportError::BadIdentity("orig"));
        let neither = C.replace(r#"{"tn":"1"}"#, "{}");
        assert_eq!(refuse(H, &neither), PassportError::BadIdentity("orig"));
        let plus = C.replace(r#"{"tn":"1"}"#, r#"{"tn":"+1"}"#);
        assert!(matches!(
            refuse(H, &plus),
            PassportError::BadTn { claim: "orig", .. }
        ));
        let empty = C.replace(r#"{"tn":["2"]}"#, r#"{"tn":[]}"#);
        assert_eq!(refuse(H, &empty), PassportError::EmptyDest);
        let no_attest = C.replace(r#""attest":"A","#, "");
        assert_eq!(refuse(H, &no_attest), PassportError::BadAttest(None));
        let bad_attest = C.replace(r#""attest":"A""#, r#""attest":"D""#);
        assert_eq!(
            refuse(H, &bad_attest),
            PassportError::BadAttest(Some("D".into()))
        );
        let bad_origid = C.replace("123e4567-e89b", "123e4567_e89b");
        assert!(matches!(
            refuse(H, &bad_origid),
            PassportError::BadOrigid(Some(_))
        ));
        let baseline = H.replace(r#""ppt":"shaken","#, "");
        assert_eq!(refuse(&baseline, C), PassportError::ForeignClaim("attest"));
        let div = H.replace("shaken", "div");
        assert_eq!(refuse(&div, C), PassportError::MissingDiv);
    }

    #[test]
    fn media_keys_are_sorted_and_written_after_iat() {
        let mut p = shaken();
        let mut keys = vec![
            MediaKey {
                alg: "sha-256".into(),
                dig: "4AADB9".into(),
            },
            MediaKey {
                alg: "sha-256".into(),
                dig: "021ACC".into(),
            },
        ];
        sort_media_keys(&mut keys);
        assert_eq!(keys[0].dig, "021ACC");
        p.claims.mky = keys;
        let json = p.claims.to_json();
        assert!(
            json.contains(r#""iat":1443208345,"mky":[{"alg":"sha-256","dig":"021ACC"},{"alg":"sha-256","dig":"4AADB9"}],"orig""#),
            "{json}"
        );
        let back = Passport::from_json(p.header.to_json().as_bytes(), json.as_bytes()).unwrap();
        assert_eq!(back.claims.mky, p.claims.mky);
    }

    #[test]
    fn uuid_syntax() {
        assert!(is_uuid("123E4567-e89b-12d3-a456-426655440000"));
        assert!(!is_uuid("123e4567e89b12d3a456426655440000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42665544000g"));
    }
}
