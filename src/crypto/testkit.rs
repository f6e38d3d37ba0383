//! Test PKI made on the fly: CAs, S/MIME leaf certificates (RSA-2048 or P-256, SAN URI,
//! EKU emailProtection), expired / future / wrong-EKU leaves and CRLs. Uses only the `openssl`
//! crate, so `tests/common/mod.rs` includes this same file by path.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{
    CrlNumber, X509Builder, X509Crl, X509CrlBuilder, X509Extension, X509Name, X509NameBuilder,
    X509RevokedBuilder, X509,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// From a month ago for a year.
    Now,
    /// Ten days ago until yesterday.
    Expired,
    /// From in ten days.
    Future,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn key(kind: KeyKind) -> PKey<Private> {
    match kind {
        KeyKind::Rsa => PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        KeyKind::P256 => {
            let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap()
        }
    }
}

fn serial() -> Asn1Integer {
    let mut bn = BigNum::new().unwrap();
    bn.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    bn.to_asn1_integer().unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    name.build()
}

fn builder(cn: &str, key: &PKey<Private>, validity: Validity) -> X509Builder {
    let name = name(cn);
    let day = 86_400;
    let (from, to) = match validity {
        Validity::Now => (now() - 30 * day, now() + 365 * day),
        Validity::Expired => (now() - 10 * day, now() - day),
        Validity::Future => (now() + 10 * day, now() + 365 * day),
    };
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(from).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
    b
}

/// A certification authority: its certificate and key.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Ca {
    /// A self-signed root.
    pub fn new(kind: KeyKind) -> Ca {
        let key = key(kind);
        let mut b = builder("sipsec test root", &key, Validity::Now);
        b.set_issuer_name(&name("sipsec test root")).unwrap();
        Ca::finish_ca(b, key, None)
    }

    /// An intermediate CA signed by this one.
    pub fn sub_ca(&self, kind: KeyKind) -> Ca {
        let key = key(kind);
        let mut b = builder("sipsec test intermediate", &key, Validity::Now);
        b.set_issuer_name(self.cert.subject_name()).unwrap();
        Ca::finish_ca(b, key, Some(self))
    }

    /// An intermediate CA signed by this one with a nameConstraints extension, written in
    /// OpenSSL's configuration syntax (`critical,permitted;DNS:example.com,excluded;IP:...`).
    pub fn constrained_sub_ca(&self, kind: KeyKind, constraints: &str) -> Ca {
        let key = key(kind);
        let mut b = builder("sipsec test constrained intermediate", &key, Validity::Now);
        b.set_issuer_name(self.cert.subject_name()).unwrap();
        let ctx = b.x509v3_context(Some(&self.cert), None);
        #[allow(deprecated)] // the crate has no typed builder for nameConstraints
        let nc = X509Extension::new(None, Some(&ctx), "nameConstraints", constraints).unwrap();
        b.append_extension(nc).unwrap();
        Ca::finish_ca(b, key, Some(self))
    }

    fn finish_ca(mut b: X509Builder, key: PKey<Private>, issuer: Option<&Ca>) -> Ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        )
        .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))
            .unwrap();
        b.append_extension(ski).unwrap();
        let signing_key = issuer.map(|i| &i.key).unwrap_or(&key);
        b.sign(signing_key, MessageDigest::sha256()).unwrap();
        Ca {
            cert: b.build(),
            key,
        }
    }

    /// A current S/MIME leaf with EKU emailProtection and SAN `uri`.
    pub fn leaf(&self, kind: KeyKind, uri: &str) -> (X509, PKey<Private>) {
        self.leaf_with(kind, uri, Validity::Now, true)
    }

    /// A leaf with the given validity; `email_eku` false gives EKU serverAuth only.
    pub fn leaf_with(
        &self,
        kind: KeyKind,
        uri: &str,
        validity: Validity,
        email_eku: bool,
    ) -> (X509, PKey<Private>) {
        let key = key(kind);
        let mut b = builder(uri, &key, validity);
        b.set_issuer_name(self.cert.subject_name()).unwrap();
        b.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        let mut ku = KeyUsage::new();
        ku.critical().digital_signature().non_repudiation();
        match kind {
            KeyKind::Rsa => ku.key_encipherment(),
            KeyKind::P256 => ku.key_agreement(),
        };
        b.append_extension(ku.build().unwrap()).unwrap();
        let mut eku = ExtendedKeyUsage::new();
        if email_eku {
            eku.email_protection();
        } else {
            eku.server_auth();
        }
        b.append_extension(eku.build().unwrap()).unwrap();
        let ctx = b.x509v3_context(Some(&self.cert), None);
        let san = SubjectAlternativeName::new().uri(uri).build(&ctx).unwrap();
        let ski = SubjectKeyIdentifier::new().build(&ctx).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&ctx)
            .unwrap();
        b.append_extension(san).unwrap();
        b.append_extension(ski).unwrap();
        b.append_extension(aki).unwrap();
        b.sign(&self.key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    /// A CRL, current for a month, revoking `revoked`.
    pub fn crl(&self, revoked: &[&X509]) -> X509Crl {
        let mut b = X509CrlBuilder::new().unwrap();
        b.set_issuer_name(self.cert.subject_name()).unwrap();
        b.set_last_update(&Asn1Time::from_unix(now() - 86_400).unwrap())
            .unwrap();
        b.set_next_update(&Asn1Time::from_unix(now() + 30 * 86_400).unwrap())
            .unwrap();
        for cert in revoked {
            let mut r = X509RevokedBuilder::new().unwrap();
            r.set_serial_number(cert.serial_number()).unwrap();
            r.set_revocation_date(&Asn1Time::from_unix(now() - 3_600).unwrap())
                .unwrap();
            b.add_revoked(r.build()).unwrap();
        }
        // The crate insists on AKI and CRL number (RFC 5280 §5.2).
        let dummy = X509Builder::new().unwrap();
        let ctx = dummy.x509v3_context(Some(&self.cert), None);
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&ctx)
            .unwrap();
        b.append_extension(aki).unwrap();
        let number = CrlNumber::new(BigNum::from_u32(1).unwrap()).unwrap();
        b.append_extension(number.build().unwrap()).unwrap();
        b.sign(&self.key, MessageDigest::sha256()).unwrap();
        b.build().unwrap()
    }
}
