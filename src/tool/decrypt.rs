//! sipsec-decrypt's engine: the key chosen by the envelope's recipient infos, the protected
//! body (or tunnelled message) restored, every failure alike.

use crate::crypto::fastenv::{self, Route, RsaRecipient};
use crate::crypto::{self, RecipientId};
use crate::filter::mark::{self, VERDICT_HEADER};
use crate::filter::{control, FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use crate::message::{HeaderKind, Message};
use crate::smime::parse::{classify, EntityView, Protection};
use crate::smime::restore::{restore_entity, restore_from_inner};
use crate::store::policy::Groups;
use crate::store::watch::WatchedStore;
use crate::store::{Identity, Lookup, StoreError};
use crate::uri::Aor;
use openssl::x509::X509Name;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock, RwLockReadGuard};

/// The one text every decryption failure gets, whatever went wrong: a proxy that told padding
/// errors, tag errors and parse errors apart would be an oracle.
pub const DECRYPT_FAILED: &str =
    "cannot decrypt: the message is not for this proxy's keys, or it is damaged";

/// Nested envelopes opened at most (an envelope inside an envelope is legal but rare).
const MAX_DEPTH: usize = 4;

/// The decryptor's settings.
#[derive(Debug, Clone, Default)]
pub struct DecryptOptions {
    /// Also open an envelope that a signature covers (encrypt-then-sign); the signature is
    /// dropped unverified, so run sipsec-verify first.
    pub open_signed: bool,
}

/// sipsec-decrypt as a filter. The store's own identities (certificate and key) are loaded
/// once; keys stay in memory only.
pub struct Decrypt {
    /// Read from the store, and again when it changed (a key rotated, a member added).
    keys: RwLock<Keys>,
    store: WatchedStore,
    /// Descriptions of recipient ids already seen (an X.509 name is slow to print).
    described: Mutex<HashMap<RecipientId, String>>,
    options: DecryptOptions,
}

/// The identities this proxy decrypts with, and whom it serves.
struct Keys {
    identities: Vec<Identity>,
    /// Whom the store serves: its identities and their groups' members.
    groups: Groups,
    /// The RSA identities again, for the fast path; `rsa_of[i]` is the identity of `rsa[i]`.
    rsa: Vec<RsaRecipient>,
    rsa_of: Vec<usize>,
}

impl Keys {
    fn load(lookup: &dyn Lookup) -> Result<Keys, StoreError> {
        let mut identities = Vec::new();
        for aor in lookup.identities()? {
            if let Some(id) = lookup.identity(&aor)? {
                identities.push(id);
            }
        }
        let mut rsa = Vec::new();
        let mut rsa_of = Vec::new();
        for (i, id) in identities.iter().enumerate() {
            let parts = (
                id.key.rsa().ok(),
                id.cert.issuer_name().to_der().ok(),
                id.cert.serial_number().to_bn().ok(),
            );
            if let (Some(key), Some(issuer), Some(serial)) = parts {
                rsa.push(RsaRecipient {
                    issuer,
                    serial: serial.to_vec(),
                    key,
                });
                rsa_of.push(i);
            }
        }
        Ok(Keys {
            identities,
            groups: lookup.groups().clone(),
            rsa,
            rsa_of,
        })
    }
}

