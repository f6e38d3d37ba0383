//! The command-line layer shared by every tool: common options, the filter options and the one
//! function that runs a filter from them, exit codes; and each tool's clap definitions.

pub mod certgen;
pub mod chain;
pub mod decrypt;
pub mod encrypt;
pub mod live;
pub mod member;
pub mod relay;
pub mod sign;
pub mod verify;

use crate::filter::control::ControlKey;
use crate::filter::driver::{self, DriverOptions, Input, InputKind, Sinks};
use crate::filter::{FailMode, Filter};
use crate::message::{Framing, DEFAULT_MAX_SIZE};
use crate::store::fsio::PassSource;
use crate::store::{Store, StoreError};
use clap::{Args, CommandFactory};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The exit codes of every sipsec tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every message was written (some perhaps with warnings).
    Ok = 0,
    /// At least one item was refused: withheld, unparsable, or bytes that are not SIP.
    Refused = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// The run could not be done or completed: an input or output failed, or the setup
    /// (store, keys) is unusable.
    Fatal = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The text every tool's `--help` ends with.
pub const EXIT_CODES_HELP: &str = "Exit codes: 0 every message written (perhaps with warnings); \
1 something was refused (withheld, unparsable, or not SIP); 2 usage error; 3 an input, the \
output or the setup failed.";

/// Options every sipsec command takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Print nothing but fatal errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print a summary at the end (repeat for more).
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

/// Where the store's key passphrase comes from (never from argv).
#[derive(Debug, Clone, Args)]
pub struct KeyPassArgs {
    /// Read the key passphrase from the first line of FILE.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        conflicts_with = "passphrase_env"
    )]
    pub passphrase_file: Option<PathBuf>,
    /// Read the key passphrase from environment variable NAME.
    #[arg(long, global = true, value_name = "NAME")]
    pub passphrase_env: Option<String>,
}

impl KeyPassArgs {
    /// Where the store's key passphrase comes from, if the user named a source.
    pub fn source(&self) -> Option<PassSource> {
        pass_source(&self.passphrase_file, &self.passphrase_env)
    }
}

/// The passphrase source named by a `--…-file` / `--…-env` pair, if either is given.
pub(crate) fn pass_source(file: &Option<PathBuf>, env: &Option<String>) -> Option<PassSource> {
    file.clone()
        .map(PassSource::File)
        .or_else(|| env.clone().map(PassSource::Env))
}

/// Opens the store at `path` with the key passphrase the command line names: the one way
/// sign, encrypt, decrypt and relay open a store whose keys may be encrypted.
pub fn open_store(path: &Path, key_pass: &KeyPassArgs) -> Result<Store, StoreError> {
    Store::open(path)?.with_passphrase(key_pass.source().as_ref())
}

/// The options of every filter (sign, encrypt, verify, decrypt).
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Inputs: SIP message streams, or pcap/pcapng captures (recognised by their magic
    /// number); `-` or none for stdin.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Read a pcap or pcapng capture (repeatable; `-` for stdin).
    #[arg(long = "pcap", value_name = "FILE")]
    pub pcaps: Vec<PathBuf>,
    /// Also write the output messages as a pcap capture, with their original addresses and
    /// times.
    #[arg(long, value_name = "FILE")]
    pub pcap_out: Option<PathBuf>,
    /// With --pcap-out: fragment UDP datagrams and segment TCP streams to this IP MTU.
    #[arg(long, value_name = "BYTES", requires = "pcap_out")]
    pub mtu: Option<usize>,
    /// Write messages here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write one JSON record a line per message to FILE (`-` for stderr).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the JSON records on stdout instead of the messages.
    #[arg(long)]
    pub json: bool,
    /// Pass a message the tool cannot handle on unchanged, with a warning.
    #[arg(long, conflicts_with = "fail_closed")]
    pub fail_open: bool,
    /// Withhold a message the tool cannot handle, and record why.
    #[arg(long)]
    pub fail_closed: bool,
    /// Worker threads (default: one per CPU, at most 8); output order is kept, and what depends
    /// on the messages before (sipsec-verify's replay check) is decided in that order.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Each input is one datagram: no Content-Length needed, trailing bytes reported.
    #[arg(long)]
    pub datagram: bool,
    /// Refuse messages larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_SIZE)]
    pub max_size: usize,
    /// Per-run secret for the control header between sipsec processes (created, mode 0600,
    /// when missing; use a fresh file per run).
    #[arg(
        long,
        env = "SIPSEC_CONTROL_KEY",
        value_name = "FILE",
        conflicts_with = "control_key_fd"
    )]
    pub control_key: Option<PathBuf>,
    /// Read the control key from this inherited file descriptor.
    #[arg(long, value_name = "FD")]
    pub control_key_fd: Option<i32>,
    /// Keep the control header on output, for a next sipsec filter (needs a control key).
    #[arg(long)]
    pub keep_control: bool,
}

/// A setup problem: reported on stderr, exit code 3.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error(transparent)]
    ControlKey(#[from] crate::filter::control::ControlKeyError),
    #[error("--keep-control needs --control-key or --control-key-fd")]
    KeepControlWithoutKey,
}

/// One worker per CPU, as many as eight: the per-message work of every tool splits across
/// threads (output order is kept), and past eight the one reader and one writer are the limit.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

