//! X.509 operations over values (no file I/O): keys, the root and issuing CAs, SIP leaf
//! certificates, CSRs, PKCS#12, CRLs, and the checks that refuse mismatched or forged input.
//!
//! Name constraints and SIP URIs: RFC 5280 says a URI constraint applies to the host part, but
//! OpenSSL (3.0 to 3.x) only understands `scheme://host` URIs and answers "unsupported or invalid
//! name syntax" (error 53) for EVERY `sip:` SAN under a URI constraint, its own domain included.
//! So by default the intermediate carries DNS subtrees only (every certificate this module
//! issues carries `DNS:<domain>` for domain certificates, and the store refuses foreign domains
//! at issuance); sipsec-verify and the store's issuance hold the host of every SIP URI against
//! them (`crypto::constraints`), since OpenSSL never holds a URI against a DNS subtree.
//! `uri_constraints` adds the URI subtrees for verifiers that implement RFC 5280 host matching,
//! at the price of `openssl verify` (and so sipsec-verify, which runs it first) refusing every
//! leaf.

use super::StoreError;
use crate::clock::now_unix;
use crate::uri::Aor;
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{
    X509Builder, X509Crl, X509CrlBuilder, X509Extension, X509Name, X509NameBuilder, X509Ref,
    X509Req, X509ReqBuilder, X509RevokedBuilder, X509,
};

/// Clock skew allowance: certificates start this many seconds in the past.
const BACKDATE_SECS: i64 = 300;

/// Key types: RSA-2048 is the default for RFC 3853 interop; P-256 is the RFC 8591 profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum KeyType {
    #[default]
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
}

impl KeyType {
    pub fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "rsa2048",
            Self::Rsa3072 => "rsa3072",
            Self::Rsa4096 => "rsa4096",
            Self::P256 => "p256",
            Self::P384 => "p384",
        }
    }

    pub fn from_name(name: &str) -> Option<KeyType> {
        [
            Self::Rsa2048,
            Self::Rsa3072,
            Self::Rsa4096,
            Self::P256,
            Self::P384,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }
}

fn crypto(what: &'static str) -> impl FnOnce(openssl::error::ErrorStack) -> StoreError {
    move |source| StoreError::Crypto { what, source }
}

pub fn generate_key(kind: KeyType) -> Result<PKey<Private>, StoreError> {
    let err = crypto("generating a key");
    let rsa = |bits| Rsa::generate(bits).and_then(PKey::from_rsa);
    let ec = |nid| {
        EcGroup::from_curve_name(nid)
            .and_then(|g| EcKey::generate(&g))
            .and_then(PKey::from_ec_key)
    };
    match kind {
        KeyType::Rsa2048 => rsa(2048),
        KeyType::Rsa3072 => rsa(3072),
        KeyType::Rsa4096 => rsa(4096),
        KeyType::P256 => ec(Nid::X9_62_PRIME256V1),
        KeyType::P384 => ec(Nid::SECP384R1),
    }
    .map_err(err)
}

/// The digest to sign with: SHA-384 for P-384 keys (matching strength), SHA-256 otherwise.
fn digest_for<T: HasPublic>(key: &PKeyRef<T>) -> MessageDigest {
    if key.id() == Id::EC && key.bits() > 256 {
        MessageDigest::sha384()
    } else {
        MessageDigest::sha256()
    }
}

/// `sip:user@host` (or `sip:host` for a domain identity).
pub fn sip_uri(aor: &Aor) -> String {
    format!("sip:{aor}")
}

/// Parses a SIP URI given by a user, with a refusal that names the text.
pub fn parse_aor(text: &str) -> Result<Aor, StoreError> {
    let text = text.trim();
    if let Some(number) = text
        .get(..4)
        .filter(|scheme| scheme.eq_ignore_ascii_case("tel:"))
        .map(|_| &text[4..])
    {
        let number = number.split(';').next().unwrap_or_default();
        return Err(StoreError::Refused(format!(
            "{text}: certificates are issued for SIP URIs, not tel: numbers; use the number's \
             SIP form in one of this store's domains, e.g. sip:{number}@DOMAIN"
        )));
    }
    Aor::parse(text).map_err(|e| StoreError::BadUri {
        text: text.to_string(),
        reason: e.to_string(),
    })
}

