//! Configuration errors, worded for the person who has to fix the file or
//! variable: each names where the bad value came from, the dotted key and
//! what was expected.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::Source;

/// Where a rejected value was written: a config file or an environment
/// variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
        }
    }
}

/// One side of a cross-key rule: the key, its effective value and where
/// that value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub key: &'static str,
    /// The value as written in TOML.
    pub value: String,
    pub source: Source,
}

/// `key "budget.pause_at" (40, from user:/home/me/.config/abg/config.toml)`.
impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "key \"{}\" ({}, from {})",
            self.key, self.value, self.source
        )
    }
}

/// Why the configuration could not be loaded. `Display` is the complete
/// message for the user.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read (permissions, a directory, not UTF-8…).
    #[error("{}: cannot read config file: {error}", .path.display())]
    Read { path: PathBuf, error: io::Error },

    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", .path.display())]
    Syntax {
        path: PathBuf,
        /// 1-based.
        line: usize,
        /// 1-based, in characters.
        column: usize,
        message: String,
    },

    /// A key abg does not know.
    #[error("{origin}: unknown key \"{key}\"{}", did_you_mean(.suggestion))]
    UnknownKey {
        origin: Origin,
        key: String,
        suggestion: Option<&'static str>,
    },

    /// A table abg does not know.
    #[error("{origin}: unknown table \"{key}\"{}", did_you_mean(.suggestion))]
    UnknownTable {
        origin: Origin,
        key: String,
        suggestion: Option<&'static str>,
    },

    /// A known key with a value of the wrong type, out of range, or refused.
    #[error("{origin}: key \"{key}\": expected {expected}, found {found}")]
    Invalid {
        origin: Origin,
        key: String,
        expected: String,
        found: String,
    },

    /// Two values that are valid alone but not together.
    #[error("{lower} must be less than {upper}")]
    NotLess {
        lower: Box<Bound>,
        upper: Box<Bound>,
    },

    /// Several of the above, one per line.
    #[error("{}", join_lines(.0))]
    Many(Vec<ConfigError>),
}

impl ConfigError {
    /// The individual errors (one unless this is [`ConfigError::Many`]).
    pub fn errors(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Many(all) => all.iter().collect(),
            one => vec![one],
        }
    }

    /// One error as is, several as [`ConfigError::Many`]; `None` when empty.
    pub(super) fn collect(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Many(errors)),
        }
    }
}

fn did_you_mean(suggestion: &Option<&'static str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean \"{s}\"?)"))
}

fn join_lines(errors: &[ConfigError]) -> String {
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    lines.join("\n")
}
