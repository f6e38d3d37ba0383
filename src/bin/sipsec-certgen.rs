//! sipsec-certgen: see `sipsec::cli::certgen`.

use clap::Parser;
use sipsec::cli::certgen::{run, CertgenCli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = CertgenCli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run(&cli, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipsec-certgen: {:#}", anyhow::Error::from(e));
            ExitCode::from(1)
        }
    }
}
