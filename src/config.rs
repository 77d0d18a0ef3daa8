//! Layered configuration: built-in defaults < user file < project
//! `.abg/config.toml` < `ABG_*` environment variables, later wins.
//!
//! It exists so every knob (idle shutdown, ports, timeouts, relay limits…)
//! is read, validated and explained in one place: unknown keys, wrong types
//! and out-of-range values are errors naming the file or variable, the
//! dotted key and what was expected, and every effective value remembers
//! its source so `abg status --json` can show where it came from.
//!
//! The known keys live in one registry, [`KEYS`]; callers read the typed
//! [`Settings`] (`cfg.settings.daemon_idle_shutdown_minutes`) and
//! [`Config::explain`] for the per-key value and source.

mod error;
mod keys;
mod suggest;
mod template;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};

pub use error::{ConfigError, Origin};
pub use keys::{KEYS, KeyDef, Kind, Settings, Value, find_key};
pub use template::commented_defaults;

use keys::LESS_THAN;

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
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(error) => {
            errors.push(ConfigError::Read {
                path: path.to_owned(),
                error,
            });
            return;
        }
    };
    let table = match text.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            let (line, column) = e
                .span()
                .map_or((1, 1), |span| line_column(&text, span.start));
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

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Validates `table` (found under dotted `prefix`) against [`KEYS`],
/// collecting `(index into KEYS, value)` for every valid key.
fn walk(
    table: &toml::Table,
    prefix: &str,
    origin: &Origin,
    found: &mut Vec<(usize, Value)>,
    errors: &mut Vec<ConfigError>,
) {
    for (name, raw) in table {
        let segment = key_segment(name);
        let key = if prefix.is_empty() {
            segment.into_owned()
        } else {
            format!("{prefix}.{segment}")
        };
        if let Some(index) = KEYS.iter().position(|d| d.key == key) {
            let def = &KEYS[index];
            match file_value(def, raw) {
                Ok(value) => found.push((index, value)),
                Err((expected, found)) => errors.push(ConfigError::Invalid {
                    origin: origin.clone(),
                    key,
                    expected,
                    found,
                }),
            }
        } else if is_table(&key) {
            match raw {
                toml::Value::Table(sub) => walk(sub, &key, origin, found, errors),
                other => errors.push(ConfigError::Invalid {
                    origin: origin.clone(),
                    key,
                    expected: "a table".to_owned(),
                    found: describe(other),
                }),
            }
        } else if raw.is_table() {
            let suggestion = suggest::closest(&key, table_names());
            errors.push(ConfigError::UnknownTable {
                origin: origin.clone(),
                key,
                suggestion,
            });
        } else {
            let suggestion = suggest::closest(&key, KEYS.iter().map(|d| d.key));
            errors.push(ConfigError::UnknownKey {
                origin: origin.clone(),
                key,
                suggestion,
            });
        }
    }
}

/// A TOML key as it would be written: bare when possible, else quoted (so a
/// quoted `"a.b"` can never pass for the dotted key `a.b`).
fn key_segment(name: &str) -> Cow<'_, str> {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(toml::Value::String(name.to_owned()).to_string())
    }
}

/// Whether `key` is a known table (a proper prefix of some known key).
fn is_table(key: &str) -> bool {
    KEYS.iter().any(|d| {
        d.key
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Every known table name, e.g. `daemon`, `log`.
fn table_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for def in KEYS {
        let mut key = def.key;
        while let Some((table, _)) = key.rsplit_once('.') {
            if !names.contains(&table) {
                names.push(table);
            }
            key = table;
        }
    }
    names
}

/// Checks a TOML value against a key; `Err((expected, found))`.
fn file_value(def: &KeyDef, raw: &toml::Value) -> Result<Value, (String, String)> {
    match (def.kind, raw) {
        (Kind::Int { .. }, toml::Value::Integer(i)) => check_int(def, *i, || describe(raw)),
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
        (Kind::Str | Kind::Enum(_), toml::Value::String(s)) => check_str(def, s, || describe(raw)),
        _ => Err((def.kind.expected(), describe(raw))),
    }
}

/// Parses an environment variable's text for a key; `Err((expected, found))`.
fn parse_env_value(def: &KeyDef, raw: &str) -> Result<Value, (String, String)> {
    let found = || format!("{raw:?}");
    match def.kind {
        Kind::Int { .. } => match raw.trim().parse::<i64>() {
            Ok(i) => check_int(def, i, found),
            Err(_) => Err((def.kind.expected(), found())),
        },
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Value::Bool(true)),
            "0" | "false" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err((
                "a boolean (1/0, true/false, yes/no, on/off)".to_owned(),
                found(),
            )),
        },
        Kind::Str | Kind::Enum(_) => check_str(def, raw, found),
    }
}

fn parse_env(def: &'static KeyDef, raw: &str) -> Result<Value, ConfigError> {
    parse_env_value(def, raw).map_err(|(expected, found)| ConfigError::Invalid {
        origin: Origin::Env(def.env),
        key: def.key.to_owned(),
        expected,
        found,
    })
}

fn check_int(def: &KeyDef, i: i64, found: impl Fn() -> String) -> Result<Value, (String, String)> {
    match def.kind {
        Kind::Int { min, max } if (min..=max).contains(&i) => Ok(Value::Int(i)),
        _ => Err((def.kind.expected(), found())),
    }
}

fn check_str(def: &KeyDef, s: &str, found: impl Fn() -> String) -> Result<Value, (String, String)> {
    if s.is_empty() {
        return Err((def.kind.expected(), "an empty string".to_owned()));
    }
    if let Kind::Enum(choices) = def.kind
        && !choices.contains(&s)
    {
        return Err((def.kind.expected(), found()));
    }
    if let Some(check) = def.check
        && let Err(why) = check(s)
    {
        return Err((
            def.check_expected.to_owned(),
            format!("{} ({why})", found()),
        ));
    }
    Ok(Value::Str(Cow::Owned(s.to_owned())))
}

/// "found …" text for a TOML value: its type and, for scalars, the value.
fn describe(raw: &toml::Value) -> String {
    match raw {
        toml::Value::String(s) => {
            let shown: String = s.chars().take(60).collect();
            let ellipsis = if shown.len() < s.len() { "…" } else { "" };
            format!("string {}{ellipsis}", toml::Value::String(shown))
        }
        toml::Value::Integer(i) => format!("integer {i}"),
        toml::Value::Float(x) => format!("float {x}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        toml::Value::Datetime(d) => format!("datetime {d}"),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

/// Cross-key rules ([`LESS_THAN`]), checked on the merged values.
fn check_relations(values: &[(Value, Source)], errors: &mut Vec<ConfigError>) {
    let lookup = |key: &str| {
        KEYS.iter()
            .zip(values)
            .find(|(d, _)| d.key == key)
            .map(|(d, vs)| (d.key, vs))
    };
    for (lower, upper) in LESS_THAN {
        let (Some((lower, (lo, lo_src))), Some((upper, (hi, hi_src)))) =
            (lookup(lower), lookup(upper))
        else {
            continue;
        };
        if let (Value::Int(a), Value::Int(b)) = (lo, hi)
            && a >= b
        {
            errors.push(ConfigError::NotLess {
                lower,
                lower_value: lo.to_string(),
                lower_source: lo_src.clone(),
                upper,
                upper_value: hi.to_string(),
                upper_source: hi_src.clone(),
            });
        }
    }
}
