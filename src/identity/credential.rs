//! The credential an `info`/`x5u` URI names: the STI certificate, the chain that came with it,
//! its P-256 key and TNAuthList, and where verifiers get it from ([`CredentialSource`]).

use super::tnauth::{TnAuthError, TnAuthList};
use crate::crypto::{chain_key, ChainKey};
use openssl::ec::EcKey;
use openssl::nid::Nid;
use openssl::pkey::Public;
use openssl::x509::X509;
use std::sync::Arc;

/// A certificate with its chain, read from what an x5u URI serves
/// (`application/pem-certificate-chain`: the signer's certificate first).
#[derive(Debug)]
pub struct Credential {
    pub cert: X509,
    pub chain: Vec<X509>,
    pub key: EcKey<Public>,
    /// The TNAuthList, or why there is none: a verifier reports it, a signer refuses it.
    pub tn_auth: Result<TnAuthList, TnAuthError>,
    /// A fingerprint of the certificate and chain, under which trust verdicts are remembered.
    pub fingerprint: ChainKey,
}

/// Why no usable credential was found for a URI: [`CredentialError::code_is_436`] tells
/// whether RFC 8224 §6.2.2 calls it a failure to acquire (436) or an unsupported credential
/// (437).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("no certificate for {x5u}: {detail}")]
    Unavailable { x5u: String, detail: String },
    #[error("what {x5u} serves is not a PEM certificate chain")]
    Unreadable { x5u: String },
    #[error("the certificate at {x5u} has no ECDSA P-256 key; ES256 needs one")]
    NotP256 { x5u: String },
}

impl CredentialError {
    /// 436 "Bad Identity Info" when the credential could not be had; 437 otherwise.
    pub fn code_is_436(&self) -> bool {
        !matches!(self, CredentialError::NotP256 { .. })
    }
}

impl Credential {
    /// Reads a PEM chain (signer first). `x5u` only names the source in errors.
    pub fn from_pem(x5u: &str, pem: &[u8]) -> Result<Credential, CredentialError> {
        let unreadable = || CredentialError::Unreadable { x5u: x5u.into() };
        let mut certs = X509::stack_from_pem(pem)
            .map_err(|_| unreadable())?
            .into_iter();
        let cert = certs.next().ok_or_else(unreadable)?;
        let chain: Vec<X509> = certs.collect();
        Credential::new(x5u, cert, chain)
    }

    pub fn new(x5u: &str, cert: X509, chain: Vec<X509>) -> Result<Credential, CredentialError> {
        let not_p256 = || CredentialError::NotP256 { x5u: x5u.into() };
        let key = cert
            .public_key()
            .and_then(|k| k.ec_key())
            .map_err(|_| not_p256())?;
        if key.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
            return Err(not_p256());
        }
        let fingerprint = chain_key(&cert, &chain)
            .map_err(|_| CredentialError::Unreadable { x5u: x5u.into() })?;
        Ok(Credential {
            tn_auth: TnAuthList::of(&cert),
            cert,
            chain,
            key,
            fingerprint,
        })
    }

    /// The PEM chain, signer first: what a cache keeps and an x5u server serves.
    pub fn to_pem(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in std::iter::once(&self.cert).chain(&self.chain) {
            out.extend_from_slice(&c.to_pem().unwrap_or_default());
        }
        out
    }
}

/// Where a verifier gets the credential of an x5u URI; `now` is seconds since 1970.
pub trait CredentialSource {
    fn credential(&self, x5u: &str, now: i64) -> Result<Arc<Credential>, CredentialError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{Ca, KeyKind};

    #[test]
    fn reads_a_chain_and_keeps_it_in_order() {
        let root = Ca::new(KeyKind::P256);
        let inter = root.sub_ca(KeyKind::P256);
        let (leaf, _) = inter.leaf(KeyKind::P256, "sip:sti@example.com");
        let mut pem = leaf.to_pem().unwrap();
        pem.extend(inter.cert.to_pem().unwrap());
        let c = Credential::from_pem("https://x/", &pem).unwrap();
        assert_eq!(c.chain.len(), 1);
        assert_eq!(c.to_pem(), pem);
        assert_eq!(c.tn_auth, Err(TnAuthError::Missing));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Credential::from_pem("https://x/", b"not pem").unwrap_err(),
            CredentialError::Unreadable {
                x5u: "https://x/".into()
            }
        );
        let ca = Ca::new(KeyKind::Rsa);
        let (rsa, _) = ca.leaf(KeyKind::Rsa, "sip:sti@example.com");
        let e = Credential::from_pem("https://x/", &rsa.to_pem().unwrap()).unwrap_err();
        assert!(!e.code_is_436());
        assert!(CredentialError::Unavailable {
            x5u: "u".into(),
            detail: "d".into()
        }
        .code_is_436());
    }
}
