//! The Identity header field (RFC 8224 §4): `signed-identity-digest ;info=<URI> [;alg=…]
//! [;ppt=…] *(;generic-param)`, in full (`header.claims.signature`) or compact
//! (`..signature`, RFC 8225 §7) form; and the RFC 9410 `Reason: STIR` value that reports a
//! failed one.

use super::passport::Ppt;
use std::borrow::Cow;

/// The PASSporT carried in an Identity header, as base64url segments (not yet decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Full {
        header: &'a str,
        claims: &'a str,
        signature: &'a str,
    },
    /// Only the signature: the verifier rebuilds header and claims from the message.
    Compact { signature: &'a str },
}

impl<'a> Token<'a> {
    pub fn signature(&self) -> &'a str {
        match self {
            Token::Full { signature, .. } | Token::Compact { signature } => signature,
        }
    }

    pub fn is_compact(&self) -> bool {
        matches!(self, Token::Compact { .. })
    }
}

/// One parsed Identity header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeader<'a> {
    pub token: Token<'a>,
    /// The URI inside `info=<…>`.
    pub info: &'a str,
    /// `alg`, when present (absent means ES256).
    pub alg: Option<Cow<'a, str>>,
    /// `ppt`, when present, unquoted.
    pub ppt: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the Identity value does not start with a PASSporT (header.claims.signature or ..signature)")]
    NotAToken,
    #[error("the Identity header has no `info` parameter")]
    MissingInfo,
    #[error("the Identity header has more than one `{0}` parameter")]
    Duplicate(&'static str),
    #[error("`info` is not an absolute URI in angle brackets")]
    BadInfo,
    #[error("the Identity header's parameters do not read at byte {0}")]
    Syntax(usize),
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Characters of an absolute URI (RFC 3986) that may stand between `<` and `>`.
pub(crate) fn is_uri_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&c)
}

fn is_absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
        && uri.bytes().all(is_uri_char)
}

fn parse_token(digest: &str) -> Result<Token<'_>, HeaderError> {
    let mut parts = digest.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeaderError::NotAToken);
    };
    if signature.is_empty() || !digest.bytes().all(|c| c == b'.' || is_b64url(c)) {
        return Err(HeaderError::NotAToken);
    }
    match (header.is_empty(), claims.is_empty()) {
        (true, true) => Ok(Token::Compact { signature }),
        (false, false) => Ok(Token::Full {
            header,
            claims,
            signature,
        }),
        _ => Err(HeaderError::NotAToken),
    }
}

