//! The members' credentials file: for each member, the digest HA1 per algorithm, never a
//! password. An HA1 opens the account as well as the password would (for its realm), so the
//! file is treated as a key: mode 0600, owned by the user running the relay, in directories
//! no one else can write, as ssh checks its keys.
//!
//! One line per member and algorithm, `#` comments:
//!
//! ```text
//! sip:agent-7@callcentre.example SHA-256 5ab6…(64 hex)
//! sip:agent-7@callcentre.example MD5 9c1d…(32 hex)
//! ```
//!
//! The digest username is the member's user part and the realm its domain (RFC 3261 §22.1: a
//! realm names the domain), so a line cannot give one member's HA1 to another's address.
//! Leaving out a member's MD5 line refuses MD5 for that member: no downgrade to it.

use super::digest::Algorithm;
use crate::store::fsio::{self, Lock, SECRET_MODE};
use crate::store::StoreError;
use crate::uri::Aor;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why the credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MemberFileError {
    #[error("{path}: {source}", path = path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: mode {mode:03o} lets group or others in; run chmod 600 on it", path = path.display())]
    Readable { path: PathBuf, mode: u32 },
    #[error("{path}: owned by uid {owner}, not by the user running sipsec (uid {me})", path = path.display())]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error("{path}: a directory others can write to (they could replace the file); run chmod go-w on it", path = path.display())]
    WritableDirectory { path: PathBuf },
    #[error("{path}:{line}: {reason}", path = path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    Member(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One member's digest secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSecrets {
    pub aor: Aor,
    /// HA1 in lower-case hex, per algorithm the member may use.
    pub ha1: BTreeMap<Algorithm, String>,
}

/// The digest username and realm of a member: its user part and domain.
pub fn username_and_realm(aor: &Aor) -> Result<(&str, &str), String> {
    let user = aor
        .user()
        .ok_or_else(|| format!("{aor}: a member needs a user part (sip:user@domain)"))?;
    // The username travels as a quoted string: keep it to characters that need no escape, so
    // what the client hashes is byte for byte what this file names.
    if !user
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        return Err(format!(
            "{aor}: the user part must be visible ASCII without quotes or backslashes"
        ));
    }
    Ok((user, aor.host()))
}

/// Every member's secrets, by (username, realm).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    by_user: HashMap<(String, String), MemberSecrets>,
}

impl Members {
    pub fn len(&self) -> usize {
        self.by_user.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    /// The member a digest username and realm name.
    pub fn get(&self, username: &str, realm: &str) -> Option<&MemberSecrets> {
        self.by_user.get(&(username.to_string(), realm.to_string()))
    }

    /// Every member, sorted.
    pub fn list(&self) -> Vec<&MemberSecrets> {
        let mut all: Vec<_> = self.by_user.values().collect();
        all.sort_by(|a, b| a.aor.cmp(&b.aor));
        all
    }

    /// Reads the file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Members, MemberFileError> {
        let mut members = Members::default();
        for (i, line) in text.lines().enumerate() {
            let syntax = |reason: String| MemberFileError::Syntax {
                path: path.to_path_buf(),
                line: i + 1,
                reason,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let [aor, algorithm, ha1] = fields[..] else {
                return Err(syntax("expected: AOR ALGORITHM HA1".into()));
            };
            let aor = Aor::parse(aor).map_err(|e| syntax(format!("{aor}: {e}")))?;
            let algorithm = Algorithm::from_token(algorithm.as_bytes())
                .ok_or_else(|| syntax(format!("{algorithm}: expected SHA-256 or MD5")))?;
            if ha1.len() != algorithm.hex_len() || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(syntax(format!(
                    "the {algorithm} HA1 must be {} hex digits",
                    algorithm.hex_len()
                )));
            }
            let (user, realm) = username_and_realm(&aor).map_err(syntax)?;
            let key = (user.to_string(), realm.to_string());
            let entry = members.by_user.entry(key).or_insert_with(|| MemberSecrets {
                aor: aor.clone(),
                ha1: BTreeMap::new(),
            });
            if entry
                .ha1
                .insert(algorithm, ha1.to_ascii_lowercase())
                .is_some()
            {
                return Err(syntax(format!("a second {algorithm} line for {aor}")));
            }
        }
        Ok(members)
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "# sipsec member credentials: AOR ALGORITHM HA1 (HA1 = H(user:domain:password)).\n\
             # Written by `sipsec-certgen member`; keep it mode 0600.\n",
        );
        for m in self.list() {
            for (algorithm, ha1) in &m.ha1 {
                out.push_str(&format!("sip:{} {algorithm} {ha1}\n", m.aor));
            }
        }
        out
    }

    /// Sets a member's password: an HA1 for each of `algorithms`, replacing what it had.
    pub fn set(
        &mut self,
        aor: &Aor,
        password: &[u8],
        algorithms: &[Algorithm],
    ) -> Result<(), String> {
        let (user, realm) = username_and_realm(aor)?;
        if algorithms.is_empty() {
            return Err("at least one digest algorithm is needed".into());
        }
        let ha1 = algorithms
            .iter()
            .map(|&a| (a, a.ha1(user, realm, password)))
            .collect();
        self.by_user.insert(
            (user.to_string(), realm.to_string()),
            MemberSecrets {
                aor: aor.clone(),
                ha1,
            },
        );
        Ok(())
    }

    /// Removes a member; false when it was not there.
    pub fn remove(&mut self, aor: &Aor) -> bool {
        let Ok((user, realm)) = username_and_realm(aor) else {
            return false;
        };
        self.by_user
            .remove(&(user.to_string(), realm.to_string()))
            .is_some()
    }
}

