//! An independent check that bytes are one DER element and nothing after it (X.690 §10):
//! definite lengths in the fewest octets, constructed types walked down to their primitives,
//! INTEGERs without redundant leading octets, BOOLEANs as 00 or FF, SET OF
//! elements in ascending order. The differential targets
//! hold the fast paths to it; it shares no code with them.

pub fn check(input: &[u8]) -> Result<(), String> {
    let rest = element(input, 0)?;
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("{} octets after the DER", rest.len()))
    }
}

fn element(input: &[u8], depth: usize) -> Result<&[u8], String> {
    if depth > 32 {
        return Err("nested too deep".into());
    }
    let (&tag, rest) = input.split_first().ok_or("truncated tag")?;
    if tag & 0x1f == 0x1f {
        return Err("high tag number".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = match first {
        0x80 => return Err("indefinite length".into()),
        0..=0x7f => (usize::from(first), rest),
        _ => {
            let n = usize::from(first & 0x7f);
            let bytes = rest.get(..n).ok_or("truncated length")?;
            if n > 4 || bytes[0] == 0 {
                return Err("length not in the fewest octets".into());
            }
            let len = bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
            if len < 0x80 {
                return Err("long form for a short length".into());
            }
            (len, &rest[n..])
        }
    };
    let content = rest.get(..len).ok_or("length past the end")?;
    if tag & 0x20 != 0 {
        let mut c = content;
        let mut previous: Option<&[u8]> = None;
        while !c.is_empty() {
            let after = element(c, depth + 1)?;
            let this = &c[..c.len() - after.len()];
            // X.690 §11.6: a SET OF's encodings ascend (the shorter padded with zeros).
            if let (0x31, Some(p)) = (tag, previous) {
                let width = p.len().max(this.len());
                let pad = |e: &[u8]| {
                    let mut v = e.to_vec();
                    v.resize(width, 0);
                    v
                };
                if pad(p) > pad(this) {
                    return Err("SET OF out of order".into());
                }
            }
            previous = Some(this);
            c = after;
        }
    } else {
        match (tag, content) {
            (0x02, []) => return Err("empty INTEGER".into()),
            (0x02, [0x00, b, ..]) if b & 0x80 == 0 => return Err("INTEGER padded with 00".into()),
            (0x02, [0xff, b, ..]) if b & 0x80 != 0 => return Err("INTEGER padded with FF".into()),
            (0x01, [b]) if *b != 0 && *b != 0xff => return Err("BOOLEAN not 00 or FF".into()),
            _ => {}
        }
    }
    Ok(&rest[len..])
}
