//! sipsec-certgen: see `sipsec::cli::certgen`.

use clap::Parser;
use sipsec::cli::certgen::{run, CertgenCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(&CertgenCli::parse()).into()
}
