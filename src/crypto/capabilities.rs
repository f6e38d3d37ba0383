//! SMIMECapabilities (RFC 8551 §2.5.2): the content ciphers a signer says it can decrypt, in
//! order of preference. Ours names what sipsec-decrypt opens, strongest first: AES-GCM
//! (AuthEnvelopedData, RFC 5084) and the AES-CBC sizes; 3DES only when asked for (old peers).
//! A peer's list, learned from its signature, lets sipsec-encrypt pick the strongest cipher
//! both sides support.

use std::sync::OnceLock;

use super::{der, ContentCipher};

/// Ciphers in our order of preference (strongest first), with the DER content octets of
/// their OBJECT IDENTIFIERs; the last only with `legacy`.
const PREFERENCE: [(ContentCipher, &[u8]); 6] = [
    (
        ContentCipher::Aes256Gcm,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 46],
    ),
    (
        ContentCipher::Aes128Gcm,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 6],
    ),
    (
        ContentCipher::Aes256Cbc,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 42],
    ),
    (
        ContentCipher::Aes192Cbc,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 22],
    ),
    (
        ContentCipher::Aes128Cbc,
        &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 2],
    ),
    (
        ContentCipher::DesEde3Cbc,
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x07],
    ),
];

/// The cipher [`ContentCipher::name`] names, among those we advertise.
pub fn cipher_by_name(name: &str) -> Option<ContentCipher> {
    PREFERENCE
        .iter()
        .map(|(c, _)| c)
        .find(|c| c.name() == name)
        .cloned()
}

/// OID content octets of the smimeCapabilities attribute (1.2.840.113549.1.9.15).
const OID_SMIME_CAPABILITIES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0f];

/// The DER of our SMIMECapabilities list (SEQUENCE OF SMIMECapability, each a SEQUENCE holding
/// a cipher's OID and no parameters), strongest first; 3DES only with `legacy`. Made once.
pub fn advertised(legacy: bool) -> &'static [u8] {
    static LISTS: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    LISTS[usize::from(legacy)].get_or_init(|| {
        let mut list = Vec::new();
        for (cipher, id) in &PREFERENCE {
            if legacy || *cipher != ContentCipher::DesEde3Cbc {
                list.extend_from_slice(&[0x30, id.len() as u8 + 2, 0x06, id.len() as u8]);
                list.extend_from_slice(id);
            }
        }
        // Under 128 octets: a one-octet length.
        [&[0x30, list.len() as u8][..], &list].concat()
    })
}

/// The content ciphers a SMIMECapabilities list names that sipsec knows, in the list's order;
/// `None` when it does not read.
pub fn parse(list: &[u8]) -> Option<Vec<ContentCipher>> {
    let (seq, _) = der::read(list, 0).filter(|(t, _)| t.tag == 0x30)?;
    let mut out = Vec::new();
    for capability in der::children(seq.content, 1)? {
        let fields = der::children(capability.content, 2)?;
        let id = fields.first().filter(|t| t.tag == 0x06)?;
        if let Some((cipher, _)) = PREFERENCE.iter().find(|(_, oid)| *oid == id.content) {
            out.push(cipher.clone());
        }
    }
    Some(out)
}

/// The capabilities a SignedData's first signer advertises in its signed attributes: `None`
/// when it has none (or the DER does not read).
pub fn of_signature(der: &[u8]) -> Option<Vec<ContentCipher>> {
    let (ci, _) = der::read(der, 0)?;
    let explicit = der::children(ci.content, 1)?
        .into_iter()
        .nth(1)
        .filter(|t| t.tag == 0xa0)?;
    let (sd, _) = der::read(explicit.content, 2)?;
    let infos = der::children(sd.content, 3)?
        .into_iter()
        .rfind(|t| t.tag == 0x31)?;
    let (info, _) = der::read(infos.content, 4)?;
    let attrs = der::children(info.content, 5)?
        .into_iter()
        .find(|t| t.tag == 0xa0)?;
    for attr in der::children(attrs.content, 6)? {
        let fields = der::children(attr.content, 7)?;
        if fields
            .first()
            .is_some_and(|t| t.tag == 0x06 && t.content == OID_SMIME_CAPABILITIES)
        {
            // The attribute's one value: parse reads the first element of the SET's content.
            return parse(fields.get(1).filter(|t| t.tag == 0x31)?.content);
        }
    }
    None
}

/// The strongest cipher both sides support: ours in order of preference, the first the peer
/// lists. `None` when they share none.
pub fn strongest_common(theirs: &[ContentCipher]) -> Option<ContentCipher> {
    PREFERENCE
        .iter()
        .map(|(c, _)| c)
        .find(|c| theirs.contains(c))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_list_reads_back_in_order_and_the_strongest_shared_cipher_is_chosen() {
        let modern = parse(advertised(false)).unwrap();
        assert_eq!(
            modern,
            [
                ContentCipher::Aes256Gcm,
                ContentCipher::Aes128Gcm,
                ContentCipher::Aes256Cbc,
                ContentCipher::Aes192Cbc,
                ContentCipher::Aes128Cbc,
            ]
        );
        let legacy = parse(advertised(true)).unwrap();
        assert_eq!(legacy.last(), Some(&ContentCipher::DesEde3Cbc));
        assert_eq!(strongest_common(&modern), Some(ContentCipher::Aes256Gcm));
        // A peer without GCM (the other SIP S/MIME stack): the strongest CBC it lists.
        let cbc_only = [ContentCipher::Aes128Cbc, ContentCipher::DesEde3Cbc];
        assert_eq!(strongest_common(&cbc_only), Some(ContentCipher::Aes128Cbc));
        assert_eq!(
            strongest_common(&[ContentCipher::DesEde3Cbc]),
            Some(ContentCipher::DesEde3Cbc)
        );
        assert_eq!(strongest_common(&[]), None);
    }

    #[test]
    fn a_peers_list_keeps_what_we_know_and_skips_the_rest() {
        // OpenSSL's default list starts with aes256-CBC, then GOST, RC2, DES (parameters on
        // some): unknown entries are skipped, not refused.
        let list = [
            0x30, 0x1d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01,
            0x2a, 0x30, 0x0e, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x03, 0x02, 0x02,
            0x02, 0x00, 0x80,
        ];
        assert_eq!(parse(&list), Some(vec![ContentCipher::Aes256Cbc]));
        assert_eq!(parse(b"\x04\x00"), None);
        assert_eq!(parse(b""), None);
    }
}
