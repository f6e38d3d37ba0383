//! sipsec-verify's engine: every check of a signed message on its own, a cache of verified
//! chains, a bounded replay cache, the marks, and `--unwrap`.

mod stir;
pub mod verdict;

pub use stir::StirVerifyOptions;

use self::verdict::{
    earns_mark, BodyCoverage, Check, CheckName, Coverage, Report, Status, VERDICT_HEADER,
};
use crate::clock::now_unix;
use crate::crypto::fastcms::CertCache;
use crate::crypto::{self, ChainKey, CmsError, Der, TrustContext, TrustVerdict, VerifyContext};
use crate::filter::mark::{foreign_mark, strip_marks};
use crate::filter::{
    control, Examined, FailMode, Failure, Filter, InOrderStep, MessageContext, Processed, Verdict,
};
use crate::message::{HeaderKind, Message};
use crate::smime::parse::{classify, EntityView, Form, Protection, SignedBody};
use crate::smime::restore::{compare, restore_entity, restore_from_inner, Comparison};
use crate::store::watch::WatchedStore;
use crate::store::{x509::cert_aors, Lookup};
use crate::uri::Aor;
use openssl::x509::{X509Crl, X509};
use serde_json::json;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};

/// Which checks must pass for a message to count as accepted (cumulative levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, clap::ValueEnum)]
pub enum Require {
    /// Nothing: every message passes on with its verdict; only a mark that is not ours refuses.
    #[default]
    None,
    /// Signed, intact, not a replay.
    Signed,
    /// And the signer's chain is trusted.
    Trusted,
    /// And the signer is who the message says (From/To), inner and outer copies agree.
    Identity,
    /// And a signed Date within the freshness window.
    Fresh,
}

/// Senders (exact AORs or whole domains) whose messages must always arrive signed.
#[derive(Debug, Clone, Default)]
pub struct PeerPolicy {
    aors: Vec<Aor>,
    domains: Vec<String>,
}

impl PeerPolicy {
    /// One entry a line: `sip:alice@example.com`, `alice@example.com` or a bare domain
    /// `example.com`; `#` starts a comment.
    pub fn parse(text: &str) -> Result<PeerPolicy, String> {
        let mut p = PeerPolicy::default();
        for (n, line) in text.lines().enumerate() {
            let l = line.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            let aor = Aor::parse(l).map_err(|e| format!("line {}: {l:?}: {e}", n + 1))?;
            match aor.user() {
                Some(_) => p.aors.push(aor),
                None => p.domains.push(aor.host().to_string()),
            }
        }
        Ok(p)
    }

    /// No peer is required to sign (the common case: nothing to look up per message).
    pub fn is_empty(&self) -> bool {
        self.aors.is_empty() && self.domains.is_empty()
    }

    pub fn must_sign(&self, aor: &Aor) -> bool {
        self.aors.contains(aor) || self.domains.iter().any(|d| d == aor.host())
    }
}

/// The verifier's settings.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// How old a signed Date may be (RFC 3893 §10), seconds.
    pub window: i64,
    /// How far in the future a signed Date may be (clock skew), seconds.
    pub future_skew: i64,
    /// A repeat within this many seconds is a retransmission (64*T1 = 32 s), later a replay.
    pub retransmit_interval: i64,
    /// Signatures remembered at most; when full, new signed messages are refused.
    pub replay_capacity: usize,
    /// The time to judge by when the message has no capture time (`None`: the clock).
    pub now: Option<i64>,
    pub require: Require,
    pub peers: PeerPolicy,
    pub unwrap: bool,
    pub learn_certs: bool,
    /// Check STIR Identity headers too (`--sti-anchors`).
    pub stir: Option<StirVerifyOptions>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            window: 3600,
            future_skew: 300,
            retransmit_interval: 32,
            replay_capacity: 100_000,
            now: None,
            require: Require::None,
            peers: PeerPolicy::default(),
            unwrap: false,
            learn_certs: false,
            stir: None,
        }
    }
}

#[derive(Clone, Copy)]
struct TrustedSpan {
    from: i64,
    until: i64,
}

/// What the replay cache says about a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    First,
    Retransmission,
    Replay {
        first_seen: i64,
    },
    /// The cache is full of live entries: the message cannot be checked, so it is refused.
    Full,
}

/// Signatures seen, each kept until its Date (or first sighting) plus the window; never
/// evicted early. Memory is bounded by `capacity` entries.
pub struct ReplayCache {
    capacity: usize,
    entries: HashMap<EntryKey, (i64, i64)>,
    expiry: ExpiryQueue,
}

/// The entries in the order they expire. Most arrive in that order (a run's Dates only grow):
/// they queue at the back of `in_order`, an append that touches one cache line, where a heap's
/// push compares with parents all over a large array. The others go to the heap. The next to
/// expire is the earlier of the two fronts.
#[derive(Default)]
struct ExpiryQueue {
    in_order: VecDeque<Expiry>,
    out_of_order: BinaryHeap<std::cmp::Reverse<Expiry>>,
}

impl ExpiryQueue {
    fn push(&mut self, e: Expiry) {
        if self.in_order.back().is_none_or(|last| last.at <= e.at) {
            self.in_order.push_back(e);
        } else {
            self.out_of_order.push(std::cmp::Reverse(e));
        }
    }

