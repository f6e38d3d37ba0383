//! sipsec-relay: see `sipsec::cli::relay`.

use clap::Parser;
use sipsec::cli::relay::{args_with_config, run, RelayCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match args_with_config(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sipsec-relay: {e}");
            return ExitCode::from(2);
        }
    };
    run(&RelayCli::parse_from(args)).into()
}
