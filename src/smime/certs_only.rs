//! 493 Undecipherable with the respondent's certificate (RFC 3261 §23.2): a request encrypted
//! to a key the respondent does not hold is answered with its certificate in an
//! `application/pkcs7-mime;smime-type=certs-only` body, so that the sender can encrypt again to
//! the right key. Without a certificate the 493 says that S/MIME encryption is not usable.

use crate::message::Message;
use crate::HeaderKind;
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::pkey::{PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::X509;

/// A degenerate CMS SignedData (no signers) carrying `certs`, DER-encoded.
pub fn certs_only_der(certs: &[X509]) -> Result<Vec<u8>, ErrorStack> {
    let mut stack = Stack::new()?;
    for c in certs {
        stack.push(c.clone())?;
    }
    // Without a signer OpenSSL makes a certificates-only structure; left partial, it has no
    // content to finish (`openssl crl2pkcs7 -nocrl` makes the same).
    CmsContentInfo::sign(
        None,
        None::<&PKeyRef<Private>>,
        Some(&stack),
        None,
        CMSOptions::BINARY | CMSOptions::PARTIAL,
    )?
    .to_der()
}

/// Turns `response` (a 493 made for the request) into one carrying `cert` as a certs-only
/// body. Without a certificate it is left as it is.
pub fn attach_certificate(response: &mut Message, cert: Option<&X509>) -> Result<(), String> {
    let Some(cert) = cert else {
        return Ok(());
    };
    let der = certs_only_der(std::slice::from_ref(cert)).map_err(|e| e.to_string())?;
    response
        .set_header(
            HeaderKind::ContentType,
            b"application/pkcs7-mime;smime-type=certs-only;name=smime.p7c",
        )
        .and_then(|()| {
            response.set_header(
                HeaderKind::ContentDisposition,
                b"attachment;handling=optional;filename=smime.p7c",
            )
        })
        .and_then(|()| response.set_body(&der))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testkit;
    use openssl::pkcs7::Pkcs7;

    #[test]
    fn certs_only_body_carries_the_certificate_and_no_signer() {
        let (cert, _key) = testkit::Ca::new(testkit::KeyKind::P256)
            .leaf(testkit::KeyKind::P256, "sip:alice@example.com");
        let mut response = Message::parse(
            &b"SIP/2.0 493 Undecipherable\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        attach_certificate(&mut response, Some(&cert)).unwrap();
        assert_eq!(
            response.value(HeaderKind::ContentType).unwrap(),
            b"application/pkcs7-mime;smime-type=certs-only;name=smime.p7c"
        );
        let p7 = Pkcs7::from_der(response.body()).unwrap();
        let signed = p7.signed().expect("signed-data");
        let certs = signed.certificates().expect("certificates");
        assert_eq!(certs.len(), 1);
        assert_eq!(
            certs.get(0).unwrap().to_der().unwrap(),
            cert.to_der().unwrap()
        );
        let again = Message::parse(response.as_bytes().to_vec()).unwrap();
        assert_eq!(again.body(), response.body());
    }

    #[test]
    fn without_a_certificate_the_493_is_left_bare() {
        let mut response = Message::parse(
            &b"SIP/2.0 493 Undecipherable\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let before = response.as_bytes().to_vec();
        attach_certificate(&mut response, None).unwrap();
        assert_eq!(response.as_bytes(), &before[..]);
    }
}
