//! Why a store operation was refused or failed.

use std::path::{Path, PathBuf};

/// Why a store operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The OS error is part of the text, not a separate source, so that it is printed once.
    #[error("{path}: {error}", path = path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{path}: no store here; make one with sipsec-certgen --store {path} init-ca (or, for a \
         store that only verifies, sipsec-certgen --store {path} anchor add ROOT-CERT)",
        path = path.display()
    )]
    NoStore { path: PathBuf },
    #[error(
        "{path}: not a sipsec store ({why}); make one with sipsec-certgen --store {path} init-ca",
        path = path.display()
    )]
    NotAStore { path: PathBuf, why: &'static str },
    #[error("not a usable SIP URI {text:?}: {reason}")]
    BadUri { text: String, reason: String },
    #[error("{path}: unsafe permissions {mode:03o} (group or others have access); refusing to use it, run chmod go-rwx", path = path.display())]
    UnsafePermissions { path: PathBuf, mode: u32 },
    #[error("{path}: owned by uid {owner}, not by this user (uid {user}) or root; refusing to use it, as another user could have planted it (chown it, or use a store of your own)", path = path.display())]
    ForeignOwner {
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    #[error("the certificate does not name {aor} in its subjectAltName")]
    NameMismatch { aor: String },
    #[error("the CSR's signature does not verify (tampered, or not signed by its key)")]
    BadCsrSignature,
    #[error("wrong PKCS#12 passphrase (MAC verification failed)")]
    WrongPassphrase,
    #[error("passphrase: {0}")]
    Passphrase(String),
    #[error("{what}: {source}")]
    Crypto {
        what: &'static str,
        source: openssl::error::ErrorStack,
    },
    #[error("{path}:{line}: {reason}", path = path.display())]
    BadConfig {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: not a PEM {what}", path = path.display())]
    BadFile { path: PathBuf, what: &'static str },
    #[error("no identity for {0} in the store")]
    NoIdentity(String),
    #[error("{}", no_issuing_ca(path, *has_root, domain.as_deref(), *for_issue))]
    NoIssuingCa {
        path: PathBuf,
        /// A root CA exists (made by init-ca without --issuing).
        has_root: bool,
        /// The domain the certificate was for, to name in the command to run.
        domain: Option<String>,
        /// Issuing a certificate, for which --self-signed is a way out.
        for_issue: bool,
    },
    #[error(
        "{path}: no root CA to make the issuing CA under; make one with sipsec-certgen --store \
         {path} init-ca",
        path = path.display()
    )]
    NoRoot { path: PathBuf },
    #[error("on-demand issuance for {aor} refused: {reason}")]
    OnDemandRefused { aor: String, reason: String },
    #[error("{0} is an identity of this store; a learned certificate never replaces it")]
    OwnIdentity(String),
    #[error("the issuing CA's name constraints do not allow it: {0}")]
    NameConstraints(crate::crypto::constraints::NameViolation),
    #[error("{0}")]
    Refused(String),
}

/// Why there is no issuing CA, and the command that makes one for this very store.
fn no_issuing_ca(path: &Path, has_root: bool, domain: Option<&str>, for_issue: bool) -> String {
    let store = path.display();
    let domain = domain.unwrap_or("DOMAIN");
    let mut text = if has_root {
        format!(
            "this store has a root CA but no issuing CA, so nothing it issues would chain to \
             the root; make the issuing CA with sipsec-certgen --store {store} \
             init-intermediate --domain {domain}"
        )
    } else {
        format!(
            "this store has no CA; make one with sipsec-certgen --store {store} init-ca, then \
             init-intermediate --domain {domain} (or init-ca --issuing for a root that issues \
             directly)"
        )
    };
    if for_issue {
        text.push_str(", or give --self-signed for a self-signed certificate");
    }
    text
}