/// A random positive 128-bit serial (RFC 5280 allows up to 20 octets).
pub fn random_serial() -> Result<Asn1Integer, StoreError> {
    let err = crypto("making a serial number");
    let mut bn = BigNum::new().map_err(err)?;
    loop {
        bn.rand(128, MsbOption::MAYBE_ZERO, false)
            .map_err(crypto("making a serial number"))?;
        if bn.num_bits() > 64 {
            return bn
                .to_asn1_integer()
                .map_err(crypto("making a serial number"));
        }
    }
}

fn name(cn: &str, org: Option<&str>) -> Result<X509Name, openssl::error::ErrorStack> {
    let mut b = X509NameBuilder::new()?;
    if let Some(o) = org {
        b.append_entry_by_nid(Nid::ORGANIZATIONNAME, o)?;
    }
    b.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(b.build())
}

/// Common start of every certificate: version 3, random serial, subject, key, validity.
fn base_builder<T: HasPublic>(
    subject: &X509Name,
    key: &PKeyRef<T>,
    days: u32,
) -> Result<X509Builder, StoreError> {
    let serial = random_serial()?;
    let err = crypto("building a certificate");
    let build = || -> Result<X509Builder, openssl::error::ErrorStack> {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(subject)?;
        b.set_pubkey(key)?;
        let start = now_unix() - BACKDATE_SECS;
        let not_before = Asn1Time::from_unix(start as _)?;
        let not_after = Asn1Time::from_unix((start + i64::from(days) * 86_400) as _)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        Ok(b)
    };
    build().map_err(err)
}

/// A root CA: self-signed, `CA:TRUE` (critical), key usage keyCertSign + cRLSign.
pub fn make_root_ca(cn: &str, key: &PKeyRef<Private>, days: u32) -> Result<X509, StoreError> {
    let subject = name(cn, None).map_err(crypto("building a CA name"))?;
    let mut b = base_builder(&subject, key, days)?;
    let build = |b: &mut X509Builder| -> Result<(), openssl::error::ErrorStack> {
        b.set_issuer_name(&subject)?;
        b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(key, digest_for(key))
    };
    build(&mut b).map_err(crypto("signing the root CA"))?;
    Ok(b.build())
}

/// The value of a nameConstraints extension permitting only `domains`.
pub fn name_constraints_value(domains: &[String], uri_constraints: bool) -> String {
    let mut v = String::from("critical");
    for d in domains {
        v.push_str(&format!(",permitted;DNS:{d}"));
        if uri_constraints {
            v.push_str(&format!(",permitted;URI:{d},permitted;URI:.{d}"));
        }
    }
    v
}

/// An issuing intermediate CA for the proxy, signed by `root`, `pathlen:0`, with name
/// constraints permitting only `domains` (see the module comment for URI subtrees).
pub fn make_intermediate(
    cn: &str,
    key: &PKeyRef<Private>,
    root: (&X509Ref, &PKeyRef<Private>),
    domains: &[String],
    uri_constraints: bool,
    days: u32,
) -> Result<X509, StoreError> {
    if domains.is_empty() {
        return Err(StoreError::Refused(
            "an issuing CA needs at least one permitted domain".into(),
        ));
    }
    let subject = name(cn, None).map_err(crypto("building a CA name"))?;
    let mut b = base_builder(&subject, key, days)?;
    let nc = name_constraints_value(domains, uri_constraints);
    #[allow(deprecated)] // the crate has no typed builder for nameConstraints
    let build = |b: &mut X509Builder| -> Result<(), openssl::error::ErrorStack> {
        b.set_issuer_name(root.0.subject_name())?;
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(root.0), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(root.0), None))?;
        b.append_extension(aki)?;
        let ext = X509Extension::new_nid(None, None, Nid::NAME_CONSTRAINTS, &nc)?;
        b.append_extension(ext)?;
        b.sign(root.1, digest_for(root.1))
    };
    build(&mut b).map_err(crypto("signing the intermediate CA"))?;
    Ok(b.build())
}

