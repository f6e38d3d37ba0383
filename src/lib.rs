//! sipsec: proxy-based S/MIME security for SIP (RFC 3261 §23, RFC 3893, RFC 8591).
//!
//! The map of the crate, lowest layer first; a module uses only its own layer and those below.
//! - Core, byte-exact SIP:
//!   - [`error`]: the parse error every layer that reads SIP bytes shares.
//!   - [`message`]: the byte-exact message model: raw bytes plus an index; edits splice.
//!   - [`framing`]: finding messages in a byte stream (TCP-like) or a datagram.
//!   - [`uri`]: SIP, SIPS and tel URIs; the address-of-record identity key.
//!   - [`header`]: typed header views (addresses, Via, CSeq, auth, content, Date) and
//!     `Message::validate`.
//!   - [`mime`]: multipart bodies (parsed as an index, built with a verified boundary),
//!     `message/sip` and `message/sipfrag` bodies.
//!   - [`clock`]: the wall clock, read in one place.
//!   - [`capture`]: pcap/pcapng reading, link layers, IP defragmentation, TCP reassembly, pcap
//!     writing.
//! - [`crypto`]: the CMS layer over bytes: sign/verify (integrity), trust, encrypt/decrypt, and
//!   the fast paths for the common signature and envelope.
//! - [`identity`]: STIR/SHAKEN Identity headers (RFC 8224, 8225, 8588, 8226, 8946): PASSporTs,
//!   STI certificates, the authentication and verification services.
//! - [`store`]: the certificate store: identities, groups, anchors, CA, CRLs, on-demand issuance.
//! - [`smime`]: the S/MIME format of SIP messages: building the wrapping forms and the cleaned
//!   inner copy, recognising the forms, restoring what an inner copy protected.
//! - [`filter`]: the filter contract: per-message outcomes, the driver, the control header.
//! - [`tool`]: the four tools as filters: sign, encrypt, verify (each check apart, marks, replay
//!   cache), decrypt (key by recipient info, the message restored); `--select` expressions.
//! - [`relay`]: the stateless proxy and registrar: sans-IO routing core, stdio driver, sockets.
//! - [`auth`]: member authentication at the relay (SIP digest), attribution of messages to
//!   members, the audit log of signatures made as a group.
//! - [`chain`]: filter chains on live traffic: sipsec's tools in process, other commands as
//!   long-lived children.
//! - [`cli`]: the command lines of the binaries: options shared by every tool, exit codes.

pub mod auth;
pub mod capture;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod filter;
pub mod framing;
pub mod header;
pub mod identity;
pub mod message;
pub mod mime;
pub mod relay;
pub mod smime;
pub mod store;
pub mod tool;
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
