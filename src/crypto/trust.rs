//! Trust: does a certificate chain to an anchor, valid at a given time, not revoked, fit for
//! the purpose? Separate from signature integrity so each can be reported on its own.

use openssl::hash::{hash, MessageDigest};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Crl, X509PurposeId, X509StoreContext, X509VerifyResult, X509};
use openssl_sys as sys;

use super::constraints::{self, NameViolation};
use super::{epoch_seconds, ffi, CmsError};

/// What the certificate must be good for (RFC 8550 §4.4 key usage / EKU rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustPurpose {
    #[default]
    SmimeSign,
    SmimeEncrypt,
    /// No purpose check (chain, time and revocation only).
    Any,
}

/// Anchors, revocation data and the time at which to judge. Build it once and reuse it.
#[derive(Default)]
pub struct TrustContext {
    /// Trusted certificates. Any anchor ends a chain, also an intermediate (partial chains are
    /// accepted), so a domain CA can be pinned without its root.
    pub anchors: Vec<X509>,
    /// When non-empty, the leaf's issuer must have a CRL here (`X509_V_FLAG_CRL_CHECK`).
    pub crls: Vec<X509Crl>,
    /// Seconds since 1970; `None` means now.
    pub at_time: Option<i64>,
    pub purpose: TrustPurpose,
}

/// The trust verdict. `depth` is the position in the chain of the certificate at fault
/// (0 = the signer itself).
#[derive(Debug, Clone)]
pub enum TrustVerdict {
    Trusted {
        /// The chain OpenSSL built, signer first, anchor last.
        chain: Vec<X509>,
        /// The earliest notAfter in the chain: a cached verdict holds until then.
        valid_until: Option<i64>,
    },
    Expired {
        depth: u32,
    },
    NotYetValid {
        depth: u32,
    },
    UntrustedRoot {
        depth: u32,
        /// Where the chain stops, so the fix can be named.
        end: ChainEnd,
    },
    Revoked {
        depth: u32,
    },
    BadPurpose {
        depth: u32,
    },
    /// CRL checking was asked for but no current, correctly signed CRL covers the certificate.
    CrlUnavailable {
        depth: u32,
        reason: String,
    },
    /// OpenSSL accepted the chain, but a SIP URI of the certificate lies outside the name
    /// constraints of the CA at `ca_depth` (OpenSSL cannot judge `sip:` names: see
    /// [`constraints`]).
    NameConstraints {
        ca_depth: u32,
        violation: NameViolation,
    },
    Other {
        depth: u32,
        code: i32,
        reason: String,
    },
}

/// Where a chain that reaches no anchor stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEnd {
    /// The signer's own certificate is self-signed, and no anchor.
    SelfSignedSigner { subject: String },
    /// A self-signed CA certificate above the signer, and no anchor.
    UntrustedRoot { subject: String },
    /// The issuer of `subject` is neither an anchor nor among the certificates given.
    MissingIssuer { subject: String, issuer: String },
}

impl ChainEnd {
    /// Judged on the last certificate OpenSSL could chain to.
    fn of(last: &X509, depth_of_last: usize) -> ChainEnd {
        let subject = name_text(last.subject_name());
        if last.issued(last) != X509VerifyResult::OK {
            let issuer = name_text(last.issuer_name());
            ChainEnd::MissingIssuer { subject, issuer }
        } else if depth_of_last == 0 {
            ChainEnd::SelfSignedSigner { subject }
        } else {
            ChainEnd::UntrustedRoot { subject }
        }
    }
}

impl std::fmt::Display for ChainEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainEnd::SelfSignedSigner { subject } => write!(
                f,
                "the signer's certificate ({subject}) is self-signed and not an anchor of this \
                 store; have the signer's store issue it from an issuing CA \
                 (sipsec-certgen init-intermediate, then issue), and add that store's \
                 root/cert.pem here with sipsec-certgen anchor add"
            ),
            ChainEnd::UntrustedRoot { subject } => write!(
                f,
                "the chain ends at the root CA {subject}, which is not an anchor of this \
                 store; if you trust it, add it with sipsec-certgen anchor add FILE (a sipsec \
                 store keeps it in root/cert.pem)"
            ),
            ChainEnd::MissingIssuer { subject, issuer } => write!(
                f,
                "{subject} was issued by {issuer}, which is neither an anchor of this store \
                 nor sent with the signature; add the root CA above it with sipsec-certgen \
                 anchor add FILE (a sipsec store keeps it in root/cert.pem)"
            ),
        }
    }
}