    /// Takes the entry that expires first, if it expires before `now`.
    fn pop_before(&mut self, now: i64) -> Option<Expiry> {
        let queued = self.in_order.front().map(|e| e.at);
        let heaped = self.out_of_order.peek().map(|e| e.0.at);
        match (queued, heaped) {
            (Some(q), h) if q < now && h.is_none_or(|h| q <= h) => self.in_order.pop_front(),
            (_, Some(h)) if h < now && queued.is_none_or(|q| h < q) => {
                self.out_of_order.pop().map(|e| e.0)
            }
            _ => None,
        }
    }
}

/// When a key's entry expires. Ordered by the time alone: entries expiring at the same second
/// (most of a run's, whose Dates are close) leave together, in any order, so the heap need
/// not compare their keys.
#[derive(Clone, Copy)]
struct Expiry {
    at: i64,
    key: EntryKey,
}

impl PartialEq for Expiry {
    fn eq(&self, other: &Expiry) -> bool {
        self.at == other.at
    }
}

impl Eq for Expiry {}

impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Expiry) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expiry {
    fn cmp(&self, other: &Expiry) -> std::cmp::Ordering {
        self.at.cmp(&other.at)
    }
}

/// The first 16 octets of a signature's 32-octet identity (a SHA-256): 128 bits keep a second
/// preimage (a forged signature taken for an earlier one) out of reach, and an accidental
/// collision among a million live entries near 10⁻²⁷; entries a third smaller than with the
/// whole digest, in a cache that holds up to `--replay-cache` of them.
type EntryKey = [u8; 16];

fn entry_key(identity: &[u8; 32]) -> EntryKey {
    let mut key = [0; 16];
    key.copy_from_slice(&identity[..16]);
    key
}

