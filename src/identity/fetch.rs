//! Fetching an x5u certificate chain: one HTTPS GET (HTTP/1.1 over OpenSSL, the server's
//! certificate and name checked), bounded in time (one deadline for connect, handshake and
//! every read, so a server that drips bytes cannot hold a verifier) and in size, with no
//! redirects followed (a redirect would let the URL in a signed token point anywhere).
//! Hand-written: one request shape and one response shape need no HTTP crate.

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Limits and trust for fetching.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    /// For the whole fetch: connect, TLS handshake, request and response.
    pub timeout: Duration,
    /// The largest body accepted.
    pub max_bytes: usize,
    /// The anchors for the HTTPS server's certificate; `None` means the system's.
    pub tls_anchors: Option<Vec<X509>>,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            timeout: Duration::from_secs(2),
            max_bytes: 64 * 1024,
            tls_anchors: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("only https x5u URLs are fetched")]
    NotHttps,
    #[error("the URL does not read (https://host[:port]/path)")]
    BadUrl,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("the answer is larger than {0} bytes")]
    Oversize(usize),
    #[error("the server redirects (status {0}); redirects are not followed")]
    Redirect(u16),
    #[error("the server answers status {0}")]
    Status(u16),
    #[error("the HTTP answer does not read: {0}")]
    BadResponse(&'static str),
}

/// `https://host[:port]/path` split up; the host keeps IPv6 brackets off.
fn split_url(url: &str) -> Result<(&str, u16, &str), FetchError> {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
        _ => return Err(FetchError::NotHttps),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') || authority.is_empty() || path.contains('#') {
        return Err(FetchError::BadUrl);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(FetchError::BadUrl)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| FetchError::BadUrl)?,
        None => 443,
    };
    if host.is_empty() || !path.bytes().all(super::header::is_uri_char) {
        return Err(FetchError::BadUrl);
    }
    Ok((host, port, path))
}

fn remaining(deadline: Instant, timeout: Duration) -> Result<Duration, FetchError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(FetchError::Timeout(timeout))
    } else {
        Ok(left)
    }
}

/// GETs `url` and returns the body of a 200 answer.
pub fn fetch(url: &str, policy: &FetchPolicy) -> Result<Vec<u8>, FetchError> {
    let (host, port, path) = split_url(url)?;
    let deadline = Instant::now() + policy.timeout;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| FetchError::Connect(e.to_string()))?;
    let mut last = String::from("no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, remaining(deadline, policy.timeout)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let tcp = stream.ok_or(FetchError::Connect(last))?;
    let set_timeouts = |s: &TcpStream| -> Result<(), FetchError> {
        let left = remaining(deadline, policy.timeout)?;
        s.set_read_timeout(Some(left))
            .and_then(|_| s.set_write_timeout(Some(left)))
            .map_err(|e| FetchError::Connect(e.to_string()))
    };
    set_timeouts(&tcp)?;

    let tls = |e: &dyn std::fmt::Display| FetchError::Tls(e.to_string());
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(|e| tls(&e))?;
    builder.set_verify(SslVerifyMode::PEER);
    if let Some(anchors) = &policy.tls_anchors {
        let mut store = X509StoreBuilder::new().map_err(|e| tls(&e))?;
        for a in anchors {
            store.add_cert(a.clone()).map_err(|e| tls(&e))?;
        }
        builder
            .set_verify_cert_store(store.build())
            .map_err(|e| tls(&e))?;
    }
    let connector = builder.build();
    let mut ssl = match connector.connect(host, tcp) {
        Ok(s) => s,
        Err(e) => {
            return Err(if Instant::now() >= deadline {
                FetchError::Timeout(policy.timeout)
            } else {
                tls(&e)
            })
        }
    };

    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/pem-certificate-chain, application/x-pem-file\r\nConnection: close\r\nUser-Agent: sipsec\r\n\r\n"
    );
    ssl.write_all(request.as_bytes())
        .map_err(|e| FetchError::Connect(e.to_string()))?;

    // Head and body together never exceed the body cap plus room for headers and chunk
    // framing.
    let cap = policy.max_bytes + 16 * 1024;
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        set_timeouts(ssl.get_ref())?;
        match ssl.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > cap {
                    return Err(FetchError::Oversize(policy.max_bytes));
                }
                if let Some(done) = complete(&buf, policy.max_bytes)? {
                    return done;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(FetchError::Timeout(policy.timeout))
            }
            // A server that closes without close_notify: what arrived is judged below.
            Err(_) => break,
        }
    }
    match complete(&buf, policy.max_bytes)? {
        Some(done) => done,
        None => parse_response(&buf, policy.max_bytes, true),
    }
}

