//! The certificate store: own identities (certificate + key + chain per address-of-record),
//! trust anchors, the issuing CA, certificates learned from peers, the group map, CRLs, and
//! on-demand issuance.
//!
//! # On-disk layout
//! The layout is [`LAYOUT_HELP`] (also printed by `sipsec-certgen --help` and its man page).
//! Every file is ordinary PEM the openssl CLI reads. Writes are atomic (temporary file, fsync,
//! rename) and made under the exclusive lock, so concurrent writers never corrupt a file and
//! two processes asking for the same missing certificate end up with one.

pub mod fsio;
pub mod policy;
pub mod watch;
pub mod x509;

use crate::uri::Aor;
use fsio::{io_err, Lock, PassSource, PUBLIC_MODE, SECRET_MODE};
use openssl::asn1::Asn1IntegerRef;
use openssl::pkey::{PKey, Private};
use openssl::symm::Cipher;
use openssl::x509::{X509Crl, X509NameRef, X509Req, X509};
use policy::{Config, Groups, MemberPattern};
use std::fs;
use std::path::{Path, PathBuf};
use x509::{KeyType, LeafProfile, Revocation, TlsProfile};

/// The on-disk layout, for the man page (`sipsec-certgen --help`).
pub const LAYOUT_HELP: &str = r#"Store layout (--store DIR or SIPSEC_STORE):

DIR/                         mode 0700; refused if group/others may write it
  config                     on-demand, own domains, key type, days (see `policy`)
  groups                     `group-aor member-pattern...` lines (see `policy`)
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
  tls/<host>/                the proxy's TLS certificate (issue-tls): cert.pem, key.pem,
                             chain.pem as in identities/, DNS:<host> and IP: names
  issued.log                 one line per certificate made on demand
  .lock                      flock(2) target: writers exclusive, readers shared