impl ReplayCache {
    pub fn new(capacity: usize) -> ReplayCache {
        ReplayCache {
            capacity,
            entries: HashMap::new(),
            expiry: ExpiryQueue::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records the signature `identity` seen at `now`, remembered until `expires`.
    pub fn check(&mut self, identity: [u8; 32], now: i64, expires: i64, retransmit: i64) -> Seen {
        let key = entry_key(&identity);
        while let Some(Expiry { at, key: k }) = self.expiry.pop_before(now) {
            if self.entries.get(&k).is_some_and(|e| e.1 == at) {
                self.entries.remove(&k);
            }
        }
        if let Some(&(first, _)) = self.entries.get(&key) {
            return if now - first < retransmit {
                Seen::Retransmission
            } else {
                Seen::Replay { first_seen: first }
            };
        }
        if self.entries.len() >= self.capacity {
            return Seen::Full;
        }
        self.entries.insert(key, (now, expires));
        self.expiry.push(Expiry { at: expires, key });
        Seen::First
    }
}

/// What the verifier derives from its store, derived again when the store changes.
struct FromStore {
    anchors: Vec<X509>,
    /// CRLs as DER: `X509Crl` cannot be cloned into each trust context.
    crl_der: Vec<Vec<u8>>,
    store_certs: OnceLock<Vec<X509>>,
    /// The CA certificates among them, offered as intermediates when building a chain.
    store_intermediates: OnceLock<Vec<X509>>,
}

impl FromStore {
    fn derive(lookup: &dyn Lookup) -> FromStore {
        FromStore {
            anchors: lookup.trust_anchors(),
            crl_der: lookup
                .crls()
                .iter()
                .filter_map(|c| c.to_der().ok())
                .collect(),
            store_certs: OnceLock::new(),
            store_intermediates: OnceLock::new(),
        }
    }

    /// Every certificate the store holds, read once.
    fn store_certs(&self, lookup: &dyn Lookup) -> &[X509] {
        self.store_certs.get_or_init(|| lookup.all_certs())
    }

    /// The CA certificates among them: the identities' chains, the issuing CA and its chain,
    /// learned and anchor certificates that may issue.
    fn store_intermediates(&self, lookup: &dyn Lookup) -> &[X509] {
        self.store_intermediates.get_or_init(|| {
            self.store_certs(lookup)
                .iter()
                .filter(|c| crypto::is_ca_certificate(c))
                .cloned()
                .collect()
        })
    }
}

/// sipsec-verify as a filter.
pub struct Verify {
    /// Looked at again while running: a revoked certificate must not keep earning the mark.
    store: WatchedStore,
    derived: RwLock<FromStore>,
    options: VerifyOptions,
    chains: Mutex<HashMap<ChainKey, TrustedSpan>>,
    certs: CertCache,
    replay: Mutex<ReplayCache>,
    stir: Option<stir::StirCheck>,
    /// What each verified signer certificate names, by chain key.
    names: Mutex<HashMap<ChainKey, Arc<[Aor]>>>,
    /// The verdict's JSON fields are built: someone reads them (see [`Verify::unreported`]).
    verdict_fields: bool,
}

/// Verified chains kept at most; past that the cache starts over (it is only a speed-up).
const CHAIN_CACHE_MAX: usize = 10_000;

fn unix_of(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

fn sip_uri(aor: &Aor) -> String {
    format!("sip:{aor}")
}

/// The AOR a message speaks for: the From of a request, the To of a response.
fn sender(m: &Message) -> Result<(Aor, &'static str), String> {
    let (addr, which) = if m.is_request() {
        (m.from(), "From")
    } else {
        (m.to(), "To")
    };
    let addr = addr.map_err(|e| format!("{which} does not parse: {e}"))?;
    let aor = addr
        .uri()
        .aor()
        .ok_or_else(|| format!("{which} has no address-of-record"))?;
    Ok((aor, which))
}

impl Verify {
    pub fn new(lookup: impl Lookup + 'static, options: VerifyOptions) -> Verify {
        Verify {
            replay: Mutex::new(ReplayCache::new(options.replay_capacity)),
            stir: options.stir.as_ref().map(stir::StirCheck::new),
            derived: RwLock::new(FromStore::derive(&lookup)),
            store: WatchedStore::new(lookup),
            options,
            chains: Mutex::new(HashMap::new()),
            certs: CertCache::default(),
            names: Mutex::new(HashMap::new()),
            verdict_fields: true,
        }
    }

    /// For a run that writes no record (neither `--json` nor `--report`), where nobody reads
    /// the verdict's fields: they are not built. Everything else is as it was: the checks,
    /// the mark, the `Sipsec-Verdict` header, the warnings and the outcome.
    pub fn unreported(mut self) -> Verify {
        self.verdict_fields = false;
        self
    }

    fn derived(&self) -> RwLockReadGuard<'_, FromStore> {
        self.derived.read().unwrap_or_else(|e| e.into_inner())
    }

    /// When the store changed: derives its anchors and CRLs again and forgets every verified
    /// chain (a CRL may have revoked one).
    fn look_at_store(&self) {
        if self.store.changed() {
            let fresh = FromStore::derive(self.store.get().as_ref());
            *self.derived.write().unwrap_or_else(|e| e.into_inner()) = fresh;
            if let Ok(mut chains) = self.chains.lock() {
                chains.clear();
            }
        }
    }

    pub fn options(&self) -> &VerifyOptions {
        &self.options
    }

    /// The time to judge by, and whether it is a capture's frame time (which the sender of
    /// the frames chose: forensics, not proof).
    fn now(&self, ctx: &MessageContext) -> (i64, bool) {
        match ctx.origin.timestamp {
            Some(t) => (t.secs as i64, true),
            None => (self.options.now.unwrap_or_else(now_unix), false),
        }
    }

    /// Integrity, finding the signer certificate when the CMS carries none: by the sender's
    /// AOR, then by issuer and serial among every certificate the store holds.
    fn integrity(
        &self,
        der: &Der<'_>,
        detached: Option<&[u8]>,
        who: Option<&Aor>,
    ) -> (Check, Option<Integrity>) {
        if let Some(fast) = self.certs.verify_der(der, detached) {
            let c = Check::pass()
                .with("digest", fast.signature.digest.micalg())
                .with("signer_certificate", "embedded");
            let intact = Integrity {
                signature: fast.signature,
                chain_key: ChainKey(fast.chain_key),
                replay_key: Some(fast.replay_key),
            };
            return (c, Some(intact));
        }
        let attempt =
            |extra: Vec<X509>| crypto::verify(der, detached, &VerifyContext { extra_certs: extra });
        let mut source = "embedded";
        let mut result = attempt(Vec::new());
        if matches!(result, Err(CmsError::SignerNotFound)) {
            if let Some(c) = who.and_then(|a| self.store.get().recipient_cert(a)) {
                source = "store (by AOR)";
                result = attempt(vec![c]);
            }
        }
        if matches!(result, Err(CmsError::SignerNotFound)) {
            source = "store (by issuer and serial)";
            let derived = self.derived();
            result = attempt(derived.store_certs(self.store.get().as_ref()).to_vec());
        }
        match result {
            Ok(v) => match crypto::chain_key(&v.signer, &v.certificates) {
                Ok(key) => {
                    let c = Check::pass()
                        .with("digest", v.digest.micalg())
                        .with("signer_certificate", source);
                    let intact = Integrity {
                        signature: v,
                        chain_key: key,
                        replay_key: None,
                    };
                    (c, Some(intact))
                }
                Err(e) => (Check::fail(e.to_string()), None),
            },
            Err(CmsError::SignerNotFound) => (
                Check::fail(
                    "the signer's certificate is neither in the signature nor in the store \
                     (by AOR or issuer and serial)",
                ),
                None,
            ),
            Err(e) => (Check::fail(e.to_string()), None),
        }
    }

    /// Trust at `now`, from the cache of verified chains when `key` was judged before and
    /// `now` lies inside the validity of every certificate of the chain.
    fn trust(&self, v: &crypto::VerifiedSignature, key: ChainKey, now: i64) -> Check {
        let cached = self.chains.lock().ok().and_then(|c| c.get(&key).copied());
        if let Some(span) = cached {
            if span.from <= now && now <= span.until {
                return Check::pass().with("cached", true);
            }
        }
        let derived = self.derived();
        let ctx = TrustContext {
            anchors: derived.anchors.clone(),
            crls: derived
                .crl_der
                .iter()
                .filter_map(|d| X509Crl::from_der(d).ok())
                .collect(),
            at_time: Some(now),
            purpose: crypto::TrustPurpose::SmimeSign,
        };
        // Signatures may carry no certificates (RFC 3261 §23 allows it), or not the whole
        // chain: the store's CA certificates are offered as intermediates beside them.
        let candidates = [
            &v.certificates[..],
            derived.store_intermediates(self.store.get().as_ref()),
        ]
        .concat();
        match crypto::check_trust(&v.signer, &candidates, &ctx) {
            Ok(TrustVerdict::Trusted { chain, valid_until }) => {
                let from = chain
                    .iter()
                    .filter_map(|c| unix_of(c.not_before()))
                    .max()
                    .unwrap_or(i64::MIN);
                let until = valid_until.unwrap_or(i64::MAX);
                if let Ok(mut c) = self.chains.lock() {
                    if c.len() >= CHAIN_CACHE_MAX {
                        c.clear();
                    }
                    c.insert(key, TrustedSpan { from, until });
                }
                Check::pass().with("chain_length", chain.len())
            }
            Ok(other) => Check::fail(other.to_string()),
            Err(e) => Check::fail(e.to_string()),
        }
    }

    /// The SIP identities the signer certificate of a chain names, read once per chain key
    /// (the key digests the signer's DER first: one key, one signer certificate).
    fn signer_names(&self, signer: &X509, key: ChainKey) -> Arc<[Aor]> {
        let cached = self.names.lock().ok().and_then(|n| n.get(&key).cloned());
        if let Some(names) = cached {
            return names;
        }
        let names: Arc<[Aor]> = cert_aors(signer).into();
        if let Ok(mut n) = self.names.lock() {
            if n.len() >= CHAIN_CACHE_MAX {
                n.clear();
            }
            n.insert(key, names.clone());
        }
        names
    }

    /// The signer certificate (naming `names`) against the sender: its own SAN URI, or a
    /// domain certificate (id-kp-sipDomain only) for the sender's domain. The group map
    /// explains, never widens.
    fn identity(
        &self,
        signer: &X509,
        names: &[Aor],
        who: &Aor,
        which: &str,
    ) -> (Check, Option<String>) {
        let listed = || -> Vec<String> { names.iter().map(sip_uri).collect() };
        let base = |c: Check| {
            if !self.verdict_fields {
                return c;
            }
            c.with("against", which)
                .with("sender", sip_uri(who))
                .with("certificate_names", listed())
        };
        if names.contains(who) {
            let uri = sip_uri(who);
            let mut c = base(Check::pass());
            if self.verdict_fields {
                c = c.with("matched", uri.clone());
                if self.store.get().groups().is_group(who) {
                    c = c.with("group", true);
                }
            }
            return (c, Some(uri));
        }
        let domain = names
            .iter()
            .find(|a| a.user().is_none() && a.host() == who.host());
        if let Some(d) = domain {
            if crypto::has_sip_domain_purpose(signer) {
                let uri = sip_uri(d);
                return (
                    base(Check::pass())
                        .with("matched", uri.clone())
                        .with("domain_certificate", true),
                    Some(uri),
                );
            }
            return (
                base(Check::fail(format!(
                    "a certificate for the domain {} without id-kp-sipDomain (1.3.6.1.5.5.7.3.20) \
                     cannot vouch for {}",
                    d.host(),
                    sip_uri(who)
                ))),
                None,
            );
        }
        let store = self.store.get();
        let groups = store.groups();
        if let Some(g) = groups.group_of(who).filter(|g| names.contains(g)) {
            return (
                base(Check::fail(format!(
                    "{} is a member of the group {}, and the certificate is the group's: it \
                     vouches for {} only",
                    sip_uri(who),
                    sip_uri(g),
                    sip_uri(g)
                ))),
                None,
            );
        }
        let listed = listed();
        (
            base(Check::fail(format!(
                "the certificate is for {}, not for the {which} {}",
                if listed.is_empty() {
                    "no SIP URI".to_string()
                } else {
                    listed.join(", ")
                },
                sip_uri(who)
            ))),
            None,
        )
    }

    fn freshness(&self, date: Option<i64>, now: i64, captured: bool) -> Check {
        let Some(d) = date else {
            return Check {
                reason: Some("no Date inside the signed content".into()),
                ..Check::new(Status::Absent)
            };
        };
        let c = if now - d > self.options.window {
            Check::fail(format!(
                "the signed Date is {} s old, more than the {} s window (stale or replayed)",
                now - d,
                self.options.window
            ))
        } else if d - now > self.options.future_skew {
            Check::fail(format!(
                "the signed Date is {} s in the future, more than the {} s allowed skew",
                d - now,
                self.options.future_skew
            ))
        } else {
            Check::pass()
        };
        let c = c.with("date", d).with("now", now);
        if captured {
            c.with("judged_at", "capture-time")
        } else {
            c
        }
    }

    /// What the replay cache is to be asked, or the check when it is not asked. Only a
    /// signature whose chain is trusted is remembered: outsiders' signatures (which anyone can
    /// make in any number) would otherwise fill the cache and lock out the genuine.
    fn replay_claim(
        &self,
        signature: &[u8],
        known_key: Option<[u8; 32]>,
        date: Option<i64>,
        now: i64,
        trusted: bool,
    ) -> Result<ReplayClaim, Check> {
        if !trusted {
            return Err(Check {
                reason: Some("only signatures with a trusted chain are remembered".into()),
                ..Check::new(Status::NotApplicable)
            });
        }
        // The signature value itself, not the bytes that carry it (the fast path read it).
        let Some(key) = known_key.or_else(|| crypto::signature_identity(signature)) else {
            return Err(Check::fail(
                "the signature value cannot be found in the SignedData",
            ));
        };
        let expires = date.unwrap_or(now).max(now) + self.options.window;
        Ok(ReplayClaim { key, now, expires })
    }

    /// The replay cache's answer: asked in input order, so the first copy of a signature is
    /// the one accepted, and a full cache refuses the later messages.
    fn replay(&self, claim: ReplayClaim) -> Check {
        let ReplayClaim { key, now, expires } = claim;
        let seen = match self.replay.lock() {
            Ok(mut r) => r.check(key, now, expires, self.options.retransmit_interval),
            Err(_) => Seen::Full,
        };
        match seen {
            Seen::First => Check::pass().with("seen", "first"),
            Seen::Retransmission => Check::pass().with("seen", "retransmission"),
            Seen::Replay { first_seen } => Check::fail(format!(
                "replay: the same signature was seen {} s ago, after the {} s retransmission interval",
                now - first_seen,
                self.options.retransmit_interval
            ))
            .with("seen", "replay"),
            Seen::Full => Check::fail(
                "the replay cache is full of live entries; refusing rather than forgetting",
            )
            .with("seen", "unknown"),
        }
    }

    /// Every check of one message but those that depend on the messages before it, and the
    /// message to forward (unwrapped if asked).
    fn judge(&self, original: &Message, ctx: &MessageContext) -> Judged {
        let mut judged = self.check_signature(original, ctx);
        judged.stir = self
            .stir
            .as_ref()
            .and_then(|s| s.judge(original, self.now(ctx).0));
        if judged.level < Require::Identity && !self.options.peers.is_empty() {
            if let Ok((aor, _)) = sender(original) {
                if self.options.peers.must_sign(&aor) {
                    judged.level = Require::Identity;
                }
            }
        }
        judged
    }

    /// The signature's checks, with the replay cache's question and the signer to learn left
    /// for input order.
    fn check_signature(&self, original: &Message, ctx: &MessageContext) -> Judged {
        // Room for the verdict header and a Subject mark.
        self.look_at_store();
        let mut m = original.clone_with_room(256);
        m.remove_named(control::HEADER);
        let (now, captured) = self.now(ctx);
        let mut report = Report {
            marks_removed: strip_marks(&mut m),
            judged_at_capture_time: captured,
            identity_header: if m.is_request() { "From" } else { "To" },
            ..Report::default()
        };
        let protection = match classify(&m) {
            Ok(p) => p,
            Err(e) => {
                report.signed = true;
                report.set(
                    CheckName::Integrity,
                    Check::fail(format!("damaged signed body, not repaired: {e}")),
                );
                return self.judged(report, m);
            }
        };
        let s = match protection {
            Protection::Signed(s) => s,
            Protection::Enveloped(_) => {
                report.encrypted = true;
                return self.judged(report, m);
            }
            Protection::Plain => return self.judged(report, m),
        };
        report.signed = true;
        report.form = Some(s.form);
        let who = sender(&m);
        // One signature, one encoding: BER (from streaming producers such as gpgsm) is judged
        // in OpenSSL's DER re-encoding, by both paths and by the replay cache.
        let der = match crypto::der_encoding(&s.signature) {
            Ok(der) => der,
            Err(e) => {
                let why = format!("the signature is not DER, and OpenSSL does not read it: {e}");
                report.set(CheckName::Integrity, Check::fail(why));
                return self.judged(report, m);
            }
        };
        let who_aor = who.as_ref().ok().map(|(a, _)| a);
        let (integrity, verified) = self.integrity(&der, s.detached, who_aor);
        report.set(CheckName::Integrity, integrity);
        let Some(Integrity {
            signature: v,
            chain_key,
            replay_key,
        }) = verified
        else {
            return self.judged(report, m);
        };
        let content: &[u8] = match (&v.content, s.detached) {
            (Some(c), _) => c,
            (None, Some(d)) => d,
            (None, None) => &[],
        };
        let covered = self.coverage(&s, content, &m);
        report.set(CheckName::Coverage, covered.check);
        report.coverage = covered.facts;
        let trust = self.trust(&v, chain_key, now);
        let trusted = trust.status == Status::Pass;
        report.set(CheckName::Trust, trust);
        let validated = match &who {
            Ok((aor, which)) => {
                let names = self.signer_names(&v.signer, chain_key);
                let (c, uri) = self.identity(&v.signer, &names, aor, which);
                report.set(CheckName::Identity, c);
                uri
            }
            Err(e) => {
                report.set(CheckName::Identity, Check::fail(e.clone()));
                None
            }
        };
        let date = covered.date;
        report.set(CheckName::Freshness, self.freshness(date, now, captured));
        let replay = match self.replay_claim(&der, replay_key, date, now, trusted) {
            Ok(claim) => Some(claim),
            Err(check) => {
                report.set(CheckName::Replay, check);
                None
            }
        };
        report.set(
            CheckName::InnerOuter,
            match &covered.inner {
                Some((_, cmp)) => comparison_check(cmp),
                None => Check::new(Status::NotApplicable),
            },
        );
        report.validated = validated;
        let learn = match who {
            Ok((aor, _))
                if self.options.learn_certs
                    && trusted
                    && report.status(CheckName::Identity) == Status::Pass =>
            {
                Some(Learning {
                    aor,
                    // The ciphers it decrypts, for sipsec-encrypt's choice.
                    ciphers: crypto::capabilities::of_signature(&der),
                    signer: v.signer,
                })
            }
            _ => None,
        };
        if self.options.unwrap {
            m = self.unwrap(&m, &s, covered.inner.as_ref(), covered.entity);
            strip_marks(&mut m);
        }
        if self.options.require >= Require::Identity {
            // What the terminal gets beside a signed copy must be what the signature covers.
            for name in &report.coverage.uncovered {
                m.remove_named(name);
            }
        }
        Judged {
            replay,
            learn,
            ..self.judged(report, m)
        }
    }

    /// A message's judgement with nothing left for input order.
    fn judged(&self, report: Report, out: Message) -> Judged {
        Judged {
            report,
            out,
            replay: None,
            learn: None,
            stir: None,
            level: self.options.require,
        }
    }

    /// Keeps a trusted signer's certificate for its AOR (the first one learned stays), and
    /// the ciphers it advertises (a signature that advertises none leaves what was learned
    /// before). What was kept is added to the identity check.
    fn learn(&self, learning: Learning, identity: Check) -> Check {
        let Learning {
            aor,
            signer,
            ciphers,
        } = learning;
        let store = self.store.get();
        let learned = if store.recipient_cert(&aor).is_some() {
            "already known; not overwritten".to_string()
        } else {
            match store.learn_cert(&aor, &signer) {
                Ok(()) => "stored".into(),
                Err(e) => format!("not stored: {e}"),
            }
        };
        let mut identity = identity.with("learned", learned);
        if let Some(ciphers) = ciphers {
            let kept = match store.learn_capabilities(&aor, ciphers) {
                Ok(()) => "stored".to_string(),
                Err(e) => format!("not stored: {e}"),
            };
            identity = identity.with("capabilities_learned", kept);
        }
        identity
    }

    /// What the signature covers: the check, the facts the mark rests on, the inner copy (with
    /// its comparison), the signed Date and the signed entity.
    fn coverage<'c>(&self, s: &SignedBody, content: &'c [u8], outer: &Message) -> Covered<'c> {
        let mut covered = Covered {
            check: Check::pass(),
            facts: Coverage::default(),
            inner: None,
            date: None,
            entity: None,
        };
        let entity = match EntityView::parse(content) {
            Ok(e) => e,
            Err(e) => {
                covered.check =
                    Check::fail(format!("the signed content is not a MIME entity: {e}"));
                return covered;
            }
        };
        let media = entity.media_type();
        covered.entity = Some(SignedEntity {
            content_type: entity.content_type,
            disposition: entity.disposition,
            // Borrowed unless a transfer encoding was undone (then copied, rarely).
            body: entity.body.clone(),
        });
        let aib = media == "message/sipfrag";
        let inner = match media.as_str() {
            "message/sip" => crate::mime::parse_message_sip(&entity.body),
            "message/sipfrag" => crate::mime::parse_sipfrag(&entity.body),
            _ => {
                covered.facts.body = if media == "application/pkcs7-mime" {
                    BodyCoverage::Encrypted
                } else {
                    BodyCoverage::Yes
                };
                let note = if s.form == Form::Cms {
                    "a cms form covers no outer header"
                } else {
                    "no header is covered"
                };
                covered.check = Check::pass()
                    .with("body", covered.facts.body.token())
                    .with("headers", json!([]))
                    .with("note", note);
                return covered;
            }
        };
        let inner = match inner {
            Ok(i) => i,
            Err(e) => {
                covered.check = Check::fail(format!("the signed {media} does not parse: {e}"));
                return covered;
            }
        };
        let cmp = compare(&inner, outer, aib, &[control::HEADER]);
        let has = |name: &str| cmp.covered.iter().any(|c| c == name);
        // An identity body of a response names the responder in its From, compared with the To.
        let responder = cmp.covered.iter().any(|c| c.starts_with("to ("));
        covered.facts = Coverage {
            identity: if outer.is_request() {
                has("from")
            } else {
                has("to") || responder
            },
            call_id: has("call-id"),
            cseq: has("cseq"),
            // The terminal gets the signed copy's body, or (without --unwrap) the signed entity
            // itself; only parts beside the signature are not covered.
            body: if s.uncovered.is_empty() {
                BodyCoverage::Yes
            } else {
                BodyCoverage::No
            },
            uncovered: cmp
                .outer_only
                .iter()
                .filter(|n| !(WRAPPER_HEADERS.contains(&n.as_ref()) || responder && *n == "to"))
                .cloned()
                .collect(),
        };
        covered.date = inner.date().ok().flatten().map(|d| d.unix);
        covered.check = Check::pass();
        if self.verdict_fields {
            covered.check = covered
                .check
                .with("body", covered.facts.body.token())
                .with("headers", json!(cmp.covered))
                .with("uncovered", json!(covered.facts.uncovered));
        }
        covered.inner = Some((inner, cmp));
        covered
    }

