//! `abg init --plugin`: the two `claude plugin` commands that register
//! abg's Claude Code plugin marketplace (the repository's `plugin/`
//! directory) and install the plugin from it, and where that directory is.

use std::path::{Path, PathBuf};

/// The marketplace manifest that marks a plugin directory.
pub const MANIFEST: &str = ".claude-plugin/marketplace.json";
/// What `claude plugin install` installs: plugin `abg` from marketplace `abg`.
pub const PLUGIN_REF: &str = "abg@abg";
/// Overrides where the plugin marketplace directory is.
pub const DIR_ENV: &str = "ABG_PLUGIN_DIR";

/// Whether `dir` holds a plugin marketplace.
pub fn is_marketplace(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// Where to look for the marketplace when none is given: next to the
/// installed binary (`<prefix>/share/abg/plugin`, `<bin dir>/plugin`), then
/// the source checkout this binary was built from.
pub fn candidates(exe: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(bin) = exe.and_then(Path::parent) {
        if let Some(prefix) = bin.parent() {
            out.push(prefix.join("share/abg/plugin"));
        }
        out.push(bin.join("plugin"));
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin"));
    out
}

/// The argv of each command, in order (program first).
pub fn commands(claude: &str, dir: &Path) -> Vec<Vec<String>> {
    vec![
        vec![
            claude.to_string(),
            "plugin".into(),
            "marketplace".into(),
            "add".into(),
            dir.display().to_string(),
        ],
        vec![
            claude.to_string(),
            "plugin".into(),
            "install".into(),
            PLUGIN_REF.into(),
        ],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_add_then_install() {
        let c = commands("claude", Path::new("/src/abg/plugin"));
        assert_eq!(
            c[0],
            ["claude", "plugin", "marketplace", "add", "/src/abg/plugin"]
        );
        assert_eq!(c[1], ["claude", "plugin", "install", "abg@abg"]);
    }

    #[test]
    fn candidates_prefer_the_install_prefix() {
        let c = candidates(Some(Path::new("/opt/abg/bin/abg")));
        assert_eq!(c[0], Path::new("/opt/abg/share/abg/plugin"));
        assert_eq!(c[1], Path::new("/opt/abg/bin/plugin"));
        assert!(c[2].ends_with("plugin"));
    }
}