/// What goes into a SIP leaf certificate besides the key.
#[derive(Debug, Clone)]
pub struct LeafProfile {
    pub aor: Aor,
    /// Add `im:` and `pres:` URIs beside `sip:` (the RFC 6216 profile).
    pub im_pres: bool,
    /// A domain certificate: `DNS:<host>` and id-kp-sipDomain (RFC 5922/5924).
    pub domain_cert: bool,
    pub days: u32,
}

impl LeafProfile {
    pub fn new(aor: Aor, days: u32) -> Self {
        LeafProfile {
            aor,
            im_pres: false,
            domain_cert: false,
            days,
        }
    }

    fn san(&self) -> SubjectAlternativeName {
        let mut san = SubjectAlternativeName::new();
        let aor = self.aor.to_string();
        san.uri(&format!("sip:{aor}"));
        if self.im_pres {
            san.uri(&format!("im:{aor}")).uri(&format!("pres:{aor}"));
        }
        if self.domain_cert {
            san.dns(self.aor.host());
        }
        san
    }

    fn subject(&self) -> Result<X509Name, openssl::error::ErrorStack> {
        name(&self.aor.to_string(), Some(self.aor.host()))
    }
}

/// Issues a SIP leaf certificate for `public` under `issuer` (or self-signed with `public`'s
/// own private key when `issuer` is `None`). Performs no domain policy check: callers do.
pub fn make_leaf<T: HasPublic>(
    profile: &LeafProfile,
    public: &PKeyRef<T>,
    issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
    self_key: Option<&PKeyRef<Private>>,
) -> Result<X509, StoreError> {
    let subject = profile.subject().map_err(crypto("building a name"))?;
    let mut eku = ExtendedKeyUsage::new();
    eku.email_protection();
    if profile.domain_cert {
        eku.other(&crate::crypto::id_kp_sip_domain_text());
    }
    let leaf = Leaf {
        subject: &subject,
        days: profile.days,
        san: profile.san(),
        eku,
    };
    leaf.sign(public, issuer, self_key)
}

/// What goes into a TLS certificate for the proxy's own host (RFC 5922 §7.1 matches a SIP
/// server by its DNS subjectAltName): server and client authentication, no S/MIME use.
#[derive(Debug, Clone)]
pub struct TlsProfile {
    /// The host name, lower-case, no final dot.
    pub host: String,
    /// Addresses also named (`IP:` subjectAltName), for peers that connect by address.
    pub ips: Vec<std::net::IpAddr>,
    pub days: u32,
}

impl TlsProfile {
    /// Refuses a host that is not a DNS name (letters, digits, `-`, dots between labels).
    pub fn new(
        host: &str,
        ips: Vec<std::net::IpAddr>,
        days: u32,
    ) -> Result<TlsProfile, StoreError> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.len() > 253
            || !host.split('.').all(label_ok)
            || host.parse::<std::net::IpAddr>().is_ok()
        {
            return Err(StoreError::Refused(format!(
                "{host:?} is not a DNS host name (give addresses with --ip)"
            )));
        }
        Ok(TlsProfile { host, ips, days })
    }

    /// The host as the store's key for this identity.
    pub fn aor(&self) -> Result<Aor, StoreError> {
        parse_aor(&self.host)
    }
}

/// Issues a TLS server (and client) certificate for `profile.host` under `issuer`, or
/// self-signed with `self_key`.
pub fn make_tls_leaf<T: HasPublic>(
    profile: &TlsProfile,
    public: &PKeyRef<T>,
    issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
    self_key: Option<&PKeyRef<Private>>,
) -> Result<X509, StoreError> {
    let subject = name(&profile.host, None).map_err(crypto("building a name"))?;
    let mut san = SubjectAlternativeName::new();
    san.dns(&profile.host);
    for ip in &profile.ips {
        san.ip(&ip.to_string());
    }
    let mut eku = ExtendedKeyUsage::new();
    eku.server_auth().client_auth();
    let leaf = Leaf {
        subject: &subject,
        days: profile.days,
        san,
        eku,
    };
    leaf.sign(public, issuer, self_key)
}