    fn unwrap(
        &self,
        m: &Message,
        s: &SignedBody,
        inner: Option<&(Message, Comparison)>,
        entity: Option<SignedEntity<'_>>,
    ) -> Message {
        let result = match (s.form, inner) {
            (Form::Sip, Some((inner, cmp))) => restore_from_inner(m, inner, &[control::HEADER])
                .and_then(|r| signed_addresses(r, inner, cmp)),
            (Form::Aib, _) => match s.uncovered.first() {
                Some(p) => restore_entity(m, p.content_type(), None, p.body()),
                None => restore_entity(m, None, None, b""),
            },
            (_, _) => match entity {
                Some(e) => restore_entity(m, e.content_type, e.disposition, &e.body),
                None => Ok(m.clone()),
            },
        };
        result.unwrap_or_else(|_| m.clone())
    }

    /// The checks a requirement level needs, failing ones first.
    fn unmet(&self, report: &Report, level: Require) -> Option<String> {
        if level == Require::None {
            return None;
        }
        if !report.signed {
            return Some("not signed".into());
        }
        let mut needed = vec![CheckName::Integrity, CheckName::Replay];
        if level >= Require::Trusted {
            needed.push(CheckName::Trust);
        }
        if level >= Require::Identity {
            needed.extend([
                CheckName::Identity,
                CheckName::InnerOuter,
                CheckName::Coverage,
            ]);
        }
        if level >= Require::Fresh {
            needed.push(CheckName::Freshness);
        }
        for n in needed {
            let ok = match report.get(n) {
                Some(c) if n == CheckName::Freshness => c.status == Status::Pass,
                Some(c) => c.status.not_failed(),
                None => false,
            };
            if !ok {
                let why = report
                    .get(n)
                    .and_then(|c| c.reason.clone())
                    .unwrap_or_else(|| "not checked".into());
                return Some(format!("{} failed: {why}", n.key()));
            }
        }
        None
    }
}

