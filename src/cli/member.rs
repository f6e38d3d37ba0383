//! `sipsec-certgen member`: the members who may authenticate to the relay with SIP digest.
//! Their secrets go to the credentials file as HA1 values (never the password), by default
//! `STORE/credentials`, mode 0600.
//!
//! The password is read from the terminal (without echo, asked twice) or, when standard input
//! is not a terminal, from its first line: never from the command line, where other users
//! could see it in the process list.

use crate::auth::credentials::{self, MemberFileError};
use crate::auth::digest::Algorithm;
use crate::uri::Aor;
use clap::{Subcommand, ValueEnum};
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// The credentials file in a store, when none is named.
pub const DEFAULT_FILE: &str = "credentials";

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member or change its password (read from the terminal or the first line of stdin).
    Add {
        /// The member's address-of-record (sip:user@domain); the digest username is the user
        /// part and the realm the domain.
        uri: String,
        /// The digest algorithms the member may use (repeatable). Leaving MD5 out keeps an
        /// attacker who strips the SHA-256 challenge from downgrading the member's clients.
        #[arg(long = "algorithm", value_enum, default_values_t = [DigestAlgorithm::Sha256, DigestAlgorithm::Md5])]
        algorithms: Vec<DigestAlgorithm>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Remove a member.
    Remove {
        /// The member's SIP URI, as it was added (sip:agent-7@callcentre.example).
        uri: String,
        #[command(flatten)]
        file: FileArg,
    },
    /// List the members and their algorithms (never their secrets).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        file: FileArg,
    },
}

/// Where the credentials file is.
#[derive(Debug, Clone, clap::Args)]
pub struct FileArg {
    /// The credentials file (default: STORE/credentials).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

impl FileArg {
    fn path(&self, store: &Path) -> PathBuf {
        self.credentials
            .clone()
            .unwrap_or_else(|| store.join(DEFAULT_FILE))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestAlgorithm {
    #[value(name = "sha-256")]
    Sha256,
    #[value(name = "md5")]
    Md5,
}

impl From<DigestAlgorithm> for Algorithm {
    fn from(a: DigestAlgorithm) -> Algorithm {
        match a {
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
            DigestAlgorithm::Md5 => Algorithm::Md5,
        }
    }
}

fn member_aor(uri: &str) -> Result<Aor, MemberFileError> {
    let aor = Aor::parse(uri).map_err(|e| MemberFileError::Member(format!("{uri}: {e}")))?;
    credentials::username_and_realm(&aor).map_err(MemberFileError::Member)?;
    Ok(aor)
}

/// Runs a member command against the credentials file of `store`.
pub fn run(
    command: &MemberCommand,
    store: &Path,
    out: &mut dyn Write,
) -> Result<(), MemberFileError> {
    let io = |e: io::Error| MemberFileError::Io {
        path: PathBuf::from("<stdout>"),
        source: e,
    };
    match command {
        MemberCommand::Add {
            uri,
            algorithms,
            file,
        } => {
            let aor = member_aor(uri)?;
            let path = file.path(store);
            let password = read_password(&aor)?;
            let mut algorithms: Vec<Algorithm> = algorithms.iter().map(|&a| a.into()).collect();
            algorithms.sort();
            algorithms.dedup();
            credentials::update(&path, |m| m.set(&aor, &password, &algorithms))?;
            let names: Vec<&str> = algorithms.iter().map(|a| a.token()).collect();
            writeln!(
                out,
                "member sip:{aor} ({}) in {}",
                names.join(", "),
                path.display()
            )
            .map_err(io)?;
        }
        MemberCommand::Remove { uri, file } => {
            let aor = member_aor(uri)?;
            let path = file.path(store);
            let removed = credentials::update(&path, |m| Ok(m.remove(&aor)))?;
            if !removed {
                return Err(MemberFileError::Member(format!(
                    "sip:{aor} is not a member in {}",
                    path.display()
                )));
            }
            writeln!(out, "removed sip:{aor} from {}", path.display()).map_err(io)?;
        }
        MemberCommand::List { json, file } => {
            let members = credentials::load(&file.path(store))?;
            for m in members.list() {
                let algorithms: Vec<&str> = m.ha1.keys().map(|a| a.token()).collect();
                if *json {
                    let v = serde_json::json!({
                        "member": format!("sip:{}", m.aor),
                        "algorithms": algorithms,
                    });
                    writeln!(out, "{v}").map_err(io)?;
                } else {
                    writeln!(out, "sip:{} {}", m.aor, algorithms.join(" ")).map_err(io)?;
                }
            }
        }
    }
    Ok(())
}

fn password_error(why: impl Into<String>) -> MemberFileError {
    MemberFileError::Member(format!("password: {}", why.into()))
}

/// The new password: from the terminal, twice and without echo, or the first line of stdin.
fn read_password(aor: &Aor) -> Result<Vec<u8>, MemberFileError> {
    let stdin = io::stdin();
    let password = if stdin.is_terminal() {
        let first = prompt(&format!("Password for sip:{aor}: "))?;
        let again = prompt("Again: ")?;
        if first != again {
            return Err(password_error("the two entries differ"));
        }
        first
    } else {
        first_line(&mut stdin.lock())?
    };
    if password.is_empty() {
        return Err(password_error("empty"));
    }
    Ok(password)
}

/// The first line of `input`, without its line ending.
fn first_line(input: &mut dyn BufRead) -> Result<Vec<u8>, MemberFileError> {
    let mut line = Vec::new();
    input
        .read_until(b'\n', &mut line)
        .map_err(|e| password_error(e.to_string()))?;
    while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Asks on the terminal with echo off (restored whatever happens).
fn prompt(text: &str) -> Result<Vec<u8>, MemberFileError> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| password_error(format!("/dev/tty: {e}")))?;
    write!(tty, "{text}")
        .and_then(|()| tty.flush())
        .map_err(|e| password_error(e.to_string()))?;
    let line = {
        let _quiet = EchoOff::on(&tty);
        first_line(&mut io::BufReader::new(&tty))
    };
    let _ = writeln!(tty);
    line
}

/// Terminal echo turned off until dropped.
struct EchoOff {
    fd: i32,
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn on(tty: &std::fs::File) -> EchoOff {
        use std::os::fd::AsRawFd;
        let fd = tty.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it for a descriptor we hold open.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: as above; a failure leaves echo as it was (saved stays None).
        let saved = (unsafe { libc::tcgetattr(fd, &mut t) } == 0).then_some(t);
        if let Some(mut quiet) = saved {
            quiet.c_lflag &= !libc::ECHO;
            // SAFETY: a valid termios for the same descriptor.
            unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) };
        }
        EchoOff { fd, saved }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restores the settings read from the same, still open, descriptor.
            unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &t) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_drops_the_line_ending_only() {
        let mut input = &b"  pass word \r\nsecond\n"[..];
        assert_eq!(first_line(&mut input).unwrap(), b"  pass word ");
        let mut input = &b"no newline"[..];
        assert_eq!(first_line(&mut input).unwrap(), b"no newline");
    }

    #[test]
    fn a_member_needs_a_user_part() {
        assert!(member_aor("sip:callcentre.example").is_err());
        assert!(member_aor("tel:+15551234").is_err());
        assert!(member_aor("sip:agent-7@callcentre.example").is_ok());
    }
}
