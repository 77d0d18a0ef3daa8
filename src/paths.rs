//! Where abg keeps its state and config, and how it creates, checks, writes
//! and reads the private directories and files inside them.
//!
//! Every state directory abg creates is 0700 and owned by the current user;
//! one that others can write to is refused (files may have been planted in
//! it), one others can only read is tightened. Every private file is 0600,
//! written by [`write_private_file`] alone (a fresh temp file created with
//! O_EXCL|O_NOFOLLOW, fsync, rename) and never through a symlink. Secrets
//! are read only when they have exactly the shape [`new_secret`] writes.
//! Files whose size and type someone else controls (a repository's
//! `.abg/config.toml`, agents' settings) are read by
//! [`read_bounded_regular_file`]: regular files only, under a size cap.
//! A directory or file that fails those checks is refused with an error
//! that says how to fix it, rather than silently used.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The most abg reads of a config or settings file (1 MiB).
pub const FILE_CAP: u64 = 1 << 20;

/// Length of a secret as [`new_secret`] writes it: 32 bytes, hex encoded.
pub const SECRET_LEN: usize = 64;

/// Errors about abg's own files and directories.
#[derive(Debug, Error)]
pub enum PathsError {
    #[error("cannot determine a home directory; set ABG_STATE_DIR to a private directory")]
    NoHome,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is a symlink; abg refuses to use symlinks for its state. Remove it and retry")]
    Symlink(PathBuf),
    #[error(
        "{path} is owned by uid {owner}, not by you (uid {me}); remove it or set ABG_STATE_DIR"
    )]
    WrongOwner { path: PathBuf, owner: u32, me: u32 },
    #[error("{0} exists but is not a directory; remove it and retry")]
    NotADirectory(PathBuf),
    #[error("{path} has mode {mode:o}, expected 0600; run `chmod 600 {path}`")]
    WrongMode { path: PathBuf, mode: u32 },
    #[error(
        "{path} has mode {mode:o}: other users can write to it, so files may have been planted in it. abg refuses to use it; check its contents, then run `chmod 700 {path}`, or remove it"
    )]
    OpenToOthers { path: PathBuf, mode: u32 },
    #[error(
        "{path} is not a valid abg secret ({why}): abg writes exactly {SECRET_LEN} characters 0-9 a-f there and refuses anything else, since an empty or guessable secret would let any local process in. {fix}"
    )]
    InvalidSecret {
        path: PathBuf,
        why: String,
        /// How to get a valid one back (depends on what the file is for).
        fix: String,
    },
    #[error(
        "{path} is {what}, not a regular file; abg reads only regular files there. Replace it with a regular file or remove it"
    )]
    NotRegularFile { path: PathBuf, what: &'static str },
    #[error(
        "{path} is larger than {cap} bytes, the most abg reads of such a file; shorten it or remove it"
    )]
    TooLarge { path: PathBuf, cap: u64 },
}

