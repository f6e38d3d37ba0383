//! S/MIME bodies of SIP messages: building the wrapping forms (`build`) and the cleaned inner
//! copy of a message that goes inside them (`inner`); recognising the forms (`parse`), verifying
//! each check apart with marks and a replay cache (`verify`, `verdict`), decrypting with the key
//! the recipient infos name (`decrypt`), restoring what an inner copy protected (`restore`), and
//! the fast paths for the common signature and envelope (`fastcms`, `fastenv`).

pub mod build;
pub mod decrypt;
pub mod fastcms;
pub mod fastenv;
pub mod inner;
pub mod parse;
pub mod restore;
pub mod verdict;
pub mod verify;
