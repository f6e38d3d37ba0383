//! STI certificates (RFC 8226): a P-256 key, key usage digitalSignature only, and the
//! TNAuthList naming the numbers the key may sign for; or a CSR asking an outside STI-CA for
//! one (the TNAuthList goes in the request's extensions).

use super::tnauth::TnAuthList;
use openssl::asn1::Asn1Time;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509NameBuilder, X509Ref, X509Req, X509ReqBuilder, X509};

/// What an STI certificate says.
#[derive(Debug, Clone)]
pub struct StiProfile {
    /// The subject common name (the service provider or the group).
    pub cn: String,
    pub tn_auth: TnAuthList,
    /// Validity, seconds since 1970.
    pub not_before: i64,
    pub not_after: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StiCertError {
    #[error("an STI key must be ECDSA P-256 (ES256)")]
    NotP256,
    #[error("the CSR's signature does not verify: it proves no possession of its key")]
    BadCsrSignature,
    #[error("OpenSSL failed while building the STI certificate: {0}")]
    Openssl(#[from] ErrorStack),
}

fn check_p256<T: HasPublic>(key: &PKeyRef<T>) -> Result<(), StiCertError> {
    let ok = key
        .ec_key()
        .ok()
        .and_then(|k| k.group().curve_name())
        .is_some_and(|n| n == Nid::X9_62_PRIME256V1);
    if ok {
        Ok(())
    } else {
        Err(StiCertError::NotP256)
    }
}

fn subject(cn: &str) -> Result<openssl::x509::X509Name, ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    b.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(b.build())
}

/// Issues an STI certificate for `public` under `issuer`.
pub fn make_sti_cert<T: HasPublic>(
    profile: &StiProfile,
    public: &PKeyRef<T>,
    issuer: (&X509Ref, &PKeyRef<Private>),
) -> Result<X509, StiCertError> {
    check_p256(public)?;
    let (issuer_cert, issuer_key) = issuer;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let mut serial = openssl::bn::BigNum::new()?;
    serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    b.set_serial_number(&*serial.to_asn1_integer()?)?;
    b.set_subject_name(&*subject(&profile.cn)?)?;
    b.set_issuer_name(issuer_cert.subject_name())?;
    b.set_pubkey(public)?;
    b.set_not_before(&*Asn1Time::from_unix(profile.not_before)?)?;
    b.set_not_after(&*Asn1Time::from_unix(profile.not_after)?)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(issuer_cert), None))?;
    b.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&b.x509v3_context(Some(issuer_cert), None))?;
    b.append_extension(aki)?;
    b.append_extension(profile.tn_auth.extension()?)?;
    b.sign(issuer_key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// A CSR for an outside STI-CA: subject CN and the TNAuthList asked for.
pub fn make_sti_csr(profile: &StiProfile, key: &PKeyRef<Private>) -> Result<X509Req, StiCertError> {
    check_p256(key)?;
    let mut b = X509ReqBuilder::new()?;
    b.set_version(0)?;
    b.set_subject_name(&*subject(&profile.cn)?)?;
    b.set_pubkey(key)?;
    let mut exts = Stack::new()?;
    exts.push(profile.tn_auth.extension()?)?;
    b.add_extensions(&exts)?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// Signs an STI CSR after checking its self-signature; the TNAuthList certified is the one in
/// `profile`, decided by the CA, never taken from the request.
pub fn sign_sti_csr(
    csr: &X509Req,
    profile: &StiProfile,
    issuer: (&X509Ref, &PKeyRef<Private>),
) -> Result<X509, StiCertError> {
    let public = csr.public_key()?;
    if !csr.verify(&public).unwrap_or(false) {
        return Err(StiCertError::BadCsrSignature);
    }
    make_sti_cert(profile, &public, issuer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{key, now, Ca, KeyKind};
    use crate::crypto::{check_trust, TrustContext, TrustPurpose};

    fn profile() -> StiProfile {
        StiProfile {
            cn: "Call Centre STI".into(),
            tn_auth: TnAuthList::new(vec!["12155550100+100".parse().unwrap()]).unwrap(),
            not_before: now() - 60,
            not_after: now() + 86_400,
        }
    }

    #[test]
    fn certificate_and_csr_carry_the_tn_auth_list() {
        let ca = Ca::new(KeyKind::P256);
        let k = key(KeyKind::P256);
        let cert = make_sti_cert(&profile(), &k, (&ca.cert, &ca.key)).unwrap();
        assert_eq!(TnAuthList::of(&cert).unwrap(), profile().tn_auth);
        let ctx = TrustContext {
            anchors: vec![ca.cert.clone()],
            purpose: TrustPurpose::Any,
            ..TrustContext::default()
        };
        assert!(check_trust(&cert, &[], &ctx).unwrap().is_trusted());
        let csr = make_sti_csr(&profile(), &k).unwrap();
        let signed = sign_sti_csr(&csr, &profile(), (&ca.cert, &ca.key)).unwrap();
        assert!(signed.public_key().unwrap().public_eq(&k));
        // OpenSSL's own parser reads the extension in the request.
        let text = String::from_utf8(csr.to_text().unwrap()).unwrap();
        assert!(text.contains("1.3.6.1.5.5.7.1.26"), "{text}");
    }

    #[test]
    fn refusals() {
        let ca = Ca::new(KeyKind::P256);
        let rsa = key(KeyKind::Rsa);
        assert!(matches!(
            make_sti_cert(&profile(), &rsa, (&ca.cert, &ca.key)),
            Err(StiCertError::NotP256)
        ));
        assert!(matches!(
            make_sti_csr(&profile(), &rsa),
            Err(StiCertError::NotP256)
        ));
        // A CSR signed by another key than the one it names.
        let k = key(KeyKind::P256);
        let mut b = X509ReqBuilder::new().unwrap();
        b.set_pubkey(&k).unwrap();
        b.sign(&key(KeyKind::P256), MessageDigest::sha256())
            .unwrap();
        assert!(matches!(
            sign_sti_csr(&b.build(), &profile(), (&ca.cert, &ca.key)),
            Err(StiCertError::BadCsrSignature)
        ));
    }
}