Every file is ordinary PEM that the openssl CLI reads. Writes are atomic and made under the
exclusive lock."#;

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
    config: Config,
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

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
            fsio::write_atomic(&cfg, Config::default().render().as_bytes(), PUBLIC_MODE)?;
        }
        Store::open(path)
    }

    /// Opens an existing store, refusing unsafe permissions on the directory or on any key.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        fsio::check_tree(path)?;
        let mut s = Store {
            root: path.to_path_buf(),
            passphrase: None,
            config: Config::default(),
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

    pub fn config(&self) -> &Config {
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
        let mut v: Vec<PathBuf> = ["", "config", "groups", "anchors", "crl", "ca"]
            .iter()
            .map(|p| self.root.join(p))
            .collect();
        v.extend(fsio::list_dir(&self.root.join("anchors")).unwrap_or_default());
        v.extend(fsio::list_dir(&self.root.join("crl")).unwrap_or_default());
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
            Some(b) => Config::parse(&String::from_utf8_lossy(&b), &cfg)?,
            None => Config::default(),
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

    /// The store's own identity for exactly `aor`, if any.
    pub fn identity(&self, aor: &Aor) -> Result<Option<Identity>, StoreError> {
        let _l = self.lock(false)?;
        self.load_identity_unlocked(aor)
    }

    /// The identity `member` signs and decrypts as: its group's (exact member entries before
    /// patterns), else its own.
    pub fn signing_identity(&self, member: &Aor) -> Result<Identity, StoreError> {
        let target = self.groups.group_of(member).unwrap_or(member);
        self.identity(target)?
            .ok_or_else(|| StoreError::NoIdentity(target.to_string()))
    }

    /// The certificate to encrypt to `aor`: an own identity (or its group's), then a learned one.
    pub fn recipient_cert(&self, aor: &Aor) -> Option<X509> {
        let own = |a: &Aor| {
            Self::read_certs(&self.identity_dir(a).join("cert.pem"))
                .ok()
                .flatten()
                .and_then(|v| v.into_iter().next())
        };
        own(aor)
            .or_else(|| self.groups.group_of(aor).and_then(own))
            .or_else(|| self.learned_cert(aor))
    }

    fn learned_path(&self, aor: &Aor) -> PathBuf {
        self.root
            .join("learned")
            .join(format!("{}.pem", aor_dir_name(aor)))
    }

    fn learned_cert(&self, aor: &Aor) -> Option<X509> {
        Self::read_certs(&self.learned_path(aor))
            .ok()
            .flatten()
            .and_then(|v| v.into_iter().next())
    }

    /// Stores a certificate learned from a peer. Refused when `aor` is an own identity or group
    /// (a peer must never replace our keys' certificates) or when the certificate does not name
    /// `aor`.
    pub fn learn_cert(&self, aor: &Aor, cert: &X509) -> Result<(), StoreError> {
        if !x509::cert_aors(cert).contains(aor) {
            return Err(StoreError::NameMismatch {
                aor: aor.to_string(),
            });
        }
        let _l = self.lock(true)?;
        if self.identity_dir(aor).join("cert.pem").exists() || self.groups.is_group(aor) {
            return Err(StoreError::OwnIdentity(aor.to_string()));
        }
        fsio::write_atomic(
            &self.learned_path(aor),
            &pem_of(std::slice::from_ref(cert))?,
            PUBLIC_MODE,
        )
    }

    /// Every certificate the store holds (own, rotated, learned, CAs, anchors).
    pub fn all_certs(&self) -> Vec<X509> {
        let mut files = vec![
            self.root.join("ca/cert.pem"),
            self.root.join("root/cert.pem"),
        ];
        for dir in fsio::list_dir(&self.root.join("identities")).unwrap_or_default() {
            files.push(dir.join("cert.pem"));
            files.push(dir.join("chain.pem"));
            files.extend(fsio::list_dir(&dir.join("old")).unwrap_or_default());
        }
        files.extend(fsio::list_dir(&self.root.join("learned")).unwrap_or_default());
        let mut out: Vec<X509> = files
            .iter()
            .filter_map(|p| Self::read_certs(p).ok().flatten())
            .flatten()
            .collect();
        out.extend(self.anchors.iter().cloned());
        out
    }

    /// The certificate with this issuer and serial (the CMS signer/recipient identifier).
    pub fn find_by_issuer_serial(
        &self,
        issuer: &X509NameRef,
        serial: &Asn1IntegerRef,
    ) -> Option<X509> {
        let want = issuer.to_der().ok()?;
        self.all_certs().into_iter().find(|c| {
            c.issuer_name().to_der().ok().as_deref() == Some(&want[..])
                && c.serial_number().to_bn().ok() == serial.to_bn().ok()
        })
    }

    pub fn trust_anchors(&self) -> Vec<X509> {
        self.anchors.clone()
    }

    pub fn crls(&self) -> &[X509Crl] {
        &self.crls
    }

    /// The issuing CA (`ca/`), if the store has one.
    pub fn issuing_ca(&self) -> Result<Option<Ca>, StoreError> {
        self.ca_in("ca")
    }

    fn ca_in(&self, sub: &str) -> Result<Option<Ca>, StoreError> {
        let dir = self.root.join(sub);
        let Some(cert) =
            Self::read_certs(&dir.join("cert.pem"))?.and_then(|v| v.into_iter().next())
        else {
            return Ok(None);
        };
        let key = self.read_key(&dir.join("key.pem"))?;
        let public = cert.public_key().map_err(|source| StoreError::Crypto {
            what: "reading the CA key",
            source,
        })?;
        if !public.public_eq(&key) {
            return Err(StoreError::KeyMismatch);
        }
        let chain = Self::read_certs(&dir.join("chain.pem"))?.unwrap_or_default();
        Ok(Some(Ca { cert, key, chain }))
    }

    fn write_ca(&self, sub: &str, ca: &Ca) -> Result<(), StoreError> {
        let dir = self.root.join(sub);
        fsio::write_atomic(&dir.join("key.pem"), &self.key_pem(&ca.key)?, SECRET_MODE)?;
        fsio::write_atomic(
            &dir.join("cert.pem"),
            &pem_of(std::slice::from_ref(&ca.cert))?,
            PUBLIC_MODE,
        )?;
        if !ca.chain.is_empty() {
            fsio::write_atomic(&dir.join("chain.pem"), &pem_of(&ca.chain)?, PUBLIC_MODE)?;
        }
        Ok(())
    }

    /// Adds certificates as trust anchors (`anchors/<fingerprint prefix>.pem`).
    pub fn add_anchor(&self, certs: &[X509]) -> Result<(), StoreError> {
        let _l = self.lock(true)?;
        for c in certs {
            let fp = x509::fingerprint(c)?.replace(':', "");
            let p = self
                .root
                .join("anchors")
                .join(format!("{}.pem", &fp[..16.min(fp.len())]));
            fsio::write_atomic(&p, &pem_of(std::slice::from_ref(c))?, PUBLIC_MODE)?;
        }
        Ok(())
    }

    /// Makes a root CA in `root/` (or directly as the issuing CA in `ca/` when `issuing`) and
    /// trusts it.
    pub fn init_root(
        &self,
        cn: &str,
        key_type: KeyType,
        days: u32,
        issuing: bool,
    ) -> Result<X509, StoreError> {
        let key = x509::generate_key(key_type)?;
        let cert = x509::make_root_ca(cn, &key, days)?;
        {
            let _l = self.lock(true)?;
            let ca = Ca {
                cert: cert.clone(),
                key,
                chain: Vec::new(),
            };
            self.write_ca(if issuing { "ca" } else { "root" }, &ca)?;
        }
        self.add_anchor(std::slice::from_ref(&cert))?;
        Ok(cert)
    }

    /// Makes the issuing intermediate under `root/`, constrained to `domains`, and records the
    /// domains as the store's own.
    pub fn init_intermediate(
        &mut self,
        cn: &str,
        key_type: KeyType,
        days: u32,
        domains: &[String],
        uri_constraints: bool,
    ) -> Result<X509, StoreError> {
        let root = self.ca_in("root")?.ok_or(StoreError::NoCa)?;
        let key = x509::generate_key(key_type)?;
        let domains: Vec<String> = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        let cert = x509::make_intermediate(
            cn,
            &key,
            (&root.cert, &root.key),
            &domains,
            uri_constraints,
            days,
        )?;
        {
            let _l = self.lock(true)?;
            let ca = Ca {
                cert: cert.clone(),
                key,
                chain: vec![root.cert.clone()],
            };
            self.write_ca("ca", &ca)?;
        }
        let mut cfg = self.config.clone();
        for d in domains {
            if !cfg.domains.contains(&d) {
                cfg.domains.push(d);
            }
        }
        self.set_config(&cfg)?;
        Ok(cert)
    }

    pub fn set_config(&mut self, cfg: &Config) -> Result<(), StoreError> {
        {
            let _l = self.lock(true)?;
            fsio::write_atomic(
                &self.root.join("config"),
                cfg.render().as_bytes(),
                PUBLIC_MODE,
            )?;
        }
        // A full reload, so that our own write does not hide others' changes from the stamp.
        self.reload()
    }

    pub fn add_group_member(
        &mut self,
        group: Aor,
        member: MemberPattern,
    ) -> Result<(), StoreError> {
        let _l = self.lock(true)?;
        // Re-read under the lock so a concurrent edit is not lost.
        let gp = self.root.join("groups");
        let mut groups = match fsio::read_opt(&gp)? {
            Some(b) => Groups::parse(&String::from_utf8_lossy(&b), &gp)?,
            None => Groups::default(),
        };
        groups.add(group, member);
        fsio::write_atomic(&gp, groups.render().as_bytes(), PUBLIC_MODE)?;
        drop(_l);
        self.reload()
    }

    /// Refuses issuance under our CA for a domain the store does not own (when domains are set).
    fn check_domain(&self, aor: &Aor) -> Result<(), StoreError> {
        if self.config.domains.is_empty() || self.config.is_own_domain(aor.host()) {
            return Ok(());
        }
        Err(StoreError::Refused(format!(
            "{} is not one of this store's domains ({})",
            aor.host(),
            self.config.domains.join(", ")
        )))
    }

    fn write_identity_unlocked(&self, id: &Identity) -> Result<(), StoreError> {
        self.write_identity_at(&self.identity_dir(&id.aor), id)
    }

    fn write_identity_at(&self, dir: &Path, id: &Identity) -> Result<(), StoreError> {
        fsio::write_atomic(&dir.join("key.pem"), &self.key_pem(&id.key)?, SECRET_MODE)?;
        fsio::write_atomic(
            &dir.join("cert.pem"),
            &pem_of(std::slice::from_ref(&id.cert))?,
            PUBLIC_MODE,
        )?;
        let chain = dir.join("chain.pem");
        if id.chain.is_empty() {
            let _ = fs::remove_file(&chain);
            Ok(())
        } else {
            fsio::write_atomic(&chain, &pem_of(&id.chain)?, PUBLIC_MODE)
        }
    }

    /// A new key and certificate for `profile`, from the issuing CA (or self-signed when the
    /// store has none, or when asked). Not written.
    fn mint(
        &self,
        profile: &LeafProfile,
        key_type: KeyType,
        self_signed: bool,
    ) -> Result<Identity, StoreError> {
        let key = x509::generate_key(key_type)?;
        let ca = if self_signed {
            None
        } else {
            self.issuing_ca()?
        };
        let (cert, chain) = match &ca {
            Some(ca) => {
                self.check_domain(&profile.aor)?;
                let cert = x509::make_leaf(profile, &key, Some((&ca.cert, &ca.key)), None)?;
                check_constraints(&cert, ca)?;
                (cert, self.chain_below(ca))
            }
            None => (
                x509::make_leaf(profile, &key, None, Some(&key))?,
                Vec::new(),
            ),
        };
        Ok(Identity {
            aor: profile.aor.clone(),
            cert,
            key,
            chain,
        })
    }

    /// The chain a certificate issued by `ca` is sent with: `ca` and its own chain, without the
    /// anchor (a peer has that already).
    fn chain_below(&self, ca: &Ca) -> Vec<X509> {
        let mut chain = vec![ca.cert.clone()];
        chain.extend(ca.chain.iter().cloned());
        chain.retain(|c| !self.anchors.iter().any(|a| a == c));
        chain
    }

    fn tls_dir(&self, host: &Aor) -> PathBuf {
        self.root.join("tls").join(aor_dir_name(host))
    }

    /// Issues and stores the TLS certificate of the proxy's own host, in `tls/<host>/` apart
    /// from the SIP identities: from the issuing CA (the host must lie in one of the store's
    /// domains, as the CA's name constraints demand), or self-signed when there is none. An
    /// existing one is refused unless `replace`.
    pub fn issue_tls(
        &self,
        profile: &TlsProfile,
        key_type: KeyType,
        replace: bool,
    ) -> Result<Identity, StoreError> {
        let aor = profile.aor()?;
        let key = x509::generate_key(key_type)?;
        let (cert, chain) = match self.issuing_ca()? {
            Some(ca) => {
                let host = &profile.host;
                let inside = |d: &String| host == d || host.ends_with(&format!(".{d}"));
                if !self.config.domains.is_empty() && !self.config.domains.iter().any(inside) {
                    return Err(StoreError::Refused(format!(
                        "{host} is not in one of this store's domains ({})",
                        self.config.domains.join(", ")
                    )));
                }
                let cert = x509::make_tls_leaf(profile, &key, Some((&ca.cert, &ca.key)), None)?;
                (cert, self.chain_below(&ca))
            }
            None => (
                x509::make_tls_leaf(profile, &key, None, Some(&key))?,
                Vec::new(),
            ),
        };
        let id = Identity {
            aor,
            cert,
            key,
            chain,
        };
        let dir = self.tls_dir(&id.aor);
        let _l = self.lock(true)?;
        if !replace && dir.join("cert.pem").exists() {
            return Err(StoreError::Refused(format!(
                "{} already has a TLS certificate (give --replace)",
                profile.host
            )));
        }
        self.write_identity_at(&dir, &id)?;
        Ok(id)
    }

    /// The TLS identity of `host` made by [`Store::issue_tls`]; refused when its key does not
    /// match its certificate or the certificate does not name the host.
    pub fn tls_identity(&self, host: &str) -> Result<Option<Identity>, StoreError> {
        let aor = x509::parse_aor(host.trim_end_matches('.'))?;
        let _l = self.lock(false)?;
        self.load_identity_at(&self.tls_dir(&aor), &aor)
    }

    /// Issues and stores a certificate. An existing identity is refused unless `replace`.
    pub fn issue(
        &self,
        profile: &LeafProfile,
        key_type: KeyType,
        self_signed: bool,
        replace: bool,
    ) -> Result<Identity, StoreError> {
        let id = self.mint(profile, key_type, self_signed)?;
        let _l = self.lock(true)?;
        if !replace && self.identity_dir(&profile.aor).join("cert.pem").exists() {
            return Err(StoreError::Refused(format!(
                "{} already has a certificate (use rotate to replace it)",
                profile.aor
            )));
        }
        self.write_identity_unlocked(&id)?;
        Ok(id)
    }

    /// Replaces an identity's key and certificate; the old certificate moves to `old/` and stays
    /// findable by issuer and serial for verification until it expires.
    pub fn rotate(&self, profile: &LeafProfile, key_type: KeyType) -> Result<Identity, StoreError> {
        let new = self.mint(profile, key_type, self.issuing_ca()?.is_none())?;
        let _l = self.lock(true)?;
        let old = self
            .load_identity_unlocked(&profile.aor)?
            .ok_or_else(|| StoreError::NoIdentity(profile.aor.to_string()))?;
        let old_path = self
            .identity_dir(&profile.aor)
            .join("old")
            .join(format!("{}.pem", x509::serial_hex(&old.cert)?));
        fsio::write_atomic(
            &old_path,
            &pem_of(std::slice::from_ref(&old.cert))?,
            PUBLIC_MODE,
        )?;
        self.write_identity_unlocked(&new)?;
        Ok(new)
    }

    /// Certificate made on demand (paper: "created automatically if not existent"). Only for
    /// the store's own domains or groups, only on behalf of an attributed member, and only when
    /// `on-demand = yes`. The certificate also gets a PKCS#12 file and a CSR beside it, so an
    /// outside CA can certify it, and a line in `issued.log`.
    pub fn ensure_identity(
        &self,
        aor: &Aor,
        attribution: Option<&Aor>,
    ) -> Result<Identity, StoreError> {
        if let Some(id) = self.identity(aor)? {
            return Ok(id);
        }
        let refuse = |reason: &str| StoreError::OnDemandRefused {
            aor: aor.to_string(),
            reason: reason.to_string(),
        };
        if !self.config.on_demand {
            return Err(refuse("on-demand issuance is off in this store's config"));
        }
        let member = attribution.ok_or_else(|| {
            refuse("no attributed member (a From or To header alone never earns a certificate)")
        })?;
        if self.groups.is_group(aor) {
            if self.groups.group_of(member) != Some(aor) {
                return Err(refuse(&format!("{member} is not a member of this group")));
            }
        } else if !self.config.is_own_domain(aor.host()) {
            return Err(refuse("not one of this store's domains or groups"));
        } else if !self.config.is_own_domain(member.host()) {
            return Err(refuse(&format!("{member} is not of this store's domains")));
        }
        let profile = LeafProfile::new(aor.clone(), self.config.days);
        // Key generation happens outside the lock; a concurrent creator may win, and then its
        // certificate is the one kept.
        let id = self.mint(&profile, self.config.key_type, false)?;
        let _l = self.lock(true)?;
        if let Some(existing) = self.load_identity_unlocked(aor)? {
            return Ok(existing);
        }
        self.write_identity_unlocked(&id)?;
        let dir = self.identity_dir(aor);
        let csr = x509::make_csr(&profile, &id.key)?;
        let csr_pem = csr.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding the CSR",
            source,
        })?;
        fsio::write_atomic(&dir.join("csr.pem"), &csr_pem, PUBLIC_MODE)?;
        let pass = self.passphrase.clone().unwrap_or_default();
        let p12 = x509::export_p12(&id.key, &id.cert, &id.chain, &aor.to_string(), &pass, false)?;
        fsio::write_atomic(&dir.join("cert.p12"), &p12, SECRET_MODE)?;
        fsio::append_line(
            &self.root.join("issued.log"),
            &format!(
                "{} issued sip:{aor} serial {} on demand for sip:{member}",
                now_unix(),
                x509::serial_hex(&id.cert)?
            ),
        )?;
        Ok(id)
    }

    /// Makes a key (stored, 0600) and a CSR (stored as `csr.pem`) for an outside CA.
    pub fn make_csr(
        &self,
        profile: &LeafProfile,
        key_type: KeyType,
    ) -> Result<X509Req, StoreError> {
        let key = x509::generate_key(key_type)?;
        let csr = x509::make_csr(profile, &key)?;
        let dir = self.identity_dir(&profile.aor);
        let _l = self.lock(true)?;
        if dir.join("cert.pem").exists() {
            return Err(StoreError::Refused(format!(
                "{} already has a certificate (use rotate)",
                profile.aor
            )));
        }
        fsio::write_atomic(&dir.join("key.pem"), &self.key_pem(&key)?, SECRET_MODE)?;
        let pem = csr.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding the CSR",
            source,
        })?;
        fsio::write_atomic(&dir.join("csr.pem"), &pem, PUBLIC_MODE)?;
        Ok(csr)
    }

    /// Imports a certificate for a key already in the store (after `make_csr`) or given here.
    /// The certificate must match the key and name `aor` (default: its first SIP URI).
    pub fn import_cert(
        &self,
        cert: X509,
        chain: Vec<X509>,
        key: Option<PKey<Private>>,
        aor: Option<Aor>,
    ) -> Result<Identity, StoreError> {
        let aor = match aor {
            Some(a) => a,
            None => x509::cert_aors(&cert).into_iter().next().ok_or_else(|| {
                StoreError::Refused("the certificate names no SIP URI; give --uri".into())
            })?,
        };
        let _l = self.lock(true)?;
        let key = match key {
            Some(k) => k,
            None => {
                let p = self.identity_dir(&aor).join("key.pem");
                if !p.exists() {
                    return Err(StoreError::Refused(format!(
                        "no key for {aor} in the store (make a CSR first, or give --key)"
                    )));
                }
                self.read_key(&p)?
            }
        };
        x509::check_cert_matches(&cert, &key, &aor)?;
        let id = Identity {
            aor,
            cert,
            key,
            chain,
        };
        self.write_identity_unlocked(&id)?;
        Ok(id)
    }

    /// Signs a CSR with the issuing CA for `profile.aor` (which must be an own domain).
    pub fn sign_csr(&self, csr: &X509Req, profile: &LeafProfile) -> Result<X509, StoreError> {
        let ca = self.issuing_ca()?.ok_or(StoreError::NoCa)?;
        self.check_domain(&profile.aor)?;
        let cert = x509::sign_csr(csr, profile, (&ca.cert, &ca.key))?;
        check_constraints(&cert, &ca)?;
        Ok(cert)
    }

    pub fn export_p12(
        &self,
        aor: &Aor,
        passphrase: &str,
        legacy: bool,
    ) -> Result<Vec<u8>, StoreError> {
        let id = self
            .identity(aor)?
            .ok_or_else(|| StoreError::NoIdentity(aor.to_string()))?;
        x509::export_p12(
            &id.key,
            &id.cert,
            &id.chain,
            &aor.to_string(),
            passphrase,
            legacy,
        )
    }

    pub fn import_p12(
        &self,
        der: &[u8],
        passphrase: &str,
        aor: Option<Aor>,
    ) -> Result<Identity, StoreError> {
        let p = x509::import_p12(der, passphrase)?;
        self.import_cert(p.cert, p.chain, Some(p.key), aor)
    }

    fn revoked_path(&self) -> PathBuf {
        self.root.join("ca/revoked")
    }

    fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let p = self.revoked_path();
        let text = fsio::read_opt(&p)?.unwrap_or_default();
        let mut out = Vec::new();
        for (n, line) in String::from_utf8_lossy(&text).lines().enumerate() {
            let mut w = line.split_whitespace();
            let (Some(serial), Some(when)) = (w.next(), w.next().and_then(|t| t.parse().ok()))
            else {
                return Err(StoreError::BadConfig {
                    path: p.clone(),
                    line: n + 1,
                    reason: "expected `SERIAL-HEX UNIX-TIME`".into(),
                });
            };
            out.push(Revocation {
                serial_hex: serial.to_string(),
                when,
            });
        }
        Ok(out)
    }

    /// Records a revocation of a certificate issued by our CA. Publish with [`Store::publish_crl`].
    pub fn revoke(&self, serial_hex: &str) -> Result<(), StoreError> {
        let serial = serial_hex.trim_start_matches("0x").to_ascii_uppercase();
        if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Refused(format!(
                "not a hex serial: {serial_hex:?}"
            )));
        }
        let _l = self.lock(true)?;
        if self.revocations()?.iter().any(|r| r.serial_hex == serial) {
            return Ok(());
        }
        fsio::append_line(&self.revoked_path(), &format!("{serial} {}", now_unix()))
    }

    /// Signs a CRL of everything revoked and writes it to `crl/issuing-ca.pem`.
    pub fn publish_crl(&self, days: u32) -> Result<X509Crl, StoreError> {
        let ca = self.issuing_ca()?.ok_or(StoreError::NoCa)?;
        let _l = self.lock(true)?;
        let crl = x509::make_crl((&ca.cert, &ca.key), &self.revocations()?, days)?;
        let pem = crl.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding the CRL",
            source,
        })?;
        fsio::write_atomic(&self.root.join("crl/issuing-ca.pem"), &pem, PUBLIC_MODE)?;
        Ok(crl)
    }

    /// The AORs of own identities that have a certificate.
    pub fn identities(&self) -> Result<Vec<Aor>, StoreError> {
        Ok(fsio::list_dir(&self.root.join("identities"))?
            .iter()
            .filter(|d| d.join("cert.pem").exists())
            .filter_map(|d| {
                d.file_name()
                    .and_then(|n| decode_dir_name(&n.to_string_lossy()))
            })
            .collect())
    }

    /// The learned certificates by AOR.
    pub fn learned(&self) -> Result<Vec<(Aor, X509)>, StoreError> {
        let mut out = Vec::new();
        for p in fsio::list_dir(&self.root.join("learned"))? {
            let aor = p
                .file_stem()
                .and_then(|n| decode_dir_name(&n.to_string_lossy()));
            if let (Some(aor), Some(cert)) = (
                aor,
                Self::read_certs(&p)?.and_then(|v| v.into_iter().next()),
            ) {
                out.push((aor, cert));
            }
        }
        Ok(out)
    }
}

/// A PEM private key under a passphrase (`ENCRYPTED PRIVATE KEY`, or a legacy
/// `Proc-Type: 4,ENCRYPTED` header).
fn is_encrypted_pem(pem: &[u8]) -> bool {
    pem.windows(9).any(|w| w == b"ENCRYPTED")
}

#[cfg(test)]
mod tests;
