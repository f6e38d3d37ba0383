//! The one DER/BER reader of the crate, over borrowed bytes, never panicking. Two sets of rules:
//! [`element`] reads definite lengths only, for the fast paths of `fastcms` and `fastenv`
//! (anything else goes to OpenSSL); [`read`] also takes indefinite lengths (the CLI streams
//! with them) for what OpenSSL 3.0 has no public getter for: the content-encryption algorithm of
//! an Enveloped or AuthEnvelopedData, and the raw value of a certificate extension
//! (nameConstraints, for `constraints`).

const MAX_DEPTH: usize = 16;

/// One element: its tag, its content octets and its whole encoding.
#[derive(Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    /// Content octets; for an indefinite length, the children without the end-of-contents.
    pub(crate) content: &'a [u8],
    /// The element as encoded: tag, length and content (and end-of-contents).
    pub(crate) whole: &'a [u8],
}

/// What a read accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Definite lengths in at most four octets: the fast paths, which leave every other
    /// encoding to OpenSSL.
    Definite,
    /// Also indefinite lengths (the CLI streams with them) and longer length fields; high tag
    /// numbers refused; nesting bounded by [`MAX_DEPTH`].
    Ber,
}

/// Reads one TLV (definite or indefinite length) from the front of `input` at nesting `depth`;
/// returns it and the rest.
pub(crate) fn read(input: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
    read_with(input, depth, Rules::Ber)
}

/// Splits the first element (definite length only) off `input`. Always inlined: returned by a
/// call, the element goes through memory and is read back before the callee's stores have
/// landed, a store-forwarding stall on every element of the fast paths.
#[inline(always)]
pub(crate) fn element(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    read_with(input, 0, Rules::Definite)
}

#[inline(always)]
fn read_with(input: &[u8], depth: usize, rules: Rules) -> Option<(Tlv<'_>, &[u8])> {
    if rules == Rules::Ber && depth > MAX_DEPTH {
        return None;
    }
    let (&tag, rest) = input.split_first()?;
    if rules == Rules::Ber && tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur on the path we walk
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x80 if rules == Rules::Ber => return indefinite(input, tag, rest, depth),
        0x80 => return None,
        _ => {
            let n = usize::from(first & 0x7f);
            let max = match rules {
                Rules::Definite => 4,
                Rules::Ber => std::mem::size_of::<usize>(),
            };
            if n > max || rest.len() < n {
                return None;
            }
            let (bytes, rest) = rest.split_at(n);
            let len = bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            (len, rest)
        }
    };
    if rest.len() < len {
        return None;
    }
    let (content, after) = rest.split_at(len);
    let whole = &input[..input.len() - after.len()];
    Some((
        Tlv {
            tag,
            content,
            whole,
        },
        after,
    ))
}

/// The rest of an indefinite-length element whose tag and length octet are read: its children
/// up to the end-of-contents.
fn indefinite<'a>(
    input: &'a [u8],
    tag: u8,
    rest: &'a [u8],
    depth: usize,
) -> Option<(Tlv<'a>, &'a [u8])> {
    if tag & 0x20 == 0 {
        return None;
    }
    let mut cursor = rest;
    loop {
        if cursor.starts_with(&[0, 0]) {
            let used = rest.len() - cursor.len();
            let after = cursor.get(2..)?;
            return Some((
                Tlv {
                    tag,
                    content: rest.get(..used)?,
                    whole: &input[..input.len() - after.len()],
                },
                after,
            ));
        }
        let (_, after) = read(cursor, depth + 1)?;
        cursor = after;
    }
}

/// The elements inside a constructed element's content, read as [`read`] does.
pub(crate) fn children(content: &[u8], depth: usize) -> Option<Vec<Tlv<'_>>> {
    collect(content, depth, Rules::Ber)
}

/// The elements inside a constructed element's content, read as [`element`] does.
#[inline(always)]
pub(crate) fn elements(content: &[u8]) -> Option<Elements<'_>> {
    collect(content, 0, Rules::Definite)
}

/// How many elements [`Elements`] keeps without allocating: every structure the fast paths
/// read field by field has fewer.
const INLINE: usize = 8;

/// Elements read from one content, in order: a slice (by `Deref`) and an iterator. Up to
/// [`INLINE`] are kept in place, more on the heap.
pub(crate) struct Elements<'a> {
    inline: [Tlv<'a>; INLINE],
    len: usize,
    /// All of them, once there are more than [`INLINE`].
    spilled: Vec<Tlv<'a>>,
}

impl Default for Elements<'_> {
    fn default() -> Self {
        let empty = Tlv {
            tag: 0,
            content: &[],
            whole: &[],
        };
        Elements {
            inline: [empty; INLINE],
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl<'a> Extend<Tlv<'a>> for Elements<'a> {
    #[inline(always)]
    fn extend<I: IntoIterator<Item = Tlv<'a>>>(&mut self, tlvs: I) {
        for tlv in tlvs {
            if self.len < INLINE {
                self.inline[self.len] = tlv;
            } else {
                if self.spilled.is_empty() {
                    self.spilled.extend_from_slice(&self.inline);
                }
                self.spilled.push(tlv);
            }
            self.len += 1;
        }
    }
}

impl<'a> std::ops::Deref for Elements<'a> {
    type Target = [Tlv<'a>];
    fn deref(&self) -> &[Tlv<'a>] {
        if self.len > INLINE {
            &self.spilled
        } else {
            &self.inline[..self.len]
        }
    }
}

impl<'a> IntoIterator for Elements<'a> {
    type Item = Tlv<'a>;
    type IntoIter = ElementsIter<'a>;
    fn into_iter(self) -> ElementsIter<'a> {
        ElementsIter {
            elements: self,
            next: 0,
        }
    }
}

