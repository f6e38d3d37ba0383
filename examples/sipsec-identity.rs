//! The identity filter: the filter contract's test tool and the yardstick of the driver's
//! overhead. It passes every message on unchanged, except that for testing it fails on a
//! message carrying `X-Test-Fail: reason` and changes one carrying `X-Test-Change`.

use clap::Parser;
use sipsec::cli::{run_filter, CommonArgs, FilterArgs};
use sipsec::filter::{FailMode, Failure, Filter, MessageContext, Processed, Verdict};
use sipsec::Message;
use std::process::ExitCode;

/// Pass SIP messages through the sipsec filter driver unchanged.
#[derive(Parser)]
#[command(name = "sipsec-identity", version)]
struct Cli {
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    common: CommonArgs,
}

struct Identity;

impl Filter for Identity {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn default_fail_mode(&self) -> FailMode {
        FailMode::Open
    }

    fn process(&self, message: &Message, context: &MessageContext) -> Result<Processed, Failure> {
        let mut verdict = Verdict::new();
        if let Some(who) = &context.attribution {
            verdict.set("attribution_seen", who.to_string());
        }
        if let Some(reason) = message.values_named("X-Test-Fail").next() {
            return Err(Failure::new(String::from_utf8_lossy(reason)));
        }
        if message.values_named("X-Test-Change").next().is_some() {
            let mut changed = message.clone();
            changed.remove_named("X-Test-Change");
            verdict.set("changed", true);
            return Ok(Processed::changed(changed, verdict));
        }
        Ok(Processed::unchanged(verdict))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    run_filter(&Identity, &cli.filter, &cli.common).into()
}