/// The S/MIME wrapper's own headers: never part of a signed copy, never listed as uncovered.
const WRAPPER_HEADERS: [&str; 2] = ["content-transfer-encoding", "content-disposition"];

/// The signed entity as it was, for `--unwrap` (borrowed from the signed content).
struct SignedEntity<'c> {
    content_type: Option<&'c [u8]>,
    disposition: Option<&'c [u8]>,
    body: std::borrow::Cow<'c, [u8]>,
}

/// An intact signature, with its chain-cache key and (from the fast path) its replay key.
struct Integrity {
    signature: crypto::VerifiedSignature,
    chain_key: ChainKey,
    replay_key: Option<[u8; 32]>,
}

/// What [`Verify::coverage`] found.
struct Covered<'c> {
    check: Check,
    facts: Coverage,
    inner: Option<(Message, Comparison)>,
    date: Option<i64>,
    entity: Option<SignedEntity<'c>>,
}

/// The restored message with the signed From and To (display names included) where they agree
/// with the message's, so that a display name changed in transit does not reach the terminal.
fn signed_addresses(
    mut restored: Message,
    inner: &Message,
    cmp: &Comparison,
) -> crate::error::ParseResult<Message> {
    for (kind, name) in [(HeaderKind::From, "from"), (HeaderKind::To, "to")] {
        let agreed = cmp.covered.iter().any(|c| c == name);
        if let (true, Some(signed)) = (agreed, inner.value(kind)) {
            if restored.value(kind) != Some(signed) {
                restored.set_header(kind, signed)?;
            }
        }
    }
    Ok(restored)
}

