//! The four tools, each a [`Filter`](crate::filter::Filter) over SIP messages: [`sign`] and
//! [`encrypt`] wrap a message (signature, envelope), [`verify`] and [`decrypt`] unwrap it
//! (checks and marks, the protected message restored). [`select`] chooses which messages a tool
//! acts on; [`cache`] keeps the identities and certificates a tool looked up, for a bounded time.

pub mod cache;
pub mod decrypt;
pub mod encrypt;
pub mod select;
pub mod sign;
pub mod stir;
pub mod verify;

use crate::filter::control;
use crate::smime::inner::InnerPolicy;

/// sipsec's own headers, which never go inside a signature or an envelope: the filter
/// contract's control header, and the verifier's marks (inside, a mark of ours would look like
/// the sender's own claim).
const OWN_HEADERS: [&str; 2] = [control::HEADER, verify::verdict::VERDICT_HEADER];

/// The inner-copy policy a wrapping tool applies: sipsec's own headers, then the deployment's.
fn inner_policy(deployment: &InnerPolicy) -> InnerPolicy {
    deployment.with_own(&OWN_HEADERS)
}
