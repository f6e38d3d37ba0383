//! Differential: sipsec's fast EnvelopedData path against OpenSSL's full CMS decrypt, with one
//! fixed RSA recipient (testdata/bc/rsa.pem and its key). When the fast path opens an envelope,
//! OpenSSL must open it to the same content with the same cipher, and the input must be DER;
//! when the fast path has used the key and failed, OpenSSL must fail too (or give garbage that
//! changes from run to run: its random key after a failed key transport). (Declining before
//! the key is used is never a disagreement: the caller then runs OpenSSL's path.)
//!
//! Input: the CMS. Mutations are structure-aware (`cms_mutate`).
#![no_main]

mod cms_mutate;
mod strict_der;

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use sipsec::crypto::decrypt;
use sipsec::crypto::fastenv::{open, Route, RsaRecipient};
use std::sync::OnceLock;

struct Identity {
    cert: X509,
    key: PKey<Private>,
    recipient: RsaRecipient,
}

fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let cert = X509::from_pem(include_bytes!("../../testdata/bc/rsa.pem")).unwrap();
        let key = PKey::private_key_from_pem(include_bytes!("../../testdata/bc/rsa.key")).unwrap();
        let recipient = RsaRecipient {
            issuer: cert.issuer_name().to_der().unwrap(),
            serial: cert.serial_number().to_bn().unwrap().to_vec(),
            key: key.rsa().unwrap(),
        };
        Identity {
            cert,
            key,
            recipient,
        }
    })
}

fuzz_target!(|der: &[u8]| {
    let id = identity();
    match open(der, std::slice::from_ref(&id.recipient)) {
        Route::Full => {}
        Route::Opened(content, cipher, _, _) => {
            if let Err(why) = strict_der::check(der) {
                panic!("the fast path opened input that is not DER: {why}");
            }
            let full = decrypt(der, &id.key, &id.cert)
                .unwrap_or_else(|e| panic!("the fast path opened what OpenSSL refuses: {e}"));
            assert_eq!(content, full.content, "other content");
            assert_eq!(cipher, full.cipher, "another cipher");
        }
        Route::Failed => {
            // The same key on the same octets: OpenSSL must fail as well. Where its key
            // transport fails, OpenSSL goes on with a random content key (no oracle), and
            // unauthenticated CBC then finds valid padding about once in 256: garbage, which
            // differs from run to run. Only the same content three times is an opening.
            let open = || decrypt(der, &id.key, &id.cert).ok().map(|d| d.content);
            if let (Some(a), Some(b), Some(c)) = (open(), open(), open()) {
                assert!(
                    a != b || b != c,
                    "the fast path failed where OpenSSL opened the envelope"
                );
            }
        }
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut der = data[..size].to_vec();
    if !seed.is_multiple_of(2)
        || !cms_mutate::mutate_structure(&mut der, seed / 2)
        || der.len() > max_size
    {
        return fuzzer_mutate(data, size, max_size);
    }
    data[..der.len()].copy_from_slice(&der);
    der.len()
});