/// The parts in which leaf certificates differ.
struct Leaf<'a> {
    subject: &'a X509Name,
    days: u32,
    san: SubjectAlternativeName,
    eku: ExtendedKeyUsage,
}

impl Leaf<'_> {
    fn sign<T: HasPublic>(
        &self,
        public: &PKeyRef<T>,
        issuer: Option<(&X509Ref, &PKeyRef<Private>)>,
        self_key: Option<&PKeyRef<Private>>,
    ) -> Result<X509, StoreError> {
        let subject = self.subject;
        let mut b = base_builder(subject, public, self.days)?;
        let signer = match (issuer, self_key) {
            (Some((_, k)), _) => k,
            (None, Some(k)) => k,
            (None, None) => {
                return Err(StoreError::Refused(
                    "a self-signed certificate needs its private key".into(),
                ))
            }
        };
        let rsa = public.id() == Id::RSA;
        let build = |b: &mut X509Builder| -> Result<(), openssl::error::ErrorStack> {
            let issuer_cert = issuer.map(|(c, _)| c);
            b.set_issuer_name(issuer_cert.map_or(subject, |c| c.subject_name()))?;
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            let mut ku = KeyUsage::new();
            ku.critical().digital_signature();
            if rsa {
                ku.key_encipherment();
            } else {
                ku.key_agreement();
            }
            b.append_extension(ku.build()?)?;
            b.append_extension(self.eku.build()?)?;
            let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer_cert, None))?;
            b.append_extension(ski)?;
            if issuer_cert.is_some() {
                let aki = AuthorityKeyIdentifier::new()
                    .keyid(true)
                    .build(&b.x509v3_context(issuer_cert, None))?;
                b.append_extension(aki)?;
            }
            let san = self.san.build(&b.x509v3_context(issuer_cert, None))?;
            b.append_extension(san)?;
            b.sign(signer, digest_for(signer))
        };
        build(&mut b).map_err(crypto("signing the certificate"))?;
        Ok(b.build())
    }
}

/// A CSR for a SIP URI: subject `O=<host>, CN=<aor>` and the same subjectAltName a leaf gets.
pub fn make_csr(profile: &LeafProfile, key: &PKeyRef<Private>) -> Result<X509Req, StoreError> {
    let build = || -> Result<X509Req, openssl::error::ErrorStack> {
        let mut b = X509ReqBuilder::new()?;
        b.set_version(0)?;
        b.set_subject_name(&*profile.subject()?)?;
        b.set_pubkey(key)?;
        let san = profile.san().build(&b.x509v3_context(None))?;
        let mut exts = Stack::new()?;
        exts.push(san)?;
        b.add_extensions(&exts)?;
        b.sign(key, digest_for(key))?;
        Ok(b.build())
    };
    build().map_err(crypto("building the CSR"))
}

/// The identity a CSR asks for: its subject CN as an AOR (our CSRs put the AOR there).
pub fn csr_subject_aor(csr: &X509Req) -> Result<Aor, StoreError> {
    let cn = csr
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .ok_or_else(|| StoreError::Refused("the CSR has no subject CN; give the URI".into()))?;
    parse_aor(&cn)
}

/// Signs a CSR after checking its self-signature. The identity certified is `profile.aor`,
/// decided by the CA, never taken blindly from the request.
pub fn sign_csr(
    csr: &X509Req,
    profile: &LeafProfile,
    issuer: (&X509Ref, &PKeyRef<Private>),
) -> Result<X509, StoreError> {
    let public = csr.public_key().map_err(crypto("reading the CSR key"))?;
    // A CSR whose signature fails proves no possession of the key; OpenSSL reports that as
    // Ok(false) or as an error depending on the defect, and both are the same refusal.
    if !csr.verify(&public).unwrap_or(false) {
        return Err(StoreError::BadCsrSignature);
    }
    make_leaf(profile, &public, Some(issuer), None)
}

