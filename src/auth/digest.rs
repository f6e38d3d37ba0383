//! The digest computation (RFC 7616 §3.4.1, RFC 8760 §2.2) and the credentials a client
//! sends in `Authorization` or `Proxy-Authorization`, read strictly.
//!
//! Only `qop=auth` is accepted: without a quality of protection there is no nonce-count, and
//! without a nonce-count a captured request can be replayed for as long as its nonce lives.
//! The `-sess` variants and `userhash` are never offered, so they are refused.

use crate::header::Auth;
use openssl::hash::{hash, MessageDigest};
use std::borrow::Cow;
use std::fmt;

/// A digest algorithm the relay knows, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Md5,
}

impl Algorithm {
    /// Every algorithm, in the order challenges offer them (RFC 8760 §2.3: preferred first).
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    /// The `algorithm=` token.
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Md5 => "MD5",
        }
    }

    /// Reads an `algorithm=` token (case-insensitive, RFC 7616 §3.3).
    pub fn from_token(token: &[u8]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| token.eq_ignore_ascii_case(a.token().as_bytes()))
    }

    /// Length of a digest in hex.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Md5 => 32,
        }
    }

    fn md(self) -> MessageDigest {
        match self {
            Algorithm::Sha256 => MessageDigest::sha256(),
            Algorithm::Md5 => MessageDigest::md5(),
        }
    }

    /// `H(data)` in lower-case hex.
    pub fn hex_digest(self, parts: &[&[u8]]) -> String {
        let mut data = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                data.push(b':');
            }
            data.extend_from_slice(p);
        }
        let digest = hash(self.md(), &data).expect("OpenSSL digest");
        to_hex(&digest)
    }

    /// `HA1 = H(username ":" realm ":" password)`: what the credentials file holds instead of
    /// the password.
    pub fn ha1(self, username: &str, realm: &str, password: &[u8]) -> String {
        self.hex_digest(&[username.as_bytes(), realm.as_bytes(), password])
    }

    /// The `response` a client with `ha1` computes for `qop=auth` (RFC 7616 §3.4.1).
    pub fn response(self, ha1: &str, c: &ResponseInput<'_>) -> String {
        let ha2 = self.hex_digest(&[c.method, c.uri]);
        self.hex_digest(&[
            ha1.as_bytes(),
            c.nonce,
            c.nc,
            c.cnonce,
            b"auth",
            ha2.as_bytes(),
        ])
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// Lower-case hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// What the response digest covers besides HA1.
#[derive(Debug, Clone, Copy)]
pub struct ResponseInput<'a> {
    pub method: &'a [u8],
    pub uri: &'a [u8],
    pub nonce: &'a [u8],
    pub nc: &'a [u8],
    pub cnonce: &'a [u8],
}

/// Why credentials could not be read; each is its own refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("not Digest credentials")]
    NotDigest,
    #[error("the {0} parameter is missing")]
    Missing(&'static str),
    #[error("the {0} parameter appears more than once")]
    Repeated(&'static str),
    #[error("algorithm {0:?} is not one the relay offers")]
    UnknownAlgorithm(&'static str),
    #[error("qop must be auth (the only one offered)")]
    BadQop,
    #[error("nc must be 8 hex digits, not zero")]
    BadNonceCount,
    #[error("the response must be lower- or upper-case hex of the algorithm's length")]
    BadResponse,
    #[error("userhash is not offered")]
    Userhash,
    #[error("the header value does not parse")]
    Unparsable,
}

/// Digest credentials as sent (RFC 7616 §3.4), with the parameters this relay needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials<'a> {
    pub username: Cow<'a, [u8]>,
    pub realm: Cow<'a, [u8]>,
    pub nonce: Cow<'a, [u8]>,
    pub uri: Cow<'a, [u8]>,
    pub response: Cow<'a, [u8]>,
    pub algorithm: Algorithm,
    pub cnonce: Cow<'a, [u8]>,
    /// The nonce-count as written (8 hex digits) and its value.
    pub nc_text: Cow<'a, [u8]>,
    pub nc: u32,
}

/// The parameters read; a repeated one is refused (two `response=` could be read differently
/// by two parsers).
const KNOWN: [&str; 10] = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "algorithm",
    "cnonce",
    "qop",
    "nc",
    "userhash",
];

