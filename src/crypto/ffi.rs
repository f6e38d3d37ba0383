//! The only `unsafe` code of the crypto layer: OpenSSL 3.0 CMS and store functions the `openssl`
//! crate does not wrap (crates.md §2). Every function here takes and returns safe types; the
//! pointers never leave this file.
//!
//! Ownership rules used throughout (OpenSSL 3.0 manual pages):
//! - `get0` functions return pointers owned by their parent object: valid while the parent is
//!   borrowed, never freed here. We copy what we need (`to_owned` up-refs certificates).
//! - `get1` functions and `CMS_get0_signers` return a new stack that we free; for `get1` the
//!   elements are ours too (`sk_X509_pop_free`), for `get0_signers` they are not (`sk_free`).

use std::ffi::{c_int, c_long, c_uint, c_void};
use std::ptr;

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::asn1::{Asn1IntegerRef, Asn1ObjectRef, Asn1OctetStringRef, Asn1TimeRef};
use openssl::cms::{CMSOptions, CmsContentInfo, CmsContentInfoRef};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::store::X509StoreBuilderRef;
use openssl::x509::{X509CrlRef, X509NameRef, X509Ref, X509};
use openssl_sys as sys;

/// `CMS_SignerInfo`, `CMS_RecipientInfo` and `CMS_RecipientEncryptedKey` are opaque to us.
type Opaque = c_void;

const CMS_RECIPINFO_TRANS: c_int = 0;
const CMS_RECIPINFO_AGREE: c_int = 1;

extern "C" {
    fn X509_check_ca(x: *mut sys::X509) -> c_int;
    fn CMS_add1_signer(
        cms: *mut sys::CMS_ContentInfo,
        signer: *mut sys::X509,
        pk: *mut sys::EVP_PKEY,
        md: *const sys::EVP_MD,
        flags: c_uint,
    ) -> *mut Opaque;
    fn CMS_final(
        cms: *mut sys::CMS_ContentInfo,
        data: *mut sys::BIO,
        dcont: *mut sys::BIO,
        flags: c_uint,
    ) -> c_int;
    fn CMS_get0_signers(cms: *mut sys::CMS_ContentInfo) -> *mut sys::stack_st_X509;
    fn CMS_get1_certs(cms: *mut sys::CMS_ContentInfo) -> *mut sys::stack_st_X509;
    fn CMS_get0_type(cms: *const sys::CMS_ContentInfo) -> *const sys::ASN1_OBJECT;
    fn CMS_is_detached(cms: *mut sys::CMS_ContentInfo) -> c_int;
    fn CMS_get0_SignerInfos(cms: *mut sys::CMS_ContentInfo) -> *mut sys::OPENSSL_STACK;
    fn CMS_SignerInfo_get0_algs(
        si: *mut Opaque,
        pk: *mut *mut sys::EVP_PKEY,
        signer: *mut *mut sys::X509,
        pdig: *mut *mut sys::X509_ALGOR,
        psig: *mut *mut sys::X509_ALGOR,
    );
    fn CMS_signed_get_attr_by_NID(si: *const Opaque, nid: c_int, lastpos: c_int) -> c_int;
    fn CMS_signed_add1_attr_by_NID(
        si: *mut Opaque,
        nid: c_int,
        atrtype: c_int,
        bytes: *const c_void,
        len: c_int,
    ) -> c_int;
    fn CMS_signed_get_attr(si: *const Opaque, loc: c_int) -> *mut sys::X509_ATTRIBUTE;
    fn X509_ATTRIBUTE_get0_data(
        attr: *mut sys::X509_ATTRIBUTE,
        idx: c_int,
        atrtype: c_int,
        data: *mut c_void,
    ) -> *mut c_void;
    fn CMS_add1_recipient_cert(
        cms: *mut sys::CMS_ContentInfo,
        recip: *mut sys::X509,
        flags: c_uint,
    ) -> *mut Opaque;
    fn CMS_RecipientInfo_get0_pkey_ctx(ri: *mut Opaque) -> *mut sys::EVP_PKEY_CTX;
    fn CMS_get0_RecipientInfos(cms: *mut sys::CMS_ContentInfo) -> *mut sys::OPENSSL_STACK;
    fn CMS_RecipientInfo_type(ri: *mut Opaque) -> c_int;
    fn CMS_RecipientInfo_ktri_get0_signer_id(
        ri: *mut Opaque,
        keyid: *mut *mut sys::ASN1_OCTET_STRING,
        issuer: *mut *mut sys::X509_NAME,
        sno: *mut *mut sys::ASN1_INTEGER,
    ) -> c_int;
    fn CMS_RecipientInfo_kari_get0_reks(ri: *mut Opaque) -> *mut sys::OPENSSL_STACK;
    fn CMS_RecipientEncryptedKey_get0_id(
        rek: *mut Opaque,
        keyid: *mut *mut sys::ASN1_OCTET_STRING,
        tm: *mut *mut sys::ASN1_GENERALIZEDTIME,
        other: *mut *mut Opaque,
        issuer: *mut *mut sys::X509_NAME,
        sno: *mut *mut sys::ASN1_INTEGER,
    ) -> c_int;
    fn X509_STORE_add_crl(store: *mut sys::X509_STORE, crl: *mut sys::X509_CRL) -> c_int;
}

