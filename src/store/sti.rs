//! STI identities (RFC 8226): per own identity or group, a P-256 key, an STI certificate whose
//! TNAuthList names the numbers it may sign for, its chain, and the x5u URL where verifiers
//! fetch that chain; kept in `sti/<aor>/` apart from the S/MIME identities.

use super::*;
use crate::identity::header::is_valid_x5u;
use crate::identity::sticert::{make_sti_cert, make_sti_csr, StiProfile};
use crate::identity::tnauth::TnAuthList;

/// An STI identity: the key and certificate (with chain) and the URL that serves them.
#[derive(Debug, Clone)]
pub struct StiIdentity {
    pub identity: Identity,
    pub x5u: String,
}

fn check_x5u(x5u: &str) -> Result<(), StoreError> {
    let https = x5u
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if https && is_valid_x5u(x5u) {
        Ok(())
    } else {
        Err(StoreError::Refused(format!(
            "the x5u {x5u:?} is not an https URL that can stand in an Identity header"
        )))
    }
}

impl Store {
    fn sti_dir(&self, aor: &Aor) -> PathBuf {
        self.root.join("sti").join(aor_dir_name(aor))
    }

    fn sti_profile(&self, aor: &Aor, tn_auth: TnAuthList, days: u32) -> StiProfile {
        let start = now_unix() - 300;
        StiProfile {
            cn: aor.to_string(),
            tn_auth,
            not_before: start,
            not_after: start + i64::from(days) * 86_400,
        }
    }

    /// Issues an STI certificate for `aor` (an own identity or group) from the issuing CA and
    /// stores it with a new P-256 key and the x5u URL. An existing one is refused unless
    /// `replace`.
    pub fn issue_sti(
        &self,
        aor: &Aor,
        tn_auth: TnAuthList,
        x5u: &str,
        days: u32,
        replace: bool,
    ) -> Result<StiIdentity, StoreError> {
        check_x5u(x5u)?;
        let ca = self.required_issuing_ca()?;
        let key = x509::generate_key(KeyType::P256)?;
        let profile = self.sti_profile(aor, tn_auth, days);
        let cert = make_sti_cert(&profile, &key, (&ca.cert, &ca.key))
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        let sti = StiIdentity {
            identity: Identity {
                aor: aor.clone(),
                cert,
                key,
                chain: self.chain_below(&ca),
            },
            x5u: x5u.to_owned(),
        };
        let dir = self.sti_dir(aor);
        let _l = self.lock(true)?;
        if !replace && dir.join("cert.pem").exists() {
            return Err(StoreError::Refused(format!(
                "sip:{aor} already has an STI certificate (give --replace)"
            )));
        }
        self.write_identity_at(&dir, &sti.identity)?;
        fsio::write_atomic(&dir.join("x5u"), format!("{x5u}\n").as_bytes(), PUBLIC_MODE)?;
        Ok(sti)
    }

    /// A new P-256 key and a CSR asking an outside STI-CA for `tn_auth`; the key and the x5u
    /// are stored, the certificate comes later with [`Store::import_sti_cert`].
    pub fn sti_csr(
        &self,
        aor: &Aor,
        tn_auth: TnAuthList,
        x5u: &str,
    ) -> Result<X509Req, StoreError> {
        check_x5u(x5u)?;
        let key = x509::generate_key(KeyType::P256)?;
        let profile = self.sti_profile(aor, tn_auth, 1);
        let csr = make_sti_csr(&profile, &key).map_err(|e| StoreError::Refused(e.to_string()))?;
        let dir = self.sti_dir(aor);
        let _l = self.lock(true)?;
        fsio::write_atomic(&dir.join("key.pem"), &self.key_pem(&key)?, SECRET_MODE)?;
        let pem = csr.to_pem().map_err(|source| StoreError::Crypto {
            what: "encoding the CSR",
            source,
        })?;
        fsio::write_atomic(&dir.join("csr.pem"), &pem, PUBLIC_MODE)?;
        fsio::write_atomic(&dir.join("x5u"), format!("{x5u}\n").as_bytes(), PUBLIC_MODE)?;
        Ok(csr)
    }

    /// Stores the STI certificate an outside STI-CA returned for [`Store::sti_csr`]: it must
    /// match the stored key and carry a TNAuthList. Extra certificates become the chain.
    pub fn import_sti_cert(
        &self,
        aor: &Aor,
        cert: X509,
        chain: Vec<X509>,
    ) -> Result<StiIdentity, StoreError> {
        let dir = self.sti_dir(aor);
        let _l = self.lock(true)?;
        let key = self.read_key(&dir.join("key.pem"))?;
        let x5u = self.read_x5u(&dir)?;
        TnAuthList::of(&cert).map_err(|e| StoreError::Refused(e.to_string()))?;
        let id = Identity {
            aor: aor.clone(),
            cert,
            key,
            chain,
        };
        check_sti_key(&id)?;
        self.write_identity_at(&dir, &id)?;
        Ok(StiIdentity { identity: id, x5u })
    }

    fn read_x5u(&self, dir: &Path) -> Result<String, StoreError> {
        let path = dir.join("x5u");
        let text = fsio::read_opt(&path)?.ok_or_else(|| {
            StoreError::Refused(format!(
                "{}: no x5u (make the key with `sti-csr` first)",
                path.display()
            ))
        })?;
        let x5u = String::from_utf8_lossy(&text).trim().to_owned();
        check_x5u(&x5u)?;
        Ok(x5u)
    }

    /// The STI identity of exactly `aor`, if the store holds one with a certificate.
    pub fn sti_identity(&self, aor: &Aor) -> Result<Option<StiIdentity>, StoreError> {
        let dir = self.sti_dir(aor);
        let _l = self.lock(false)?;
        let Some(cert) =
            Self::read_certs(&dir.join("cert.pem"))?.and_then(|v| v.into_iter().next())
        else {
            return Ok(None);
        };
        let id = Identity {
            aor: aor.clone(),
            cert,
            key: self.read_key(&dir.join("key.pem"))?,
            chain: Self::read_certs(&dir.join("chain.pem"))?.unwrap_or_default(),
        };
        check_sti_key(&id)?;
        Ok(Some(StiIdentity {
            x5u: self.read_x5u(&dir)?,
            identity: id,
        }))
    }
}

fn check_sti_key(id: &Identity) -> Result<(), StoreError> {
    let matches = id.cert.public_key().is_ok_and(|p| p.public_eq(&id.key));
    if matches {
        Ok(())
    } else {
        Err(StoreError::KeyMismatch)
    }
}