impl<'a> DigestCredentials<'a> {
    /// The realm of credentials, without reading the rest: which realm a header is for decides
    /// whether it is ours at all.
    pub fn realm_of(auth: &Auth<'a>) -> Option<Cow<'a, [u8]>> {
        auth.is_scheme("Digest")
            .then(|| auth.param("realm"))
            .flatten()
    }

    /// Reads credentials; a value the relay could not have asked for is refused.
    pub fn read(auth: &Auth<'a>) -> Result<DigestCredentials<'a>, CredentialsError> {
        if !auth.is_scheme("Digest") {
            return Err(CredentialsError::NotDigest);
        }
        for name in KNOWN {
            let n = auth
                .params()
                .iter()
                .filter(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
                .count();
            if n > 1 {
                return Err(CredentialsError::Repeated(name));
            }
        }
        let need = |name: &'static str| auth.param(name).ok_or(CredentialsError::Missing(name));
        if auth
            .param("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"true"))
        {
            return Err(CredentialsError::Userhash);
        }
        let algorithm = match auth.param("algorithm") {
            // RFC 7616 §3.4: absent means MD5.
            None => Algorithm::Md5,
            Some(t) => Algorithm::from_token(&t).ok_or(CredentialsError::UnknownAlgorithm(
                if t.ends_with(b"-sess") || t.ends_with(b"-SESS") {
                    "a -sess variant"
                } else {
                    "other"
                },
            ))?,
        };
        let qop = need("qop")?;
        if !qop.eq_ignore_ascii_case(b"auth") {
            return Err(CredentialsError::BadQop);
        }
        let nc_text = need("nc")?;
        let nc = parse_nc(&nc_text).ok_or(CredentialsError::BadNonceCount)?;
        let response = need("response")?;
        if response.len() != algorithm.hex_len() || !response.iter().all(u8::is_ascii_hexdigit) {
            return Err(CredentialsError::BadResponse);
        }
        Ok(DigestCredentials {
            username: need("username")?,
            realm: need("realm")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response,
            algorithm,
            cnonce: need("cnonce")?,
            nc_text,
            nc,
        })
    }

    /// Whether the response is the one `ha1` gives for this request's method.
    pub fn verifies(&self, ha1: &str, method: &[u8]) -> bool {
        let expected = self.algorithm.response(
            ha1,
            &ResponseInput {
                method,
                uri: &self.uri,
                nonce: &self.nonce,
                nc: &self.nc_text,
                cnonce: &self.cnonce,
            },
        );
        let given = self.response.to_ascii_lowercase();
        openssl::memcmp::eq(expected.as_bytes(), &given)
    }
}

/// `nc-value = 8LHEX`; zero is never sent by a client (it counts from 1).
fn parse_nc(text: &[u8]) -> Option<u32> {
    if text.len() != 8 {
        return None;
    }
    let s = std::str::from_utf8(text).ok()?;
    u32::from_str_radix(s, 16).ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1 computes over HTTP; the hash layering is the same, so its vector checks
    /// the computation (MD5 and SHA-256, `qop=auth`).
    #[test]
    fn rfc7616_example_responses() {
        let input = ResponseInput {
            method: b"GET",
            uri: b"/dir/index.html",
            nonce: b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            nc: b"00000001",
            cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        };
        let md5 = Algorithm::Md5.ha1("Mufasa", "http-auth@example.org", b"Circle of Life");
        assert_eq!(
            Algorithm::Md5.response(&md5, &input),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = Algorithm::Sha256.ha1("Mufasa", "http-auth@example.org", b"Circle of Life");
        assert_eq!(
            Algorithm::Sha256.response(&sha, &input),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    fn read(value: &[u8]) -> Result<DigestCredentials<'_>, CredentialsError> {
        DigestCredentials::read(&Auth::parse(value).unwrap())
    }

    const GOOD: &str = "Digest username=\"agent-7\", realm=\"callcentre.example\", \
        nonce=\"abc\", uri=\"sip:callcentre.example\", qop=auth, nc=00000001, \
        cnonce=\"xyz\", response=\"0123456789abcdef0123456789abcdef\"";

    #[test]
    fn reads_credentials_and_defaults_to_md5() {
        let c = read(GOOD.as_bytes()).unwrap();
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!(&*c.username, b"agent-7");
        assert_eq!(c.nc, 1);
        let sha = GOOD.replace(
            "response=\"0123456789abcdef0123456789abcdef\"",
            &format!("response=\"{}\", algorithm=sha-256", "A".repeat(64)),
        );
        assert_eq!(read(sha.as_bytes()).unwrap().algorithm, Algorithm::Sha256);
    }

    #[test]
    fn refusals() {
        let with = |from: &str, to: &str| read(GOOD.replace(from, to).as_bytes()).unwrap_err();
        assert_eq!(with("Digest", "Basic"), CredentialsError::NotDigest);
        assert_eq!(with("qop=auth", "qop=auth-int"), CredentialsError::BadQop);
        assert_eq!(with("qop=auth, ", ""), CredentialsError::Missing("qop"));
        assert_eq!(with("nc=00000001", "nc=1"), CredentialsError::BadNonceCount);
        assert_eq!(
            with("nc=00000001", "nc=00000000"),
            CredentialsError::BadNonceCount
        );
        assert_eq!(
            with("nc=00000001", "nc=0000000g"),
            CredentialsError::BadNonceCount
        );
        assert_eq!(
            with("cnonce=\"xyz\", ", ""),
            CredentialsError::Missing("cnonce")
        );
        assert_eq!(
            with("uri=", "response=\"00\", uri="),
            CredentialsError::Repeated("response")
        );
        assert_eq!(
            with("qop=", "algorithm=MD5-sess, qop="),
            CredentialsError::UnknownAlgorithm("a -sess variant")
        );
        assert_eq!(
            with("qop=", "algorithm=SHA-512-256, qop="),
            CredentialsError::UnknownAlgorithm("other")
        );
        assert_eq!(
            with("qop=", "userhash=true, qop="),
            CredentialsError::Userhash
        );
        // A SHA-256 claim with an MD5-sized response: the lengths must agree.
        assert_eq!(
            with("qop=", "algorithm=SHA-256, qop="),
            CredentialsError::BadResponse
        );
        assert_eq!(
            with(
                "0123456789abcdef0123456789abcdef",
                "0123456789abcdef0123456789abcdeg"
            ),
            CredentialsError::BadResponse
        );
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(to_hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
