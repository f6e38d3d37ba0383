//! Just enough BER/DER reading for what OpenSSL 3.0 has no public getter for: the
//! content-encryption algorithm of an Enveloped or AuthEnvelopedData, and the raw value of a
//! certificate extension (nameConstraints, for `constraints`). Accepts definite and indefinite
//! lengths (the CLI streams with indefinite lengths); never panics.

const MAX_DEPTH: usize = 16;

pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    /// Content octets; for an indefinite length, the children without the end-of-contents.
    pub(crate) body: &'a [u8],
}

/// Reads one TLV from the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // high tag numbers never occur on the path we walk
    }
    let (&first, rest) = rest.split_first()?;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return None;
        }
        let mut cursor = rest;
        loop {
            if cursor.starts_with(&[0, 0]) {
                let used = rest.len() - cursor.len();
                return Some((
                    Tlv {
                        tag,
                        body: rest.get(..used)?,
                    },
                    cursor.get(2..)?,
                ));
            }
            let (_, after) = read(cursor, depth + 1)?;
            cursor = after;
        }
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n > std::mem::size_of::<usize>() || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (body, rest) = rest.split_at(len);
    Some((Tlv { tag, body }, rest))
}

pub(crate) fn children(body: &[u8], depth: usize) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut cursor = body;
    while !cursor.is_empty() {
        let (tlv, rest) = read(cursor, depth)?;
        out.push(tlv);
        cursor = rest;
    }
    Some(out)
}

/// Dotted text of the OID that names the content-encryption algorithm:
/// ContentInfo → [0] → (Auth)EnvelopedData → EncryptedContentInfo → AlgorithmIdentifier → OID.
pub(crate) fn content_encryption_oid(der: &[u8]) -> Option<String> {
    let (ci, _) = read(der, 0)?;
    let ci = children(ci.body, 1)?;
    let explicit = ci.get(1).filter(|t| t.tag == 0xa0)?;
    let (env, _) = read(explicit.body, 2)?;
    // Version, optional [0] originatorInfo, SET recipientInfos, then the first SEQUENCE is the
    // EncryptedContentInfo.
    let parts = children(env.body, 3)?;
    let eci = parts.iter().find(|t| t.tag == 0x30)?;
    let eci = children(eci.body, 4)?;
    let alg = eci.get(1).filter(|t| t.tag == 0x30)?;
    let (oid, _) = read(alg.body, 5)?;
    (oid.tag == 0x06).then(|| dotted(oid.body)).flatten()
}

/// The value (the extnValue octets) of the extension `oid` (its content octets, e.g.
/// `55 1d 1e` for nameConstraints) in a certificate's DER: `Some(None)` when the certificate
/// has no such extension, `None` when the DER does not read.
pub(crate) fn extension_value<'a>(cert: &'a [u8], oid: &[u8]) -> Option<Option<&'a [u8]>> {
    let (certificate, _) = read(cert, 0)?;
    let (tbs, _) = read(certificate.body, 1)?;
    // Extensions are the [3] field, last of the TBSCertificate; a v1 certificate has none.
    let Some(explicit) = children(tbs.body, 2)?.into_iter().find(|t| t.tag == 0xa3) else {
        return Some(None);
    };
    let (extensions, _) = read(explicit.body, 3)?;
    for ext in children(extensions.body, 4)? {
        // Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
        let fields = children(ext.body, 5)?;
        let id = fields.first().filter(|t| t.tag == 0x06)?;
        if id.body == oid {
            let value = fields.last().filter(|t| t.tag == 0x04)?;
            return Some(Some(value.body));
        }
    }
    Some(None)
}

fn dotted(body: &[u8]) -> Option<String> {
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
    fn oid_text() {
        // aes128-CBC
        let b = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
        assert_eq!(dotted(&b).as_deref(), Some("2.16.840.1.101.3.4.1.2"));
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
