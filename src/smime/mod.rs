pub mod decrypt;
pub mod parse;
pub mod restore;
pub mod verdict;
pub mod verify;
