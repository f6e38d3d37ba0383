//! The identities a PASSporT names (RFC 8224 §8): a telephone number in its canonical form
//! (§8.3: digits, `#` and `*` only) or a URI normalised to its address of record (§8.5).

use crate::uri::{Scheme, Uri};
use std::fmt;

/// One `orig`, `dest` or `div` identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    /// A canonical telephone number (`tn`): `1*("#" / "*" / DIGIT)`.
    Tn(String),
    /// A normalised URI (`uri`): `sip:user@host` with the host lower-cased, no port or
    /// parameters.
    Uri(String),
}

impl Party {
    /// The JSON key the identity goes under.
    pub fn key(&self) -> &'static str {
        match self {
            Party::Tn(_) => "tn",
            Party::Uri(_) => "uri",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Party::Tn(v) | Party::Uri(v) => v,
        }
    }

    pub fn tn(&self) -> Option<&str> {
        match self {
            Party::Tn(v) => Some(v),
            Party::Uri(_) => None,
        }
    }

    /// The identity of a From, To, P-Asserted-Identity or Request-URI URI: a telephone number
    /// when the URI is `tel:`, a SIP URI with `user=phone`, or a SIP URI whose user part is a
    /// number (an optional `+`, digits and visual separators); otherwise the URI itself.
    pub fn of_uri(uri: &Uri<'_>) -> Result<Party, TnError> {
        match uri.scheme() {
            Scheme::Tel => {
                let number = uri.user().ok_or(TnError::NotANumber)?;
                canonical_tn(number.as_bytes()).map(Party::Tn)
            }
            Scheme::Sip | Scheme::Sips => {
                let user = uri.user_unescaped();
                let user = user.as_deref().unwrap_or_default();
                // With user=phone the user part is a telephone-subscriber whose own
                // parameters (`;isub=`, `;phone-context=`) follow the number.
                let number = user.split(|&c| c == b';').next().unwrap_or_default();
                let phone = uri
                    .user_param()
                    .is_some_and(|u| u.eq_ignore_ascii_case("phone"));
                if phone || (!number.is_empty() && is_dialled_number(number)) {
                    if let Ok(tn) = canonical_tn(number) {
                        return Ok(Party::Tn(tn));
                    }
                }
                let key = uri.aor_key().ok_or(TnError::NotAnIdentity)?;
                let scheme = if uri.scheme() == Scheme::Sips {
                    "sips:"
                } else {
                    "sip:"
                };
                Ok(Party::Uri(format!("{scheme}{key}")))
            }
            Scheme::Other => Err(TnError::NotAnIdentity),
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.key(), self.value())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TnError {
    #[error("the telephone number holds characters other than digits, `#`, `*`, `+` and visual separators")]
    NotANumber,
    #[error("the URI names no user that a PASSporT can carry (only sip, sips and tel URIs)")]
    NotAnIdentity,
}

/// A user part that reads as a number without `user=phone` (RFC 8224 §8.1 local policy): an
/// optional leading `+`, then digits and visual separators, at least one digit.
fn is_dialled_number(user: &[u8]) -> bool {
    let digits = user.strip_prefix(b"+").unwrap_or(user);
    digits.iter().any(u8::is_ascii_digit)
        && digits
            .iter()
            .all(|c| c.is_ascii_digit() || b"-.()".contains(c))
}

/// The canonical number string of RFC 8224 §8.3: a leading `+` and the visual separators of
/// RFC 3966 (`-.()`) dropped, `#`, `*` and digits kept. Anything else (letters, spaces, a `+`
/// inside the number) is not a telephone number.
pub fn canonical_tn(number: &[u8]) -> Result<String, TnError> {
    let rest = number.strip_prefix(b"+").unwrap_or(number);
    let mut out = String::with_capacity(rest.len());
    for &c in rest {
        match c {
            b'0'..=b'9' | b'#' | b'*' => out.push(c as char),
            b'-' | b'.' | b'(' | b')' => {}
            _ => return Err(TnError::NotANumber),
        }
    }
    if out.is_empty() {
        return Err(TnError::NotANumber);
    }
    Ok(out)
}

/// A canonical number as it stands in a PASSporT `tn` claim: only `#`, `*` and digits.
pub fn is_canonical_tn(tn: &str) -> bool {
    !tn.is_empty()
        && tn
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'#' || c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(text: &str) -> Result<Party, TnError> {
        Party::of_uri(&Uri::parse_str(text).unwrap())
    }

    #[test]
    fn tel_and_user_phone_and_numeric_users_are_numbers() {
        for (uri, tn) in [
            ("tel:+1-215-555-1212", "12155551212"),
            (
                "tel:+1(215)555.1212;phone-context=example.com",
                "12155551212",
            ),
            ("tel:*67#;phone-context=example.com", "*67#"),
            ("sip:+12155551212@example.com;user=phone", "12155551212"),
            (
                "sip:+1-215-555-1212;isub=12@example.com;user=phone",
                "12155551212",
            ),
            ("sip:%2B12155551212@example.com;user=phone", "12155551212"),
            ("sip:12155551212@example.com", "12155551212"),
            ("sips:+44-20-7946-0000@example.com", "442079460000"),
        ] {
            assert_eq!(party(uri), Ok(Party::Tn(tn.into())), "{uri}");
        }
    }

    #[test]
    fn other_users_are_uris_normalised_to_their_aor() {
        assert_eq!(
            party("sip:Alice@Example.COM:5060;transport=tcp"),
            Ok(Party::Uri("sip:Alice@example.com".into()))
        );
        assert_eq!(
            party("sips:support@callcentre.example"),
            Ok(Party::Uri("sips:support@callcentre.example".into()))
        );
        // A user part with letters is not a number even when it starts with digits.
        assert_eq!(
            party("sip:1800flowers@example.com"),
            Ok(Party::Uri("sip:1800flowers@example.com".into()))
        );
        // user=phone whose number does not read stays a URI (RFC 8224 §8.1, last paragraph).
        assert!(matches!(
            party("sip:+1%20215@example.com;user=phone"),
            Ok(Party::Uri(_))
        ));
    }

    #[test]
    fn bad_numbers_and_schemes_are_refused() {
        assert_eq!(canonical_tn(b"+1-215-CALL-NOW"), Err(TnError::NotANumber));
        assert_eq!(canonical_tn(b"+"), Err(TnError::NotANumber));
        assert_eq!(canonical_tn(b"1+2"), Err(TnError::NotANumber));
        assert_eq!(canonical_tn(b"1 2"), Err(TnError::NotANumber));
        assert_eq!(party("mailto:a@example.com"), Err(TnError::NotAnIdentity));
        assert_eq!(canonical_tn(b""), Err(TnError::NotANumber));
    }

    #[test]
    fn canonical_claim_values() {
        assert!(is_canonical_tn("12155551212"));
        assert!(is_canonical_tn("*67"));
        assert!(!is_canonical_tn("+12155551212"));
        assert!(!is_canonical_tn(""));
        assert!(!is_canonical_tn("1-215"));
    }
}