fn comparison_check(cmp: &Comparison) -> Check {
    if cmp.passed() {
        Check::pass()
    } else {
        Check::fail(format!(
            "the signed copy and the message differ in: {}",
            cmp.differing.join(", ")
        ))
    }
    .with("differing", json!(cmp.differing))
}

impl Filter for Verify {
    fn name(&self) -> &'static str {
        "verify"
    }

    /// Closed: a refused message must not reach the terminal, and fail-open would forward the
    /// original bytes, incoming marks included.
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Closed
    }

    /// Removes every incoming mark, reports it, and proves on the way out that only its own
    /// leave.
    fn judges_marks(&self) -> bool {
        true
    }

    fn process(&self, message: &Message, ctx: &MessageContext) -> Result<Processed, Failure> {
        self.decide(self.judge(message, ctx))
    }

    /// Everything but the replay decision (and learning the signer) runs on the worker: a
    /// replay is the later of two copies of a signature, so the cache is asked in input order.
    fn examine(&self, message: &Message, ctx: &MessageContext) -> Examined<'_> {
        let judged = self.judge(message, ctx);
        if judged.replay.is_none() && judged.learn.is_none() {
            return Examined::Decided(self.decide(judged));
        }
        Examined::InOrder(Box::new(Deciding {
            verify: self,
            judged,
        }))
    }
}

