//! The CMS layer: sign, verify, encrypt and decrypt DER CMS blobs over bytes (RFC 5652, RFC 5083,
//! RFC 8551 algorithms). Sans-IO: no MIME, no SIP, no files; other modules wrap it.
//!
//! Design points:
//! - Everything is binary: content is signed and compared byte for byte, never canonicalised.
//! - Verification reports *integrity* ([`verify`]) separately from *trust* ([`check_trust`]), so a
//!   tool can say "the body is intact, signed by X, but X's certificate expired yesterday".
//! - Every decryption failure is the single [`CmsError::DecryptFailed`], whatever went wrong, so
//!   a decrypting proxy cannot be used as a padding or tag oracle.
//! - All `unsafe` (functions the `openssl` crate lacks) lives in `ffi.rs`.

pub mod capabilities;
pub mod constraints;
pub(crate) mod der;
mod envelope;
pub mod fastcms;
pub mod fastenv;
mod fetched;
mod ffi;
mod sign;
mod strict;
#[cfg(test)]
pub(crate) mod testkit;
mod trust;

pub use envelope::{content_type, decrypt, encrypt, recipients, CmsEncryptOptions, Decrypted};
pub use sign::{sign, verify, CmsSignOptions, Signer, VerifiedSignature, VerifyContext};
pub use strict::{check_der, signature_identity, Der, DerError};
pub use trust::{
    chain_key, check_trust, is_ca_certificate, ChainKey, TrustContext, TrustPurpose, TrustVerdict,
};

use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::symm::Cipher;
use openssl::x509::X509Ref;

/// Failures of the CMS layer. Messages say what went wrong and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("not a DER CMS ContentInfo ({0}); pass the binary body, not base64 or PEM")]
    BadDer(String),
    #[error("expected {expected} but the CMS is {found}; check the smime-type of the body")]
    WrongContentType {
        expected: &'static str,
        found: CmsContentType,
    },
    #[error("signature does not match the content ({0}): the body or the signature was altered")]
    IntegrityFailed(String),
    #[error(
        "the signer's certificate is neither in the CMS nor among the supplied certificates; \
         supply the sender's certificate"
    )]
    SignerNotFound,
    #[error(
        "detached signature without content; pass the signed part (first part of multipart/signed)"
    )]
    DetachedContentMissing,
    #[error("the signature carries its own content; do not pass detached content as well")]
    UnexpectedDetachedContent,
    #[error("cannot decrypt: the message is not for this key, or it is damaged")]
    DecryptFailed,
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    #[error("no recipient certificates given; encrypt to at least one certificate")]
    NoRecipients,
    #[error("the private key does not belong to the signer certificate; check the key file")]
    KeyMismatch,
    #[error("OpenSSL failed while {context}: {detail}")]
    Openssl {
        context: &'static str,
        detail: String,
    },
}

impl CmsError {
    pub(crate) fn openssl(context: &'static str) -> impl FnOnce(ErrorStack) -> CmsError {
        move |e| CmsError::Openssl {
            context,
            detail: e.to_string(),
        }
    }
}

/// id-kp-sipDomain (RFC 5924), 1.3.6.1.5.5.7.3.20, as OID content octets: the key purpose
/// that lets a certificate for a domain speak for the SIP users of that domain.
pub const ID_KP_SIP_DOMAIN: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x14];

/// Dotted text of [`ID_KP_SIP_DOMAIN`], as OpenSSL's builders take it.
pub fn id_kp_sip_domain_text() -> String {
    der::dotted(&ID_KP_SIP_DOMAIN).unwrap_or_default()
}

/// Whether `cert` carries id-kp-sipDomain. The openssl crate has no accessor for extended key
/// usage; the OID's DER (tag, length, content) cannot occur in a certificate other than as a
/// key purpose (it lies under id-kp), so it is searched for in the whole certificate.
pub fn has_sip_domain_purpose(cert: &X509Ref) -> bool {
    cert.to_der().is_ok_and(|d| {
        d.windows(ID_KP_SIP_DOMAIN.len() + 2).any(|w| {
            w[0] == 0x06
                && usize::from(w[1]) == ID_KP_SIP_DOMAIN.len()
                && w[2..] == ID_KP_SIP_DOMAIN
        })
    })
}

