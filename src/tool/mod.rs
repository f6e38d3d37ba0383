//! The four tools, each a [`Filter`](crate::filter::Filter) over SIP messages: [`sign`] and
//! [`encrypt`] wrap a message (signature, envelope), [`verify`] and [`decrypt`] unwrap it
//! (checks and marks, the protected message restored). [`select`] chooses which messages a tool
//! acts on; [`cache`] keeps the identities and certificates a tool looked up, for a bounded time.

pub mod cache;
pub mod decrypt;
pub mod encrypt;
pub mod select;
pub mod sign;
pub mod verify;
