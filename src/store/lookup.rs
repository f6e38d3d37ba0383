//! The per-message lookups: what the tools ask of the store while they work on a message.

use super::*;
use crate::crypto::ContentCipher;

/// What a tool needs to know per message: the signing and decrypting identities, recipient
/// certificates, trust anchors and CRLs, the group map, and certificates learned from peers.
/// [`Store`] answers from its directory; a tool takes any `Lookup`, so it can be given one
/// that answers from memory.
pub trait Lookup: Send + Sync {
    /// The identity for exactly `aor`, if held.
    fn identity(&self, aor: &Aor) -> Result<Option<Identity>, StoreError>;
    /// The identity for `aor`, made on demand for the attributed member when that is allowed.
    fn ensure_identity(&self, aor: &Aor, attribution: Option<&Aor>)
        -> Result<Identity, StoreError>;
    /// The AORs of own identities that have a certificate.
    fn identities(&self) -> Result<Vec<Aor>, StoreError>;
    /// The certificate to encrypt to `aor`: an own identity (or its group's), then a learned one.
    fn recipient_cert(&self, aor: &Aor) -> Option<X509>;
    /// Every certificate held, to find a signer the CMS does not carry.
    fn all_certs(&self) -> Vec<X509>;
    fn trust_anchors(&self) -> Vec<X509>;
    fn crls(&self) -> &[X509Crl];
    fn groups(&self) -> &Groups;
    /// Keeps a certificate learned from a peer for `aor`.
    fn learn_cert(&self, aor: &Aor, cert: &X509) -> Result<(), StoreError>;
    /// What the store keeps about a peer: advertised ciphers, pinned cipher and RSA padding.
    fn peer_settings(&self, aor: &Aor) -> PeerSettings;
    /// Keeps the ciphers a peer's trusted signature advertised.
    fn learn_capabilities(&self, aor: &Aor, ciphers: Vec<ContentCipher>) -> Result<(), StoreError>;
    /// Rereads what may have changed since (settings, groups, anchors, CRLs); true when
    /// something did. A lookup that answers from memory has nothing to reread.
    fn reload_if_changed(&mut self) -> Result<bool, StoreError> {
        Ok(false)
    }
    /// The STI identity (RFC 8226 certificate, key, x5u) of exactly `aor`, if held.
    fn sti_identity(&self, _aor: &Aor) -> Result<Option<StiIdentity>, StoreError> {
        Ok(None)
    }
}

impl Lookup for Store {
    fn identity(&self, aor: &Aor) -> Result<Option<Identity>, StoreError> {
        Store::identity(self, aor)
    }
    fn ensure_identity(
        &self,
        aor: &Aor,
        attribution: Option<&Aor>,
    ) -> Result<Identity, StoreError> {
        Store::ensure_identity(self, aor, attribution)
    }
    fn identities(&self) -> Result<Vec<Aor>, StoreError> {
        Store::identities(self)
    }
    fn recipient_cert(&self, aor: &Aor) -> Option<X509> {
        Store::recipient_cert(self, aor)
    }
    fn all_certs(&self) -> Vec<X509> {
        Store::all_certs(self)
    }
    fn trust_anchors(&self) -> Vec<X509> {
        Store::trust_anchors(self)
    }
    fn crls(&self) -> &[X509Crl] {
        Store::crls(self)
    }
    fn groups(&self) -> &Groups {
        Store::groups(self)
    }
    fn learn_cert(&self, aor: &Aor, cert: &X509) -> Result<(), StoreError> {
        Store::learn_cert(self, aor, cert)
    }
    fn peer_settings(&self, aor: &Aor) -> PeerSettings {
        Store::peer_settings(self, aor)
    }
    fn learn_capabilities(&self, aor: &Aor, ciphers: Vec<ContentCipher>) -> Result<(), StoreError> {
        if self.identity_dir(aor).join("cert.pem").exists() || self.groups.is_group(aor) {
            return Err(StoreError::OwnIdentity(aor.to_string()));
        }
        self.update_peer_settings(aor, |s| s.capabilities = Some(ciphers))
    }
    fn reload_if_changed(&mut self) -> Result<bool, StoreError> {
        Store::reload_if_changed(self)
    }
    fn sti_identity(&self, aor: &Aor) -> Result<Option<StiIdentity>, StoreError> {
        Store::sti_identity(self, aor)
    }
}

impl Store {
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

    /// The TLS identity of `host` made by [`Store::issue_tls`]; refused when its key does not
    /// match its certificate or the certificate does not name the host.
    pub fn tls_identity(&self, host: &str) -> Result<Option<Identity>, StoreError> {
        let aor = x509::parse_aor(host.trim_end_matches('.'))?;
        let _l = self.lock(false)?;
        self.load_identity_at(&self.tls_dir(&aor), &aor)
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
        let id = self.mint(
            &profile,
            self.config.key_type,
            super::admin::Signing::OnDemand,
        )?;
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
