//! S/MIME bodies of SIP messages: building the wrapping forms (`build`) and the cleaned inner
//! copy of a message that goes inside them (`inner`).

pub mod build;
pub mod inner;