/// One CMS ContentInfo, as OpenSSL decodes it (DER, or BER as some producers stream it), and
/// nothing after it: octets OpenSSL would ignore would let one signature travel in many
/// encodings.
pub(crate) fn parse_der(der: &[u8]) -> Result<openssl::cms::CmsContentInfo, CmsError> {
    let (cms, used) =
        ffi::cms_from_der_prefix(der).map_err(|e| CmsError::BadDer(first_reason(&e)))?;
    match der.len() - used {
        0 => Ok(cms),
        after => Err(CmsError::BadDer(format!("{after} octets after the CMS"))),
    }
}

/// The DER of a CMS ContentInfo: `der` itself when it is DER, else OpenSSL's re-encoding of
/// what it reads (BER from streaming producers such as gpgsm and Bouncy Castle), which must then
/// be DER. Refused when OpenSSL does not read it or octets follow it (the error names why it
/// was not DER). One signature thus has one encoding, whatever carried it.
pub fn der_encoding(der: &[u8]) -> Result<Der<'_>, CmsError> {
    let not_der = match Der::strict(der) {
        Ok(der) => return Ok(der),
        Err(e) => e,
    };
    let named = |e: CmsError| CmsError::BadDer(format!("{not_der}; {e}"));
    let cms = parse_der(der).map_err(named)?;
    let again = cms
        .to_der()
        .map_err(CmsError::openssl("re-encoding the CMS"))?;
    Der::strict_owned(again).map_err(|e| CmsError::BadDer(format!("{not_der}; re-encoded: {e}")))
}

/// Seconds since 1970 of an ASN.1 time.
pub(crate) fn epoch_seconds(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// The most specific OpenSSL reason in an error stack, without file/line noise.
pub(crate) fn first_reason(e: &ErrorStack) -> String {
    e.errors()
        .iter()
        .rev()
        .find_map(|x| x.reason())
        .unwrap_or("no detail from OpenSSL")
        .to_string()
}

/// Message digests for signing; `Other` only appears when reporting what a signer used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DigestAlgorithm {
    Sha1,
    #[default]
    Sha256,
    Sha384,
    Sha512,
    /// Any other digest, by dotted OID.
    Other(String),
}

impl DigestAlgorithm {
    pub(crate) fn message_digest(&self) -> Result<MessageDigest, CmsError> {
        match self {
            DigestAlgorithm::Sha1 => Ok(MessageDigest::sha1()),
            DigestAlgorithm::Sha256 => Ok(MessageDigest::sha256()),
            DigestAlgorithm::Sha384 => Ok(MessageDigest::sha384()),
            DigestAlgorithm::Sha512 => Ok(MessageDigest::sha512()),
            DigestAlgorithm::Other(oid) => {
                Err(CmsError::UnsupportedAlgorithm(format!("digest {oid}")))
            }
        }
    }

    pub(crate) fn from_nid(nid: Nid, oid: String) -> DigestAlgorithm {
        match nid {
            Nid::SHA1 => DigestAlgorithm::Sha1,
            Nid::SHA256 => DigestAlgorithm::Sha256,
            Nid::SHA384 => DigestAlgorithm::Sha384,
            Nid::SHA512 => DigestAlgorithm::Sha512,
            _ => DigestAlgorithm::Other(oid),
        }
    }

    /// The `micalg` parameter value of multipart/signed (RFC 8551 §3.5.3.2).
    pub fn micalg(&self) -> &str {
        match self {
            DigestAlgorithm::Sha1 => "sha-1",
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha384 => "sha-384",
            DigestAlgorithm::Sha512 => "sha-512",
            DigestAlgorithm::Other(_) => "unknown",
        }
    }
}

/// Content-encryption algorithms. GCM ones produce AuthEnvelopedData (RFC 5083/5084).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ContentCipher {
    #[default]
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
    DesEde3Cbc,
    /// Reported only: an algorithm we do not encrypt with, by dotted OID.
    Other(String),
}

impl ContentCipher {
    pub(crate) fn cipher(&self) -> Result<Cipher, CmsError> {
        Ok(match self {
            ContentCipher::Aes128Cbc => Cipher::aes_128_cbc(),
            ContentCipher::Aes192Cbc => Cipher::aes_192_cbc(),
            ContentCipher::Aes256Cbc => Cipher::aes_256_cbc(),
            ContentCipher::Aes128Gcm => Cipher::aes_128_gcm(),
            ContentCipher::Aes192Gcm => Cipher::aes_192_gcm(),
            ContentCipher::Aes256Gcm => Cipher::aes_256_gcm(),
            ContentCipher::DesEde3Cbc => Cipher::des_ede3_cbc(),
            ContentCipher::Other(oid) => {
                return Err(CmsError::UnsupportedAlgorithm(format!("cipher {oid}")))
            }
        })
    }

