//! sipsec-decrypt's engine: the key chosen by the envelope's recipient infos, the protected
//! body (or tunnelled message) restored, every failure alike.

use crate::crypto::fastenv::{self, Route, RsaRecipient};
use crate::crypto::{self, ContentCipher, RecipientId};
use crate::filter::{control, FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use crate::message::Message;
use crate::smime::parse::{classify, EntityView, Protection};
use crate::smime::restore::{restore_entity, restore_from_inner};
use crate::store::{Identity, Lookup, StoreError};
use openssl::x509::X509Name;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

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
    identities: Vec<Identity>,
    /// The RSA identities again, for the fast path; `rsa_of[i]` is the identity of `rsa[i]`.
    rsa: Vec<RsaRecipient>,
    rsa_of: Vec<usize>,
    /// Descriptions of recipient ids already seen (an X.509 name is slow to print).
    described: Mutex<HashMap<RecipientId, String>>,
    options: DecryptOptions,
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

/// The content-encryption algorithm as the report names it (OpenSSL's names).
fn cipher_name(c: &ContentCipher) -> String {
    match c {
        ContentCipher::Aes128Cbc => "aes-128-cbc".into(),
        ContentCipher::Aes192Cbc => "aes-192-cbc".into(),
        ContentCipher::Aes256Cbc => "aes-256-cbc".into(),
        ContentCipher::Aes128Gcm => "aes-128-gcm".into(),
        ContentCipher::Aes192Gcm => "aes-192-gcm".into(),
        ContentCipher::Aes256Gcm => "aes-256-gcm".into(),
        ContentCipher::DesEde3Cbc => "des-ede3-cbc".into(),
        ContentCipher::Other(oid) => format!("oid {oid}"),
    }
}

struct Opened {
    message: Message,
    facts: Vec<Value>,
    note: Option<String>,
    /// An envelope remains, inside a signature, for after sipsec-verify.
    sealed: bool,
}

impl Decrypt {
    pub fn new(lookup: impl Lookup, options: DecryptOptions) -> Result<Decrypt, StoreError> {
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
        Ok(Decrypt {
            identities,
            rsa,
            rsa_of,
            described: Mutex::new(HashMap::new()),
            options,
        })
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

    fn open(&self, der: &[u8]) -> Result<(Vec<u8>, Value), (&'static str, Value)> {
        match fastenv::open(der, &self.rsa) {
            Route::Opened(content, cipher, at, ids) => {
                let id = &self.identities[self.rsa_of[at]];
                let facts = json!({
                    "recipients": self.describe_all(&ids),
                    "key": format!("sip:{}", id.aor),
                    "algorithm": cipher_name(&cipher),
                    "content_type": crypto::CmsContentType::EnvelopedData.to_string(),
                });
                return Ok((content, facts));
            }
            Route::Failed => return Err(("failed", json!({}))),
            Route::Full => {}
        }
        let ids = crypto::recipients(der).map_err(|_| ("failed", json!({})))?;
        let listed = self.describe_all(&ids);
        let found = ids.iter().find_map(|rid| {
            self.identities
                .iter()
                .find(|i| rid.matches(&i.cert))
                .map(|i| (rid, i))
        });
        let Some((rid, id)) = found else {
            return Err(("no_key", json!({ "recipients": listed })));
        };
        let facts = json!({ "recipients": listed, "key": format!("sip:{}", id.aor), "matched": describe(rid) });
        match crypto::decrypt(der, &id.key, &id.cert) {
            Ok(d) => {
                let mut f = facts;
                f["algorithm"] = json!(cipher_name(&d.cipher));
                f["content_type"] = json!(d.content_type.to_string());
                Ok((d.content, f))
            }
            Err(_) => Err(("failed", facts)),
        }
    }

    fn unwrap_all(&self, original: &Message) -> Result<Opened, (Vec<Value>, &'static str)> {
        let mut m = original.clone();
        m.remove_named(control::HEADER);
        let mut facts = Vec::new();
        let mut note = None;
        let mut sealed = false;
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
                            note = Some("signed around an envelope: left for sipsec-verify (then `sipsec-verify --unwrap | sipsec-decrypt`, or --open-signed)".into());
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
            let (content, f) = match self.open(&der) {
                Ok(x) => x,
                Err((cause, f)) => {
                    let mut f = f;
                    f["cause"] = json!(cause);
                    facts.push(f);
                    return Err((facts, DECRYPT_FAILED));
                }
            };
            facts.push(f);
            m = restore(&m, &content).ok_or((facts.clone(), DECRYPT_FAILED))?;
        }
        Ok(Opened {
            message: m,
            facts,
            note,
            sealed,
        })
    }
}

/// The message with the decrypted content in place: a tunnelled `message/sip` restores the
/// end-to-end headers and body; any other entity restores body and Content-Type.
fn restore(outer: &Message, content: &[u8]) -> Option<Message> {
    let e = EntityView::parse(content).ok()?;
    if e.media_type() == "message/sip" {
        let inner = crate::mime::parse_message_sip(&e.body).ok()?;
        let mut r = restore_from_inner(outer, &inner, &[control::HEADER]).ok()?;
        r.remove_named(control::HEADER);
        return Some(r);
    }
    restore_entity(outer, e.content_type, e.disposition, &e.body).ok()
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

    fn process(&self, message: &Message, _ctx: &MessageContext) -> Result<Processed, Failure> {
        let mut verdict = Verdict::new();
        match self.unwrap_all(message) {
            Ok(o) => {
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
            Err((facts, text)) => {
                verdict.set("encrypted", true);
                if let Some(last) = facts.last() {
                    for k in ["recipients", "key", "cause"] {
                        if let Some(v) = last.get(k) {
                            verdict.set(k, v.clone());
                        }
                    }
                }
                verdict.set("result", "refused");
                Err(Failure::with_verdict(text, verdict))
            }
        }
    }
}