/// A read-only memory BIO over `data`, freed on drop.
struct MemBio<'a> {
    bio: *mut sys::BIO,
    _data: std::marker::PhantomData<&'a [u8]>,
}

impl<'a> MemBio<'a> {
    fn new(data: &'a [u8]) -> Result<MemBio<'a>, ErrorStack> {
        let len = c_int::try_from(data.len()).map_err(|_| ErrorStack::get())?;
        // SAFETY: the BIO reads `len` bytes from `data`, which outlives it (lifetime 'a); a
        // mem-buf BIO is read-only and never writes through the pointer.
        let bio = unsafe { sys::BIO_new_mem_buf(data.as_ptr().cast(), len) };
        if bio.is_null() {
            return Err(ErrorStack::get());
        }
        Ok(MemBio {
            bio,
            _data: std::marker::PhantomData,
        })
    }
}

impl Drop for MemBio<'_> {
    fn drop(&mut self) {
        // SAFETY: `bio` came from BIO_new_mem_buf and is freed exactly once.
        unsafe { sys::BIO_free_all(self.bio) };
    }
}

fn cvt_p<T>(p: *mut T) -> Result<*mut T, ErrorStack> {
    if p.is_null() {
        Err(ErrorStack::get())
    } else {
        Ok(p)
    }
}

fn cvt(r: c_int) -> Result<(), ErrorStack> {
    if r <= 0 {
        Err(ErrorStack::get())
    } else {
        Ok(())
    }
}

/// Copies the certificates of an X509 stack, then frees the stack; `owned` says whether the
/// elements belong to the stack (get1) or to their parent (get0).
///
/// # Safety
/// `sk` must be null or a valid `STACK_OF(X509)` that the caller owns.
unsafe fn take_cert_stack(sk: *mut sys::stack_st_X509, owned: bool) -> Vec<X509> {
    if sk.is_null() {
        return Vec::new();
    }
    let st = sk.cast::<sys::OPENSSL_STACK>();
    let n = sys::OPENSSL_sk_num(st).max(0);
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let x = sys::OPENSSL_sk_value(st, i).cast::<sys::X509>();
        if !x.is_null() {
            out.push(X509Ref::from_ptr(x).to_owned());
        }
        if owned && !x.is_null() {
            sys::X509_free(x);
        }
    }
    sys::OPENSSL_sk_free(st);
    out
}