impl<'a> IdentityHeader<'a> {
    /// Parses one Identity header value (folding allowed around separators).
    pub fn parse(value: &'a str) -> Result<IdentityHeader<'a>, HeaderError> {
        let b = value.as_bytes();
        let mut i = 0;
        let skip = |i: &mut usize| {
            while *i < b.len() && is_lws(b[*i]) {
                *i += 1;
            }
        };
        skip(&mut i);
        let start = i;
        while i < b.len() && (is_b64url(b[i]) || b[i] == b'.') {
            i += 1;
        }
        let token = parse_token(&value[start..i])?;
        let mut info = None;
        let mut alg = None;
        let mut ppt = None;
        loop {
            skip(&mut i);
            if i == b.len() {
                break;
            }
            if b[i] != b';' {
                return Err(HeaderError::Syntax(i));
            }
            i += 1;
            skip(&mut i);
            let name_start = i;
            while i < b.len() && is_token_char(b[i]) {
                i += 1;
            }
            let name = &value[name_start..i];
            if name.is_empty() {
                return Err(HeaderError::Syntax(i));
            }
            skip(&mut i);
            let mut param_value = None;
            if i < b.len() && b[i] == b'=' {
                i += 1;
                skip(&mut i);
                let v_start = i;
                match b.get(i) {
                    Some(b'<') => {
                        let end = value[i..].find('>').ok_or(HeaderError::BadInfo)? + i;
                        i = end + 1;
                    }
                    Some(b'"') => {
                        i += 1;
                        while i < b.len() && b[i] != b'"' {
                            i += if b[i] == b'\\' { 2 } else { 1 };
                        }
                        if i >= b.len() {
                            return Err(HeaderError::Syntax(v_start));
                        }
                        i += 1;
                    }
                    _ => {
                        while i < b.len() && is_token_char(b[i]) {
                            i += 1;
                        }
                    }
                }
                if i == v_start {
                    return Err(HeaderError::Syntax(i));
                }
                param_value = Some(&value[v_start..i]);
            }
            let slot = if name.eq_ignore_ascii_case("info") {
                let v = param_value
                    .and_then(|v| v.strip_prefix('<'))
                    .and_then(|v| v.strip_suffix('>'))
                    .filter(|v| is_absolute_uri(v))
                    .ok_or(HeaderError::BadInfo)?;
                if info.replace(v).is_some() {
                    return Err(HeaderError::Duplicate("info"));
                }
                continue;
            } else if name.eq_ignore_ascii_case("alg") {
                (&mut alg, "alg")
            } else if name.eq_ignore_ascii_case("ppt") {
                (&mut ppt, "ppt")
            } else {
                continue;
            };
            let v = param_value
                .filter(|v| !v.starts_with('<'))
                .ok_or(HeaderError::Syntax(name_start))?;
            let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) if inner.contains('\\') => Cow::Owned(inner.replace('\\', "")),
                Some(inner) => Cow::Borrowed(inner),
                None => Cow::Borrowed(v),
            };
            if slot.0.replace(v).is_some() {
                return Err(HeaderError::Duplicate(slot.1));
            }
        }
        Ok(IdentityHeader {
            token,
            info: info.ok_or(HeaderError::MissingInfo)?,
            alg,
            ppt,
        })
    }
}

/// The header value sipsec writes: `token;info=<x5u>;alg=ES256[;ppt=…]` (token form `ppt`,
/// unquoted, as carriers expect).
pub fn build(token: &str, x5u: &str, ppt: Option<Ppt>) -> String {
    let mut out = String::with_capacity(token.len() + x5u.len() + 32);
    out.push_str(token);
    out.push_str(";info=<");
    out.push_str(x5u);
    out.push_str(">;alg=ES256");
    if let Some(p) = ppt {
        out.push_str(";ppt=");
        out.push_str(p.as_str());
    }
    out
}

/// Whether `x5u` can stand in `info=<…>` and in the PASSporT header unchanged.
pub fn is_valid_x5u(x5u: &str) -> bool {
    is_absolute_uri(x5u)
}