/// Refuses a secret file that someone else could read or replace: group or other permission
/// bits, another owner, or a directory on the way that others may write to (a sticky
/// directory owned by root, such as /tmp, is safe: others cannot rename what is in it).
pub fn check_private_file(path: &Path) -> Result<(), MemberFileError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MemberFileError::Io { path, source }
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(MemberFileError::Readable {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.uid() != me {
        return Err(MemberFileError::Owner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let absolute = fs::canonicalize(path).map_err(io_err(path))?;
    for dir in absolute.ancestors().skip(1) {
        let meta = fs::metadata(dir).map_err(io_err(dir))?;
        let others_write = meta.mode() & 0o022 != 0;
        let sticky_root = meta.mode() & 0o1000 != 0 && meta.uid() == 0;
        let owner_ok = meta.uid() == me || meta.uid() == 0;
        if !owner_ok || (others_write && !sticky_root) {
            return Err(MemberFileError::WritableDirectory {
                path: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Reads and checks the credentials file.
pub fn load(path: &Path) -> Result<Members, MemberFileError> {
    check_private_file(path)?;
    let text = fs::read_to_string(path).map_err(|source| MemberFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Members::parse(&text, path)
}

/// Changes the file under its lock: reads it (empty when missing), applies `change`, writes
/// it back whole (mode 0600).
pub fn update<T>(
    path: &Path,
    change: impl FnOnce(&mut Members) -> Result<T, String>,
) -> Result<T, MemberFileError> {
    let lock_path = path.with_file_name(format!(
        ".{}.lock",
        path.file_name()
            .map_or("credentials".into(), |n| n.to_string_lossy())
    ));
    let _lock = Lock::acquire(&lock_path, true)?;
    let mut members = match fs::metadata(path) {
        Ok(_) => load(path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Members::default(),
        Err(source) => {
            return Err(MemberFileError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let out = change(&mut members).map_err(MemberFileError::Member)?;
    fsio::write_atomic(path, members.to_text().as_bytes(), SECRET_MODE)?;
    check_private_file(path)?;
    Ok(out)
}

/// What identifies one version of the file: re-read when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    /// A change of mode or owner changes the status time, not the modification time.
    ctime_ns: i128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = fs::metadata(path).ok()?;
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
    })
}

/// The credentials file as the relay uses it: re-read when it changes (looked at no more than
/// once a second).
#[derive(Debug)]
pub struct MemberFile {
    path: PathBuf,
    members: Members,
    stamp: Option<Stamp>,
    looked_at: Option<u64>,
}

/// What a look at the file found.
#[derive(Debug)]
pub enum Reload {
    Unchanged,
    Reloaded {
        members: usize,
    },
    /// The file became unusable: every member is refused until it is fixed.
    Failed(MemberFileError),
}

impl MemberFile {
    /// Loads the file; it must exist and be safe at start-up.
    pub fn open(path: &Path) -> Result<MemberFile, MemberFileError> {
        let stamp = stamp(path);
        let members = load(path)?;
        Ok(MemberFile {
            path: path.to_path_buf(),
            members,
            stamp,
            looked_at: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn members(&self) -> &Members {
        &self.members
    }

    /// Re-reads the file if it changed since the last look, at most once a second of `now`.
    /// An unreadable or unsafe file leaves no member able to authenticate: failing closed is
    /// right for a file whose leak or replacement opens every account.
    pub fn refresh(&mut self, now: u64) -> Reload {
        if self.looked_at == Some(now) {
            return Reload::Unchanged;
        }
        self.looked_at = Some(now);
        let current = stamp(&self.path);
        if current == self.stamp && current.is_some() {
            return Reload::Unchanged;
        }
        self.force_reload(current)
    }

    /// Re-reads the file now (SIGHUP).
    pub fn reload(&mut self) -> Reload {
        self.force_reload(stamp(&self.path))
    }

    fn force_reload(&mut self, current: Option<Stamp>) -> Reload {
        self.stamp = current;
        match load(&self.path) {
            Ok(m) => {
                self.members = m;
                Reload::Reloaded {
                    members: self.members.len(),
                }
            }
            Err(e) => {
                self.members = Members::default();
                Reload::Failed(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn aor(s: &str) -> Aor {
        Aor::parse(s).unwrap()
    }

    #[test]
    fn set_writes_ha1_per_algorithm_and_parses_back() {
        let mut m = Members::default();
        m.set(
            &aor("sip:agent-7@CallCentre.example"),
            b"secret",
            &Algorithm::ALL,
        )
        .unwrap();
        let text = m.to_text();
        assert!(!text.contains("secret"));
        let back = Members::parse(&text, Path::new("t")).unwrap();
        assert_eq!(back, m);
        let s = back.get("agent-7", "callcentre.example").unwrap();
        assert_eq!(
            s.ha1[&Algorithm::Md5],
            Algorithm::Md5.ha1("agent-7", "callcentre.example", b"secret")
        );
        assert_eq!(s.ha1[&Algorithm::Sha256].len(), 64);
        assert!(back.get("agent-7", "other.example").is_none());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let bad = |text: &str| match Members::parse(text, Path::new("f")).unwrap_err() {
            MemberFileError::Syntax { line, reason, .. } => (line, reason),
            e => panic!("{e}"),
        };
        let md5 = "0".repeat(32);
        assert_eq!(bad("# c\n\nsip:a@b MD5\n").0, 3);
        assert!(bad(&format!("sip:a@b MD5-sess {md5}"))
            .1
            .contains("expected"));
        assert!(bad(&format!("sip:a@b SHA-256 {md5}")).1.contains("64 hex"));
        assert!(bad(&format!("sip:b MD5 {md5}")).1.contains("user part"));
        assert!(bad(&format!("sip:a@b MD5 {md5}\nsip:a@b MD5 {md5}"))
            .1
            .contains("second"));
        assert!(bad(&format!("tel:+1555 MD5 {md5}")).1.contains("user part"));
    }

    #[test]
    fn unsafe_files_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members");
        update(&path, |m| {
            m.set(&aor("sip:a@b.example"), b"pw", &Algorithm::ALL)
        })
        .unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load(&path).unwrap().len(), 1);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load(&path),
            Err(MemberFileError::Readable { mode: 0o640, .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            load(&path),
            Err(MemberFileError::WritableDirectory { .. })
        ));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        assert!(load(&path).is_ok());
    }

    #[test]
    fn file_owned_by_another_user_is_refused() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: changing a file's owner needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members");
        update(&path, |m| {
            m.set(&aor("sip:a@b.example"), b"pw", &[Algorithm::Md5])
        })
        .unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        assert!(matches!(
            load(&path),
            Err(MemberFileError::Owner { owner: 65534, .. })
        ));
    }

    #[test]
    fn relay_view_follows_changes_and_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members");
        update(&path, |m| {
            m.set(&aor("sip:a@b.example"), b"pw", &Algorithm::ALL)
        })
        .unwrap();
        let mut file = MemberFile::open(&path).unwrap();
        assert!(matches!(file.refresh(1), Reload::Unchanged));
        update(&path, |m| {
            m.set(&aor("sip:c@b.example"), b"pw", &Algorithm::ALL)
        })
        .unwrap();
        // Looked at once in this second already.
        assert!(matches!(file.refresh(1), Reload::Unchanged));
        assert!(matches!(file.refresh(2), Reload::Reloaded { members: 2 }));
        assert!(file.members().get("c", "b.example").is_some());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            file.reload(),
            Reload::Failed(MemberFileError::Readable { .. })
        ));
        assert!(file.members().is_empty());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(file.reload(), Reload::Reloaded { members: 2 }));
        update(&path, |m| Ok(m.remove(&aor("sip:a@b.example")))).unwrap();
        assert!(matches!(file.refresh(3), Reload::Reloaded { members: 1 }));
    }
}
