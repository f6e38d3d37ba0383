//! The store's administration, what `sipsec-certgen` does: the CAs (root, intermediate), trust
//! anchors, the config and the group map, issuing, rotating and importing certificates (CSRs,
//! PKCS#12), revocation and CRLs.

use super::*;

/// How [`Store::mint`] signs a new certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Signing {
    /// With the issuing CA (self-signed in a store with no CA at all), for a certificate the
    /// administrator asked for: `--self-signed` is a way out when the issuing CA is missing.
    Issue,
    /// With the issuing CA, for a certificate made on demand.
    OnDemand,
    SelfSigned,
}

impl Store {
    /// The issuing CA (`ca/`), if the store has one.
    pub fn issuing_ca(&self) -> Result<Option<Ca>, StoreError> {
        self.ca_in("ca")
    }

    /// The CA a new certificate for `domain` is issued by: the issuing CA; `None` (self-signed)
    /// only in a store that has no CA at all. A store with a root and no issuing CA is refused:
    /// what it issued would chain to nothing.
    fn issuer_for(&self, domain: &str, for_issue: bool) -> Result<Option<Ca>, StoreError> {
        let ca = self.issuing_ca()?;
        if ca.is_none() && self.root.join("root/cert.pem").exists() {
            return Err(self.no_issuing_ca(Some(domain), for_issue));
        }
        Ok(ca)
    }

    /// The issuing CA, which this operation cannot do without.
    pub(super) fn required_issuing_ca(&self) -> Result<Ca, StoreError> {
        self.issuing_ca()?.ok_or_else(|| {
            self.no_issuing_ca(self.config.domains.first().map(String::as_str), false)
        })
    }

    fn no_issuing_ca(&self, domain: Option<&str>, for_issue: bool) -> StoreError {
        StoreError::NoIssuingCa {
            path: self.root.clone(),
            has_root: self.root.join("root/cert.pem").exists(),
            domain: domain.map(str::to_string),
            for_issue,
        }
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
        let root = self.ca_in("root")?.ok_or_else(|| StoreError::NoRoot {
            path: self.root.clone(),
        })?;
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

    pub fn set_config(&mut self, cfg: &StoreConfig) -> Result<(), StoreError> {
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

    pub(super) fn write_identity_unlocked(&self, id: &Identity) -> Result<(), StoreError> {
        self.write_identity_at(&self.identity_dir(&id.aor), id)
    }

    pub(super) fn write_identity_at(&self, dir: &Path, id: &Identity) -> Result<(), StoreError> {
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
    pub(super) fn mint(
        &self,
        profile: &LeafProfile,
        key_type: KeyType,
        signing: Signing,
    ) -> Result<Identity, StoreError> {
        let key = x509::generate_key(key_type)?;
        let ca = match signing {
            Signing::SelfSigned => None,
            Signing::Issue => self.issuer_for(profile.aor.host(), true)?,
            Signing::OnDemand => self.issuer_for(profile.aor.host(), false)?,
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
    pub(super) fn chain_below(&self, ca: &Ca) -> Vec<X509> {
        let mut chain = vec![ca.cert.clone()];
        chain.extend(ca.chain.iter().cloned());
        chain.retain(|c| !self.anchors.iter().any(|a| a == c));
        chain
    }

    pub(super) fn tls_dir(&self, host: &Aor) -> PathBuf {
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
        let (cert, chain) = match self.issuer_for(&profile.host, false)? {
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

    /// Issues and stores a certificate. An existing identity is refused unless `replace`.
    pub fn issue(
        &self,
        profile: &LeafProfile,
        key_type: KeyType,
        self_signed: bool,
        replace: bool,
    ) -> Result<Identity, StoreError> {
        let signing = match self_signed {
            true => Signing::SelfSigned,
            false => Signing::Issue,
        };
        let id = self.mint(profile, key_type, signing)?;
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
        let signing = match self.issuing_ca()? {
            Some(_) => Signing::Issue,
            None => Signing::SelfSigned,
        };
        let new = self.mint(profile, key_type, signing)?;
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
        let ca = self.required_issuing_ca()?;
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
        let ca = self.required_issuing_ca()?;
        let _l = self.lock(true)?;
        let crl = x509::make_crl((&ca.cert, &ca.key), &self.revocations()?, days)?;
        let pem = crl.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding the CRL",
            source,
        })?;
        fsio::write_atomic(&self.root.join("crl/issuing-ca.pem"), &pem, PUBLIC_MODE)?;
        Ok(crl)
    }
}
