//! `abg init`'s library side: the collaboration contract (`contract`), the
//! marker-section upsert (`markers`), the dry-run diff (`diff`), the plugin
//! install commands (`plugin`), and here the file plan: what `abg init`
//! would write in a project, computed without touching anything, then
//! applied with a one-time backup of every file it changes.
//!
//! When `CLAUDE.md` and `AGENTS.md` are one file (a symlink, a hard link),
//! that file gets one section holding both agents' contracts, so the two
//! upserts never fight over one marker pair.

pub mod contract;
pub mod diff;
pub mod markers;
pub mod plugin;

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use contract::Target;
use markers::{Change, MarkerError};

/// Suffix of the one-time backup written next to a changed file.
pub const BACKUP_SUFFIX: &str = ".abg-backup";

/// Errors of `abg init`.
#[derive(Debug, Error)]
pub enum InitError {
    #[error("{path}: {source}")]
    Marker {
        path: PathBuf,
        #[source]
        source: MarkerError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not UTF-8 text; abg only edits UTF-8 Markdown. Fix or remove it, then run `abg init` again"
    )]
    NotText { path: PathBuf },
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a planned write is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The contract section of an instruction file.
    Contract(Change),
    /// `.abg/config.toml`, created with commented defaults.
    Config,
}

/// One file `abg init` would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Where to write (symlinks resolved).
    pub path: PathBuf,
    /// The name to show, relative to the project root.
    pub label: String,
    pub old: Option<String>,
    pub new: String,
    pub kind: Kind,
}

impl Planned {
    /// Whether applying this changes the file.
    pub fn writes(&self) -> bool {
        match self.kind {
            Kind::Contract(change) => change.writes(),
            Kind::Config => true,
        }
    }

    /// The dry-run view: a unified diff, or a one-line note for the config.
    pub fn preview(&self) -> String {
        match self.kind {
            Kind::Config => format!(
                "would create {} with every setting commented out at its default\n",
                self.label
            ),
            Kind::Contract(_) => diff::unified(&self.label, self.old.as_deref(), &self.new),
        }
    }
}

/// What applying one planned write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub label: String,
    pub kind: Kind,
    /// The backup written now (only the first time a file is changed).
    pub backup: Option<PathBuf>,
}

/// A repository's instruction file, if any: a regular file under the cap
/// (a FIFO or `/dev/zero` there must not hang `abg init` or fill memory).
fn read_optional(path: &Path) -> Result<Option<String>, InitError> {
    match crate::paths::read_bounded_regular_file(path, crate::paths::FILE_CAP) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| InitError::NotText {
                path: path.to_path_buf(),
            }),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The real file behind `path` (following symlinks), or `path` itself.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Compute every write `abg init` would do in `root`, touching nothing.
pub fn plan(root: &Path, config_defaults: &str) -> Result<Vec<Planned>, InitError> {
    let mut out: Vec<Planned> = Vec::new();
    let mut seen: Vec<(PathBuf, usize)> = Vec::new();
    for target in Target::ALL {
        let path = resolve(&root.join(target.file_name()));
        if let Some(&(_, at)) = seen.iter().find(|(p, _)| *p == path) {
            // Same file as an earlier target: one section with both contracts.
            let item = &mut out[at];
            let body = format!("{}\n{}", Target::Codex.section(), Target::Claude.section());
            let up = markers::upsert(item.old.as_deref(), &body).map_err(|source| {
                InitError::Marker {
                    path: path.clone(),
                    source,
                }
            })?;
            item.label = format!("{} (= {})", item.label, target.file_name());
            item.new = up.text;
            item.kind = Kind::Contract(up.change);
            continue;
        }
        let old = read_optional(&path)?;
        let up = markers::upsert(old.as_deref(), &target.section()).map_err(|source| {
            InitError::Marker {
                path: path.clone(),
                source,
            }
        })?;
        seen.push((path.clone(), out.len()));
        out.push(Planned {
            path,
            label: target.file_name().to_string(),
            old,
            new: up.text,
            kind: Kind::Contract(up.change),
        });
    }
    let config = crate::config::project_config_path(root);
    if !config.exists() {
        out.push(Planned {
            label: format!(".abg/{}", crate::config::FILE_NAME),
            path: config,
            old: None,
            new: config_defaults.to_string(),
            kind: Kind::Config,
        });
    }
    Ok(out)
}

/// Perform the planned writes. A changed file that existed is first copied
/// to `<file>.abg-backup`, unless that backup already exists (the first
/// backup is the one worth keeping).
pub fn apply(planned: &[Planned]) -> Result<Vec<Applied>, InitError> {
    let mut done = Vec::new();
    for item in planned.iter().filter(|p| p.writes()) {
        let mut backup = None;
        if let Some(old) = &item.old {
            let mut name = item.path.as_os_str().to_owned();
            name.push(BACKUP_SUFFIX);
            let path = PathBuf::from(name);
            if write_new(&path, old.as_bytes())? {
                backup = Some(path);
            }
        }
        if let Some(dir) = item.path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        replace(&item.path, item.new.as_bytes())?;
        done.push(Applied {
            label: item.label.clone(),
            kind: item.kind,
            backup,
        });
    }
    Ok(done)
}

/// Create `path` with `bytes` unless it exists; whether it was created.
fn write_new(path: &Path, bytes: &[u8]) -> Result<bool, InitError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    match file {
        Ok(mut f) => {
            f.write_all(bytes).map_err(io_err(path))?;
            f.sync_all().map_err(io_err(path))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Atomically replace `path` (a temp file in its directory, then rename),
/// keeping an existing file's permissions.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), InitError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.abg-tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(io_err(&tmp))?;
        }
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