/// Adds one signer with an explicit digest to a CMS made with `CMSOptions::PARTIAL`, then
/// computes the signature over `data` (`CMS_add1_signer` + `CMS_final`): the only way to
/// choose the digest, since `CMS_sign` always uses the key's default. `capabilities` is the DER
/// of the SMIMECapabilities attribute's value.
pub(crate) fn add_signer_and_finalise(
    cms: &mut CmsContentInfoRef,
    cert: &X509Ref,
    key: &PKeyRef<Private>,
    md: MessageDigest,
    data: &[u8],
    capabilities: &[u8],
    flags: CMSOptions,
) -> Result<(), ErrorStack> {
    let bio = MemBio::new(data)?;
    // SAFETY: all pointers come from live borrowed objects; CMS_add1_signer up-refs the
    // certificate and key it keeps, and returns a SignerInfo owned by `cms` (not freed here);
    // CMS_signed_add1_attr_by_NID copies the bytes. CMS_final only reads from the BIO.
    unsafe {
        // Our SMIMECapabilities list (`capabilities`, DER) instead of the one CMS_add1_signer
        // builds, which offers RC2 and single DES and omits AES-GCM; made by the caller once,
        // as building OpenSSL's looked up algorithms under global locks for every signature.
        let si = cvt_p(CMS_add1_signer(
            cms.as_ptr(),
            cert.as_ptr(),
            key.as_ptr(),
            md.as_ptr(),
            (flags | CMSOptions::NOSMIMECAP).bits(),
        ))?;
        cvt(CMS_signed_add1_attr_by_NID(
            si,
            sys::NID_SMIMECapabilities,
            sys::V_ASN1_SEQUENCE,
            capabilities.as_ptr().cast(),
            c_int::try_from(capabilities.len()).map_err(|_| ErrorStack::get())?,
        ))?;
        cvt(CMS_final(
            cms.as_ptr(),
            bio.bio,
            ptr::null_mut(),
            flags.bits(),
        ))
    }
}

/// Decodes the CMS ContentInfo at the front of `der` (DER or BER, as OpenSSL reads it) and says
/// how many octets it took, so that the caller can refuse what follows it: OpenSSL's own
/// decoder stops at the end of the structure and ignores the rest.
pub(crate) fn cms_from_der_prefix(der: &[u8]) -> Result<(CmsContentInfo, usize), ErrorStack> {
    let len = c_long::try_from(der.len()).map_err(|_| ErrorStack::get())?;
    let mut at = der.as_ptr();
    // SAFETY: d2i reads at most `len` octets from `at` (a live borrow) and advances `at` past
    // what it decoded; the returned object is new and owned by the CmsContentInfo made here.
    unsafe {
        let cms = cvt_p(sys::d2i_CMS_ContentInfo(ptr::null_mut(), &mut at, len))?;
        let used = at.offset_from(der.as_ptr());
        Ok((CmsContentInfo::from_ptr(cms), used as usize))
    }
}

/// Whether `cert` may issue certificates (X509_check_ca: basicConstraints cA, or a v1 root).
pub(crate) fn is_ca(cert: &X509Ref) -> bool {
    // SAFETY: X509_check_ca only reads the certificate (it caches its decoded extensions, as
    // every OpenSSL getter does, under OpenSSL's own lock).
    unsafe { X509_check_ca(cert.as_ptr()) != 0 }
}

/// Adds recipients to a CMS made with `CMSOptions::PARTIAL` and encrypts `data`
/// (`CMS_add1_recipient_cert` + `CMS_final`). RSA recipients get OAEP padding when `oaep` is
/// set, through the recipient's key context (`CMS_KEY_PARAM`), as `openssl cms -keyopt` does.
pub(crate) fn add_recipients_and_finalise(
    cms: &mut CmsContentInfoRef,
    recipients: &[X509],
    oaep: bool,
    data: &[u8],
    flags: CMSOptions,
) -> Result<(), ErrorStack> {
    let bio = MemBio::new(data)?;
    for cert in recipients {
        let is_rsa = cert.public_key()?.rsa().is_ok();
        let rflags = if oaep && is_rsa {
            flags | CMSOptions::KEY_PARAM
        } else {
            flags
        };
        // SAFETY: CMS_add1_recipient_cert up-refs the certificate; the RecipientInfo and its
        // key context stay owned by `cms`. With CMS_KEY_PARAM the context exists and is
        // initialised for encryption, so setting the padding on it is valid.
        unsafe {
            let ri = cvt_p(CMS_add1_recipient_cert(
                cms.as_ptr(),
                cert.as_ptr(),
                rflags.bits(),
            ))?;
            if oaep && is_rsa {
                let pctx = cvt_p(CMS_RecipientInfo_get0_pkey_ctx(ri))?;
                cvt(sys::EVP_PKEY_CTX_set_rsa_padding(
                    pctx,
                    sys::RSA_PKCS1_OAEP_PADDING,
                ))?;
            }
        }
    }
    // SAFETY: as above; CMS_final only reads from the BIO.
    unsafe {
        cvt(CMS_final(
            cms.as_ptr(),
            bio.bio,
            ptr::null_mut(),
            flags.bits(),
        ))
    }
}