    pub(crate) fn from_oid(oid: &str) -> ContentCipher {
        match oid {
            "2.16.840.1.101.3.4.1.2" => ContentCipher::Aes128Cbc,
            "2.16.840.1.101.3.4.1.22" => ContentCipher::Aes192Cbc,
            "2.16.840.1.101.3.4.1.42" => ContentCipher::Aes256Cbc,
            "2.16.840.1.101.3.4.1.6" => ContentCipher::Aes128Gcm,
            "2.16.840.1.101.3.4.1.26" => ContentCipher::Aes192Gcm,
            "2.16.840.1.101.3.4.1.46" => ContentCipher::Aes256Gcm,
            "1.2.840.113549.3.7" => ContentCipher::DesEde3Cbc,
            other => ContentCipher::Other(other.to_string()),
        }
    }

    /// The name reports and headers give it: OpenSSL's (`aes-128-cbc`), or `oid 1.2.3`.
    pub fn name(&self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            ContentCipher::Aes128Cbc => "aes-128-cbc",
            ContentCipher::Aes192Cbc => "aes-192-cbc",
            ContentCipher::Aes256Cbc => "aes-256-cbc",
            ContentCipher::Aes128Gcm => "aes-128-gcm",
            ContentCipher::Aes192Gcm => "aes-192-gcm",
            ContentCipher::Aes256Gcm => "aes-256-gcm",
            ContentCipher::DesEde3Cbc => "des-ede3-cbc",
            ContentCipher::Other(oid) => return format!("oid {oid}").into(),
        })
    }

    /// Whether the cipher authenticates the content (AuthEnvelopedData).
    pub fn is_aead(&self) -> bool {
        matches!(
            self,
            ContentCipher::Aes128Gcm | ContentCipher::Aes192Gcm | ContentCipher::Aes256Gcm
        )
    }
}

/// RSA key transport padding for sending. Receiving accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RsaPadding {
    /// RSAES-OAEP with the RFC 3560 default parameters (SHA-1, MGF1-SHA-1).
    #[default]
    Oaep,
    /// RSAES-PKCS1-v1_5, for peers that only know that (RFC 6216 era).
    Pkcs1v15,
}

impl RsaPadding {
    /// The name reports give it (OpenSSL's `rsa_padding_mode` values).
    pub fn name(self) -> &'static str {
        match self {
            RsaPadding::Oaep => "oaep",
            RsaPadding::Pkcs1v15 => "pkcs1",
        }
    }
}

/// The outer content type of a CMS ContentInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmsContentType {
    SignedData,
    EnvelopedData,
    AuthEnvelopedData,
    /// Anything else, by dotted OID.
    Other(String),
}

impl std::fmt::Display for CmsContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmsContentType::SignedData => f.write_str("SignedData"),
            CmsContentType::EnvelopedData => f.write_str("EnvelopedData"),
            CmsContentType::AuthEnvelopedData => f.write_str("AuthEnvelopedData"),
            CmsContentType::Other(oid) => write!(f, "content type {oid}"),
        }
    }
}

/// How a CMS names a certificate (a recipient, or a signer): issuer plus serial number, or the
/// subject key identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecipientId {
    IssuerSerial {
        /// DER of the issuer Name.
        issuer_der: Vec<u8>,
        /// Big-endian magnitude of the serial number.
        serial: Vec<u8>,
    },
    SubjectKeyId(Vec<u8>),
}

impl RecipientId {
    /// Whether `cert` is the certificate this identifier names.
    pub fn matches(&self, cert: &X509Ref) -> bool {
        match self {
            RecipientId::IssuerSerial { issuer_der, serial } => {
                let same_issuer = cert.issuer_name().to_der().is_ok_and(|d| &d == issuer_der);
                let same_serial = cert
                    .serial_number()
                    .to_bn()
                    .is_ok_and(|bn| &bn.to_vec() == serial);
                same_issuer && same_serial
            }
            RecipientId::SubjectKeyId(ski) => cert
                .subject_key_id()
                .is_some_and(|k| k.as_slice() == ski.as_slice()),
        }
    }
}