fn describe(id: &RecipientId) -> String {
    match id {
        RecipientId::IssuerSerial { issuer_der, serial } => {
            let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
            let issuer = X509Name::from_der(issuer_der)
                .ok()
                .map(|n| {
                    n.entries()
                        .filter_map(|e| e.data().to_string().ok())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("issuer \"{issuer}\" serial {hex}")
        }
        RecipientId::SubjectKeyId(k) => {
            let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
            format!("subject key id {hex}")
        }
    }
}

struct Opened {
    message: Message,
    facts: Vec<Value>,
    note: Option<String>,
    /// An envelope remains, inside a signature, for after sipsec-verify.
    sealed: bool,
    /// Marks found inside the protected content: never restored.
    marks_not_restored: Vec<String>,
}

impl Decrypt {
    pub fn new(
        lookup: impl Lookup + 'static,
        options: DecryptOptions,
    ) -> Result<Decrypt, StoreError> {
        Ok(Decrypt {
            keys: RwLock::new(Keys::load(&lookup)?),
            store: WatchedStore::new(lookup),
            described: Mutex::new(HashMap::new()),
            options,
        })
    }

    /// At most once per [`RECHECK`](crate::store::watch::RECHECK), and at once after SIGHUP:
    /// the keys read again when the store changed. A store that cannot be read now keeps the
    /// keys read before.
    fn look_at_store(&self) {
        if self.store.changed() {
            if let Ok(keys) = Keys::load(self.store.get().as_ref()) {
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
            }
        }
    }

    fn keys(&self) -> RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens one envelope: the key is the identity whose certificate a recipient info names.
    fn describe_all(&self, ids: &[RecipientId]) -> Vec<String> {
        let Ok(mut memo) = self.described.lock() else {
            return ids.iter().map(describe).collect();
        };
        if memo.len() > 4096 {
            memo.clear();
        }
        ids.iter()
            .map(|id| {
                memo.entry(id.clone())
                    .or_insert_with(|| describe(id))
                    .clone()
            })
            .collect()
    }

    /// The content and the facts of an envelope opened; `None` for every failure alike.
    fn open(&self, der: &[u8]) -> Option<(Vec<u8>, Value)> {
        let keys = self.keys();
        match fastenv::open(der, &keys.rsa) {
            Route::Opened(content, cipher, at, ids) => {
                let id = &keys.identities[keys.rsa_of[at]];
                let facts = json!({
                    "recipients": self.describe_all(&ids),
                    "key": format!("sip:{}", id.aor),
                    "algorithm": cipher.name(),
                    "content_type": crypto::CmsContentType::EnvelopedData.to_string(),
                });
                return Some((content, facts));
            }
            Route::Failed => return None,
            Route::Full => {}
        }
        let ids = crypto::recipients(der).ok()?;
        let (rid, id) = ids.iter().find_map(|rid| {
            keys.identities
                .iter()
                .find(|i| rid.matches(&i.cert))
                .map(|i| (rid, i))
        })?;
        let d = crypto::decrypt(der, &id.key, &id.cert).ok()?;
        let facts = json!({
            "recipients": self.describe_all(&ids),
            "key": format!("sip:{}", id.aor),
            "matched": describe(rid),
            "algorithm": d.cipher.name(),
            "content_type": d.content_type.to_string(),
        });
        Some((d.content, facts))
    }

    fn unwrap_all(&self, original: &Message) -> Result<Opened, &'static str> {
        let mut m = original.clone();
        m.remove_named(control::HEADER);
        let mut facts = Vec::new();
        let mut note = None;
        let mut sealed = false;
        let mut marks_not_restored = Vec::new();
        for _ in 0..MAX_DEPTH {
            let der = match classify(&m) {
                Ok(Protection::Enveloped(der)) => der.into_owned(),
                Ok(Protection::Signed(s)) => {
                    let inner_envelope = s.detached.and_then(|d| {
                        let e = EntityView::parse(d).ok()?;
                        (e.media_type() == "application/pkcs7-mime").then(|| e.body.into_owned())
                    });
                    match inner_envelope {
                        Some(der) if self.options.open_signed => {
                            note = Some("a signature around the envelope was dropped unverified (--open-signed)".into());
                            der
                        }
                        Some(_) => {
                            sealed = true;
                            note = Some("signed around an envelope: left for sipsec-verify (then `sipsec-verify --control-key K --keep-control --unwrap | sipsec-decrypt --control-key K`, or --open-signed)".into());
                            break;
                        }
                        None => {
                            if !facts.is_empty() {
                                note = Some("a signature inside: left for sipsec-verify".into());
                            }
                            break;
                        }
                    }
                }
                _ => break,
            };
            let (content, f) = self.open(&der).ok_or(DECRYPT_FAILED)?;
            facts.push(f);
            let (restored, not_restored) = restore(&m, &content).ok_or(DECRYPT_FAILED)?;
            m = restored;
            marks_not_restored.extend(not_restored);
        }
        Ok(Opened {
            message: m,
            facts,
            note,
            sealed,
            marks_not_restored,
        })
    }
}

/// The message with the decrypted content in place: a tunnelled `message/sip` restores the
/// end-to-end headers and body; any other entity restores body and Content-Type. Marks inside
/// the protected content are anyone's (whoever encrypted it to this proxy's public key): never
/// restored, returned for the record. The outer message's marks stay as they are.
fn restore(outer: &Message, content: &[u8]) -> Option<(Message, Vec<String>)> {
    let e = EntityView::parse(content).ok()?;
    if e.media_type() != "message/sip" {
        let r = restore_entity(outer, e.content_type, e.disposition, &e.body).ok()?;
        return Some((r, Vec::new()));
    }
    let mut inner = crate::mime::parse_message_sip(&e.body).ok()?;
    let not_restored = mark::strip_marks(&mut inner);
    let mut bare = outer.clone();
    let outer_marks = mark::strip_marks(&mut bare);
    let mut r = restore_from_inner(&bare, &inner, &[control::HEADER]).ok()?;
    r.remove_named(control::HEADER);
    if !outer_marks.is_empty() {
        // The outer Subject is the mark: the inner one (if any) does not replace it.
        if outer_marks.iter().any(|l| !l.starts_with(VERDICT_HEADER)) {
            r.remove_all(HeaderKind::Subject);
        }
        for line in &outer_marks {
            let (name, value) = line.split_once(':')?;
            r.append_field(name.trim(), value.trim().as_bytes()).ok()?;
        }
    }
    Some((r, not_restored))
}

/// After an envelope was opened: a mark an earlier sipsec-verify made survives only when the
/// signature it rests on covered the body just opened (its verdict says `body=yes` or
/// `body=encrypted`); otherwise it is removed and the record says why. Marks found inside are
/// reported as not restored.
fn keep_covered_marks(o: &mut Opened, ctx: &MessageContext, verdict: &mut Verdict) {
    let mut removed: Vec<String> = o
        .marks_not_restored
        .iter()
        .map(|l| format!("{l} (inside the envelope: never restored)"))
        .collect();
    let covered = ctx.marks.iter().any(|l| {
        l.starts_with(VERDICT_HEADER) && (l.contains(";body=yes") || l.contains(";body=encrypted"))
    });
    if !ctx.marks.is_empty() && !covered {
        for line in mark::strip_marks(&mut o.message) {
            verdict.warn(format!(
                "removed the mark {line}: the envelope opened was not covered by the signature it \
                 rests on"
            ));
            removed.push(line);
        }
    }
    for line in &o.marks_not_restored {
        verdict.warn(format!("not restored from the envelope: {line}"));
    }
    if !removed.is_empty() {
        verdict.set("marks_removed", removed);
    }
}

impl Decrypt {
    /// Refuses to open an envelope for a message addressed elsewhere: an envelope replayed into
    /// a message to another party would be opened and forwarded to it. A request must be for
    /// (Request-URI or To) an identity this store holds or a member of its group; a response
    /// must be from one (From).
    fn addressed_here(&self, m: &Message) -> Result<(), String> {
        let keys = self.keys();
        let serves = |aor: &Aor| {
            keys.identities.iter().any(|i| &i.aor == aor)
                || keys
                    .groups
                    .group_of(aor)
                    .is_some_and(|g| keys.identities.iter().any(|i| &i.aor == g))
        };
        let mut named = Vec::new();
        if m.is_request() {
            let ruri = m
                .request_uri()
                .and_then(|u| crate::uri::Uri::parse(u).ok())
                .and_then(|u| u.aor());
            named.extend(ruri);
            named.extend(m.to().ok().and_then(|a| a.uri().aor()));
        } else {
            named.extend(m.from().ok().and_then(|a| a.uri().aor()));
        }
        if named.iter().any(serves) {
            return Ok(());
        }
        let names: Vec<String> = named.iter().map(|a| format!("sip:{a}")).collect();
        Err(format!(
            "not opened: the message is not addressed to an identity this store serves ({})",
            if names.is_empty() {
                "no address".to_string()
            } else {
                names.join(", ")
            }
        ))
    }
}

impl Filter for Decrypt {
    fn name(&self) -> &'static str {
        "decrypt"
    }

    /// Open: a message this proxy cannot decrypt is usually for someone else (the terminal may
    /// hold its own key); it passes unchanged with a warning. `--fail-closed` withholds it.
    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }

    fn process(&self, message: &Message, ctx: &MessageContext) -> Result<Processed, Failure> {
        self.look_at_store();
        let mut verdict = Verdict::new();
        if let Err(why) = self.addressed_here(message) {
            if matches!(classify(message), Ok(Protection::Enveloped(_))) {
                verdict.set("encrypted", true).set("result", "not opened");
                return Err(Failure::with_verdict(why, verdict));
            }
        }
        match self.unwrap_all(message) {
            Ok(mut o) => {
                if !o.facts.is_empty() {
                    keep_covered_marks(&mut o, ctx, &mut verdict);
                }
                verdict.set("encrypted", !o.facts.is_empty() || o.sealed);
                if let Some(last) = o.facts.last() {
                    for k in ["algorithm", "content_type", "recipients", "key"] {
                        if let Some(v) = last.get(k) {
                            verdict.set(k, v.clone());
                        }
                    }
                }
                if o.facts.len() > 1 {
                    verdict.set("layers", Value::Array(o.facts.clone()));
                }
                verdict.set(
                    "result",
                    if o.facts.is_empty() {
                        "not encrypted"
                    } else {
                        "decrypted"
                    },
                );
                if let Some(n) = o.note {
                    verdict.set("note", n);
                }
                if o.facts.is_empty() {
                    return Ok(Processed::unchanged(verdict));
                }
                Ok(Processed::changed(o.message, verdict))
            }
            // Whatever failed, once a key may have been used: one record (no cause, no
            // recipient, no key), so the report is no padding or parsing oracle either.
            Err(text) => {
                verdict.set("encrypted", true).set("result", "refused");
                Err(Failure::with_verdict(text, verdict))
            }
        }
    }
}
