use clap::Parser;
use sipsec::cli::verify::{run, VerifyCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(&VerifyCli::parse()).into()
}
