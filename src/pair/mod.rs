//! Pairs: a (project root, name) couple that owns one daemon, one slot of
//! ports and one state directory.
//!
//! This module holds the identity rules (root resolution, name validation,
//! stable ids) and the per-pair file layout; `registry` allocates slots
//! under a lock, `ports` computes and probes the port block, and `resolve`
//! finds the pair a process started in a directory belongs to.

pub mod ports;
pub mod registry;
pub mod resolve;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

pub use ports::Ports;

/// Errors about pair identity and the registry.
#[derive(Debug, Error)]
pub enum PairError {
    #[error(
        "invalid pair name {0:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ - (and not \".\" or \"..\")"
    )]
    InvalidName(String),
    #[error("cannot resolve project directory {path}: {source}")]
    Root {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no pair named {name:?} for project {root}; start one with `abg --pair {name} claude` or `abg --pair {name} codex`"
    )]
    NotFound { name: String, root: PathBuf },
    #[error(
        "pair registry {path} is corrupt ({detail}); move it aside (`mv {path} {path}.bak`) and run abg again"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "registry {path} is from a newer abg (format version {found}); upgrade abg or remove the file"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error(
        "timed out waiting for the registry lock {path} (held by pid {holder}); retry, or remove the lock file if that process is gone"
    )]
    LockTimeout { path: PathBuf, holder: String },
    #[error(
        "port {port} (pair slot {slot}: {role}) is already in use{owner}; abg never moves a pair to another slot silently. Free the port, or set ABG_BASE_PORT / ports.base to another base"
    )]
    PortBusy {
        port: u16,
        slot: u32,
        role: &'static str,
        owner: String,
    },
    #[error(
        "no free pair slot below port 65535 with base port {base}; remove pairs with `abg pair rm` or `abg pair prune`"
    )]
    NoSlot { base: u16 },
    #[error("{0}")]
    InvalidEntry(Box<registry::Invalid>),
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A validated pair name: `^[A-Za-z0-9._-]{1,64}$`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PairName(String);

