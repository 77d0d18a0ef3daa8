//! Where abg keeps its state and config, and how it creates the private
//! directories and secret files inside them.
//!
//! Every state directory abg creates is 0700 and owned by the current user;
//! every secret file is 0600, written atomically and never through a
//! symlink. A directory or file that fails those checks is refused with an
//! error that says how to fix it, rather than silently used.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

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
/// owned by the current user, not a symlink. An existing directory we own
/// with a wider mode is tightened to 0700.
pub fn ensure_private_dir(path: &Path) -> Result<(), PathsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => check_private_dir(path, &meta),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io_err(path))?;
            let meta = fs::symlink_metadata(path).map_err(io_err(path))?;
            check_private_dir(path, &meta)
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

fn check_private_dir(path: &Path, meta: &fs::Metadata) -> Result<(), PathsError> {
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
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io_err(path))?;
    }
    Ok(())
}

/// Atomically replace `path` with `bytes`, mode 0600: a temp file in the same
/// directory (created exclusively, never following symlinks), fsync, rename.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), PathsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
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

/// Read a secret file, refusing symlinks, files owned by someone else, and
/// files readable by group or others.
pub fn read_secret_file(path: &Path) -> Result<String, PathsError> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                PathsError::Symlink(path.to_path_buf())
            } else {
                io_err(path)(e)
            }
        })?;
    let meta = file.metadata().map_err(io_err(path))?;
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
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_err(path))?;
    Ok(text.trim().to_string())
}

/// A fresh random secret: 32 bytes, hex encoded.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dir_is_0700_and_tightened() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).expect("create");
        let mode = fs::metadata(&dir).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        ensure_private_dir(&dir).expect("tighten");
        assert_eq!(fs::metadata(&dir).expect("meta").mode() & 0o777, 0o700);
    }

    #[test]
    fn symlinked_dir_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let real = tmp.path().join("real");
        fs::create_dir(&real).expect("mkdir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        assert!(matches!(
            ensure_private_dir(&link),
            Err(PathsError::Symlink(_))
        ));
    }

    #[test]
    fn secret_files_are_0600_and_checked() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("secret");
        write_private_file(&file, b"abc\n").expect("write");
        assert_eq!(fs::metadata(&file).expect("meta").mode() & 0o777, 0o600);
        assert_eq!(read_secret_file(&file).expect("read"), "abc");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            read_secret_file(&file),
            Err(PathsError::WrongMode { .. })
        ));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        assert!(matches!(
            read_secret_file(&link),
            Err(PathsError::Symlink(_))
        ));
        assert!(matches!(
            write_private_file(&link, b"x"),
            Err(PathsError::Symlink(_))
        ));
    }

    #[test]
    fn secrets_are_random_hex() {
        let a = new_secret();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_secret());
    }
}
