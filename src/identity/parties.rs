//! What a SIP request says about who calls whom, in PASSporT terms: the originating identity
//! (P-Asserted-Identity, else From), the destination (To), the current target (the
//! Request-URI, which a diverted call changes) and the Date.

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
        })
    }

    /// Whether a PASSporT's `orig` is this call's originator.
    pub fn is_orig(&self, claimed: &Party) -> bool {
        self.orig_candidates.contains(claimed)
    }
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
