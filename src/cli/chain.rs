//! A relay's filter chain from its text (`--outbound`, `--inbound`): a stage naming one of
//! sipsec's tools (`sipsec-sign`, `sipsec-encrypt`, `sipsec-verify`, `sipsec-decrypt`, by that
//! bare name) runs in process with the options it is given, exactly as the command would; any
//! other command runs as a long-lived child speaking the framed stream.

use super::{decrypt, encrypt, sign, verify, FilterArgs};
use crate::chain::child::ChildStage;
use crate::chain::{Chain, ChainSpec, Stage};
use crate::filter::control::ControlKey;
use crate::filter::{FailMode, Filter};
use anyhow::{bail, Context};
use clap::Parser;
use std::path::Path;
use std::time::Duration;

/// What every stage of a relay's chains shares.
#[derive(Debug, Clone)]
pub struct ChainSettings {
    /// How long a child may take over one message before it is killed and restarted.
    pub timeout: Duration,
    /// The largest message a child may write back.
    pub max_size: usize,
    /// The run's control key, handed to children that are sipsec tools.
    pub control: ControlKey,
}

/// Builds the chain `text` describes.
pub fn build(text: &str, settings: &ChainSettings) -> anyhow::Result<Chain> {
    let spec = ChainSpec::parse(text).map_err(anyhow::Error::msg)?;
    let stages = spec
        .stages
        .iter()
        .map(|argv| stage(argv, settings).with_context(|| format!("chain stage {:?}", argv[0])))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Chain::new(stages))
}

fn stage(argv: &[String], settings: &ChainSettings) -> anyhow::Result<Stage> {
    match argv[0].as_str() {
        "sipsec-sign" => {
            let cli = sign::SignCli::try_parse_from(argv)?;
            own(&cli.filter, || sign::tool(&cli))
        }
        "sipsec-encrypt" => {
            let cli = encrypt::EncryptCli::try_parse_from(argv)?;
            own(&cli.filter, || Ok(Box::new(encrypt::tool(&cli)?)))
        }
        "sipsec-verify" => {
            let cli = verify::VerifyCli::try_parse_from(argv)?;
            own(&cli.filter, || {
                Ok(Box::new(verify::tool(&cli).map_err(anyhow::Error::msg)?))
            })
        }
        "sipsec-decrypt" => {
            let cli = decrypt::DecryptCli::try_parse_from(argv)?;
            own(&cli.filter, || Ok(Box::new(decrypt::tool(&cli)?)))
        }
        program => {
            // Only sipsec's tools understand the control header.
            let is_sipsec = Path::new(program)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("sipsec-"));
            let fail_mode = if argv.iter().any(|a| a == "--fail-closed") {
                FailMode::Closed
            } else {
                FailMode::Open
            };
            let child = ChildStage::start(
                argv.to_vec(),
                is_sipsec.then(|| settings.control.clone()),
                fail_mode,
                settings.timeout,
                settings.max_size,
            )?;
            Ok(Stage::Child(child))
        }
    }
}

/// A tool in process: its fail mode as its options say; the options about where messages come
/// from and go to have no meaning inside the relay and are refused rather than ignored.
fn own(
    args: &FilterArgs,
    tool: impl FnOnce() -> anyhow::Result<Box<dyn Filter + Send>>,
) -> anyhow::Result<Stage> {
    let io = [
        (!args.inputs.is_empty(), "INPUT"),
        (!args.pcaps.is_empty(), "--pcap"),
        (args.pcap_out.is_some(), "--pcap-out"),
        (args.output.is_some(), "--output"),
        (args.report.is_some(), "--report"),
        (args.json, "--json"),
        (args.jobs.is_some(), "--jobs"),
        (args.datagram, "--datagram"),
        (args.control_key.is_some(), "--control-key"),
        (args.control_key_fd.is_some(), "--control-key-fd"),
        (args.keep_control, "--keep-control"),
    ];
    if let Some((_, name)) = io.iter().find(|(given, _)| *given) {
        bail!("{name} does not apply in a relay's chain: messages come from and go to the relay");
    }
    let filter = tool()?;
    let fail_mode = match (args.fail_open, args.fail_closed) {
        (true, _) => FailMode::Open,
        (_, true) => FailMode::Closed,
        _ => filter.default_fail_mode(),
    };
    Ok(Stage::Own { filter, fail_mode })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ChainSettings {
        ChainSettings {
            timeout: Duration::from_secs(2),
            max_size: 65536,
            control: ControlKey::generate(),
        }
    }

    #[test]
    fn own_tools_refuse_io_options_and_children_start() {
        let e = build("sipsec-verify --store /nonexistent --json", &settings())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("--json does not apply"), "{e:#}");
        let e = build("sipsec-sign --form nonsense --store /x", &settings())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("nonsense"), "{e:#}");
        let e = build("cat | /nonexistent/filter", &settings())
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("/nonexistent/filter"), "{e:#}");
        let chain = build("cat | cat", &settings()).unwrap();
        assert!(!chain.is_empty());
    }
}
