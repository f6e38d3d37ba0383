//! sipsec: proxy-based S/MIME security for SIP (RFC 3261 §23, RFC 3893, RFC 8591).
//!
//! The map of the crate:
//! - [`error`]: the parse error every layer that reads SIP bytes shares.
//! - [`message`]: the byte-exact message model: raw bytes plus an index; edits splice.
//! - [`framing`]: finding messages in a byte stream (TCP-like) or a datagram.
//! - [`uri`]: SIP, SIPS and tel URIs; the address-of-record identity key.
//! - [`header`]: typed header views (addresses, Via, CSeq, auth, content, Date) and
//!   `Message::validate`.
//! - [`cli`]: options shared by every tool, the filter driver, exit codes.

pub mod cli;
pub mod error;
pub mod framing;
pub mod header;
pub mod message;
pub mod uri;

pub use error::{ParseError, ParseErrorKind};
pub use message::{HeaderKind, Message};
