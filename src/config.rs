//! Layered configuration: built-in defaults < user file < project
//! `.abg/config.toml` < `ABG_*` environment variables, later wins.
//!
//! It exists so every knob (idle shutdown, ports, timeouts, relay limits…)
//! is read, validated and explained in one place: unknown keys, wrong types
//! and out-of-range values are errors naming the file or variable, the
//! dotted key and what was expected, and every effective value remembers
//! its source so `abg status --json` can show where it came from.
//!
//! Config files are read with a bound (regular files only, at most
//! [`crate::paths::FILE_CAP`]), since a repository controls its own.
//!
//! The known keys live in one registry, [`KEYS`]; callers read the typed
//! [`Settings`] (`cfg.settings.daemon_idle_shutdown_minutes`) and
//! [`Config::explain`] for the per-key value and source.

mod error;
#[cfg(test)]
mod file_tests;
mod keys;
mod settings;
mod suggest;
mod template;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

pub use error::{Bound, ConfigError, Origin};
pub use keys::{KEYS, KeyDef, Kind, Settings, Value, find_key, log_filter};
pub use template::commented_defaults;

use validate::{check_relations, line_column, parse_env, walk};
#[cfg(test)]
use validate::{file_value, is_table, parse_env_value, table_names};

/// Name of the config file, in the user config dir and in `<project>/.abg/`.
pub const FILE_NAME: &str = "config.toml";

/// Environment variable that overrides the user config directory.
pub const CONFIG_DIR_ENV: &str = "ABG_CONFIG_DIR";

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    User(PathBuf),
    Project(PathBuf),
    Env(&'static str),
}

/// `default`, `user:<path>`, `project:<path>` or `env:<VAR>`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::User(path) => write!(f, "user:{}", path.display()),
            Source::Project(path) => write!(f, "project:{}", path.display()),
            Source::Env(var) => write!(f, "env:{var}"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One effective value, as `abg status --json` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub key: String,
    pub value: serde_json::Value,
    pub source: String,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The effective values, typed.
    pub settings: Settings,
    /// One `(value, source)` per entry of [`KEYS`], in that order.
    values: Vec<(Value, Source)>,
}

impl Default for Config {
    /// The built-in defaults, every source [`Source::Default`].
    fn default() -> Self {
        Config::from_values(
            KEYS.iter()
                .map(|d| (d.default.clone(), Source::Default))
                .collect(),
        )
    }
}

impl Config {
    /// Loads the layers: defaults, then `user_file` (the full path of the
    /// user's `config.toml`), then `<project_root>/.abg/config.toml`, then
    /// the `ABG_*` variables of [`KEYS`] as answered by `env`. Missing files
    /// are skipped; an empty variable counts as unset. All problems found
    /// are reported together.
    pub fn load(
        user_file: Option<&Path>,
        project_root: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut values: Vec<(Value, Source)> = KEYS
            .iter()
            .map(|d| (d.default.clone(), Source::Default))
            .collect();
        let mut errors = Vec::new();

        if let Some(path) = user_file {
            apply_file(path, Source::User, &mut values, &mut errors);
        }
        if let Some(root) = project_root {
            let path = project_config_path(root);
            apply_file(&path, Source::Project, &mut values, &mut errors);
        }
        for (def, slot) in KEYS.iter().zip(values.iter_mut()) {
            let Some(raw) = env(def.env) else { continue };
            if raw.is_empty() {
                continue;
            }
            match parse_env(def, &raw) {
                Ok(value) => *slot = (value, Source::Env(def.env)),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            check_relations(&values, &mut errors);
        }
        match ConfigError::collect(errors) {
            Some(e) => Err(e),
            None => Ok(Config::from_values(values)),
        }
    }

    /// The configuration a project file at `path` holding `text` gives over
    /// the defaults (no user file, no environment), parsed and validated as
    /// [`Config::load`] does every file. Public for the fuzz targets (`fuzz/`).
    pub fn from_project_text(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut values: Vec<(Value, Source)> = KEYS
            .iter()
            .map(|d| (d.default.clone(), Source::Default))
            .collect();
        let mut errors = Vec::new();
        apply_text(path, text, Source::Project, &mut values, &mut errors);
        if errors.is_empty() {
            check_relations(&values, &mut errors);
        }
        match ConfigError::collect(errors) {
            Some(e) => Err(e),
            None => Ok(Config::from_values(values)),
        }
    }

    /// [`Config::load`] with [`user_config_path`] and the process environment.
    pub fn load_default(project_root: Option<&Path>) -> Result<Config, ConfigError> {
        let env = real_env;
        let user = user_config_path_with(&env);
        Config::load(user.as_deref(), project_root, &env)
    }

    fn from_values(values: Vec<(Value, Source)>) -> Config {
        Config {
            settings: Settings::from_values(values.iter().map(|(v, _)| v)),
            values,
        }
    }

    /// Every key with its effective value and source, in [`KEYS`] order.
    pub fn explain(&self) -> Vec<Entry> {
        KEYS.iter()
            .zip(&self.values)
            .map(|(def, (value, source))| Entry {
                key: def.key.to_owned(),
                value: value.to_json(),
                source: source.to_string(),
            })
            .collect()
    }

    /// The effective value of a dotted key.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.index(key).map(|i| &self.values[i].0)
    }

