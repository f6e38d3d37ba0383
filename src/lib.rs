//! sipsec: proxy-based S/MIME security for SIP (RFC 3261 §23, RFC 3893, RFC 8591).
//!
//! The map of the crate:
//! - [`error`]: the parse error every layer that reads SIP bytes shares.
//! - [`message`]: the byte-exact message model: raw bytes plus an index; edits splice.
//! - [`framing`]: finding messages in a byte stream (TCP-like) or a datagram.
//! - [`mime`]: multipart bodies (parsed as an index, built with a verified boundary),
//!   `message/sip` and `message/sipfrag` bodies.
//! - [`capture`]: pcap/pcapng reading, link layers, IP defragmentation, TCP reassembly, pcap writing.
//! - [`uri`]: SIP, SIPS and tel URIs; the address-of-record identity key.
//! - [`filter`]: the filter contract: per-message outcomes, the driver, the control header.
//! - [`store`]: the certificate store: identities, groups, anchors, CA, CRLs, on-demand issuance.
//! - [`crypto`]: the CMS layer over bytes: sign/verify (integrity), trust, encrypt/decrypt.
//! - [`header`]: typed header views (addresses, Via, CSeq, auth, content, Date) and
//!   `Message::validate`.
//! - [`identity`]: STIR/SHAKEN Identity headers: PASSporTs, STI certificates, sign and verify.
//! - [`smime`]: S/MIME bodies of SIP messages: the wrapping forms and the cleaned inner copy;
//!   recognising the forms, verifying (each check apart, marks, replay cache) and decrypting
//!   (key by recipient info, the message restored).
//! - [`select`]: `--select` expressions (which messages a tool acts on).
//! - [`sign`], [`encrypt`]: the filters that wrap messages (signature, envelope).
//! - [`cache`]: the time-bounded cache of identities and certificates.
//! - [`relay`]: the stateless proxy and registrar: sans-IO routing core, stdio driver, sockets.
//! - [`cli`]: options shared by every tool, the filter driver, exit codes.

pub mod cache;
pub mod capture;
pub mod cli;
pub mod crypto;
pub mod encrypt;
pub mod error;
pub mod filter;
pub mod framing;
pub mod header;
pub mod identity;
pub mod message;
pub mod mime;
pub mod relay;
pub mod select;
pub mod sign;
pub mod smime;
pub mod store;
pub mod uri;

pub use error::{ParseError, ParseErrorKind};
pub use message::{HeaderKind, Message};

#[cfg(feature = "mimalloc")]
mod alloc;

/// A feature (on by default) so that a program embedding the library can keep its own
/// allocator; the fuzzers turn it off, as their address sanitizer must see every allocation.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: alloc::MiMalloc = alloc::MiMalloc;
