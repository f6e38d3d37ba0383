use clap::Parser;
use sipsec::cli::decrypt::{run, DecryptCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    run(&DecryptCli::parse()).into()
}
