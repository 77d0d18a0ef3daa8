//! Validation of config values against the key registry: walks a parsed
//! TOML table or reads an environment variable, and turns every mistake into
//! a [`ConfigError`] naming the file or variable, the key and what was
//! expected.

use std::borrow::Cow;

use super::error::{Bound, ConfigError, Origin};
use super::keys::{KEYS, KeyDef, Kind, LESS_THAN, Value};
use super::{Source, suggest};

/// 1-based line and column (in characters) of byte offset `at`.
pub(super) fn line_column(text: &str, at: usize) -> (usize, usize) {
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
pub(super) fn walk(
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
/// quoted `"a.b"` can never pass for the dotted key `a.b`), preferring
/// single quotes since messages wrap the whole key in double quotes.
fn key_segment(name: &str) -> Cow<'_, str> {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        Cow::Borrowed(name)
    } else if !name.contains(|c: char| c == '\'' || c.is_control()) {
        Cow::Owned(format!("'{name}'"))
    } else {
        Cow::Owned(toml::Value::String(name.to_owned()).to_string())
    }
}

/// Whether `key` is a known table (a proper prefix of some known key).
pub(super) fn is_table(key: &str) -> bool {
    KEYS.iter().any(|d| {
        d.key
            .strip_prefix(key)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// Every known table name, e.g. `daemon`, `log`.
pub(super) fn table_names() -> Vec<&'static str> {
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
pub(super) fn file_value(def: &KeyDef, raw: &toml::Value) -> Result<Value, (String, String)> {
    match (def.kind, raw) {
        (Kind::Int { .. }, toml::Value::Integer(i)) => check_int(def, *i, || describe(raw)),
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
        (Kind::Str | Kind::Enum(_), toml::Value::String(s)) => check_str(def, s, || describe(raw)),
        _ => Err((def.kind.expected(), describe(raw))),
    }
}

/// Parses an environment variable's text for a key; `Err((expected, found))`.
pub(super) fn parse_env_value(def: &KeyDef, raw: &str) -> Result<Value, (String, String)> {
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

pub(super) fn parse_env(def: &'static KeyDef, raw: &str) -> Result<Value, ConfigError> {
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
pub(super) fn check_relations(values: &[(Value, Source)], errors: &mut Vec<ConfigError>) {
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
                lower: Box::new(Bound {
                    key: lower,
                    value: lo.to_string(),
                    source: lo_src.clone(),
                }),
                upper: Box::new(Bound {
                    key: upper,
                    value: hi.to_string(),
                    source: hi_src.clone(),
                }),
            });
        }
    }
}