/// A certificate name for a person: its common name, else the whole name.
fn name_text(name: &openssl::x509::X509NameRef) -> String {
    let common_names: Vec<String> = name
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .filter_map(|e| e.data().to_string().ok())
        .map(|cn| format!("\"{cn}\""))
        .collect();
    match common_names.is_empty() {
        false => common_names.join(", "),
        true => format!("{name:?}"),
    }
}

impl TrustVerdict {
    pub fn is_trusted(&self) -> bool {
        matches!(self, TrustVerdict::Trusted { .. })
    }
}

impl std::fmt::Display for TrustVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustVerdict::Trusted { .. } => f.write_str("trusted"),
            TrustVerdict::Expired { depth } => write!(f, "certificate expired (depth {depth})"),
            TrustVerdict::NotYetValid { depth } => {
                write!(f, "certificate not yet valid (depth {depth})")
            }
            TrustVerdict::UntrustedRoot { depth, end } => {
                write!(f, "no chain to a trust anchor (depth {depth}): {end}")
            }
            TrustVerdict::Revoked { depth } => write!(f, "certificate revoked (depth {depth})"),
            TrustVerdict::BadPurpose { depth } => write!(
                f,
                "certificate not allowed for S/MIME (key usage or extended key usage, depth {depth})"
            ),
            TrustVerdict::CrlUnavailable { depth, reason } => {
                write!(
                    f,
                    "revocation unknown: {reason} (depth {depth}); put the issuer's current CRL \
                     in this store's crl/ directory (a sipsec store publishes its own with \
                     sipsec-certgen crl)"
                )
            }
            TrustVerdict::NameConstraints {
                ca_depth,
                violation,
            } => write!(
                f,
                "certificate name not allowed by its CA's name constraints: {violation} \
                 (CA at depth {ca_depth})"
            ),
            TrustVerdict::Other {
                depth,
                code,
                reason,
            } => write!(f, "certificate rejected: {reason} (code {code}, depth {depth})"),
        }
    }
}

/// Whether `cert` may issue certificates (basicConstraints cA): a candidate intermediate.
pub fn is_ca_certificate(cert: &X509) -> bool {
    ffi::is_ca(cert)
}

/// Judges `cert` with the intermediates in `chain` (extra certificates, e.g. those carried in
/// the CMS; order does not matter) against `ctx`. `Err` only when OpenSSL itself fails.
pub fn check_trust(
    cert: &X509,
    chain: &[X509],
    ctx: &TrustContext,
) -> Result<TrustVerdict, CmsError> {
    let setup = CmsError::openssl;
    let mut param = X509VerifyParam::new().map_err(setup("creating verify parameters"))?;
    if let Some(t) = ctx.at_time {
        param.set_time(t);
    }
    let purpose = match ctx.purpose {
        TrustPurpose::SmimeSign => X509PurposeId::SMIME_SIGN,
        TrustPurpose::SmimeEncrypt => X509PurposeId::SMIME_ENCRYPT,
        TrustPurpose::Any => X509PurposeId::ANY,
    };
    param
        .set_purpose(purpose)
        .map_err(setup("setting the purpose"))?;
    let mut flags = X509VerifyFlags::PARTIAL_CHAIN;
    if !ctx.crls.is_empty() {
        flags |= X509VerifyFlags::CRL_CHECK;
    }
    param.set_flags(flags).map_err(setup("setting flags"))?;

    let mut sb = X509StoreBuilder::new().map_err(setup("creating a store"))?;
    for a in &ctx.anchors {
        sb.add_cert(a.clone()).map_err(setup("adding an anchor"))?;
    }
    for crl in &ctx.crls {
        ffi::store_add_crl(&mut sb, crl).map_err(setup("adding a CRL"))?;
    }
    sb.set_param(&param).map_err(setup("applying parameters"))?;
    let store = sb.build();

    let mut untrusted = Stack::new().map_err(setup("allocating a stack"))?;
    for c in chain {
        untrusted
            .push(c.clone())
            .map_err(setup("collecting intermediates"))?;
    }
    let mut sctx = X509StoreContext::new().map_err(setup("creating a store context"))?;
    let (error, depth, built) = sctx
        .init(&store, cert, &untrusted, |c| {
            let ok = c.verify_cert()?;
            let built: Vec<X509> = c
                .chain()
                .map(|s| s.iter().map(|x| x.to_owned()).collect())
                .unwrap_or_default();
            let error = if ok { X509VerifyResult::OK } else { c.error() };
            Ok((error, c.error_depth(), built))
        })
        .map_err(setup("verifying the chain"))?;
    Ok(verdict(cert, error, depth, built))
}