/// An RFC 9410 Reason value for one failed Identity header: protocol STIR, the RFC 8224
/// response code as cause, its reason phrase, and the compact form of the PASSporT as `ppi`
/// (the compact form, as RFC 9410 recommends, so no claims leak into the reason).
pub fn stir_reason(code: u16, text: &str, signature: Option<&str>) -> String {
    match signature {
        Some(sig) => format!("STIR;cause={code};text=\"{text}\";ppi=\"..{sig}\""),
        // A header that did not read as far as its signature has nothing to point at.
        None => format!("STIR;cause={code};text=\"{text}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_compact_forms_of_rfc8224_4_1_1() {
        let full = "eyJhbGciOiJFUzI1NiJ9.eyJpYXQiOjF9.rq3pjT1hoRwakEGjHC;info=<https://biloxi.example.org/biloxi.cert>";
        let h = IdentityHeader::parse(full).unwrap();
        assert!(matches!(
            h.token,
            Token::Full {
                header: "eyJhbGciOiJFUzI1NiJ9",
                ..
            }
        ));
        assert_eq!(h.info, "https://biloxi.example.org/biloxi.cert");
        assert_eq!((h.alg, h.ppt), (None, None));
        // The RFC's compact example, folded as printed.
        let compact = "..rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qj;\r\n   info=<https://biloxi.example.org/biloxi.cert>";
        let h = IdentityHeader::parse(compact).unwrap();
        assert_eq!(
            h.token,
            Token::Compact {
                signature: "rq3pjT1hoRwakEGjHCnWSwUnshd0-zJ6F1VOgFWSjHBr8Qj"
            }
        );
    }

    #[test]
    fn parameters_in_any_case_quoted_ppt_and_extensions() {
        let v = "a.b.c ; INFO = <https://x.example/c.pem> ;alg=ES256;ppt=\"shaken\";foo=bar;baz";
        let h = IdentityHeader::parse(v).unwrap();
        assert_eq!(h.info, "https://x.example/c.pem");
        assert_eq!(h.alg.as_deref(), Some("ES256"));
        assert_eq!(h.ppt.as_deref(), Some("shaken"));
    }

    #[test]
    fn build_reads_back() {
        let v = build("a.b.c", "https://x.example/c.pem", Some(Ppt::Shaken));
        assert_eq!(
            v,
            "a.b.c;info=<https://x.example/c.pem>;alg=ES256;ppt=shaken"
        );
        let h = IdentityHeader::parse(&v).unwrap();
        assert_eq!(h.ppt.as_deref(), Some("shaken"));
        assert_eq!(
            build("..s", "https://x.example/c.pem", None),
            "..s;info=<https://x.example/c.pem>;alg=ES256"
        );
    }

    #[test]
    fn every_refusal() {
        let info = ";info=<https://x.example/c>";
        for token in [
            "", "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "...", "a+b.c.d",
        ] {
            assert!(
                IdentityHeader::parse(&format!("{token}{info}")).is_err(),
                "{token}"
            );
        }
        assert_eq!(
            IdentityHeader::parse("a.b.c"),
            Err(HeaderError::MissingInfo)
        );
        assert_eq!(
            IdentityHeader::parse("a.b.c;alg=ES256"),
            Err(HeaderError::MissingInfo)
        );
        assert_eq!(
            IdentityHeader::parse(&format!("a.b.c{info}{info}")),
            Err(HeaderError::Duplicate("info"))
        );
        assert_eq!(
            IdentityHeader::parse(&format!("a.b.c{info};alg=ES256;ALG=ES256")),
            Err(HeaderError::Duplicate("alg"))
        );
        assert_eq!(
            IdentityHeader::parse(&format!("a.b.c{info};ppt=shaken;ppt=div")),
            Err(HeaderError::Duplicate("ppt"))
        );
        for bad_info in [
            ";info=https://x.example/c",
            ";info=<x.example/c>",
            ";info=<https://x.example/c",
            ";info=<https://x example/c>",
            ";info",
        ] {
            assert_eq!(
                IdentityHeader::parse(&format!("a.b.c{bad_info}")),
                Err(HeaderError::BadInfo),
                "{bad_info}"
            );
        }
        assert!(matches!(
            IdentityHeader::parse(&format!("a.b.c{info} junk")),
            Err(HeaderError::Syntax(_))
        ));
        assert!(matches!(
            IdentityHeader::parse(&format!("a.b.c{info};ppt=")),
            Err(HeaderError::Syntax(_))
        ));
        assert!(matches!(
            IdentityHeader::parse(&format!("a.b.c{info};ppt=\"shaken")),
            Err(HeaderError::Syntax(_))
        ));
        assert!(matches!(
            IdentityHeader::parse(&format!("a.b.c{info};ppt=<x:y>")),
            Err(HeaderError::Syntax(_))
        ));
        assert!(matches!(
            IdentityHeader::parse(&format!("a.b.c{info};;")),
            Err(HeaderError::Syntax(_))
        ));
    }

    #[test]
    fn reason_value() {
        assert_eq!(
            stir_reason(438, "Invalid Identity Header", Some("c2ln")),
            "STIR;cause=438;text=\"Invalid Identity Header\";ppi=\"..c2ln\""
        );
        assert_eq!(
            stir_reason(436, "Bad Identity Info", None),
            "STIR;cause=436;text=\"Bad Identity Info\""
        );
    }
}