/// What [`Verify::judge`] finds on a worker; [`Verify::decide`] finishes it.
struct Judged {
    report: Report,
    /// The message to forward, before its mark and verdict.
    out: Message,
    /// A trusted signature's question to the replay cache.
    replay: Option<ReplayClaim>,
    /// The signer to learn (`--learn-certs`).
    learn: Option<Learning>,
    stir: Option<crate::identity::verify::StirVerdict>,
    /// The requirement for this sender (`--require`, raised by the peer policy).
    level: Require,
}

/// A trusted signature's entry in the replay cache.
struct ReplayClaim {
    key: [u8; 32],
    now: i64,
    expires: i64,
}

/// A trusted, identified signer to keep in the store.
struct Learning {
    aor: Aor,
    signer: X509,
    ciphers: Option<Vec<crypto::ContentCipher>>,
}

/// A judged message waiting for its turn.
struct Deciding<'v> {
    verify: &'v Verify,
    judged: Judged,
}

impl InOrderStep for Deciding<'_> {
    fn decide(self: Box<Self>) -> Result<Processed, Failure> {
        self.verify.decide(self.judged)
    }
}

impl Verify {
    /// The order-dependent checks, then the mark, the verdict and the requirement.
    fn decide(&self, judged: Judged) -> Result<Processed, Failure> {
        let Judged {
            mut report,
            mut out,
            replay,
            learn,
            stir,
            level,
        } = judged;
        if let Some(claim) = replay {
            report.set(CheckName::Replay, self.replay(claim));
        }
        if let Some(learning) = learn {
            let identity = report
                .get(CheckName::Identity)
                .cloned()
                .unwrap_or_else(Check::pass);
            report.set(CheckName::Identity, self.learn(learning, identity));
        }
        let mut own = Vec::new();
        if earns_mark(&report).is_ok() {
            if let Some(uri) = &report.validated {
                let value = format!("validated <{uri}>");
                if out
                    .set_header(HeaderKind::Subject, value.as_bytes())
                    .is_ok()
                {
                    own.push(format!("Subject: {value}"));
                }
            }
        }
        let mut header = report.header_value();
        let mut stir_verdict = Verdict::default();
        let stir_unmet = match (&self.stir, &stir) {
            (Some(check), Some(v)) => check.apply(v, &mut out, &mut header, &mut stir_verdict),
            _ => None,
        };
        if out.append_field(VERDICT_HEADER, header.as_bytes()).is_ok() {
            own.push([VERDICT_HEADER, ": ", &header].concat());
        }
        let unmet = self.unmet(&report, level).or(stir_unmet);
        let mut warnings = stir_verdict.warnings;
        for r in &report.marks_removed {
            warnings.push(format!("removed an incoming mark: {r}"));
        }
        let mut verdict = Verdict {
            fields: if self.verdict_fields {
                report.into_fields()
            } else {
                serde_json::Map::new()
            },
            warnings,
        };
        verdict.fields.append(&mut stir_verdict.fields);
        if let Some(line) = foreign_mark(&out, &own) {
            return Err(Failure::with_verdict(
                format!("a mark that is not the verifier's own would be forwarded: {line:?}"),
                verdict,
            ));
        }
        if let Some(why) = unmet {
            return Err(Failure::with_verdict(why, verdict));
        }
        Ok(Processed::changed(out, verdict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache's rules without its data structures: every entry expired before `now` goes,
    /// then the key is looked up.
    fn replay_model(
        entries: &mut Vec<([u8; 32], i64, i64)>,
        capacity: usize,
        (key, now, expires): ([u8; 32], i64, i64),
    ) -> Seen {
        entries.retain(|e| e.2 >= now);
        if let Some(&(_, first, _)) = entries.iter().find(|e| e.0 == key) {
            return if now - first < 32 {
                Seen::Retransmission
            } else {
                Seen::Replay { first_seen: first }
            };
        }
        if entries.len() >= capacity {
            return Seen::Full;
        }
        entries.push((key, now, expires));
        Seen::First
    }

    proptest::proptest! {
        /// Dates in and out of order, clocks that jump back, keys seen again, a full cache:
        /// the cache answers as its rules say.
        #[test]
        fn the_replay_cache_follows_its_rules(
            checks in proptest::collection::vec((0u8..12, 0i64..400, 0i64..300), 1..200),
            capacity in 1usize..10,
        ) {
            let mut cache = ReplayCache::new(capacity);
            let mut model = Vec::new();
            for (k, now, window) in checks {
                let check = ([k; 32], now, now + window - 100);
                let expected = replay_model(&mut model, capacity, check);
                proptest::prop_assert_eq!(cache.check(check.0, check.1, check.2, 32), expected);
                proptest::prop_assert_eq!(cache.len(), model.len());
            }
        }
    }

    #[test]
    fn replay_cache_tells_retransmission_from_replay_and_never_evicts_early() {
        let mut c = ReplayCache::new(2);
        assert_eq!(c.check([1; 32], 100, 200, 32), Seen::First);
        assert_eq!(c.check([1; 32], 120, 200, 32), Seen::Retransmission);
        assert_eq!(
            c.check([1; 32], 140, 200, 32),
            Seen::Replay { first_seen: 100 }
        );
        assert_eq!(c.check([2; 32], 140, 300, 32), Seen::First);
        // Full of live entries: a new one is refused, the old ones stay.
        assert_eq!(c.check([3; 32], 150, 300, 32), Seen::Full);
        assert_eq!(
            c.check([1; 32], 150, 200, 32),
            Seen::Replay { first_seen: 100 }
        );
        // Once the first has expired it makes room.
        assert_eq!(c.check([3; 32], 201, 400, 32), Seen::First);
        assert_eq!(c.len(), 2);
        // Entries expiring at the same second leave together, whatever their keys.
        let mut c = ReplayCache::new(4);
        for k in [9, 3, 7] {
            assert_eq!(c.check([k; 32], 100, 200, 32), Seen::First);
        }
        assert_eq!(c.check([1; 32], 150, 300, 32), Seen::First);
        assert_eq!(
            c.check([5; 32], 200, 300, 32),
            Seen::Full,
            "200 is not past 200"
        );
        assert_eq!(c.check([5; 32], 201, 300, 32), Seen::First);
        assert_eq!(c.len(), 2);
        assert_eq!(c.check([7; 32], 202, 400, 32), Seen::First);
    }

    #[test]
    fn peer_policy_by_aor_and_domain() {
        let p = PeerPolicy::parse("# must sign\nsip:ceo@example.com\nbank.example\n").unwrap();
        assert!(p.must_sign(&Aor::parse("ceo@example.com").unwrap()));
        assert!(p.must_sign(&Aor::parse("sip:anyone@bank.example").unwrap()));
        assert!(!p.must_sign(&Aor::parse("bob@example.com").unwrap()));
        assert!(PeerPolicy::parse("not a uri <>").is_err());
    }
}
