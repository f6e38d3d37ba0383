//! Test STI PKI: a CA and P-256 leaves with a TNAuthList, and request parties.

use super::parties::CallParties;
use super::sign::StiSigner;
use super::sticert::{make_sti_cert, StiProfile};
use super::tn::Party;
use super::tnauth::TnAuthList;
use crate::crypto::testkit::{key, now, Ca, KeyKind};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

pub const X5U: &str = "https://sti.example/cert.pem";

pub struct Sti {
    pub ca: Ca,
    pub cert: X509,
    pub key: PKey<Private>,
    pub signer: StiSigner,
}

/// An STI leaf under `ca`: `tns` in the `--tn` syntax, valid from `from` to `to` (seconds
/// since 1970); without `tns`, a current P-256 leaf with no TNAuthList.
pub fn sti_cert(ca: &Ca, tns: &[&str], from: i64, to: i64) -> (X509, PKey<Private>) {
    if tns.is_empty() {
        return ca.leaf(KeyKind::P256, "sip:sti@example.com");
    }
    let key = key(KeyKind::P256);
    let profile = StiProfile {
        cn: "sipsec test STI".into(),
        tn_auth: TnAuthList::new(tns.iter().map(|t| t.parse().unwrap()).collect()).unwrap(),
        not_before: from,
        not_after: to,
    };
    (
        make_sti_cert(&profile, &key, (&ca.cert, &ca.key)).unwrap(),
        key,
    )
}

/// A fresh CA and a current STI certificate covering `tns`, with its signer.
pub fn sti(tns: &[&str]) -> Sti {
    let ca = Ca::new(KeyKind::P256);
    let (cert, key) = sti_cert(&ca, tns, now() - 86_400, now() + 86_400 * 30);
    let signer = StiSigner::new(&key, &cert, X5U).unwrap();
    Sti {
        ca,
        cert,
        key,
        signer,
    }
}

/// Parties with telephone numbers and no Date.
pub fn parties(orig: &str, to: &str, target: Option<&str>) -> CallParties {
    let orig = Party::Tn(orig.into());
    CallParties {
        orig: orig.clone(),
        orig_candidates: vec![orig],
        to: Party::Tn(to.into()),
        target: target.map(|t| Party::Tn(t.into())),
        date: None,
        mky: Vec::new(),
    }
}
