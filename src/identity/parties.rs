//! What a SIP request says about who calls whom, in PASSporT terms: the originating identity
//! (P-Asserted-Identity, else From), the destination (To), the current target (the
//! Request-URI, which a diverted call changes) and the Date.

use super::passport::{sort_media_keys, MediaKey};
use super::tn::Party;
use crate::header::parse_address_list;
use crate::message::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallParties {
    /// The identity an authentication service signs as `orig`: the first telephone number
    /// of P-Asserted-Identity, else its first identity, else From's.
    pub orig: Party,
    /// From's identity and every P-Asserted-Identity's: what a verifier accepts as `orig`.
    pub orig_candidates: Vec<Party>,
    /// To's identity: the `dest` of an original PASSporT, the `div` of a diverted one.
    pub to: Party,
    /// The Request-URI's identity: the `dest` of a div PASSporT.
    pub target: Option<Party>,
    /// The Date header, seconds since 1970.
    pub date: Option<i64>,
    /// The `a=fingerprint` media keys of an SDP body, in `mky` order (RFC 8224 §4.1: a
    /// PASSporT then carries them).
    pub mky: Vec<MediaKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartiesError {
    #[error("the {header} does not read: {detail}")]
    Unreadable {
        header: &'static str,
        detail: String,
    },
    #[error("the {0} names no identity a PASSporT can carry")]
    NoIdentity(&'static str),
    #[error("an SDP a=fingerprint line does not read (alg, then hexadecimal digest)")]
    BadFingerprint,
}

fn unreadable(header: &'static str) -> impl Fn(crate::ParseError) -> PartiesError {
    move |e| PartiesError::Unreadable {
        header,
        detail: e.to_string(),
    }
}

impl CallParties {
    pub fn of(msg: &Message) -> Result<CallParties, PartiesError> {
        let from = msg.from().map_err(unreadable("From"))?;
        let from = Party::of_uri(from.uri()).map_err(|_| PartiesError::NoIdentity("From"))?;
        let to = msg.to().map_err(unreadable("To"))?;
        let to = Party::of_uri(to.uri()).map_err(|_| PartiesError::NoIdentity("To"))?;
        let mut asserted = Vec::new();
        for value in msg.values_named("P-Asserted-Identity") {
            let mut addresses = Vec::new();
            parse_address_list(value, &mut addresses).map_err(unreadable("P-Asserted-Identity"))?;
            for a in &addresses {
                asserted.push(
                    Party::of_uri(a.uri())
                        .map_err(|_| PartiesError::NoIdentity("P-Asserted-Identity"))?,
                );
            }
        }
        let orig = asserted
            .iter()
            .find(|p| p.tn().is_some())
            .or(asserted.first())
            .unwrap_or(&from)
            .clone();
        let target = match msg.request_uri_parsed() {
            Some(uri) => Some(
                Party::of_uri(&uri.map_err(unreadable("Request-URI"))?)
                    .map_err(|_| PartiesError::NoIdentity("Request-URI"))?,
            ),
            None => None,
        };
        let date = msg.date().map_err(unreadable("Date"))?.map(|d| d.unix);
        asserted.push(from);
        Ok(CallParties {
            orig,
            orig_candidates: asserted,
            to,
            target,
            date,
            mky: media_keys(msg)?,
        })
    }

    /// Whether a PASSporT's `orig` is this call's originator.
    pub fn is_orig(&self, claimed: &Party) -> bool {
        self.orig_candidates.contains(claimed)
    }
}

/// The `a=fingerprint:<alg> <hex:hex:…>` lines of an `application/sdp` body (RFC 8122).
fn media_keys(msg: &Message) -> Result<Vec<MediaKey>, PartiesError> {
    let sdp = msg
        .content_type()
        .map_err(unreadable("Content-Type"))?
        .is_some_and(|ct| ct.is("application", "sdp"));
    if !sdp {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for line in msg.body().split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(value) = line.strip_prefix(b"a=fingerprint:") else {
            continue;
        };
        let text = std::str::from_utf8(value).map_err(|_| PartiesError::BadFingerprint)?;
        let (alg, hex) = text
            .trim()
            .split_once(' ')
            .ok_or(PartiesError::BadFingerprint)?;
        let dig: String = hex.trim().chars().filter(|&c| c != ':').collect();
        if alg.is_empty() || dig.is_empty() || !dig.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(PartiesError::BadFingerprint);
        }
        keys.push(MediaKey {
            alg: alg.to_owned(),
            dig,
        });
    }
    sort_media_keys(&mut keys);
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(extra: &str) -> Message {
        Message::parse(format!(
            "INVITE sip:+12155550199@b.example;user=phone SIP/2.0\r\n\
             Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n\
             From: <sip:+1-215-555-0121@a.example;user=phone>;tag=1\r\n\
             To: <tel:+12155550131>\r\n\
             Call-ID: c\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n{extra}\
             Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn from_to_target_and_date() {
        let p = CallParties::of(&msg("Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n")).unwrap();
        assert_eq!(p.orig, Party::Tn("12155550121".into()));
        assert_eq!(p.to, Party::Tn("12155550131".into()));
        assert_eq!(p.target, Some(Party::Tn("12155550199".into())));
        assert_eq!(p.date, Some(1289690940));
    }

    #[test]
    fn asserted_identity_wins_and_prefers_a_number() {
        let p = CallParties::of(&msg(
            "P-Asserted-Identity: <sip:agent7@a.example>, <tel:+12155550100>\r\n",
        ))
        .unwrap();
        assert_eq!(p.orig, Party::Tn("12155550100".into()));
        assert!(p.is_orig(&Party::Uri("sip:agent7@a.example".into())));
        assert!(p.is_orig(&Party::Tn("12155550121".into())));
        assert!(!p.is_orig(&Party::Tn("12155550122".into())));
    }

    #[test]
    fn media_keys_of_an_sdp_body() {
        let sdp = "v=0\r\na=fingerprint:sha-256 4A:AD:B9\r\nm=audio 1 RTP/SAVP 0\r\n\
                   a=fingerprint:sha-256 02:1A:CC\r\n";
        let m = Message::parse(format!(
            "INVITE sip:+12155550199@b.example;user=phone SIP/2.0\r\n\
             From: <tel:+12155550121>;tag=1\r\nTo: <tel:+12155550131>\r\n\
             Call-ID: c\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ))
        .unwrap();
        let p = CallParties::of(&m).unwrap();
        let digs: Vec<&str> = p.mky.iter().map(|k| k.dig.as_str()).collect();
        assert_eq!(digs, ["021ACC", "4AADB9"]);
        assert!(CallParties::of(&msg("")).unwrap().mky.is_empty());
        let bad = Message::parse(
            "INVITE sip:a@b SIP/2.0\r\nFrom: <tel:+1>;tag=1\r\nTo: <tel:+2>\r\n\
             Content-Type: application/sdp\r\nContent-Length: 21\r\n\r\na=fingerprint:sha-1\r\n",
        )
        .unwrap();
        assert_eq!(CallParties::of(&bad), Err(PartiesError::BadFingerprint));
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            CallParties::of(&msg("P-Asserted-Identity: <mailto:x@y>\r\n")),
            Err(PartiesError::NoIdentity("P-Asserted-Identity"))
        ));
        assert!(matches!(
            CallParties::of(&msg("P-Asserted-Identity: <sip:a@b\r\n")),
            Err(PartiesError::Unreadable { .. })
        ));
        assert!(matches!(
            CallParties::of(&msg("Date: yesterday\r\n")),
            Err(PartiesError::Unreadable { header: "Date", .. })
        ));
    }
}