/// The SIP identities a certificate names: `sip:`, `sips:`, `im:` and `pres:` URIs and DNS names
/// of its subjectAltName, as AORs.
pub fn cert_aors(cert: &X509Ref) -> Vec<Aor> {
    let Some(names) = cert.subject_alt_names() else {
        return Vec::new();
    };
    let mut out: Vec<Aor> = Vec::new();
    for n in &names {
        let aor = if let Some(uri) = n.uri() {
            // The same schemes the verifier holds against name constraints.
            crate::crypto::constraints::identity_uri_rest(uri).and_then(|r| Aor::parse(r).ok())
        } else {
            n.dnsname().and_then(|d| Aor::parse(d).ok())
        };
        if let Some(a) = aor {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

/// Refuses a certificate that is not for `key` or does not name `aor`.
pub fn check_cert_matches(
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    aor: &Aor,
) -> Result<(), StoreError> {
    let public = cert
        .public_key()
        .map_err(crypto("reading the certificate key"))?;
    if !public.public_eq(key) {
        return Err(StoreError::KeyMismatch);
    }
    if !cert_aors(cert).contains(aor) {
        return Err(StoreError::NameMismatch {
            aor: aor.to_string(),
        });
    }
    Ok(())
}

/// SHA-256 fingerprint in the `AA:BB:…` form the openssl CLI prints.
pub fn fingerprint(cert: &X509Ref) -> Result<String, StoreError> {
    let d = cert
        .digest(MessageDigest::sha256())
        .map_err(crypto("hashing the certificate"))?;
    Ok(d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

/// The serial in upper-case hex, as `openssl x509 -serial` prints it.
pub fn serial_hex(cert: &X509Ref) -> Result<String, StoreError> {
    cert.serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_string()))
        .map_err(crypto("reading the serial"))
}

/// PKCS#12 export. Modern: PBES2 / PBKDF2 / AES-256-CBC with an HMAC-SHA-256 MAC (OpenSSL 3
/// defaults). Legacy: 3DES for key and certificates, SHA-1 MAC, for old importers (RC2 is not
/// offered: OpenSSL 3 keeps it in the legacy provider).
pub fn export_p12(
    key: &PKeyRef<Private>,
    cert: &X509Ref,
    chain: &[X509],
    friendly_name: &str,
    passphrase: &str,
    legacy: bool,
) -> Result<Vec<u8>, StoreError> {
    let build = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut stack = Stack::new()?;
        for c in chain {
            stack.push(c.clone())?;
        }
        let mut b = Pkcs12::builder();
        b.name(friendly_name).pkey(key).cert(cert).ca(stack);
        if legacy {
            b.key_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                .cert_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                .mac_md(MessageDigest::sha1());
        } else {
            b.key_algorithm(Nid::AES_256_CBC)
                .cert_algorithm(Nid::AES_256_CBC)
                .mac_md(MessageDigest::sha256());
        }
        b.build2(passphrase)?.to_der()
    };
    build().map_err(crypto("building the PKCS#12 file"))
}

/// What a PKCS#12 file holds.
pub struct P12Contents {
    pub key: PKey<Private>,
    pub cert: X509,
    pub chain: Vec<X509>,
}

/// PKCS#12 import; a MAC that does not verify is reported as a wrong passphrase.
pub fn import_p12(der: &[u8], passphrase: &str) -> Result<P12Contents, StoreError> {
    let p12 = Pkcs12::from_der(der).map_err(crypto("reading the PKCS#12 file"))?;
    let parsed = p12
        .parse2(passphrase)
        .map_err(|_| StoreError::WrongPassphrase)?;
    match (parsed.pkey, parsed.cert) {
        (Some(key), Some(cert)) => Ok(P12Contents {
            key,
            cert,
            chain: parsed
                .ca
                .map(|s| s.into_iter().collect())
                .unwrap_or_default(),
        }),
        _ => Err(StoreError::Refused(
            "the PKCS#12 file lacks a key or a certificate".into(),
        )),
    }
}

/// One revocation: the serial (hex) and when it was revoked (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub serial_hex: String,
    pub when: i64,
}

/// A CRL signed by `ca` listing `revoked`, valid for `days`.
pub fn make_crl(
    ca: (&X509Ref, &PKeyRef<Private>),
    revoked: &[Revocation],
    days: u32,
) -> Result<X509Crl, StoreError> {
    let build = || -> Result<X509Crl, openssl::error::ErrorStack> {
        let mut b = X509CrlBuilder::new()?;
        b.set_issuer_name(ca.0.subject_name())?;
        // OpenSSL demands an AKI on CRLs; a scratch certificate builder supplies the context.
        let scratch = X509Builder::new()?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&scratch.x509v3_context(Some(ca.0), None))?;
        b.append_extension(aki)?;
        let now = now_unix();
        // The CRL number must grow with each CRL; the issuing time in seconds does. OpenSSL has
        // no config syntax for crlNumber, so the extension is given as DER: INTEGER (positive,
        // so a leading zero octet when the top bit is set).
        let mut int = now.max(1).to_be_bytes().to_vec();
        while int.len() > 1 && int[0] == 0 && int[1] & 0x80 == 0 {
            int.remove(0);
        }
        if int[0] & 0x80 != 0 {
            int.insert(0, 0);
        }
        let mut der = vec![0x02, int.len() as u8];
        der.extend(int);
        let number = X509Extension::new_from_der(
            &*Asn1Object::from_str("2.5.29.20")?,
            false,
            &*Asn1OctetString::new_from_bytes(&der)?,
        )?;
        b.append_extension(number)?;
        b.set_last_update(&*Asn1Time::from_unix(now as _)?)?;
        b.set_next_update(&*Asn1Time::from_unix(
            (now + i64::from(days) * 86_400) as _,
        )?)?;
        for r in revoked {
            let mut rb = X509RevokedBuilder::new()?;
            let serial = BigNum::from_hex_str(&r.serial_hex)?.to_asn1_integer()?;
            rb.set_serial_number(&serial)?;
            rb.set_revocation_date(&*Asn1Time::from_unix(r.when as _)?)?;
            b.add_revoked(rb.build())?;
        }
        b.sort()?;
        b.sign(ca.1, digest_for(ca.1))?;
        b.build()
    };
    build().map_err(crypto("signing the CRL"))
}

