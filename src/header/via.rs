//! Via (RFC 3261 §20.42): `SIP/2.0/transport sent-by *(;param)`.

use super::lex::{bad, split_list, Cursor, Params};
use crate::error::ParseResult;
use crate::uri::{is_hostname_char, parse_host, Host};

/// One via-parm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    protocol: &'a [u8],
    version: &'a [u8],
    transport: &'a [u8],
    host: Host<'a>,
    port: Option<u16>,
    params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one via-parm (a single list element).
    pub fn parse(value: &'a [u8]) -> ParseResult<Via<'a>> {
        let mut c = Cursor::new(value);
        c.lws();
        let protocol = c.token("Via without a protocol name")?;
        if !c.sep(b'/') {
            return Err(bad("Via protocol without /", c.pos));
        }
        let version = c.token("Via without a protocol version")?;
        if !c.sep(b'/') {
            return Err(bad("Via protocol version without /", c.pos));
        }
        let transport = c.token("Via without a transport")?;
        if !c.lws() {
            return Err(bad("no white space before the Via sent-by", c.pos));
        }
        let host_start = c.pos;
        let host_text = if c.peek() == Some(b'[') {
            let close = memchr::memchr(b']', &c.b[c.pos..])
                .ok_or_else(|| bad("unbalanced [ in the Via sent-by", c.pos))?;
            c.pos += close + 1;
            &c.b[host_start..c.pos]
        } else {
            c.take_while(is_hostname_char)
        };
        // The bytes are ASCII: every byte was checked by the loops above.
        let host_str =
            std::str::from_utf8(host_text).map_err(|_| bad("non-ASCII host", host_start))?;
        let host = parse_host(host_str, host_start)
            .map_err(|_| bad("malformed Via sent-by host", host_start))?;
        let port = if c.sep(b':') {
            let at = c.pos;
            let digits = c.take_while(|b| b.is_ascii_digit());
            let n = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u16>().ok())
                .ok_or_else(|| bad("malformed Via port", at))?;
            Some(n)
        } else {
            None
        };
        let params = Params::parse(&mut c)?;
        c.expect_end("junk after a Via parameter")?;
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }

    /// `SIP` as written.
    pub fn protocol(&self) -> &'a [u8] {
        self.protocol
    }

    pub fn version(&self) -> &'a [u8] {
        self.version
    }

    /// `UDP`, `TCP`, `TLS`, `SCTP` or any extension token, as written.
    pub fn transport(&self) -> &'a [u8] {
        self.transport
    }

    pub fn host(&self) -> Host<'a> {
        self.host
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn params(&self) -> Params<'a> {
        self.params
    }

    pub fn branch(&self) -> Option<&'a [u8]> {
        self.params.get("branch").flatten()
    }

    /// The `received` address, as written (RFC 5118 §4.5: with or without brackets).
    pub fn received(&self) -> Option<&'a [u8]> {
        self.params.get("received").flatten()
    }

    /// `Some(None)` for a bare `;rport`, `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<&'a [u8]>> {
        self.params.get("rport")
    }
}

/// Parses every via-parm of one header value, appending to `out`.
pub fn parse_via_list<'a>(value: &'a [u8], out: &mut Vec<Via<'a>>) -> ParseResult<()> {
    for item in split_list(value) {
        let (at, elem) = item?;
        if elem.is_empty() {
            return Err(bad("empty list element", at));
        }
        out.push(Via::parse(elem).map_err(|e| e.at_base(at))?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ParseErrorKind;

    #[test]
    fn folded_via_with_spaces_everywhere() {
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.transport(), b"UDP");
        assert_eq!(v.version(), b"2.0");
        assert_eq!(v.host(), Host::Ipv4([192, 0, 2, 2].into()));
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        let mut list = Vec::new();
        parse_via_list(
            b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239",
            &mut list,
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].branch(), Some(&b"z9hG4bK9ikj8"[..]));
        assert_eq!(list[1].branch(), Some(&b"z9hG4bK30239"[..]));
    }

    #[test]
    fn ipv6_sent_by_port_and_received_forms() {
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];branch=z9hG4bKas3-111;rport").unwrap();
        assert!(matches!(
            v.host(),
            Host::Ipv6 {
                text: "2001:db8::9:1",
                ..
            }
        ));
        assert_eq!(v.port(), Some(6050));
        assert_eq!(v.received(), Some(&b"[2001:db8::9:255]"[..]));
        assert_eq!(v.rport(), Some(None));
        let v =
            Via::parse(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(v.received(), Some(&b"2001:db8::9:255"[..]));
        assert_eq!(v.port(), None);
        let v = Via::parse(b"SIP/2.0/UDP host.example.com : 5060").unwrap();
        assert_eq!(v.port(), Some(5060));
    }

    #[test]
    fn refusals() {
        let k = |v: &[u8]| Via::parse(v).unwrap_err().kind;
        assert_eq!(
            k(b"SIP/2.0/UDP 192.0.2.15;;"),
            ParseErrorKind::BadValue("empty parameter")
        );
        assert_eq!(
            k(b"SIP/2.0 192.0.2.15"),
            ParseErrorKind::BadValue("Via protocol version without /")
        );
        assert_eq!(
            k(b"SIP/2.0/UDP"),
            ParseErrorKind::BadValue("no white space before the Via sent-by")
        );
        assert_eq!(
            k(b"SIP/2.0/UDP [::1"),
            ParseErrorKind::BadValue("unbalanced [ in the Via sent-by")
        );
        assert_eq!(
            k(b"SIP/2.0/UDP a_b"),
            ParseErrorKind::BadValue("junk after a Via parameter")
        );
        assert_eq!(
            k(b"SIP/2.0/UDP 1.2.3.999"),
            ParseErrorKind::BadValue("malformed Via sent-by host")
        );
        assert_eq!(
            k(b"SIP/2.0/UDP h:99999"),
            ParseErrorKind::BadValue("malformed Via port")
        );
        let e = parse_via_list(b"SIP/2.0/UDP a, ,SIP/2.0/UDP b", &mut Vec::new()).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::BadValue("empty list element"), 15)
        );
    }
}
