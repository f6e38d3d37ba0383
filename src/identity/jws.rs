//! ES256 JWS signatures (RFC 7515, RFC 7518 §3.4): ECDSA P-256 over SHA-256 of the signing
//! input, the signature written as the 64 bytes `R || S`, each a 32-byte big-endian integer.
//! OpenSSL works with DER `ECDSA-Sig-Value`; the conversion happens here and nowhere else, and
//! a DER signature in a token is refused by name (a common interop bug, never valid JWS).

use openssl::bn::BigNum;
use openssl::ec::EcKeyRef;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{HasParams, HasPublic, Private};

/// The length of an ES256 signature.
pub const SIGNATURE_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error(
        "the signature is DER-encoded (ECDSA-Sig-Value); JWS ES256 requires the raw 64-byte R||S"
    )]
    DerEncoded,
    #[error("the signature is {0} bytes; ES256 signatures are 64 bytes (R||S)")]
    WrongLength(usize),
    #[error("the signature does not verify with the certificate's key")]
    BadSignature,
    #[error("the key is not an ECDSA P-256 key, which ES256 requires")]
    NotP256,
    #[error("OpenSSL failed while {0}")]
    Openssl(&'static str),
}

fn is_p256<T: HasParams>(key: &EcKeyRef<T>) -> bool {
    key.group().curve_name() == Some(Nid::X9_62_PRIME256V1)
}

/// Signs `input` (the JWS signing input) and returns `R || S`.
pub fn sign(input: &[u8], key: &EcKeyRef<Private>) -> Result<[u8; SIGNATURE_LEN], JwsError> {
    if !is_p256(key) {
        return Err(JwsError::NotP256);
    }
    let digest = openssl::sha::sha256(input);
    let sig = EcdsaSig::sign(&digest, key).map_err(|_| JwsError::Openssl("signing"))?;
    let mut out = [0u8; SIGNATURE_LEN];
    let r = sig
        .r()
        .to_vec_padded(32)
        .map_err(|_| JwsError::Openssl("encoding R"))?;
    let s = sig
        .s()
        .to_vec_padded(32)
        .map_err(|_| JwsError::Openssl("encoding S"))?;
    out[..32].copy_from_slice(&r);
    out[32..].copy_from_slice(&s);
    Ok(out)
}

/// Verifies `R || S` over `input`. Refuses any other length, naming a DER signature as such.
pub fn verify<T: HasPublic + HasParams>(
    input: &[u8],
    signature: &[u8],
    key: &EcKeyRef<T>,
) -> Result<(), JwsError> {
    if signature.len() != SIGNATURE_LEN {
        if signature.first() == Some(&0x30) && EcdsaSig::from_der(signature).is_ok() {
            return Err(JwsError::DerEncoded);
        }
        return Err(JwsError::WrongLength(signature.len()));
    }
    if !is_p256(key) {
        return Err(JwsError::NotP256);
    }
    let (r, s) = signature.split_at(32);
    let r = BigNum::from_slice(r).map_err(|_| JwsError::Openssl("reading R"))?;
    let s = BigNum::from_slice(s).map_err(|_| JwsError::Openssl("reading S"))?;
    let sig = EcdsaSig::from_private_components(r, s).map_err(|_| JwsError::Openssl("R and S"))?;
    let digest = openssl::sha::sha256(input);
    match sig.verify(&digest, key) {
        Ok(true) => Ok(()),
        _ => Err(JwsError::BadSignature),
    }
}

/// A DER `ECDSA-Sig-Value` of a raw signature: what a careless signer would have sent.
#[cfg(test)]
pub(crate) fn to_der(signature: &[u8; SIGNATURE_LEN]) -> Vec<u8> {
    let r = BigNum::from_slice(&signature[..32]).unwrap();
    let s = BigNum::from_slice(&signature[32..]).unwrap();
    EcdsaSig::from_private_components(r, s)
        .unwrap()
        .to_der()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::PKey;
    use openssl::sign::Verifier;

    fn p256() -> EcKey<Private> {
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()
    }

    #[test]
    fn signs_and_verifies_and_openssl_agrees_through_der() {
        let key = p256();
        let sig = sign(b"a.b", &key).unwrap();
        verify(b"a.b", &sig, &key).unwrap();
        // OpenSSL's own EVP verifier accepts the same signature re-encoded as DER.
        let pkey = PKey::from_ec_key(key.clone()).unwrap();
        let mut v = Verifier::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        v.update(b"a.b").unwrap();
        assert!(v.verify(&to_der(&sig)).unwrap());
    }

    #[test]
    fn refusals() {
        let key = p256();
        let sig = sign(b"a.b", &key).unwrap();
        assert_eq!(verify(b"a.c", &sig, &key), Err(JwsError::BadSignature));
        let mut flipped = sig;
        flipped[40] ^= 1;
        assert_eq!(verify(b"a.b", &flipped, &key), Err(JwsError::BadSignature));
        assert_eq!(verify(b"a.b", &sig, &p256()), Err(JwsError::BadSignature));
        assert_eq!(
            verify(b"a.b", &to_der(&sig), &key),
            Err(JwsError::DerEncoded)
        );
        assert_eq!(
            verify(b"a.b", &sig[..63], &key),
            Err(JwsError::WrongLength(63))
        );
        let mut long = sig.to_vec();
        long.push(0);
        assert_eq!(verify(b"a.b", &long, &key), Err(JwsError::WrongLength(65)));
        // Zero R and S are no signature.
        assert_eq!(
            verify(b"a.b", &[0u8; 64], &key),
            Err(JwsError::BadSignature)
        );
        // The order n as S (out of range) is refused by OpenSSL.
        let mut high = sig;
        high[32..].copy_from_slice(&[0xff; 32]);
        assert_eq!(verify(b"a.b", &high, &key), Err(JwsError::BadSignature));
    }

    #[test]
    fn other_curves_are_refused() {
        let p384 = EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap();
        assert_eq!(sign(b"x", &p384), Err(JwsError::NotP256));
        let sig = sign(b"x", &p256()).unwrap();
        assert_eq!(verify(b"x", &sig, &p384), Err(JwsError::NotP256));
    }
}