    /// Where the effective value of a dotted key came from.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.index(key).map(|i| &self.values[i].1)
    }

    fn index(&self, key: &str) -> Option<usize> {
        KEYS.iter()
            .position(|d| d.key == key)
            .filter(|&i| i < self.values.len())
    }
}

/// `<project_root>/.abg/config.toml`.
pub fn project_config_path(project_root: &Path) -> PathBuf {
    project_root.join(".abg").join(FILE_NAME)
}

/// The user config file: `$ABG_CONFIG_DIR/config.toml` when that is set and
/// non-empty, else `config.toml` in the platform config dir
/// (`~/.config/abg/` on Linux). `None` when no home directory is known.
pub fn user_config_path() -> Option<PathBuf> {
    user_config_path_with(&real_env)
}

fn user_config_path_with(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match env(CONFIG_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join(FILE_NAME)),
        _ => directories::ProjectDirs::from("", "", "abg")
            .map(|dirs| dirs.config_dir().join(FILE_NAME)),
    }
}

fn real_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Reads, parses and validates one file, overriding `values` with what it
/// sets. A missing file is not an error.
fn apply_file(
    path: &Path,
    layer: fn(PathBuf) -> Source,
    values: &mut [(Value, Source)],
    errors: &mut Vec<ConfigError>,
) {
    // A repository decides what its `.abg/config.toml` is: a FIFO must not
    // hang abg, nor `/dev/zero` fill its memory.
    let text = match crate::paths::read_bounded_regular_file(path, crate::paths::FILE_CAP) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                errors.push(ConfigError::Read {
                    path: path.to_owned(),
                    error: io::Error::new(io::ErrorKind::InvalidData, e.utf8_error()),
                });
                return;
            }
        },
        Err(e) if e.is_not_found() => return,
        Err(e) => {
            errors.push(ConfigError::Read {
                path: path.to_owned(),
                error: bounded_read_error(e),
            });
            return;
        }
    };
    apply_text(path, &text, layer, values, errors);
}

/// Parses and validates the `text` of the file at `path`, overriding
/// `values` with what it sets.
fn apply_text(
    path: &Path,
    text: &str,
    layer: fn(PathBuf) -> Source,
    values: &mut [(Value, Source)],
    errors: &mut Vec<ConfigError>,
) {
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            let (line, column) = e
                .span()
                .map_or((1, 1), |span| line_column(text, span.start));
            errors.push(ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim_end().to_owned(),
            });
            return;
        }
    };
    let origin = Origin::File(path.to_owned());
    let mut found = Vec::new();
    walk(&table, "", &origin, &mut found, errors);
    for (index, value) in found {
        values[index] = (value, layer(path.to_owned()));
    }
}

/// The reason a config file could not be read, worded without its path
/// (the error names it already).
fn bounded_read_error(e: crate::paths::PathsError) -> io::Error {
    use crate::paths::PathsError;
    match e {
        PathsError::Io { source, .. } => source,
        PathsError::NotRegularFile { what, .. } => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {what}, not a regular file; replace it with a regular file or remove it"
            ),
        ),
        PathsError::TooLarge { cap, .. } => io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "it is larger than {cap} bytes (1 MiB), the most abg reads of a config file; shorten it"
            ),
        ),
        other => io::Error::other(other.to_string()),
    }
}