fn verdict(cert: &X509, error: X509VerifyResult, depth: u32, chain: Vec<X509>) -> TrustVerdict {
    let code = error.as_raw();
    match code {
        sys::X509_V_OK => {
            if let Err((ca_depth, violation)) = constraints::check_chain(&chain) {
                return TrustVerdict::NameConstraints {
                    ca_depth,
                    violation,
                };
            }
            let valid_until = chain
                .iter()
                .filter_map(|c| epoch_seconds(c.not_after()))
                .min();
            TrustVerdict::Trusted { chain, valid_until }
        }
        sys::X509_V_ERR_CERT_HAS_EXPIRED => TrustVerdict::Expired { depth },
        sys::X509_V_ERR_CERT_NOT_YET_VALID => TrustVerdict::NotYetValid { depth },
        sys::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
        | sys::X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | sys::X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
        | sys::X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
        | sys::X509_V_ERR_CERT_UNTRUSTED
        | sys::X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE => {
            let end = match chain.last() {
                Some(last) => ChainEnd::of(last, chain.len() - 1),
                None => ChainEnd::of(cert, 0),
            };
            TrustVerdict::UntrustedRoot { depth, end }
        }
        sys::X509_V_ERR_CERT_REVOKED => TrustVerdict::Revoked { depth },
        sys::X509_V_ERR_INVALID_PURPOSE
        | sys::X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE
        | sys::X509_V_ERR_KEYUSAGE_NO_CERTSIGN => TrustVerdict::BadPurpose { depth },
        sys::X509_V_ERR_UNABLE_TO_GET_CRL
        | sys::X509_V_ERR_CRL_HAS_EXPIRED
        | sys::X509_V_ERR_CRL_NOT_YET_VALID
        | sys::X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER
        | sys::X509_V_ERR_CRL_SIGNATURE_FAILURE => TrustVerdict::CrlUnavailable {
            depth,
            reason: error.error_string().to_string(),
        },
        // What OpenSSL says for every sip: name under a URI subtree (see `constraints`): name
        // the cause, or the store's `--uri-constraints` choice looks like a damaged certificate.
        sys::X509_V_ERR_UNSUPPORTED_NAME_SYNTAX => TrustVerdict::Other {
            depth,
            code,
            reason: format!(
                "{} (OpenSSL says so for every sip: URI under a URI name constraint; a CA with \
                 DNS subtrees avoids it, and sipsec holds URI hosts against those itself)",
                error.error_string()
            ),
        },
        _ => TrustVerdict::Other {
            depth,
            code,
            reason: error.error_string().to_string(),
        },
    }
}

/// A stable fingerprint of a signer and its chain, for caching trust verdicts: SHA-256 over
/// the length-prefixed DER of the signer and then each chain certificate, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainKey(pub [u8; 32]);

