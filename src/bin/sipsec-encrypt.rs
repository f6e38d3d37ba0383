//! sipsec-encrypt: see `sipsec::cli::encrypt`.

use clap::Parser;
use sipsec::cli::encrypt::{run, EncryptCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(&EncryptCli::parse()).into()
}
