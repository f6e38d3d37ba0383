//! Why a store operation was refused or failed.

use std::path::PathBuf;

/// Why a store operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
    #[error("no issuing CA in the store (run init-ca / init-intermediate)")]
    NoCa,
    #[error("on-demand issuance for {aor} refused: {reason}")]
    OnDemandRefused { aor: String, reason: String },
    #[error("{0} is an identity of this store; a learned certificate never replaces it")]
    OwnIdentity(String),
    #[error("the issuing CA's name constraints do not allow it: {0}")]
    NameConstraints(crate::crypto::constraints::NameViolation),
    #[error("{0}")]
    Refused(String),
}