pub fn chain_key(cert: &X509, chain: &[X509]) -> Result<ChainKey, CmsError> {
    let mut buf = Vec::new();
    for c in std::iter::once(cert).chain(chain) {
        let der = c
            .to_der()
            .map_err(CmsError::openssl("encoding a certificate"))?;
        buf.extend_from_slice(&(der.len() as u64).to_be_bytes());
        buf.extend_from_slice(&der);
    }
    let d = hash(MessageDigest::sha256(), &buf).map_err(CmsError::openssl("hashing"))?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&d);
    Ok(ChainKey(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{now, Ca, KeyKind, Validity};

    fn ctx(anchors: Vec<X509>) -> TrustContext {
        TrustContext {
            anchors,
            ..TrustContext::default()
        }
    }

    #[test]
    fn good_chain_with_intermediate_is_trusted() {
        let root = Ca::new(KeyKind::Rsa);
        let inter = root.sub_ca(KeyKind::P256);
        let (leaf, _) = inter.leaf(KeyKind::P256, "sip:alice@example.com");
        let v = check_trust(
            &leaf,
            std::slice::from_ref(&inter.cert),
            &ctx(vec![root.cert.clone()]),
        )
        .unwrap();
        match v {
            TrustVerdict::Trusted { chain, valid_until } => {
                assert_eq!(chain.len(), 3);
                assert!(valid_until.unwrap() > now());
            }
            other => panic!("{other}"),
        }
        // Without the intermediate there is no path.
        let v = check_trust(&leaf, &[], &ctx(vec![root.cert.clone()])).unwrap();
        assert!(matches!(v, TrustVerdict::UntrustedRoot { .. }), "{v}");
        // Which of them may be offered as intermediates.
        assert!(is_ca_certificate(&root.cert) && is_ca_certificate(&inter.cert));
        assert!(!is_ca_certificate(&leaf));
    }

    #[test]
    fn untrusted_root_expired_and_not_yet_valid() {
        let ca = Ca::new(KeyKind::Rsa);
        let stranger = Ca::new(KeyKind::Rsa);
        let (leaf, _) = ca.leaf(KeyKind::Rsa, "sip:alice@example.com");
        let v = check_trust(&leaf, &[], &ctx(vec![stranger.cert.clone()])).unwrap();
        assert!(
            matches!(v, TrustVerdict::UntrustedRoot { depth: 0, .. }),
            "{v}"
        );

        let (old, _) = ca.leaf_with(KeyKind::Rsa, "sip:old@example.com", Validity::Expired, true);
        let v = check_trust(&old, &[], &ctx(vec![ca.cert.clone()])).unwrap();
        assert!(matches!(v, TrustVerdict::Expired { depth: 0 }), "{v}");
        // The same certificate judged at a time inside its validity is fine.
        let mut then = ctx(vec![ca.cert.clone()]);
        then.at_time = Some(now() - 5 * 86_400);
        assert!(check_trust(&old, &[], &then).unwrap().is_trusted());

        let (young, _) = ca.leaf_with(KeyKind::Rsa, "sip:new@example.com", Validity::Future, true);
        let v = check_trust(&young, &[], &ctx(vec![ca.cert.clone()])).unwrap();
        assert!(matches!(v, TrustVerdict::NotYetValid { depth: 0 }), "{v}");
    }

    #[test]
    fn revoked_by_crl() {
        let ca = Ca::new(KeyKind::P256);
        let (bad, _) = ca.leaf(KeyKind::P256, "sip:mallory@example.com");
        let (good, _) = ca.leaf(KeyKind::P256, "sip:alice@example.com");
        let mut c = ctx(vec![ca.cert.clone()]);
        c.crls = vec![ca.crl(&[&bad])];
        let v = check_trust(&bad, &[], &c).unwrap();
        assert!(matches!(v, TrustVerdict::Revoked { depth: 0 }), "{v}");
        assert!(check_trust(&good, &[], &c).unwrap().is_trusted());
        // A CRL naming the same issuer but signed by another key (the test CAs share a name)
        // is no revocation information at all.
        c.crls = vec![Ca::new(KeyKind::P256).crl(&[])];
        let v = check_trust(&good, &[], &c).unwrap();
        assert!(matches!(v, TrustVerdict::CrlUnavailable { .. }), "{v}");
    }

    #[test]
    fn wrong_extended_key_usage_is_bad_purpose() {
        let ca = Ca::new(KeyKind::Rsa);
        let (server, _) = ca.leaf_with(KeyKind::Rsa, "sip:x@example.com", Validity::Now, false);
        let v = check_trust(&server, &[], &ctx(vec![ca.cert.clone()])).unwrap();
        assert!(matches!(v, TrustVerdict::BadPurpose { depth: 0 }), "{v}");
        let mut any = ctx(vec![ca.cert.clone()]);
        any.purpose = TrustPurpose::Any;
        assert!(check_trust(&server, &[], &any).unwrap().is_trusted());
    }

    #[test]
    fn a_sip_uri_outside_the_issuing_cas_constraints_is_untrusted() {
        let root = Ca::new(KeyKind::P256);
        let inter = root.constrained_sub_ca(KeyKind::P256, "critical,permitted;DNS:example.com");
        let judge = |uri: &str| {
            let (leaf, _) = inter.leaf(KeyKind::P256, uri);
            check_trust(
                &leaf,
                std::slice::from_ref(&inter.cert),
                &ctx(vec![root.cert.clone()]),
            )
            .unwrap()
        };
        assert!(judge("sip:alice@example.com").is_trusted());
        // OpenSSL alone accepts this chain: it holds no URI against a DNS subtree.
        let v = judge("sip:mallory@evil.example");
        assert!(
            matches!(&v, TrustVerdict::NameConstraints { ca_depth: 1, .. }),
            "{v}"
        );
        let text = v.to_string();
        assert!(
            text.contains("sip:mallory@evil.example") && text.contains("DNS:example.com"),
            "{text}"
        );
    }

    #[test]
    fn a_uri_subtree_is_refused_by_openssl_with_the_cause_named() {
        let root = Ca::new(KeyKind::P256);
        let inter = root.constrained_sub_ca(KeyKind::P256, "critical,permitted;URI:.example.com");
        let (leaf, _) = inter.leaf(KeyKind::P256, "sip:alice@a.example.com");
        let v = check_trust(
            &leaf,
            std::slice::from_ref(&inter.cert),
            &ctx(vec![root.cert.clone()]),
        )
        .unwrap();
        assert!(
            matches!(&v, TrustVerdict::Other { code: 53, reason, .. } if reason.contains("DNS subtrees")),
            "{v}"
        );
    }

    #[test]
    fn chain_key_depends_on_every_certificate() {
        let ca = Ca::new(KeyKind::P256);
        let (a, _) = ca.leaf(KeyKind::P256, "sip:a@example.com");
        let k1 = chain_key(&a, &[]).unwrap();
        assert_eq!(k1, chain_key(&a, &[]).unwrap());
        assert_ne!(k1, chain_key(&a, std::slice::from_ref(&ca.cert)).unwrap());
    }

    #[test]
    fn an_untrusted_chain_names_where_it_stops_and_the_fix() {
        let ca = Ca::new(KeyKind::P256);
        let stranger = Ca::new(KeyKind::P256);
        let (leaf, _) = ca.leaf(KeyKind::P256, "sip:alice@example.com");
        let anchors = || ctx(vec![stranger.cert.clone()]);
        let ca_name = name_text(ca.cert.subject_name());
        let end = |v: TrustVerdict| match v {
            TrustVerdict::UntrustedRoot { end, .. } => end,
            other => panic!("{other}"),
        };
        let missing = end(check_trust(&leaf, &[], &anchors()).unwrap());
        assert!(
            matches!(&missing, ChainEnd::MissingIssuer { issuer, .. } if *issuer == ca_name),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("nor sent with the signature"));
        let root = end(check_trust(&leaf, std::slice::from_ref(&ca.cert), &anchors()).unwrap());
        assert_eq!(
            root,
            ChainEnd::UntrustedRoot {
                subject: ca_name.clone()
            }
        );
        assert!(root.to_string().contains("anchor add FILE"), "{root}");
        let self_signed = end(check_trust(&ca.cert, &[], &anchors()).unwrap());
        assert_eq!(self_signed, ChainEnd::SelfSignedSigner { subject: ca_name });
        let text = TrustVerdict::UntrustedRoot {
            depth: 0,
            end: self_signed,
        }
        .to_string();
        assert!(
            text.contains("is self-signed") && text.contains("init-intermediate"),
            "{text}"
        );
    }
}
