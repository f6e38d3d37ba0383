//! Differential: sipsec's fast SignedData path against OpenSSL's full CMS verify. Whatever the
//! input, when the fast path says "intact", OpenSSL must say so too, for the same signer, the
//! same content and the same digest, and the input must be DER (nothing after it). (The fast
//! path declining is never a disagreement: the caller then runs OpenSSL's path.)
//!
//! Input: one flags byte (bit 0: detached), a 2-byte big-endian length, that many bytes of
//! detached content, then the CMS. Mutations are structure-aware (`cms_mutate`).
#![no_main]

mod cms_mutate;
mod strict_der;

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use sipsec::crypto::{verify, VerifyContext};
use sipsec::crypto::fastcms::CertCache;

fn split(data: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    let (&flags, rest) = data.split_first()?;
    let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
    let content = rest.get(2..2 + len)?;
    let der = &rest[2 + len..];
    Some(((flags & 1 == 1).then_some(content), der))
}

fuzz_target!(|data: &[u8]| {
    let Some((detached, der)) = split(data) else {
        return;
    };
    let Some((fast, _)) = CertCache::default().verify(der, detached) else {
        return;
    };
    if let Err(why) = strict_der::check(der) {
        panic!("the fast path accepted input that is not DER: {why}");
    }
    let full = verify(der, detached, &VerifyContext::default())
        .unwrap_or_else(|e| panic!("the fast path accepted what OpenSSL refuses: {e}"));
    assert_eq!(
        fast.signer.to_der().unwrap(),
        full.signer.to_der().unwrap(),
        "another signer"
    );
    assert_eq!(fast.content, full.content, "other content");
    assert_eq!(fast.digest, full.digest, "another digest");
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let header = match split(&data[..size]) {
        Some((_, der)) if seed.is_multiple_of(2) => size - der.len(),
        _ => return fuzzer_mutate(data, size, max_size),
    };
    let mut der = data[header..size].to_vec();
    if !cms_mutate::mutate_structure(&mut der, seed / 2) || header + der.len() > max_size {
        return fuzzer_mutate(data, size, max_size);
    }
    data[header..header + der.len()].copy_from_slice(&der);
    header + der.len()
});