/// Whether `cert` is within its validity period now.
pub fn is_current(cert: &X509Ref) -> bool {
    let Ok(now) = Asn1Time::from_unix(now_unix() as _) else {
        return false;
    };
    cert.not_before() <= now && now <= cert.not_after()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aor(s: &str) -> Aor {
        parse_aor(s).expect("test AOR")
    }

    fn ca() -> (X509, PKey<Private>) {
        let k = generate_key(KeyType::P256).expect("key");
        let c = make_root_ca("test root", &k, 10).expect("root");
        (c, k)
    }

    #[test]
    fn leaf_names_its_aor_and_matches_its_key() {
        let (cc, ck) = ca();
        let k = generate_key(KeyType::P256).expect("key");
        let p = LeafProfile::new(aor("sip:alice@example.com"), 5);
        let c = make_leaf(&p, &k, Some((&cc, &ck)), None).expect("leaf");
        assert!(check_cert_matches(&c, &k, &aor("alice@example.com")).is_ok());
        assert!(c.verify(&ck).expect("verify"));
    }

    #[test]
    fn key_that_does_not_match_the_certificate_is_refused() {
        let k = generate_key(KeyType::P256).expect("key");
        let other = generate_key(KeyType::P256).expect("key");
        let p = LeafProfile::new(aor("sip:alice@example.com"), 5);
        let c = make_leaf(&p, &k, None, Some(&k)).expect("leaf");
        let e = check_cert_matches(&c, &other, &aor("alice@example.com"));
        assert!(matches!(e, Err(StoreError::KeyMismatch)), "{e:?}");
    }

    #[test]
    fn certificate_for_another_uri_is_refused() {
        let k = generate_key(KeyType::P256).expect("key");
        let p = LeafProfile::new(aor("sip:alice@example.com"), 5);
        let c = make_leaf(&p, &k, None, Some(&k)).expect("leaf");
        let e = check_cert_matches(&c, &k, &aor("mallory@example.com"));
        assert!(matches!(e, Err(StoreError::NameMismatch { .. })), "{e:?}");
    }

    #[test]
    fn uri_without_host_is_refused() {
        assert!(matches!(
            parse_aor("sip:alice@"),
            Err(StoreError::BadUri { .. })
        ));
    }

    #[test]
    fn csr_with_tampered_signature_is_refused() {
        let (cc, ck) = ca();
        let k = generate_key(KeyType::P256).expect("key");
        let p = LeafProfile::new(aor("sip:bob@example.com"), 5);
        let csr = make_csr(&p, &k).expect("csr");
        assert!(sign_csr(&csr, &p, (&cc, &ck)).is_ok());
        let mut der = csr.to_der().expect("der");
        // The signature BIT STRING is last: flip a bit in its final byte.
        if let Some(last) = der.last_mut() {
            *last ^= 0x01;
        }
        let bad = X509Req::from_der(&der).expect("still parses");
        let e = sign_csr(&bad, &p, (&cc, &ck));
        assert!(matches!(e, Err(StoreError::BadCsrSignature)), "{e:?}");
    }

    #[test]
    fn pkcs12_round_trips_and_refuses_a_wrong_passphrase() {
        let k = generate_key(KeyType::P256).expect("key");
        let p = LeafProfile::new(aor("sip:carol@example.com"), 5);
        let c = make_leaf(&p, &k, None, Some(&k)).expect("leaf");
        for legacy in [false, true] {
            let der = export_p12(&k, &c, &[], "carol", "right", legacy).expect("p12");
            let back = import_p12(&der, "right").expect("import");
            assert!(back.key.public_eq(&k));
            let e = import_p12(&der, "wrong");
            assert!(matches!(e, Err(StoreError::WrongPassphrase)), "{legacy}");
        }
    }

    #[test]
    fn tls_leaf_names_the_host_and_addresses_for_server_and_client_auth() {
        let (cc, ck) = ca();
        let k = generate_key(KeyType::P256).expect("key");
        let p = TlsProfile::new("Proxy.Example.", vec!["127.0.0.1".parse().expect("ip")], 5)
            .expect("profile");
        assert_eq!(p.host, "proxy.example");
        let c = make_tls_leaf(&p, &k, Some((&cc, &ck)), None).expect("leaf");
        assert!(c.verify(&ck).expect("verify"));
        let sans = c.subject_alt_names().expect("san");
        assert_eq!(
            sans.iter().filter_map(|n| n.dnsname()).collect::<Vec<_>>(),
            ["proxy.example"]
        );
        assert_eq!(
            sans.iter()
                .filter_map(|n| n.ipaddress())
                .collect::<Vec<_>>(),
            [&[127u8, 0, 0, 1][..]]
        );
        let text = String::from_utf8(c.to_text().expect("text")).expect("utf8");
        assert!(
            text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
            "{text}"
        );
        assert!(!text.contains("E-mail Protection"), "{text}");
        assert!(check_cert_matches(&c, &k, &aor("proxy.example")).is_ok());
        assert!(check_cert_matches(&c, &k, &aor("other.example")).is_err());
        for bad in [
            "",
            "127.0.0.1",
            "a..b",
            "-x.example",
            "sip:proxy.example",
            "a b",
        ] {
            assert!(TlsProfile::new(bad, Vec::new(), 5).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serials_are_positive_and_large() {
        let s = random_serial().expect("serial").to_bn().expect("bn");
        assert!(s.num_bits() > 64 && s.num_bits() <= 128);
        assert!(!s.is_negative());
    }

    #[test]
    fn crl_lists_revoked_serials() {
        let (cc, ck) = ca();
        let r = Revocation {
            serial_hex: "0A1B2C".into(),
            when: now_unix(),
        };
        let crl = make_crl((&cc, &ck), &[r], 7).expect("crl");
        assert!(crl.verify(&ck).expect("verify"));
        let listed = crl.get_revoked().map_or(0, |s| s.len());
        assert_eq!(listed, 1);
    }
}
