pub mod decrypt;
pub mod fastcms;
pub mod fastenv;
pub mod parse;
pub mod restore;
pub mod verdict;
pub mod verify;
