//! Writes a stream of distinct protected SIP messages for the verify and decrypt benchmarks
//! (scripts/bench/verify.sh, scripts/bench/decrypt.sh), using the library directly so the
//! benchmarks need no other tool.
//!
//! Usage: sipsec-bench-messages signed|encrypted|sign-rate STORE AOR COUNT > FILE
//! `signed`: the sip form (a signed message/sip copy with a current Date) signed by AOR's
//! identity in STORE, its chain embedded. `encrypted`: an SDP body enveloped (AES-128-CBC,
//! RSA-OAEP) to AOR's certificate in STORE. `sign-rate`: no messages, but the bare signing rate
//! of AOR's identity: COUNT CMS signatures of one such message/sip copy, and the signatures per
//! CPU second of this thread printed (scripts/bench/live.sh holds a relay's CPU seconds against
//! it; CPU time, unlike wall time, is not stretched by other work on a shared machine).

use sipsec::crypto::{encrypt, sign, CmsEncryptOptions, CmsSignOptions, Signer};
use sipsec::store::Store;
use sipsec::uri::Aor;
use std::io::Write;

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n\
c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0 8 97\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:97 iLBC/8000\r\na=sendrecv\r\n";

/// Where the signed messages go: the call centre's group.
const CALL_CENTRE: &str = "support@callcentre.example";

/// The head of request `i` from `from` to `to`.
fn head(i: usize, from: &Aor, to: &str, date: &str) -> String {
    format!(
        "INVITE sip:{to} SIP/2.0\r\n\
         Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK{i:x}a\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}>;tag={i:x}f\r\nTo: <sip:{to}>\r\n\
         Call-ID: {i:x}@atlanta.example.com\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@192.0.2.101;transport=tcp>\r\nDate: {date}\r\n"
    )
}

fn message(head: &str, ct: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "{head}Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    m.extend_from_slice(body);
    m
}

fn rfc1123_now() -> String {
    let now = openssl::asn1::Asn1Time::days_from_now(0).expect("time");
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    // Asn1Time prints `Nov 26 18:00:00 2026 GMT`.
    let text = now.to_string();
    let p: Vec<&str> = text.split_whitespace().collect();
    format!(
        "{}, {:0>2} {} {} {} GMT",
        days[((secs / 86_400) % 7) as usize],
        p[1],
        p[0],
        p[3],
        p[2]
    )
}

fn thread_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `t` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kind, store, aor, count] = &args[..] else {
        anyhow::bail!("usage: sipsec-bench-messages signed|encrypted|sign-rate STORE AOR COUNT");
    };
    let store = Store::open(std::path::Path::new(store))?;
    let aor = Aor::parse(aor).map_err(|e| anyhow::anyhow!("{e}"))?;
    let count: usize = count.parse()?;
    let date = rfc1123_now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut sdp_entity = b"Content-Type: application/sdp\r\n\r\n".to_vec();
    sdp_entity.extend_from_slice(SDP.as_bytes());
    let signer = || -> anyhow::Result<Signer> {
        let id = store.signing_identity(&aor)?;
        Ok(Signer {
            cert: id.cert,
            key: id.key,
            chain: id.chain,
        })
    };
    let copy = |i: usize| {
        let mut e = b"Content-Type: message/sip\r\n\r\n".to_vec();
        e.extend_from_slice(&message(
            &head(i, &aor, CALL_CENTRE, &date),
            "application/sdp",
            SDP.as_bytes(),
        ));
        e
    };
    match kind.as_str() {
        "signed" => {
            let signer = signer()?;
            for i in 0..count {
                let h = head(i, &aor, CALL_CENTRE, &date);
                let e = copy(i);
                let sig = sign(&e, &signer, &CmsSignOptions::default())?;
                let mut body = b"--b1\r\n".to_vec();
                body.extend_from_slice(&e);
                body.extend_from_slice(
                    b"\r\n--b1\r\nContent-Type: application/pkcs7-signature\r\n\r\n",
                );
                body.extend_from_slice(&sig);
                body.extend_from_slice(b"\r\n--b1--\r\n");
                let ct = "multipart/signed;protocol=\"application/pkcs7-signature\";micalg=sha-256;boundary=b1";
                out.write_all(&message(&h, ct, &body))?;
            }
        }
        "sign-rate" => {
            let signer = signer()?;
            let e = copy(0);
            let start = thread_cpu_seconds();
            for _ in 0..count {
                std::hint::black_box(sign(&e, &signer, &CmsSignOptions::default())?);
            }
            writeln!(out, "{:.1}", count as f64 / (thread_cpu_seconds() - start))?;
        }
        "encrypted" => {
            // To the recipient itself: sipsec-decrypt opens only messages addressed to an
            // identity its store serves.
            let caller =
                Aor::parse("alice@atlanta.example.com").map_err(|e| anyhow::anyhow!("{e}"))?;
            let to = aor.to_string();
            let cert = store
                .recipient_cert(&aor)
                .ok_or_else(|| anyhow::anyhow!("no certificate for {aor}"))?;
            for i in 0..count {
                let der = encrypt(
                    &sdp_entity,
                    std::slice::from_ref(&cert),
                    &CmsEncryptOptions::default(),
                )?;
                let ct = "application/pkcs7-mime;smime-type=enveloped-data;name=smime.p7m";
                out.write_all(&message(&head(i, &caller, &to, &date), ct, &der))?;
            }
        }
        other => anyhow::bail!("unknown kind {other}"),
    }
    out.flush()?;
    Ok(())
}
