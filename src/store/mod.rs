//! The certificate store: own identities (certificate + key + chain per address-of-record),
//! trust anchors, the issuing CA, certificates learned from peers, the group map, CRLs, and
//! on-demand issuance.
//!
//! # On-disk layout
//! The layout is [`LAYOUT_HELP`] (also printed by `sipsec-certgen --help` and its man page).
//! Every file is ordinary PEM the openssl CLI reads. Writes are atomic (temporary file, fsync,
//! rename) and made under the exclusive lock, so concurrent writers never corrupt a file and
//! two processes asking for the same missing certificate end up with one.

mod admin;
mod error;
pub mod fsio;
mod lookup;
mod peer;
pub mod policy;
mod sti;
pub mod watch;
pub mod x509;

pub use error::StoreError;
pub use lookup::Lookup;
pub use peer::PeerSettings;
pub use sti::StiIdentity;

use crate::clock::now_unix;
use crate::uri::Aor;
use fsio::{io_err, Lock, PassSource, PUBLIC_MODE, SECRET_MODE};
use openssl::asn1::Asn1IntegerRef;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use openssl::x509::{X509Crl, X509NameRef, X509Req, X509};
use policy::{Groups, MemberPattern, StoreConfig};
use std::fs;
use std::path::{Path, PathBuf};
use x509::{KeyType, LeafProfile, Revocation, TlsProfile};

/// The on-disk layout, for the man page (`sipsec-certgen --help`).
pub const LAYOUT_HELP: &str = r#"Store layout (--store DIR or SIPSEC_STORE):