impl<'e, 'a> IntoIterator for &'e Elements<'a> {
    type Item = &'e Tlv<'a>;
    type IntoIter = std::slice::Iter<'e, Tlv<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// [`Elements`] by value, in order.
pub(crate) struct ElementsIter<'a> {
    elements: Elements<'a>,
    next: usize,
}

impl<'a> Iterator for ElementsIter<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        let tlv = self.elements.get(self.next).copied()?;
        self.next += 1;
        Some(tlv)
    }
}

/// Reads every element of `content` by `rules`. The reader is called directly rather than
/// passed as a closure, whose call the compiler does not inline (each element would then come
/// back through memory, see [`element`]).
#[inline(always)]
fn collect<'a, C: Default + Extend<Tlv<'a>>>(
    content: &'a [u8],
    depth: usize,
    rules: Rules,
) -> Option<C> {
    let mut out = C::default();
    let mut cursor = content;
    while !cursor.is_empty() {
        let (tlv, rest) = read_with(cursor, depth, rules)?;
        out.extend(std::iter::once(tlv));
        cursor = rest;
    }
    Some(out)
}

/// `e` when it has the tag `tag`. By reference: a copy of the element is five words, and the
/// fast paths look at most elements only for their content.
pub(crate) fn expect<'e, 'a>(e: Option<&'e Tlv<'a>>, tag: u8) -> Option<&'e Tlv<'a>> {
    e.filter(|e| e.tag == tag)
}

/// Dotted text of the OID that names the content-encryption algorithm:
/// ContentInfo → [0] → (Auth)EnvelopedData → EncryptedContentInfo → AlgorithmIdentifier → OID.
pub(crate) fn content_encryption_oid(der: &[u8]) -> Option<String> {
    let (ci, _) = read(der, 0)?;
    let ci = children(ci.content, 1)?;
    let explicit = ci.get(1).filter(|t| t.tag == 0xa0)?;
    let (env, _) = read(explicit.content, 2)?;
    // Version, optional [0] originatorInfo, SET recipientInfos, then the first SEQUENCE is the
    // EncryptedContentInfo.
    let parts = children(env.content, 3)?;
    let eci = parts.iter().find(|t| t.tag == 0x30)?;
    let eci = children(eci.content, 4)?;
    let alg = eci.get(1).filter(|t| t.tag == 0x30)?;
    let (oid, _) = read(alg.content, 5)?;
    (oid.tag == 0x06).then(|| dotted(oid.content)).flatten()
}

/// The value (the extnValue octets) of the extension `oid` (its content octets, e.g.
/// `55 1d 1e` for nameConstraints) in a certificate's DER: `Some(None)` when the certificate
/// has no such extension, `None` when the DER does not read.
pub(crate) fn extension_value<'a>(cert: &'a [u8], oid: &[u8]) -> Option<Option<&'a [u8]>> {
    let (certificate, _) = read(cert, 0)?;
    let (tbs, _) = read(certificate.content, 1)?;
    // Extensions are the [3] field, last of the TBSCertificate; a v1 certificate has none.
    let Some(explicit) = children(tbs.content, 2)?
        .into_iter()
        .find(|t| t.tag == 0xa3)
    else {
        return Some(None);
    };
    let (extensions, _) = read(explicit.content, 3)?;
    for ext in children(extensions.content, 4)? {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
        let fields = children(ext.content, 5)?;
        let id = fields.first().filter(|t| t.tag == 0x06)?;
        if id.content == oid {
            let value = fields.last().filter(|t| t.tag == 0x04)?;
            return Some(Some(value.content));
        }
    }
    Some(None)
}

pub(crate) fn dotted(body: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for &b in body {
        acc = acc.checked_mul(128)? | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
    }
    let first = *arcs.first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut s = format!("{a}.{b}");
    for arc in arcs.iter().skip(1) {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_domain_purpose_reads_as_its_dotted_oid() {
        assert_eq!(crate::crypto::id_kp_sip_domain_text(), "1.3.6.1.5.5.7.3.20");
    }

    #[test]
    fn oid_text() {
        // aes128-CBC
        let b = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
        assert_eq!(dotted(&b).as_deref(), Some("2.16.840.1.101.3.4.1.2"));
    }

    #[test]
    fn elements_are_read_in_order_however_many() {
        for n in [0usize, 1, INLINE - 1, INLINE, INLINE + 1, 3 * INLINE] {
            let content: Vec<u8> = (0..n).flat_map(|i| [0x02, 0x01, i as u8]).collect();
            let read = elements(&content).unwrap();
            assert_eq!(read.len(), n);
            let values: Vec<u8> = read.iter().map(|t| t.content[0]).collect();
            assert_eq!(values, (0..n).map(|i| i as u8).collect::<Vec<u8>>());
            let by_value: Vec<u8> = read.into_iter().map(|t| t.whole[2]).collect();
            assert_eq!(by_value, values);
            let mut cut = content.clone();
            cut.push(0x02);
            assert!(
                elements(&cut).is_none(),
                "{n}: a cut element fails the whole read"
            );
        }
    }

    #[test]
    fn garbage_and_truncation_are_none() {
        assert_eq!(content_encryption_oid(b""), None);
        assert_eq!(
            content_encryption_oid(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(content_encryption_oid(&[0x30, 0x80, 0x30, 0x80]), None);
        let deep = [0x30u8, 0x80].repeat(100);
        assert_eq!(content_encryption_oid(&deep), None);
    }
}