impl PathsError {
    /// Whether this is "no such file" (many callers treat that as unset).
    pub fn is_not_found(&self) -> bool {
        matches!(self, PathsError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PathsError + '_ {
    move |source| PathsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn project_dirs() -> Result<directories::ProjectDirs, PathsError> {
    directories::ProjectDirs::from("", "", "abg").ok_or(PathsError::NoHome)
}

/// The root of abg's state: `$ABG_STATE_DIR`, else the platform state dir
/// (`$XDG_STATE_HOME/abg`, usually `~/.local/state/abg`).
pub fn state_base() -> Result<PathBuf, PathsError> {
    if let Some(dir) = std::env::var_os("ABG_STATE_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dirs = project_dirs()?;
    Ok(dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_path_buf())
}

/// The user config file: `$ABG_CONFIG_DIR/config.toml`, else the platform
/// config dir (`~/.config/abg/config.toml`).
pub fn user_config_file() -> Result<PathBuf, PathsError> {
    if let Some(dir) = std::env::var_os("ABG_CONFIG_DIR").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.toml"));
    }
    Ok(project_dirs()?.config_dir().join("config.toml"))
}

fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Create `path` (and missing parents) as a private directory: mode 0700,
/// owned by the current user, not a symlink. See [`check_private_dir`] for
/// an existing one.
pub fn ensure_private_dir(path: &Path) -> Result<(), PathsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => check_dir_meta(path, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io_err(path))?;
            let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
            check_dir_meta(path, &meta)
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Check an existing private directory without creating it; `Ok(false)`
/// when it does not exist. It must be a real directory (not a symlink)
/// owned by the current user. One that group or others can write to is
/// refused ([`PathsError::OpenToOthers`]): someone may have planted files
/// in it. One they can only read or search is tightened to 0700, since
/// nothing in it can have been changed by them.
pub fn check_private_dir(path: &Path) -> Result<bool, PathsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => check_dir_meta(path, &meta).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn check_dir_meta(path: &Path, meta: &fs::Metadata) -> Result<(), PathsError> {
    if meta.file_type().is_symlink() {
        return Err(PathsError::Symlink(path.to_path_buf()));
    }
    if !meta.is_dir() {
        return Err(PathsError::NotADirectory(path.to_path_buf()));
    }
    let me = my_uid();
    if meta.uid() != me {
        return Err(PathsError::WrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(PathsError::OpenToOthers {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io_err(path))?;
    }
    Ok(())
}

/// Atomically replace `path` with `bytes`, mode 0600. The one way abg
/// writes a private file: the parent must be a private directory
/// ([`check_private_dir`]); a temp file with a random name in it is created
/// with O_CREAT|O_EXCL|O_NOFOLLOW (a file or symlink planted at that name
/// makes the open fail, it is never followed or reused), written, fsynced
/// and renamed over `path`. A symlink at `path` itself is refused.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), PathsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !check_private_dir(dir)? {
        return Err(io_err(dir)(std::io::ErrorKind::NotFound.into()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_temp(dir, &name)?;
    let result = (|| {
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        if let Ok(meta) = fs::symlink_metadata(path)
            && meta.file_type().is_symlink()
        {
            return Err(PathsError::Symlink(path.to_path_buf()));
        }
        fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A new 0600 temp file `.<name>.tmp.<64 random bits>` in `dir`, created
/// exclusively and without following symlinks; a few other random names
/// are tried if one is taken.
fn create_temp(dir: &Path, name: &str) -> Result<(PathBuf, fs::File), PathsError> {
    let mut attempt = 0;
    loop {
        let tmp = dir.join(format!(".{name}.tmp.{:016x}", rand::random::<u64>()));
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp);
        match opened {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(e) => return Err(io_err(&tmp)(e)),
        }
    }
}

/// Read a private file abg wrote (at most `cap` bytes): refuses symlinks,
/// anything but a regular file, files owned by someone else and files
/// readable by group or others. Returns the bytes read, at most `cap + 1`
/// (a caller that sees more than `cap` knows the file is too long).
pub fn read_private_file(path: &Path, cap: u64) -> Result<Vec<u8>, PathsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                PathsError::Symlink(path.to_path_buf())
            } else {
                io_err(path)(e)
            }
        })?;
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(PathsError::NotRegularFile {
            path: path.to_path_buf(),
            what: file_kind(&meta.file_type()),
        });
    }
    let me = my_uid();
    if meta.uid() != me {
        return Err(PathsError::WrongOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(PathsError::WrongMode {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
        });
    }
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    Ok(bytes)
}

/// Read a secret file: [`read_private_file`]'s checks, and contents
/// exactly what [`new_secret`] writes ([`PathsError::InvalidSecret`], whose
/// fix says to delete the file so abg writes a new one).
pub fn read_secret_file(path: &Path) -> Result<String, PathsError> {
    let bytes = read_private_file(path, SECRET_LEN as u64)?;
    match secret_problem(&bytes) {
        None => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Some(why) => Err(PathsError::InvalidSecret {
            path: path.to_path_buf(),
            why,
            fix: format!(
                "Delete it (`rm {}`) and run abg again to write a new one",
                path.display()
            ),
        }),
    }
}

/// Why `bytes` is not a secret as [`new_secret`] writes it, if it is not.
fn secret_problem(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some("it is empty or only whitespace".into());
    }
    if bytes.len() != SECRET_LEN {
        return Some(if bytes.len() > SECRET_LEN {
            format!("it is longer than {SECRET_LEN} bytes")
        } else {
            format!("it is {} bytes long, not {SECRET_LEN}", bytes.len())
        });
    }
    if !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Some("it holds characters other than 0-9 a-f".into());
    }
    None
}

/// A fresh random secret: 32 bytes, hex encoded.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Read a file whose size and type someone else may control (a
/// repository's `.abg/config.toml`, an agent's settings), at most `cap`
/// bytes. It may be reached through symlinks, but must end at a regular
/// file ([`PathsError::NotRegularFile`] names a FIFO, device, directory or
/// socket) no larger than `cap` ([`PathsError::TooLarge`]). The open never
/// blocks (O_NONBLOCK, so a FIFO cannot hang abg) and the read stops after
/// `cap` + 1 bytes (so `/dev/zero` or a growing file cannot eat memory).
/// A missing file is an `Io` error with [`PathsError::is_not_found`].
pub fn read_bounded_regular_file(path: &Path, cap: u64) -> Result<Vec<u8>, PathsError> {
    // Check the type before opening: opening some devices has effects.
    let meta = fs::metadata(path).map_err(io_err(path))?;
    check_regular(path, &meta)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err(path))?;
    // Again on what was opened: the path may have changed in between.
    let meta = file.metadata().map_err(io_err(path))?;
    check_regular(path, &meta)?;
    if meta.len() > cap {
        return Err(PathsError::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > cap {
        return Err(PathsError::TooLarge {
            path: path.to_path_buf(),
            cap,
        });
    }
    Ok(bytes)
}

fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<(), PathsError> {
    if meta.is_file() {
        Ok(())
    } else {
        Err(PathsError::NotRegularFile {
            path: path.to_path_buf(),
            what: file_kind(&meta.file_type()),
        })
    }
}

fn file_kind(t: &fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests;