DIR/                         mode 0700; refused if group/others may write it
  config                     `key = value` lines: on-demand (yes/no), domain (repeated),
                             key-type, days; set with `sipsec-certgen config`
  groups                     `group-aor member-pattern...` lines; set with `group add`
  identities/<aor>/          one directory per own identity, <aor> = user@host (%XX-escaped)
    cert.pem                 the certificate
    key.pem                  its private key, PKCS#8 PEM, mode 0600 (optionally encrypted)
    chain.pem                intermediates up to (not including) the anchor, may be absent
    csr.pem                  a CSR for an outside CA (made by `csr` and on demand)
    cert.p12                 PKCS#12 of key + cert + chain (made on demand), mode 0600
    old/<serial>.pem         certificates replaced by rotation, kept for verification
  anchors/*.pem              trust anchors (CA certificates), any number per file
  root/cert.pem, key.pem     the root CA made by `init-ca` (move the key offline)
  ca/cert.pem, key.pem       the issuing CA; chain.pem holds its chain up to the anchor
  ca/revoked                 `SERIAL-HEX UNIX-TIME` lines, the input of the CRL
  crl/*.pem                  CRLs (ours in crl/issuing-ca.pem, others' beside it)
  learned/<aor>.pem          certificates learned from verified messages, kept apart
  learned/<aor>.peer         a peer's advertised ciphers and pinned settings (cipher, rsa-padding)
  tls/<host>/                the proxy's TLS certificate (issue-tls): cert.pem, key.pem,
                             chain.pem as in identities/, DNS:<host> and IP: names
  sti/<aor>/                 the STI certificate of an identity or group (sti, sti-csr,
                             sti-import): cert.pem, key.pem (P-256), chain.pem, csr.pem as
                             in identities/, and x5u (the https URL that serves the chain)
  issued.log                 one line per certificate made on demand
  .lock                      flock(2) target: writers exclusive, readers shared

Every file is ordinary PEM that the openssl CLI reads. Writes are atomic and made under the
exclusive lock."#;

/// A signing/decrypting identity: certificate, key and chain (excluding the anchor).
#[derive(Clone)]
pub struct Identity {
    pub aor: Aor,
    pub cert: X509,
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
}

impl std::fmt::Debug for Identity {
    // The key is deliberately left out: keys are never logged.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("aor", &self.aor.to_string())
            .field("serial", &x509::serial_hex(&self.cert).ok())
            .finish_non_exhaustive()
    }
}

/// A CA held in the store.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
}

/// An open store. Settings, groups, anchors and CRLs are cached; identities are read from disk
/// on each lookup (under the shared lock) so that other processes' writes are seen at once.
pub struct Store {
    root: PathBuf,
    passphrase: Option<String>,
    config: StoreConfig,
    groups: Groups,
    anchors: Vec<X509>,
    crls: Vec<X509Crl>,
    stamp: Vec<u128>,
}

/// Refuses a certificate issued by `ca` that the CA's own name constraints do not allow, as a
/// verifier would: the store's domain list is configuration (`config --add-domain`) and may
/// name more than the CA was constrained to.
fn check_constraints(cert: &X509, ca: &Ca) -> Result<(), StoreError> {
    let mut chain = vec![cert.clone(), ca.cert.clone()];
    chain.extend(ca.chain.iter().cloned());
    crate::crypto::constraints::check_chain(&chain).map_err(|(_, v)| StoreError::NameConstraints(v))
}

/// File-system safe name for an AOR: bytes outside `[A-Za-z0-9@._+-]` become `%XX`, and a
/// leading dot is escaped too, so no AOR can name `..` or a hidden file.
pub fn aor_dir_name(aor: &Aor) -> String {
    let s = aor.to_string();
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        let safe = b.is_ascii_alphanumeric() || b"@_+-".contains(&b) || (b == b'.' && i > 0);
        if safe {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode_dir_name(name: &str) -> Option<Aor> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut it = name.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hi = it.next()?;
            let lo = it.next()?;
            let hex = [hi, lo];
            let v = u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?;
            bytes.push(v);
        } else {
            bytes.push(b);
        }
    }
    Aor::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

fn certs_from_pem(path: &Path, pem: &[u8]) -> Result<Vec<X509>, StoreError> {
    X509::stack_from_pem(pem).map_err(|_| StoreError::BadFile {
        path: path.to_path_buf(),
        what: "certificate",
    })
}

fn pem_of(certs: &[X509]) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for c in certs {
        out.extend(c.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding a certificate",
            source,
        })?);
    }
    Ok(out)
}

const DIRS: [&str; 6] = ["identities", "anchors", "learned", "crl", "ca", "root"];

impl Store {
    /// Creates the directory layout (mode 0700) if missing and opens the store.
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o700);
        b.create(path).map_err(io_err(path))?;
        for d in DIRS {
            let p = path.join(d);
            b.create(&p).map_err(io_err(&p))?;
        }
        let cfg = path.join("config");
        if !cfg.exists() {
            fsio::write_atomic(
                &cfg,
                StoreConfig::default().render().as_bytes(),
                PUBLIC_MODE,
            )?;
        }
        Store::open(path)
    }

    /// Opens an existing store, refusing unsafe permissions on the directory or on any key,
    /// and a directory that is not a store (say, an empty one given by mistake).
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound) {
            return Err(StoreError::NoStore {
                path: path.to_path_buf(),
            });
        }
        fsio::check_tree(path)?;
        let is_store = ["config"]
            .iter()
            .chain(DIRS.iter())
            .any(|part| path.join(part).exists());
        if !is_store {
            let empty = fs::read_dir(path).map_err(io_err(path))?.next().is_none();
            return Err(StoreError::NotAStore {
                path: path.to_path_buf(),
                why: if empty {
                    "an empty directory"
                } else {
                    "no config, identities/, anchors/ or ca/ in it"
                },
            });
        }
        let mut s = Store {
            root: path.to_path_buf(),
            passphrase: None,
            config: StoreConfig::default(),
            groups: Groups::default(),
            anchors: Vec::new(),
            crls: Vec::new(),
            stamp: Vec::new(),
        };
        s.check_secret_modes()?;
        s.reload()?;
        Ok(s)
    }

    /// Keys are written encrypted with, and read with, this passphrase.
    pub fn with_passphrase(mut self, source: Option<&PassSource>) -> Result<Store, StoreError> {
        self.passphrase = source.map(PassSource::read).transpose()?;
        Ok(self)
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    fn check_secret_modes(&self) -> Result<(), StoreError> {
        for p in [self.root.join("ca/key.pem"), self.root.join("root/key.pem")] {
            if p.exists() {
                fsio::check_secret_mode(&p)?;
            }
        }
        for dir in fsio::list_dir(&self.root.join("identities"))? {
            for f in ["key.pem", "cert.p12"] {
                let p = dir.join(f);
                if p.exists() {
                    fsio::check_secret_mode(&p)?;
                }
            }
        }
        Ok(())
    }

    fn watched(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = ["", "config", "groups", "anchors", "crl", "ca", "identities"]
            .iter()
            .map(|p| self.root.join(p))
            .collect();
        v.extend(fsio::list_dir(&self.root.join("anchors")).unwrap_or_default());
        v.extend(fsio::list_dir(&self.root.join("crl")).unwrap_or_default());
        // An identity's directory changes when its key and certificate are replaced (rotation).
        v.extend(fsio::list_dir(&self.root.join("identities")).unwrap_or_default());
        v
    }

    fn current_stamp(&self) -> Vec<u128> {
        self.watched().iter().map(|p| fsio::mtime_ns(p)).collect()
    }

    /// Rereads settings, groups, anchors and CRLs.
    pub fn reload(&mut self) -> Result<(), StoreError> {
        let stamp = self.current_stamp();
        let cfg = self.root.join("config");
        self.config = match fsio::read_opt(&cfg)? {
            Some(b) => StoreConfig::parse(&String::from_utf8_lossy(&b), &cfg)?,
            None => StoreConfig::default(),
        };
        let gp = self.root.join("groups");
        self.groups = match fsio::read_opt(&gp)? {
            Some(b) => Groups::parse(&String::from_utf8_lossy(&b), &gp)?,
            None => Groups::default(),
        };
        self.anchors.clear();
        for p in fsio::list_dir(&self.root.join("anchors"))? {
            let pem = fs::read(&p).map_err(io_err(&p))?;
            self.anchors.extend(certs_from_pem(&p, &pem)?);
        }
        self.crls.clear();
        for p in fsio::list_dir(&self.root.join("crl"))? {
            let pem = fs::read(&p).map_err(io_err(&p))?;
            let crl = X509Crl::from_pem(&pem).map_err(|_| StoreError::BadFile {
                path: p.clone(),
                what: "CRL",
            })?;
            self.crls.push(crl);
        }
        self.stamp = stamp;
        Ok(())
    }

    /// Reloads when a watched file or directory changed (cheap: a few `stat` calls). Returns
    /// whether it reloaded. Tools call this per message or on SIGHUP.
    pub fn reload_if_changed(&mut self) -> Result<bool, StoreError> {
        if self.current_stamp() == self.stamp {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    fn lock(&self, exclusive: bool) -> Result<Lock, StoreError> {
        Lock::acquire(&self.root.join(".lock"), exclusive)
    }

    fn identity_dir(&self, aor: &Aor) -> PathBuf {
        self.root.join("identities").join(aor_dir_name(aor))
    }

    /// Fails now, rather than at every message, when the identities' keys are encrypted and
    /// the passphrase given (or none) cannot read them: tries the first encrypted key.
    pub fn check_passphrase(&self) -> Result<(), StoreError> {
        for dir in fsio::list_dir(&self.root.join("identities"))? {
            let key = dir.join("key.pem");
            let Ok(pem) = fs::read(&key) else { continue };
            if is_encrypted_pem(&pem) {
                fsio::check_secret_mode(&key)?;
                return self.decode_key(&key, &pem).map(drop);
            }
        }
        Ok(())
    }

    fn read_key(&self, path: &Path) -> Result<PKey<Private>, StoreError> {
        fsio::check_secret_mode(path)?;
        let pem = fs::read(path).map_err(io_err(path))?;
        self.decode_key(path, &pem)
    }

    /// The key in `pem` (read from `path`), with the store's passphrase when it is encrypted.
    fn decode_key(&self, path: &Path, pem: &[u8]) -> Result<PKey<Private>, StoreError> {
        let encrypted = is_encrypted_pem(pem);
        match (&self.passphrase, encrypted) {
            (None, true) => Err(StoreError::Passphrase(format!(
                "{} is encrypted; give --passphrase-file or --passphrase-env",
                path.display()
            ))),
            (Some(pass), true) => PKey::private_key_from_pem_passphrase(pem, pass.as_bytes())
                .map_err(|_| {
                    StoreError::Passphrase(format!("wrong passphrase for {}", path.display()))
                }),
            // A callback that supplies nothing, so OpenSSL never prompts on a terminal.
            (_, false) => PKey::private_key_from_pem_callback(pem, |_| Ok(0)).map_err(|_| {
                StoreError::BadFile {
                    path: path.to_path_buf(),
                    what: "private key",
                }
            }),
        }
    }

    fn key_pem(&self, key: &PKey<Private>) -> Result<Vec<u8>, StoreError> {
        match &self.passphrase {
            Some(p) => key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), p.as_bytes()),
            None => key.private_key_to_pem_pkcs8(),
        }
        .map_err(|source| StoreError::Crypto {
            what: "encoding a private key",
            source,
        })
    }

    fn read_certs(path: &Path) -> Result<Option<Vec<X509>>, StoreError> {
        fsio::read_opt(path)?
            .map(|pem| certs_from_pem(path, &pem))
            .transpose()
    }

    fn load_identity_unlocked(&self, aor: &Aor) -> Result<Option<Identity>, StoreError> {
        self.load_identity_at(&self.identity_dir(aor), aor)
    }

    fn load_identity_at(&self, dir: &Path, aor: &Aor) -> Result<Option<Identity>, StoreError> {
        let Some(cert) =
            Self::read_certs(&dir.join("cert.pem"))?.and_then(|v| v.into_iter().next())
        else {
            return Ok(None);
        };
        let key = self.read_key(&dir.join("key.pem"))?;
        x509::check_cert_matches(&cert, &key, aor)?;
        let chain = Self::read_certs(&dir.join("chain.pem"))?.unwrap_or_default();
        Ok(Some(Identity {
            aor: aor.clone(),
            cert,
            key,
            chain,
        }))
    }
}

/// A PEM private key under a passphrase (`ENCRYPTED PRIVATE KEY`, or a legacy
/// `Proc-Type: 4,ENCRYPTED` header).
fn is_encrypted_pem(pem: &[u8]) -> bool {
    pem.windows(9).any(|w| w == b"ENCRYPTED")
}

#[cfg(test)]
mod tests;
