//! STIR/SHAKEN: the Identity header of RFC 8224 carrying PASSporTs (RFC 8225) with the SHAKEN
//! (RFC 8588) and div (RFC 8946) extensions, signed with STI certificates whose TNAuthList
//! (RFC 8226) says which numbers they may vouch for.
//!
//! Sans-IO except [`fetch`] and [`x5u`] (HTTPS and the cache directory), which stand behind
//! the [`CredentialSource`] trait:
//! - [`tn`]: telephone-number and URI identities (RFC 8224 §8).
//! - [`b64url`], [`jws`]: base64url and ES256 with raw `R||S` signatures.
//! - [`passport`]: typed header and claims, deterministic JSON.
//! - [`header`]: the Identity header (full and compact forms), the RFC 9410 Reason value.
//! - [`tnauth`]: the TNAuthList extension.
//! - [`parties`]: who calls whom, read from a request.
//! - [`sign`]: the authentication service; [`verify`]: the verification service; [`report`]:
//!   its verdict in headers and JSON, required attestation, RFC 9410 Reason headers.
//! - [`sticert`]: STI certificates and CSRs.
//! - [`credential`], [`x5u`], [`fetch`]: the certificates x5u URLs name.

pub mod b64url;
pub mod credential;
pub mod fetch;
pub mod header;
pub mod jws;
pub mod parties;
pub mod passport;
pub mod report;
pub mod sign;
pub mod sticert;
#[cfg(test)]
pub(crate) mod testkit;
pub mod tn;
pub mod tnauth;
pub mod verify;
pub mod x5u;

pub use credential::{Credential, CredentialError, CredentialSource};
pub use parties::CallParties;
pub use passport::{Attestation, Passport, Ppt};
pub use sign::{Assertion, Form, StiSigner};
pub use tn::Party;
pub use tnauth::{TnAuthList, TnEntry};
pub use verify::{ResponseCode, StiPolicy, StiVerifier, StirOutcome, StirVerdict};
pub use x5u::X5uResolver;
