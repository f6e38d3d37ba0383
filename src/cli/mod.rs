//! The command-line layer shared by every tool: common options, the filter driver, exit codes.
//!
//! PLACEHOLDER: completed by the filter-contract work.

pub mod certgen;

use clap::Args;
use std::path::PathBuf;

/// Options every sipsec command takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more (repeat for more detail).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The certificate store option.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Certificate store directory.
    #[arg(long, env = "SIPSEC_STORE", value_name = "DIR")]
    pub store: PathBuf,
}
