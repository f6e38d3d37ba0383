//! The store's only file I/O: atomic writes, the lock, permission checks, passphrases.

use super::StoreError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |error| StoreError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Mode for private keys and PKCS#12 files.
pub const SECRET_MODE: u32 = 0o600;
/// Mode for certificates, CSRs, CRLs and settings.
pub const PUBLIC_MODE: u32 = 0o644;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` so that readers see either the old or the new file, never a torn
/// one: a temporary file in the same directory, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), StoreError> {
    // The parent of a bare name (`crl.pem`) is the empty path: the current directory.
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    create_private_dirs(dir)?;
    let tmp = dir.join(format!(
        ".tmp.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(data).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Appends one line (the issuance log); a single `write` on an O_APPEND file keeps concurrent
/// writers' lines whole.
pub fn append_line(path: &Path, line: &str) -> Result<(), StoreError> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(PUBLIC_MODE)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(format!("{line}\n").as_bytes())
        .map_err(io_err(path))
}

/// A held `flock` on `DIR/.lock`; released on drop (closing the descriptor).
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(path: &Path, exclusive: bool) -> Result<Lock, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(PUBLIC_MODE)
            .open(path)
            .map_err(io_err(path))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on a descriptor we own for the lifetime of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
            if rc == 0 {
                return Ok(Lock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(path)(e));
            }
        }
    }
}

/// The user this process acts as, whose files it may trust.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Refuses a secret file readable or writable by group or others, as ssh does.
pub fn check_secret_mode(path: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::UnsafePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

/// Makes `dir` and any missing parent with the store's mode 0700 (never the umask's).
pub fn create_private_dirs(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Checks every directory and file of a store as ssh does: each owned by this user or root,
/// none writable by group or others (they could plant keys, anchors or groups). Secret files
/// are checked for reading as well by [`check_secret_mode`].
pub fn check_tree(root: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(root).map_err(io_err(root))?;
    if !meta.is_dir() {
        return Err(StoreError::Io {
            path: root.to_path_buf(),
            error: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let user = effective_uid();
    let mut pending = vec![(root.to_path_buf(), meta)];
    while let Some((path, meta)) = pending.pop() {
        if meta.uid() != user && meta.uid() != 0 {
            return Err(StoreError::ForeignOwner {
                path,
                owner: meta.uid(),
                user,
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(StoreError::UnsafePermissions { path, mode });
        }
        if meta.is_dir() {
            for entry in fs::read_dir(&path).map_err(io_err(&path))? {
                let child = entry.map_err(io_err(&path))?.path();
                let meta = fs::metadata(&child).map_err(io_err(&child))?;
                pending.push((child, meta));
            }
        }
    }
    Ok(())
}

/// Reads a file if it exists: `Ok(None)` when it does not.
pub fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// The entries of a directory (sorted, for stable listings); empty if it does not exist.
pub fn list_dir(path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let rd = match fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(io_err(path))?;
        let name = e.file_name();
        if !name.to_string_lossy().starts_with('.') {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Modification time in nanoseconds, 0 if the path is missing.
pub fn mtime_ns(path: &Path) -> u128 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Where a passphrase comes from: a file (first line) or an environment variable. Never argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassSource {
    File(PathBuf),
    Env(String),
}

impl PassSource {
    pub fn read(&self) -> Result<String, StoreError> {
        let pass = match self {
            PassSource::File(p) => {
                let text = fs::read_to_string(p).map_err(io_err(p))?;
                text.lines().next().unwrap_or("").to_string()
            }
            PassSource::Env(name) => std::env::var(name).map_err(|_| {
                StoreError::Passphrase(format!("environment variable {name} is not set"))
            })?,
        };
        if pass.is_empty() {
            return Err(StoreError::Passphrase("the passphrase is empty".into()));
        }
        Ok(pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("key.pem");
        write_atomic(&p, b"x", SECRET_MODE).expect("write");
        assert!(check_secret_mode(&p).is_ok());
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).expect("chmod");
        let e = check_secret_mode(&p);
        assert!(
            matches!(e, Err(StoreError::UnsafePermissions { mode: 0o640, .. })),
            "{e:?}"
        );
    }

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("a/cert.pem");
        write_atomic(&p, b"one", PUBLIC_MODE).expect("write");
        write_atomic(&p, b"two", PUBLIC_MODE).expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let names = fs::read_dir(dir.path().join("a")).expect("ls").count();
        assert_eq!(names, 1);
    }

    #[test]
    fn passphrase_from_missing_env_is_a_clear_error() {
        let e = PassSource::Env("SIPSEC_TEST_SURELY_UNSET_VAR".into()).read();
        assert!(matches!(e, Err(StoreError::Passphrase(_))));
    }
}
