//! Which messages a tool acts on: `--select` expressions.
//!
//! A selection is a list of selectors; a message is selected when any one matches:
//! - `all`, `request`, `response`;
//! - `METHOD` (a request of that method, e.g. `INVITE`, `MESSAGE`);
//! - `STATUS` or `STATUS/METHOD`, where STATUS is a code (`200`), a class (`2xx`) or `response`,
//!   and METHOD is the method of the request answered (from CSeq): `2xx/INVITE`;
//! - `body`: any message with a non-empty body;
//! - `rfc3261`: the messages RFC 3261 §23.2 says SHOULD be signed: dialog-initiating requests and
//!   non-INVITE requests outside a dialog (a request without a To tag, ACK and CANCEL excepted,
//!   which cannot carry an S/MIME body of their own), and 2xx responses to INVITE.

use crate::message::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Any,
    Code(u16),
    /// The hundreds digit: `2xx` is `Class(2)`.
    Class(u16),
}

impl Status {
    fn matches(&self, code: u16) -> bool {
        match self {
            Status::Any => true,
            Status::Code(c) => *c == code,
            Status::Class(k) => code / 100 == *k,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    All,
    Request,
    WithBody,
    Rfc3261,
    Method(String),
    Response(Status, Option<String>),
}

/// A parsed `--select` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection(Vec<Selector>);

fn is_method(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(crate::message::is_token_char)
}

fn parse_status(s: &str) -> Option<Status> {
    let b = s.as_bytes();
    if s.eq_ignore_ascii_case("response") {
        return Some(Status::Any);
    }
    if b.len() != 3 || !(b'1'..=b'6').contains(&b[0]) {
        return None;
    }
    if b[1..].eq_ignore_ascii_case(b"xx") {
        return Some(Status::Class(u16::from(b[0] - b'0')));
    }
    s.parse().ok().map(Status::Code)
}

impl Selection {
    /// Parses a comma-separated list (e.g. `INVITE,2xx/INVITE`).
    pub fn parse(text: &str) -> Result<Selection, String> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim) {
            let selector = match item.to_ascii_lowercase().as_str() {
                "all" => Selector::All,
                "request" => Selector::Request,
                "response" => Selector::Response(Status::Any, None),
                "body" => Selector::WithBody,
                "rfc3261" | "default" => Selector::Rfc3261,
                _ => match item.split_once('/') {
                    Some((status, method)) if is_method(method) => Selector::Response(
                        parse_status(status).ok_or_else(|| bad(item))?,
                        Some(method.to_string()),
                    ),
                    Some(_) => return Err(bad(item)),
                    None => match parse_status(item) {
                        Some(status) => Selector::Response(status, None),
                        None if is_method(item) && !item.as_bytes()[0].is_ascii_digit() => {
                            Selector::Method(item.to_string())
                        }
                        None => return Err(bad(item)),
                    },
                },
            };
            out.push(selector);
        }
        Ok(Selection(out))
    }

    pub fn matches(&self, message: &Message) -> bool {
        self.0.iter().any(|s| s.matches(message))
    }
}

fn bad(item: &str) -> String {
    format!(
        "{item:?} is not a selector: use all, request, response, body, rfc3261, a METHOD, \
         a STATUS (200, 2xx) or STATUS/METHOD (2xx/INVITE)"
    )
}

impl std::str::FromStr for Selection {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selection::parse(s)
    }
}

/// The method a response answers (from CSeq).
fn cseq_method(message: &Message) -> Option<&[u8]> {
    message.cseq().ok().map(|c| c.method)
}

impl Selector {
    fn matches(&self, m: &Message) -> bool {
        match self {
            Selector::All => true,
            Selector::Request => m.is_request(),
            Selector::WithBody => !m.body().is_empty(),
            Selector::Method(name) => m.method() == Some(name.as_bytes()),
            Selector::Response(status, method) => {
                m.status_code().is_some_and(|c| status.matches(c))
                    && method
                        .as_ref()
                        .is_none_or(|x| cseq_method(m) == Some(x.as_bytes()))
            }
            Selector::Rfc3261 => match m.method() {
                Some(b"ACK" | b"CANCEL") => false,
                Some(_) => m.to().is_ok_and(|to| to.tag().is_none()),
                None => {
                    m.status_code().is_some_and(|c| c / 100 == 2)
                        && cseq_method(m) == Some(b"INVITE")
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Message {
        Message::parse(text.replace('\n', "\r\n").into_bytes()).unwrap()
    }

    fn request(method: &str, to_tag: bool) -> Message {
        let tag = if to_tag { ";tag=t" } else { "" };
        msg(&format!(
            "{method} sip:b@example.com SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
             From: <sip:a@example.com>;tag=f\nTo: <sip:b@example.com>{tag}\nCall-ID: c\n\
             CSeq: 1 {method}\nContent-Length: 0\n\n"
        ))
    }

    fn response(code: u16, method: &str) -> Message {
        msg(&format!(
            "SIP/2.0 {code} X\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n\
             From: <sip:a@example.com>;tag=f\nTo: <sip:b@example.com>;tag=t\nCall-ID: c\n\
             CSeq: 1 {method}\nContent-Length: 0\n\n"
        ))
    }

    #[test]
    fn the_rfc3261_default() {
        let s = Selection::parse("rfc3261").unwrap();
        assert!(s.matches(&request("INVITE", false)));
        assert!(s.matches(&request("MESSAGE", false)));
        assert!(s.matches(&response(200, "INVITE")));
        // In-dialog requests, ACK/CANCEL, other responses: not selected.
        assert!(!s.matches(&request("INVITE", true)));
        assert!(!s.matches(&request("BYE", true)));
        assert!(!s.matches(&request("CANCEL", false)));
        assert!(!s.matches(&request("ACK", false)));
        assert!(!s.matches(&response(180, "INVITE")));
        assert!(!s.matches(&response(200, "BYE")));
    }

    #[test]
    fn explicit_selectors() {
        let s = Selection::parse("2xx/INVITE").unwrap();
        assert!(s.matches(&response(200, "INVITE")));
        assert!(s.matches(&response(202, "INVITE")));
        assert!(!s.matches(&response(200, "BYE")));
        assert!(!s.matches(&request("INVITE", false)));
        let s = Selection::parse("INVITE, 486").unwrap();
        assert!(s.matches(&request("INVITE", true)));
        assert!(s.matches(&response(486, "INVITE")));
        assert!(!s.matches(&request("BYE", true)));
        let s = Selection::parse("response").unwrap();
        assert!(s.matches(&response(100, "INVITE")));
        assert!(!s.matches(&request("INVITE", false)));
        assert!(Selection::parse("request")
            .unwrap()
            .matches(&request("BYE", true)));
        assert!(!Selection::parse("body")
            .unwrap()
            .matches(&request("BYE", true)));
    }

    #[test]
    fn bad_selectors_are_refused() {
        for bad in [
            "",
            "2x",
            "9xx",
            "2xx/",
            "/INVITE",
            "2xx/IN VITE",
            "200/",
            "1234",
        ] {
            assert!(Selection::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
