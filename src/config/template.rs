//! The commented config file `abg init` writes: every key, commented out,
//! with its default, range and environment variable, generated from
//! [`KEYS`] so it can never drift from what the loader accepts.

use std::fmt::Write as _;

use super::keys::{KEYS, KeyDef, Kind};

const HEADER: &str = "\
# abg configuration.
#
# Layers, later wins: built-in defaults < the user file (config.toml in the
# user config dir, e.g. ~/.config/abg/, or in $ABG_CONFIG_DIR) < this
# project's .abg/config.toml < ABG_* environment variables. Every setting
# below is commented out and shows its built-in default: remove the leading
# '#' to change one.
# `abg status --json` shows each effective value and where it came from.
";

/// TOML text listing every known key, commented out with its default and a
/// help line. Uncommenting any setting line yields valid config.
pub fn commented_defaults() -> String {
    let mut out = String::from(HEADER);
    // Top-level keys must come before the first table header.
    for def in KEYS.iter().filter(|d| d.table().is_none()) {
        out.push('\n');
        push_key(&mut out, def);
    }
    let mut tables: Vec<&str> = Vec::new();
    for table in KEYS.iter().filter_map(KeyDef::table) {
        if !tables.contains(&table) {
            tables.push(table);
        }
    }
    for table in tables {
        let _ = write!(out, "\n[{table}]\n");
        for (i, def) in KEYS.iter().filter(|d| d.table() == Some(table)).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            push_key(&mut out, def);
        }
    }
    out
}

fn push_key(out: &mut String, def: &KeyDef) {
    let kind = match def.kind {
        Kind::Int { min, max } => format!("Integer, {min} to {max}"),
        Kind::Bool => "Boolean".to_owned(),
        Kind::Str => "String".to_owned(),
        Kind::Enum(choices) => format!("One of {}", choices.join(", ")),
    };
    let _ = write!(
        out,
        "# {}\n# {kind}; environment variable {}.\n#{} = {}\n",
        def.help,
        def.env,
        def.leaf(),
        def.default
    );
}