impl FilterArgs {
    /// The driver options for `filter`: its default fail mode where the user chose none.
    pub fn driver_options(&self, filter: &dyn Filter) -> Result<DriverOptions, SetupError> {
        let jobs = self.jobs.map_or_else(default_jobs, usize::from);
        let default_fail_mode = filter.default_fail_mode();
        let control_key = match (&self.control_key, self.control_key_fd) {
            (Some(path), _) => Some(ControlKey::load_or_create(path)?),
            (None, Some(fd)) => Some(ControlKey::from_fd(fd)?),
            (None, None) => None,
        };
        if self.keep_control && control_key.is_none() {
            return Err(SetupError::KeepControlWithoutKey);
        }
        Ok(DriverOptions {
            framing: if self.datagram {
                Framing::Datagram
            } else {
                Framing::Stream
            },
            max_size: self.max_size,
            fail_mode: match (self.fail_open, self.fail_closed) {
                (true, _) => FailMode::Open,
                (_, true) => FailMode::Closed,
                _ => default_fail_mode,
            },
            jobs,
            json: self.json,
            control_key,
            keep_control: self.keep_control,
            capture_limits: crate::capture::Limits::default(),
            progress: false,
        })
    }

    /// Opens the inputs (`-` or none: stdin): plain inputs are sniffed for a capture's magic
    /// number, `--pcap` inputs must be captures.
    pub fn open_inputs(&self) -> Result<Vec<Input>, SetupError> {
        if self.inputs.is_empty() && self.pcaps.is_empty() {
            return Ok(vec![Input::of_kind("-", io::stdin(), InputKind::Sniff)]);
        }
        let plain = self.inputs.iter().map(|p| (p, InputKind::Sniff));
        let captures = self.pcaps.iter().map(|p| (p, InputKind::Capture));
        plain
            .chain(captures)
            .map(|(path, kind)| {
                if path.as_os_str() == "-" {
                    return Ok(Input::of_kind("-", io::stdin(), kind));
                }
                let file = File::open(path).map_err(|source| SetupError::Open {
                    path: path.display().to_string(),
                    source,
                })?;
                Ok(Input::of_kind(path.display().to_string(), file, kind))
            })
            .collect()
    }
}

fn create(path: &PathBuf) -> Result<File, SetupError> {
    File::create(path).map_err(|source| SetupError::Open {
        path: path.display().to_string(),
        source,
    })
}

/// Reports a failure to set a run up (store, keys, inputs, output): one line on stderr,
/// exit code 3.
pub fn setup_failed(tool: &str, error: impl std::fmt::Display) -> Exit {
    eprintln!("sipsec-{tool}: {error}");
    Exit::Fatal
}

/// Runs a filter tool from its parsed options: the whole `main` of sign, encrypt, verify and
/// decrypt once they have built their [`Filter`].
pub fn run_filter(filter: &dyn Filter, args: &FilterArgs, common: &CommonArgs) -> Exit {
    let tool = filter.name();
    match try_run_filter(filter, args, common) {
        Ok(code) => code,
        Err(e) => setup_failed(tool, e),
    }
}

fn try_run_filter(
    filter: &dyn Filter,
    args: &FilterArgs,
    common: &CommonArgs,
) -> anyhow::Result<Exit> {
    let mut options = args.driver_options(filter)?;
    options.progress = !common.quiet;
    let inputs = args.open_inputs()?;
    let output: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(BufWriter::new(create(path)?)),
        None => Box::new(BufWriter::with_capacity(64 * 1024, io::stdout())),
    };
    let report_to_stderr = args.report.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let report: Option<Box<dyn Write + Send>> = match &args.report {
        Some(_) if report_to_stderr => Some(Box::new(io::stderr())),
        Some(path) => Some(Box::new(BufWriter::new(create(path)?))),
        None => None,
    };
    // Warnings go to stderr unless -q, or unless the report already goes there.
    let diagnostics = (!common.quiet && !report_to_stderr)
        .then(|| Box::new(io::stderr()) as Box<dyn Write + Send>);
    let pcap = match &args.pcap_out {
        Some(path) => {
            let file: Box<dyn Write + Send> = Box::new(BufWriter::new(create(path)?));
            Some(crate::capture::PcapOut::new(file, args.mtu)?)
        }
        None => None,
    };
    let sinks = Sinks {
        output,
        report,
        diagnostics,
        pcap,
    };
    let summary = driver::run(filter, &options, inputs, sinks)?;
    if !common.quiet {
        for (name, capture) in &summary.captures {
            eprintln!("sipsec-{tool}: {name}: {capture}", tool = filter.name());
        }
        if summary.pcap_placeholder_origins > 0 {
            eprintln!(
                "sipsec-{tool}: warning: {} messages did not come from a capture and were written to the pcap with placeholder addresses 192.0.2.1 -> 192.0.2.2 and time 0",
                summary.pcap_placeholder_origins,
                tool = filter.name()
            );
        }
    }
    if common.verbose > 0 || (summary.input_errors > 0 && !common.quiet) {
        eprintln!("{}", summary.line(filter.name()));
    }
    Ok(if summary.input_errors > 0 {
        Exit::Fatal
    } else if summary.anything_refused() {
        Exit::Refused
    } else {
        Exit::Ok
    })
}

/// The command-line definitions of every shipped tool, from which the man pages and shell
/// completions are generated (`SIPSEC_WRITE_DOCS=1 cargo test --test docs`).
pub fn commands() -> Vec<clap::Command> {
    vec![
        certgen::CertgenCli::command(),
        sign::SignCli::command(),
        encrypt::EncryptCli::command(),
        relay::RelayCli::command(),
        verify::VerifyCli::command(),
        decrypt::DecryptCli::command(),
    ]
}