/// `Some` once `buf` holds a whole answer that has a Content-Length (or a refusal that needs
/// no body); `None` while more is needed.
fn complete(buf: &[u8], max: usize) -> Result<Option<Result<Vec<u8>, FetchError>>, FetchError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 16 * 1024 {
            return Err(FetchError::BadResponse("headers too long"));
        }
        return Ok(None);
    };
    let head = Head::parse(&buf[..head_end])?;
    head.judge(max)?;
    match head.content_length {
        Some(len) if buf.len() - head_end - 4 >= len => Ok(Some(parse_response(buf, max, false))),
        _ => Ok(None),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

impl Head {
    fn parse(head: &[u8]) -> Result<Head, FetchError> {
        let text = std::str::from_utf8(head).map_err(|_| FetchError::BadResponse("not text"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(FetchError::BadResponse("no HTTP/1.x status line"));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|s| (100..600).contains(s))
            .ok_or(FetchError::BadResponse("bad status code"))?;
        let mut content_length = None;
        let mut chunked = false;
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or(FetchError::BadResponse("header line without colon"))?;
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let len: usize = value
                    .parse()
                    .map_err(|_| FetchError::BadResponse("bad Content-Length"))?;
                if content_length.replace(len).is_some_and(|old| old != len) {
                    return Err(FetchError::BadResponse("conflicting Content-Length"));
                }
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                if !value.eq_ignore_ascii_case("chunked") {
                    return Err(FetchError::BadResponse("unsupported Transfer-Encoding"));
                }
                chunked = true;
            }
        }
        if chunked && content_length.is_some() {
            return Err(FetchError::BadResponse(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        Ok(Head {
            status,
            content_length,
            chunked,
        })
    }

    fn judge(&self, max: usize) -> Result<(), FetchError> {
        match self.status {
            200 => {}
            300..=399 => return Err(FetchError::Redirect(self.status)),
            s => return Err(FetchError::Status(s)),
        }
        if self.content_length.is_some_and(|l| l > max) {
            return Err(FetchError::Oversize(max));
        }
        Ok(())
    }
}

/// The body of a whole answer; `closed` when the server ended the connection.
fn parse_response(buf: &[u8], max: usize, closed: bool) -> Result<Vec<u8>, FetchError> {
    let head_end = find(buf, b"\r\n\r\n").ok_or(FetchError::BadResponse("no end of headers"))?;
    let head = Head::parse(&buf[..head_end])?;
    head.judge(max)?;
    let body = &buf[head_end + 4..];
    if let Some(len) = head.content_length {
        if body.len() < len {
            return Err(FetchError::BadResponse("body shorter than Content-Length"));
        }
        return Ok(body[..len].to_vec());
    }
    if head.chunked {
        return dechunk(body, max);
    }
    if !closed {
        return Err(FetchError::BadResponse("no length"));
    }
    if body.len() > max {
        return Err(FetchError::Oversize(max));
    }
    Ok(body.to_vec())
}

fn dechunk(mut body: &[u8], max: usize) -> Result<Vec<u8>, FetchError> {
    let bad = FetchError::BadResponse("bad chunked body");
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").ok_or(bad.clone())?;
        let size_text = std::str::from_utf8(&body[..line_end]).map_err(|_| bad.clone())?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad.clone())?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if out.len() + size > max {
            return Err(FetchError::Oversize(max));
        }
        if body.len() < size + 2 || &body[size..size + 2] != b"\r\n" {
            return Err(bad);
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit::{key, Ca, KeyKind};
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::ssl::SslAcceptor;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};
    use std::net::TcpListener;

    /// How a loopback server answers one request.
    enum Answer {
        Body(Vec<u8>),
        Raw(Vec<u8>),
        /// Says nothing, for this long at the most.
        Stall(Duration),
        /// Sends `n` bytes of body without a length, then closes.
        Flood(usize),
    }

    /// A TLS server on 127.0.0.1 that answers one connection and stops; returns its URL and
    /// the CA to trust.
    fn serve(answer: Answer) -> (String, X509, std::thread::JoinHandle<()>) {
        let ca = Ca::new(KeyKind::P256);
        let k = key(KeyKind::P256);
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "127.0.0.1").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(ca.cert.subject_name()).unwrap();
        b.set_pubkey(&k).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .build(&b.x509v3_context(Some(&ca.cert), None))
            .unwrap();
        b.append_extension(san).unwrap();
        b.sign(&ca.key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor.set_private_key(&k).unwrap();
        acceptor.set_certificate(&cert).unwrap();
        let acceptor = acceptor.build();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/sti.pem", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let Ok(mut tls) = acceptor.accept(tcp) else {
                return;
            };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && tls.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            assert!(request.starts_with(b"GET /sti.pem HTTP/1.1\r\n"));
            match answer {
                Answer::Body(body) => {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    let _ = tls.write_all(head.as_bytes());
                    let _ = tls.write_all(&body);
                }
                Answer::Raw(raw) => {
                    let _ = tls.write_all(&raw);
                }
                Answer::Stall(d) => {
                    // Ends when the client gives up (its close reads as 0) or after `d`.
                    tls.get_ref().set_read_timeout(Some(d)).unwrap();
                    let _ = tls.read(&mut byte);
                }
                Answer::Flood(n) => {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
                    let _ = tls.write_all(&vec![b'x'; n]);
                }
            }
            let _ = tls.shutdown();
        });
        (url, ca.cert, handle)
    }

    fn policy(anchor: X509) -> FetchPolicy {
        FetchPolicy {
            timeout: Duration::from_millis(500),
            max_bytes: 4096,
            tls_anchors: Some(vec![anchor]),
        }
    }

    #[test]
    fn fetches_over_tls_from_loopback() {
        let (url, ca, server) = serve(Answer::Body(b"chain".to_vec()));
        assert_eq!(fetch(&url, &policy(ca)), Ok(b"chain".to_vec()));
        server.join().unwrap();
    }

    #[test]
    fn a_fetched_chain_is_cached_with_its_chain_and_used_offline() {
        use crate::identity::credential::CredentialSource;
        use crate::identity::x5u::X5uResolver;
        let root = Ca::new(KeyKind::P256);
        let inter = root.sub_ca(KeyKind::P256);
        let (leaf, _) = inter.leaf(KeyKind::P256, "sip:sti@example.com");
        let mut pem = leaf.to_pem().unwrap();
        pem.extend(inter.cert.to_pem().unwrap());
        let (url, ca, server) = serve(Answer::Body(pem));
        let dir = tempfile::tempdir().unwrap();
        let now = crate::crypto::testkit::now();
        let online = X5uResolver::new(Some(dir.path().into()), Some(policy(ca)), 3600);
        assert_eq!(online.credential(&url, now).unwrap().chain.len(), 1);
        server.join().unwrap();
        let offline = X5uResolver::new(Some(dir.path().into()), None, 3600);
        assert_eq!(offline.credential(&url, now).unwrap().chain.len(), 1);
    }

    /// The verification service turns a fetch that times out or is too large into 436.
    #[test]
    fn a_stalled_or_oversize_x5u_is_436_in_the_verdict() {
        use crate::identity::sign::{Assertion, Form, StiSigner};
        use crate::identity::testkit::sti;
        use crate::identity::verify::{ResponseCode, StirOutcome};
        use crate::identity::{CallParties, StiPolicy, StiVerifier, X5uResolver};
        let kit = sti(&["12155550121"]);
        for answer in [
            Answer::Stall(Duration::from_secs(5)),
            Answer::Flood(100_000),
        ] {
            let (url, ca, server) = serve(answer);
            let now = crate::crypto::testkit::now();
            let msg = crate::message::Message::parse(format!(
                "INVITE sip:+12155550131@b.example;user=phone SIP/2.0\r\n\
                 From: <tel:+12155550121>;tag=1\r\nTo: <tel:+12155550131>\r\n\
                 Call-ID: f\r\nCSeq: 1 INVITE\r\nDate: {}\r\nContent-Length: 0\r\n\r\n",
                crate::smime::build::format_date(now)
            ))
            .unwrap();
            let signer = StiSigner::new(&kit.key, &kit.cert, &url).unwrap();
            let parties = CallParties::of(&msg).unwrap();
            let p = signer
                .passport(&parties, &Assertion::Baseline, now)
                .unwrap();
            let value = signer.identity(&p, Form::Full).unwrap();
            let mut msg = msg;
            msg.append_field("Identity", value.as_bytes()).unwrap();
            let verifier = StiVerifier::new(
                StiPolicy {
                    anchors: vec![kit.ca.cert.clone()],
                    freshness: 60,
                },
                X5uResolver::new(None, Some(policy(ca)), 3600),
            );
            let start = Instant::now();
            let v = verifier.verify(&msg, now);
            assert!(start.elapsed() < Duration::from_secs(2));
            assert_eq!(
                v.outcome(),
                StirOutcome::Failed(ResponseCode::BadIdentityInfo),
                "{v:?}"
            );
            server.join().unwrap();
        }
    }

    #[test]
    fn a_silent_server_times_out_within_the_deadline() {
        let (url, ca, server) = serve(Answer::Stall(Duration::from_secs(5)));
        let start = Instant::now();
        assert!(matches!(
            fetch(&url, &policy(ca)),
            Err(FetchError::Timeout(_))
        ));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        server.join().unwrap();
    }

    #[test]
    fn oversize_answers_are_refused() {
        let (url, ca, server) = serve(Answer::Body(vec![b'x'; 5000]));
        assert_eq!(fetch(&url, &policy(ca)), Err(FetchError::Oversize(4096)));
        server.join().unwrap();
        let (url, ca, server) = serve(Answer::Flood(100_000));
        assert_eq!(fetch(&url, &policy(ca)), Err(FetchError::Oversize(4096)));
        server.join().unwrap();
    }

    #[test]
    fn redirects_are_not_followed_and_strangers_are_not_trusted() {
        let (url, ca, server) = serve(Answer::Raw(
            b"HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ));
        assert_eq!(fetch(&url, &policy(ca)), Err(FetchError::Redirect(301)));
        server.join().unwrap();
        let (url, _, server) = serve(Answer::Body(b"chain".to_vec()));
        let stranger = Ca::new(KeyKind::P256).cert;
        assert!(matches!(
            fetch(&url, &policy(stranger)),
            Err(FetchError::Tls(_))
        ));
        server.join().unwrap();
    }

    #[test]
    fn urls() {
        assert_eq!(
            split_url("https://cert.example.org/passport.pem"),
            Ok(("cert.example.org", 443, "/passport.pem"))
        );
        assert_eq!(
            split_url("HTTPS://127.0.0.1:8443/a?b=c"),
            Ok(("127.0.0.1", 8443, "/a?b=c"))
        );
        assert_eq!(split_url("https://[::1]:9/x"), Ok(("::1", 9, "/x")));
        assert_eq!(split_url("https://h"), Ok(("h", 443, "/")));
        assert_eq!(split_url("http://h/x"), Err(FetchError::NotHttps));
        assert_eq!(split_url("ftp://h/x"), Err(FetchError::NotHttps));
        for bad in [
            "https:///x",
            "https://u@h/x",
            "https://h:99999/x",
            "https://h/a b",
            "https://h/#f",
        ] {
            assert_eq!(split_url(bad), Err(FetchError::BadUrl), "{bad}");
        }
    }

    #[test]
    fn answers() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(parse_response(ok, 10, false), Ok(b"abc".to_vec()));
        assert!(complete(ok, 10).unwrap().is_some());
        assert!(
            complete(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 10)
                .unwrap()
                .is_none()
        );
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked, 10, true), Ok(b"abcde".to_vec()));
        assert_eq!(
            parse_response(chunked, 4, true),
            Err(FetchError::Oversize(4))
        );
        let close = b"HTTP/1.0 200 OK\r\n\r\nbody";
        assert_eq!(parse_response(close, 10, true), Ok(b"body".to_vec()));
        assert_eq!(parse_response(close, 3, true), Err(FetchError::Oversize(3)));
    }

    #[test]
    fn refused_answers() {
        let cases: [(&[u8], FetchError); 7] = [
            (
                b"HTTP/1.1 302 Found\r\nLocation: https://evil/\r\n\r\n",
                FetchError::Redirect(302),
            ),
            (b"HTTP/1.1 404 Not Found\r\n\r\n", FetchError::Status(404)),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
                FetchError::Oversize(10),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                FetchError::BadResponse("conflicting Content-Length"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                FetchError::BadResponse("unsupported Transfer-Encoding"),
            ),
            (
                b"SIP/2.0 200 OK\r\n\r\n",
                FetchError::BadResponse("no HTTP/1.x status line"),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                FetchError::BadResponse("bad chunked body"),
            ),
        ];
        for (answer, want) in cases {
            assert_eq!(
                parse_response(answer, 10, true),
                Err(want.clone()),
                "{want}"
            );
        }
        assert_eq!(
            complete(&[b'x'; 17 * 1024], 10),
            Err(FetchError::BadResponse("headers too long"))
        );
    }
}
