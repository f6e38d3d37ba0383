//! sipsec-sign: see `sipsec::cli::sign`.

use clap::Parser;
use sipsec::cli::sign::{run, SignCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(&SignCli::parse()).into()
}
