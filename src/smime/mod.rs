pub mod decrypt;
pub mod fastcms;
pub mod parse;
pub mod restore;
pub mod verdict;
pub mod verify;