impl PairName {
    pub fn new(name: &str) -> Result<Self, PairError> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && name != "."
            && name != "..";
        if ok {
            Ok(Self(name.to_string()))
        } else {
            Err(PairError::InvalidName(name.to_string()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for PairName {
    fn default() -> Self {
        Self("main".to_string())
    }
}

impl TryFrom<String> for PairName {
    type Error = PairError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<PairName> for String {
    fn from(value: PairName) -> Self {
        value.0
    }
}

impl std::fmt::Display for PairName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `dir` holds a real git checkout: a `.git` directory with a
/// `HEAD`, or a `.git` file naming its `gitdir:` (worktree, submodule). An
/// empty `.git` is not one: Codex's sandbox creates such placeholders
/// (bubblewrap mount targets) in writable roots like `/tmp` while a
/// command runs.
fn is_checkout(dir: &Path) -> bool {
    let git = dir.join(".git");
    match std::fs::metadata(&git) {
        Ok(m) if m.is_dir() => git.join("HEAD").is_file(),
        Ok(m) if m.is_file() => std::fs::read(&git)
            .map(|b| b.starts_with(b"gitdir:"))
            .unwrap_or(false),
        _ => false,
    }
}

/// The project root for `cwd`: the nearest ancestor holding a git checkout
/// (a top level, worktree or submodule; see [`is_checkout`]), else `cwd`
/// itself, resolved with realpath so symlinks and subdirectories map to
/// one pair.
pub fn project_root(cwd: &Path) -> Result<PathBuf, PairError> {
    let real = std::fs::canonicalize(cwd).map_err(|source| PairError::Root {
        path: cwd.to_path_buf(),
        source,
    })?;
    let mut dir = real.as_path();
    loop {
        if is_checkout(dir) {
            return Ok(dir.to_path_buf());
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return Ok(real),
        }
    }
}

/// Stable pair id: `<slug(name)>-<8 hex of sha256(root \0 lowercase(name))>`.
pub fn pair_id(root: &Path, name: &PairName) -> String {
    let mut slug: String = name
        .as_str()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(32)
        .collect();
    if slug.trim_matches('-').is_empty() {
        slug = "pair".to_string();
    }
    let mut hasher = Sha256::new();
    hasher.update(root.as_os_str().as_encoded_bytes());
    hasher.update([0u8]);
    hasher.update(name.as_str().to_ascii_lowercase().as_bytes());
    let digest = hasher.finalize();
    format!("{slug}-{}", &hex::encode(digest)[..8])
}

/// One registered pair with its derived ports and state directory.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub id: String,
    pub name: String,
    pub root: PathBuf,
    pub slot: u32,
    pub ports: Ports,
    pub dir: PathBuf,
    pub created_ms: i64,
}

impl Pair {
    /// The pair secret (0600): the key every listener and client proves.
    pub fn secret_path(&self) -> PathBuf {
        self.dir.join("secret")
    }
    /// The daemon's pidfile (pid, start time, version, phase).
    pub fn daemon_file(&self) -> PathBuf {
        self.dir.join("daemon.json")
    }
    /// Startup lock serialising daemon spawns.
    pub fn startup_lock(&self) -> PathBuf {
        self.dir.join("daemon.lock")
    }
    /// Sentinel written by `abg kill`: no auto-respawn until the next agent launch.
    pub fn killed_file(&self) -> PathBuf {
        self.dir.join("killed")
    }
    /// The pair's SQLite store.
    pub fn store_file(&self) -> PathBuf {
        self.dir.join("store.sqlite")
    }
    /// Directory of the daemon's rotated logs.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
    /// Web UI session revocations (0600), see [`crate::web::auth`].
    pub fn ui_sessions_file(&self) -> PathBuf {
        self.dir.join("ui-sessions.json")
    }
    /// The current daemon log file.
    pub fn log_file(&self) -> PathBuf {
        self.log_dir().join("daemon.log")
    }
    /// Read the pair secret, checking owner, mode and shape (exactly what
    /// [`crate::paths::new_secret`] writes). A malformed one is refused with
    /// the way to get a new one: no key is ever derived from it.
    pub fn secret(&self) -> Result<String, crate::paths::PathsError> {
        crate::paths::read_secret_file(&self.secret_path()).map_err(|e| match e {
            crate::paths::PathsError::InvalidSecret { path, why, .. } => {
                let pair = if self.name == "main" {
                    String::new()
                } else {
                    format!(" --pair {}", self.name)
                };
                let fix = format!(
                    "To get a new one: `abg{pair} kill` (stops a daemon that may still use the old one), `rm {}`, and the next `abg{pair} claude` or `abg{pair} codex` writes a new secret and starts the daemon again (the pair's messages are kept); or remove the pair and its state with `abg pair rm {}`",
                    path.display(),
                    self.name
                );
                crate::paths::PathsError::InvalidSecret { path, why, fix }
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["main", "a", "feature-1.2_x", &"x".repeat(64)] {
            assert!(PairName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65), "a\0"] {
            let err = PairName::new(bad).expect_err(bad).to_string();
            assert!(err.contains("invalid pair name"), "{err}");
        }
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let main = PairName::new("main").expect("name");
        let a = pair_id(Path::new("/p/one"), &main);
        assert_eq!(a, pair_id(Path::new("/p/one"), &main));
        assert!(a.starts_with("main-") && a.len() == 13, "{a}");
        assert_ne!(a, pair_id(Path::new("/p/two"), &main));
        let other = PairName::new("Other.Name").expect("name");
        assert!(pair_id(Path::new("/p/one"), &other).starts_with("other-name-"));
    }

    #[test]
    fn root_is_git_toplevel_through_symlinks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).expect("git");
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        std::fs::create_dir_all(repo.join("src/deep")).expect("sub");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&repo, &link).expect("symlink");
        let real = std::fs::canonicalize(&repo).expect("canon");
        assert_eq!(project_root(&repo.join("src/deep")).expect("root"), real);
        assert_eq!(project_root(&link.join("src")).expect("root"), real);
        let plain = tmp.path().join("plain");
        std::fs::create_dir(&plain).expect("plain");
        let root = project_root(&plain).expect("root");
        assert_eq!(root, std::fs::canonicalize(&plain).expect("canon"));
        // A worktree's `.git` file counts too.
        let wt = tmp.path().join("wt");
        std::fs::create_dir_all(wt.join("a")).expect("wt");
        std::fs::write(wt.join(".git"), "gitdir: /elsewhere/.git/worktrees/wt\n").expect("gitfile");
        let real_wt = std::fs::canonicalize(&wt).expect("canon");
        assert_eq!(project_root(&wt.join("a")).expect("root"), real_wt);
    }

    #[test]
    fn an_empty_git_placeholder_is_not_a_checkout() {
        // Codex's sandbox leaves empty `.git` mount targets in writable
        // roots (`/tmp`) while a command runs: a project below one must
        // not resolve to it.
        let tmp = tempfile::tempdir().expect("tempdir");
        let project = tmp.path().join("work");
        std::fs::create_dir_all(&project).expect("work");
        for placeholder in ["dir", "file"] {
            let git = tmp.path().join(".git");
            let _ = std::fs::remove_dir(&git);
            let _ = std::fs::remove_file(&git);
            if placeholder == "dir" {
                std::fs::create_dir(&git).expect("empty dir");
            } else {
                std::fs::write(&git, "").expect("empty file");
            }
            assert_eq!(
                project_root(&project).expect("root"),
                std::fs::canonicalize(&project).expect("canon"),
                "an empty .git {placeholder}"
            );
        }
    }
}