/// The content type of a ContentInfo (`CMS_get0_type`): NID (UNDEF when unknown) and dotted
/// OID text.
pub(crate) fn content_type(cms: &CmsContentInfoRef) -> (Nid, String) {
    // SAFETY: the object is owned by `cms`, which is borrowed for the whole use.
    unsafe {
        let obj = CMS_get0_type(cms.as_ptr());
        if obj.is_null() {
            return (Nid::UNDEF, String::new());
        }
        let obj = Asn1ObjectRef::from_ptr(obj.cast_mut());
        (obj.nid(), oid_text(obj))
    }
}

fn oid_text(obj: &Asn1ObjectRef) -> String {
    // Display of Asn1ObjectRef prints the long name when known; we want the number.
    let mut buf = [0u8; 128];
    // SAFETY: OBJ_obj2txt writes at most buf.len() bytes including the NUL; no_name = 1.
    let n =
        unsafe { sys::OBJ_obj2txt(buf.as_mut_ptr().cast(), buf.len() as c_int, obj.as_ptr(), 1) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether a SignedData carries no eContent (`CMS_is_detached`).
pub(crate) fn is_detached(cms: &CmsContentInfoRef) -> bool {
    // SAFETY: read-only query on a live object.
    unsafe { CMS_is_detached(cms.as_ptr()) == 1 }
}

/// Signer certificates found by the last `CMS_verify` (`CMS_get0_signers`).
pub(crate) fn signers(cms: &CmsContentInfoRef) -> Vec<X509> {
    // SAFETY: the returned stack is ours, its certificates belong to the SignerInfos.
    unsafe { take_cert_stack(CMS_get0_signers(cms.as_ptr()), false) }
}

/// Every certificate carried in the CMS (`CMS_get1_certs`).
pub(crate) fn certificates(cms: &CmsContentInfoRef) -> Vec<X509> {
    // SAFETY: get1: the stack and its up-ref'd certificates are ours.
    unsafe { take_cert_stack(CMS_get1_certs(cms.as_ptr()), true) }
}

/// What the first SignerInfo says: its digest algorithm (NID, dotted OID) and its signingTime
/// attribute as seconds since the epoch.
pub(crate) struct SignerInfoFacts {
    pub digest: (Nid, String),
    pub signing_time: Option<i64>,
}

pub(crate) fn first_signer_facts(cms: &CmsContentInfoRef) -> Option<SignerInfoFacts> {
    // SAFETY: every pointer below is a get0 view into `cms`, borrowed throughout; we only read.
    unsafe {
        let sinfos = CMS_get0_SignerInfos(cms.as_ptr());
        if sinfos.is_null() || sys::OPENSSL_sk_num(sinfos) < 1 {
            return None;
        }
        let si = sys::OPENSSL_sk_value(sinfos, 0);
        if si.is_null() {
            return None;
        }
        let mut pdig: *mut sys::X509_ALGOR = ptr::null_mut();
        CMS_SignerInfo_get0_algs(
            si,
            ptr::null_mut(),
            ptr::null_mut(),
            &mut pdig,
            ptr::null_mut(),
        );
        let digest = if pdig.is_null() {
            (Nid::UNDEF, String::new())
        } else {
            let mut obj: *const sys::ASN1_OBJECT = ptr::null();
            sys::X509_ALGOR_get0(&mut obj, ptr::null_mut(), ptr::null_mut(), pdig);
            if obj.is_null() {
                (Nid::UNDEF, String::new())
            } else {
                let obj = Asn1ObjectRef::from_ptr(obj.cast_mut());
                (obj.nid(), oid_text(obj))
            }
        };
        let mut signing_time = None;
        let loc = CMS_signed_get_attr_by_NID(si, sys::NID_pkcs9_signingTime, -1);
        if loc >= 0 {
            let attr = CMS_signed_get_attr(si, loc);
            if !attr.is_null() {
                for ty in [sys::V_ASN1_UTCTIME, sys::V_ASN1_GENERALIZEDTIME] {
                    let t = X509_ATTRIBUTE_get0_data(attr, 0, ty, ptr::null_mut());
                    if !t.is_null() {
                        signing_time = super::epoch_seconds(Asn1TimeRef::from_ptr(t.cast()));
                        break;
                    }
                }
            }
        }
        Some(SignerInfoFacts {
            digest,
            signing_time,
        })
    }
}

/// How a RecipientInfo names its recipient certificate.
pub(crate) enum RawRecipientId {
    IssuerSerial {
        issuer_der: Vec<u8>,
        serial: Vec<u8>,
    },
    SubjectKeyId(Vec<u8>),
}

/// Recipient identifiers of every key-transport and key-agreement RecipientInfo.
pub(crate) fn recipient_ids(cms: &CmsContentInfoRef) -> Vec<RawRecipientId> {
    let mut out = Vec::new();
    // SAFETY: get0 views into `cms`, read only while it is borrowed. The id getters fill the
    // out-pointers with objects owned by the RecipientInfo (or leave them null).
    unsafe {
        let ris = CMS_get0_RecipientInfos(cms.as_ptr());
        if ris.is_null() {
            return out;
        }
        for i in 0..sys::OPENSSL_sk_num(ris).max(0) {
            let ri = sys::OPENSSL_sk_value(ris, i);
            if ri.is_null() {
                continue;
            }
            match CMS_RecipientInfo_type(ri) {
                CMS_RECIPINFO_TRANS => {
                    let (mut k, mut n, mut s) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
                    if CMS_RecipientInfo_ktri_get0_signer_id(ri, &mut k, &mut n, &mut s) > 0 {
                        out.extend(raw_id(k, n, s));
                    }
                }
                CMS_RECIPINFO_AGREE => {
                    let reks = CMS_RecipientInfo_kari_get0_reks(ri);
                    if reks.is_null() {
                        continue;
                    }
                    for j in 0..sys::OPENSSL_sk_num(reks).max(0) {
                        let rek = sys::OPENSSL_sk_value(reks, j);
                        if rek.is_null() {
                            continue;
                        }
                        let (mut k, mut n, mut s) =
                            (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
                        let (mut tm, mut other) = (ptr::null_mut(), ptr::null_mut());
                        if CMS_RecipientEncryptedKey_get0_id(
                            rek, &mut k, &mut tm, &mut other, &mut n, &mut s,
                        ) > 0
                        {
                            out.extend(raw_id(k, n, s));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// # Safety
/// Each pointer is null or valid for the duration of the call.
unsafe fn raw_id(
    keyid: *mut sys::ASN1_OCTET_STRING,
    issuer: *mut sys::X509_NAME,
    serial: *mut sys::ASN1_INTEGER,
) -> Option<RawRecipientId> {
    if !keyid.is_null() {
        let k = Asn1OctetStringRef::from_ptr(keyid);
        return Some(RawRecipientId::SubjectKeyId(k.as_slice().to_vec()));
    }
    if issuer.is_null() || serial.is_null() {
        return None;
    }
    let issuer_der = X509NameRef::from_ptr(issuer).to_der().ok()?;
    let serial = Asn1IntegerRef::from_ptr(serial).to_bn().ok()?.to_vec();
    Some(RawRecipientId::IssuerSerial { issuer_der, serial })
}

/// Adds a CRL to a store under construction (`X509_STORE_add_crl`; the crate only loads CRLs
/// from files).
pub(crate) fn store_add_crl(
    store: &mut X509StoreBuilderRef,
    crl: &X509CrlRef,
) -> Result<(), ErrorStack> {
    // SAFETY: X509_STORE_add_crl up-refs the CRL; both pointers are live borrows.
    unsafe { cvt(X509_STORE_add_crl(store.as_ptr(), crl.as_ptr())) }
}
