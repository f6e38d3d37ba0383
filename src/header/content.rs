//! Content-Type (RFC 3261 §20.15, RFC 2045 §5.1) and Content-Disposition (RFC 3261 §20.11).

use super::lex::{unquote, Cursor, Params};
use crate::error::ParseResult;
use std::borrow::Cow;

/// `type/subtype *(;param)`; type and subtype compare case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    pub type_: &'a [u8],
    pub subtype: &'a [u8],
    params: Params<'a>,
}

impl<'a> MediaType<'a> {
    pub fn parse(value: &'a [u8]) -> ParseResult<MediaType<'a>> {
        let mut c = Cursor::new(value);
        c.lws();
        let type_ = c.token("media type without a type")?;
        if !c.sep(b'/') {
            return Err(super::lex::bad("media type without /", c.pos));
        }
        let subtype = c.token("media type without a subtype")?;
        let params = Params::parse(&mut c)?;
        c.expect_end("junk after the media type")?;
        Ok(MediaType {
            type_,
            subtype,
            params,
        })
    }

    /// True when this is `type/subtype`, in any case.
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// A parameter's value with quotes removed (`boundary`, `protocol`, `smime-type`, …).
    pub fn param(&self, name: &str) -> Option<Cow<'a, [u8]>> {
        self.params.get(name).flatten().map(unquote)
    }

    pub fn boundary(&self) -> Option<Cow<'a, [u8]>> {
        self.param("boundary")
    }

    /// The name of the first parameter given twice (in any case): parsers disagree on which
    /// one counts (the first here, the last in some terminals).
    pub fn repeated_param(&self) -> Option<&'a [u8]> {
        self.params.iter().enumerate().find_map(|(i, p)| {
            self.params
                .iter()
                .take(i)
                .any(|q| q.name.eq_ignore_ascii_case(p.name))
                .then_some(p.name)
        })
    }
}

/// `disposition-type *(;param)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDisposition<'a> {
    pub disposition: &'a [u8],
    params: Params<'a>,
}

impl<'a> ContentDisposition<'a> {
    pub fn parse(value: &'a [u8]) -> ParseResult<ContentDisposition<'a>> {
        let mut c = Cursor::new(value);
        c.lws();
        let disposition = c.token("Content-Disposition without a type")?;
        let params = Params::parse(&mut c)?;
        c.expect_end("junk after the disposition")?;
        Ok(ContentDisposition {
            disposition,
            params,
        })
    }

    /// True when the disposition type is `name`, in any case.
    pub fn is(&self, name: &str) -> bool {
        self.disposition.eq_ignore_ascii_case(name.as_bytes())
    }

    pub fn params(&self) -> Params<'a> {
        self.params
    }

    /// The `handling` parameter, as written.
    pub fn handling(&self) -> Option<&'a [u8]> {
        self.params.get("handling").flatten()
    }

    /// `handling=optional` lets a recipient ignore a body it cannot process; absent means
    /// required (RFC 3261 §20.11).
    pub fn is_optional(&self) -> bool {
        self.handling()
            .is_some_and(|h| h.eq_ignore_ascii_case(b"optional"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn the_first_repeated_parameter_is_named_in_any_case_and_at_any_position() {
        let repeated = |params: &str| {
            let value = format!("multipart/signed{params}");
            MediaType::parse(value.as_bytes())
                .unwrap()
                .repeated_param()
                .map(|n| String::from_utf8_lossy(n).into_owned())
        };
        assert_eq!(repeated(""), None);
        assert_eq!(repeated(";a=1;b=2;c"), None);
        assert_eq!(
            repeated(";boundary=x;micalg=sha-256;Boundary=y"),
            Some("Boundary".into())
        );
        assert_eq!(repeated(";a;b;b;a"), Some("b".into()));
        // Many parameters: a repeat of a late one, and of the first, is found.
        let many: String = (0..12).map(|i| format!(";p{i}=v")).collect();
        assert_eq!(repeated(&many), None);
        assert_eq!(repeated(&format!("{many};P10=w")), Some("P10".into()));
        assert_eq!(repeated(&format!("{many};p0")), Some("p0".into()));
        let nine: String = (0..9).map(|i| format!(";q{i}")).collect();
        assert_eq!(repeated(&format!("{nine};q8")), Some("q8".into()));
    }

    #[test]
    fn media_types() {
        let m = MediaType::parse(b"multipart/signed; protocol=\"application/pkcs7-signature\";\r\n micalg=sha1; boundary=boundary42").unwrap();
        assert!(m.is("Multipart", "SIGNED"));
        assert!(!m.is("multipart", "mixed"));
        assert_eq!(
            m.param("protocol").unwrap().as_ref(),
            b"application/pkcs7-signature"
        );
        assert_eq!(m.boundary().unwrap().as_ref(), b"boundary42");
        assert_eq!(
            m.param("PROTOCOL").unwrap().as_ref(),
            b"application/pkcs7-signature"
        );
        let m = MediaType::parse(b"application / sdp").unwrap();
        assert!(m.is("application", "sdp"));
    }

    #[test]
    fn media_type_refusals() {
        let k = |v: &[u8]| MediaType::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b"application"),
            ParseErrorKind::BadValue("media type without /")
        );
        assert_eq!(
            k(b"application/"),
            ParseErrorKind::BadValue("media type without a subtype")
        );
        assert_eq!(
            k(b"/sdp"),
            ParseErrorKind::BadValue("media type without a type")
        );
        assert_eq!(
            k(b"text/plain; charset="),
            ParseErrorKind::BadValue("parameter without a value after =")
        );
        assert_eq!(
            k(b"text/plain x"),
            ParseErrorKind::BadValue("junk after the media type")
        );
    }

    #[test]
    fn dispositions() {
        let d =
            ContentDisposition::parse(b"signature;handling=required;filename=smime.p7s").unwrap();
        assert!(d.is("Signature"));
        assert_eq!(d.handling(), Some(&b"required"[..]));
        assert!(!d.is_optional());
        assert!(ContentDisposition::parse(b"session ; handling=OPTIONAL")
            .unwrap()
            .is_optional());
        assert!(!ContentDisposition::parse(b"render").unwrap().is_optional());
        let k = |v: &[u8]| ContentDisposition::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b""),
            ParseErrorKind::BadValue("Content-Disposition without a type")
        );
        assert_eq!(k(b"render;"), ParseErrorKind::BadValue("empty parameter"));
        assert_eq!(
            k(b"render x"),
            ParseErrorKind::BadValue("junk after the disposition")
        );
    }
}
