//! `sipsec-decrypt`: the clap definitions (man page and completions come from here) and the
//! runner that builds the decryptor from them.

use crate::cli::Exit;
use crate::cli::{
    open_store, run_filter, setup_failed, CommonArgs, FilterArgs, KeyPassArgs, StoreArgs,
    EXIT_CODES_HELP,
};
use crate::store::StoreError;
use crate::tool::decrypt::{Decrypt, DecryptOptions};
use clap::Parser;

const AFTER_HELP: &str = "\
The key is the store identity whose certificate an envelope's recipient info names (issuer and \
serial number, or subject key identifier); keys are never tried one after another. A body \
envelope gives back the body and its Content-Type; a tunnelled message/sip gives back the \
end-to-end headers and the body, while the message keeps its own From, To, Call-ID, CSeq, \
Contact and routing headers (inner From/To are display-only, RFC 3261 §23.4.1.2). Envelopes \
inside envelopes are opened; a signature inside is left for sipsec-verify. An envelope inside a \
signature (encrypt-then-sign) is left alone unless --open-signed, since opening it breaks the \
signature: run `sipsec-verify --control-key K --keep-control --unwrap | sipsec-decrypt \
--control-key K` (K a fresh file per run).

Only a store's own envelopes are opened: a request must be for (Request-URI or To) one of the \
store's identities or a member of its group, a response from one (From); an envelope replayed \
into a message to someone else is not opened (\"not addressed to an identity this store \
serves\"). Marks (Subject: validated, Sipsec-Verdict) are sipsec-verify's: those it did not make \
in this run (the control header vouches for its own) are removed on input; marks inside an \
envelope are never restored; and a mark sipsec-verify made survives the opening only when the \
signature it rests on covered the body opened (its verdict says body=yes or body=encrypted), \
else it is removed with a warning that says why.

Every identity's key is read when the run starts, and again when the store changes (looked at \
once a second, at once on SIGHUP: a new or rotated identity is used from the next message on): a store whose keys are encrypted (made with \
sipsec-certgen --passphrase-file or --passphrase-env) needs the same option here, and a missing \
or wrong passphrase ends the run before any message is read (exit code 3).

Every failure to decrypt (no key for any recipient, a damaged envelope, a wrong padding or GCM \
tag, an inner message that does not parse) gives the same text and the same record, so the \
proxy is no oracle.

Default fail mode: open. A message this proxy cannot decrypt is usually for another key holder \
(the terminal itself, another proxy): it passes through unchanged, never half-changed, with a \
warning. --fail-closed withholds it.

";

fn help() -> String {
    format!("{AFTER_HELP}{EXIT_CODES_HELP}")
}

/// Decrypt S/MIME bodies for devices that cannot afford it.
#[derive(Debug, Parser)]
#[command(name = "sipsec-decrypt", version, after_long_help = help())]
pub struct DecryptCli {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Passphrase of the store's private keys.
    #[command(flatten)]
    pub key_pass: KeyPassArgs,
    /// Also open an envelope covered by a signature (encrypt-then-sign), dropping the
    /// signature unverified.
    #[arg(long)]
    pub open_signed: bool,
}

/// The whole of sipsec-decrypt.
pub fn run(cli: &DecryptCli) -> Exit {
    match tool(cli) {
        Ok(d) => {
            crate::store::watch::look_again_on_sighup();
            run_filter(&d, &cli.filter, &cli.common)
        }
        Err(e) => setup_failed("decrypt", e),
    }
}

/// The tool the command line describes (also run in process by a relay's chain).
pub fn tool(cli: &DecryptCli) -> Result<Decrypt, StoreError> {
    open_store(&cli.store.store, &cli.key_pass).and_then(|s| {
        Decrypt::new(
            s,
            DecryptOptions {
                open_signed: cli.open_signed,
            },
        )
    })
}
