//! base64url without padding (RFC 7515 §2, RFC 4648 §5), strict on input: no padding, no
//! white space, no characters of the other alphabet, and no stray bits in the last character,
//! so every byte string has exactly one accepted encoding and a re-encoded token cannot pass.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const INVALID: u8 = 0xff;

static DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Why a base64url text does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base64Error {
    #[error("character {byte:#04x} at {at} is not base64url (padding, white space and `+/` are refused)")]
    BadCharacter { byte: u8, at: usize },
    #[error("length {0} is impossible for unpadded base64url")]
    BadLength(usize),
    #[error("the last character carries bits beyond the data (not the canonical encoding)")]
    NonCanonical,
}

/// Appends the encoding of `data` to `out`.
pub fn encode_into(data: &[u8], out: &mut String) {
    out.reserve(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(ALPHABET[((n >> 18) & 63) as usize] as char);
            out.push(ALPHABET[((n >> 12) & 63) as usize] as char);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.push(ALPHABET[((n >> 18) & 63) as usize] as char);
            out.push(ALPHABET[((n >> 12) & 63) as usize] as char);
            out.push(ALPHABET[((n >> 6) & 63) as usize] as char);
        }
        _ => {}
    }
}

pub fn encode(data: &[u8]) -> String {
    let mut s = String::new();
    encode_into(data, &mut s);
    s
}

pub fn decode(text: &[u8]) -> Result<Vec<u8>, Base64Error> {
    if text.len() % 4 == 1 {
        return Err(Base64Error::BadLength(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let value = |at: usize| -> Result<u32, Base64Error> {
        let byte = text[at];
        match DECODE[byte as usize] {
            INVALID => Err(Base64Error::BadCharacter { byte, at }),
            v => Ok(u32::from(v)),
        }
    };
    let full = text.len() / 4 * 4;
    let mut i = 0;
    while i < full {
        let n = (value(i)? << 18) | (value(i + 1)? << 12) | (value(i + 2)? << 6) | value(i + 3)?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        i += 4;
    }
    match text.len() - full {
        2 => {
            let n = (value(i)? << 18) | (value(i + 1)? << 12);
            if n & 0xffff != 0 {
                return Err(Base64Error::NonCanonical);
            }
            out.push((n >> 16) as u8);
        }
        3 => {
            let n = (value(i)? << 18) | (value(i + 1)? << 12) | (value(i + 2)? << 6);
            if n & 0xff != 0 {
                return Err(Base64Error::NonCanonical);
            }
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..70 {
            let text = encode(&data[..len]);
            assert!(!text.contains('='));
            assert_eq!(decode(text.as_bytes()).unwrap(), &data[..len]);
        }
    }

    #[test]
    fn rfc4648_vectors_without_padding() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn padding_standard_alphabet_and_white_space_are_refused() {
        for (text, at) in [("Zg==", 2), ("+/8", 0), ("Zm9 vA", 3), ("Zm8\n", 3)] {
            assert_eq!(
                decode(text.as_bytes()),
                Err(Base64Error::BadCharacter {
                    byte: text.as_bytes()[at],
                    at
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn impossible_length_and_stray_bits_are_refused() {
        assert_eq!(decode(b"Zm9vY"), Err(Base64Error::BadLength(5)));
        // "Zh" decodes to "f" like "Zg" but sets bits past the data.
        assert_eq!(decode(b"Zh"), Err(Base64Error::NonCanonical));
        assert_eq!(decode(b"Zm8"), Ok(b"fo".to_vec()));
        assert_eq!(decode(b"Zm9"), Err(Base64Error::NonCanonical));
        assert_eq!(decode(b"Zm-"), Err(Base64Error::NonCanonical));
    }
}
