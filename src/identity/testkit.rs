//! Test STI PKI: a CA and P-256 leaves with a TNAuthList, and request parties.

use super::parties::CallParties;
use super::sign::StiSigner;
use super::tn::Party;
use super::tnauth::{TnAuthList, TnEntry};
use crate::crypto::testkit::{key, now, Ca, KeyKind};
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509Builder, X509NameBuilder, X509};

pub const X5U: &str = "https://sti.example/cert.pem";

pub struct Sti {
    pub ca: Ca,
    pub cert: X509,
    pub key: PKey<Private>,
    pub signer: StiSigner,
}

/// An STI leaf under `ca`: `tns` in the `--tn` syntax (none: no TNAuthList), valid from
/// `from` to `to` (seconds since 1970).
pub fn sti_cert(ca: &Ca, tns: &[&str], from: i64, to: i64) -> (X509, PKey<Private>) {
    let key = key(KeyKind::P256);
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "sipsec test STI").unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.cert.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(from).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
    b.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .unwrap(),
    )
    .unwrap();
    if !tns.is_empty() {
        let entries: Vec<TnEntry> = tns.iter().map(|t| t.parse().unwrap()).collect();
        let list = TnAuthList::new(entries).unwrap();
        b.append_extension(list.extension().unwrap()).unwrap();
    }
    b.sign(&ca.key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
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
    }
}
