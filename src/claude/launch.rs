//! The command line `abg claude` runs: the real `claude` TUI with abg's
//! channel server loaded as a development channel — from the generated
//! `--mcp-config` (`server:abg`) or from the installed plugin
//! (`plugin:abg@abg`, see [`super::channel`]) — a settings layer (hooks
//! only for the generated way, since the plugin brings its own; the
//! statusline either way), and the user's own arguments passed through.
//! Pure functions, table-tested.

use std::path::{Path, PathBuf};

use thiserror::Error;

use super::channel::Via;
use crate::pair::Pair;

/// The files of one launch, under the pair's state dir (`abg mcp` reads
/// Claude's debug log too).
pub struct Files {
    pub mcp: PathBuf,
    pub settings: PathBuf,
    pub debug: PathBuf,
}

impl Files {
    pub fn for_pair(pair: &Pair) -> Self {
        Self {
            mcp: pair.dir.join("claude-mcp.json"),
            settings: pair.dir.join("claude-settings.json"),
            debug: pair.log_dir().join("claude-debug.log"),
        }
    }
}

/// Name of abg's MCP server in the generated config (`mcp__abg__reply`,
/// `source="abg"`); the plugin's is `plugin:abg:abg` ([`Via::server_name`]).
pub const SERVER_NAME: &str = "abg";

/// Errors in the user's Claude arguments.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LaunchError {
    #[error(
        "`{0}` is owned by abg: it loads abg's channel server itself (`--dangerously-load-development-channels server:abg`, or `plugin:abg@abg` with claude.channel = \"plugin\"); remove it"
    )]
    Owned(String),
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
}

/// Whether the user chose a permission mode themselves.
pub fn has_permission_flag(args: &[String]) -> bool {
    args.iter().any(|a| {
        a.starts_with("--permission-mode")
            || a == "--dangerously-skip-permissions"
            || a == "--allow-dangerously-skip-permissions"
    })
}

/// Files the launch refers to.
pub struct LaunchFiles<'a> {
    pub mcp_config: &'a Path,
    pub settings: &'a Path,
    pub debug_log: &'a Path,
}

/// Whether the user keeps every server but their `--mcp-config` ones out.
pub fn has_strict_mcp(args: &[String]) -> bool {
    args.iter().any(|a| a == "--strict-mcp-config")
}

/// Build the launch for `user_args`, loading abg `via` one way.
pub fn plan(
    program: &str,
    files: &LaunchFiles<'_>,
    user_args: &[String],
    safe: bool,
    via: Via,
) -> Result<Launch, LaunchError> {
    for a in user_args {
        for owned in ["--channels", "--dangerously-load-development-channels"] {
            if a == owned || a.starts_with(&format!("{owned}=")) {
                return Err(LaunchError::Owned(owned.to_string()));
            }
        }
    }
    let mut args = Vec::new();
    if via == Via::Generated {
        args.push("--mcp-config".to_string());
        args.push(files.mcp_config.display().to_string());
    }
    args.extend([
        "--dangerously-load-development-channels".to_string(),
        via.channel_entry().to_string(),
        "--settings".to_string(),
        files.settings.display().to_string(),
        "--debug-file".to_string(),
        files.debug_log.display().to_string(),
    ]);
    if !safe && !has_permission_flag(user_args) {
        args.push("--dangerously-skip-permissions".into());
    }
    args.extend_from_slice(user_args);
    Ok(Launch {
        program: program.into(),
        args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> LaunchFiles<'static> {
        LaunchFiles {
            mcp_config: Path::new("/s/mcp.json"),
            settings: Path::new("/s/settings.json"),
            debug_log: Path::new("/s/claude-debug.log"),
        }
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_launch_bypasses_permissions_and_loads_channel() {
        let l = plan(
            "claude",
            &files(),
            &s(&["--resume", "x"]),
            false,
            Via::Generated,
        )
        .expect("plan");
        assert!(
            l.args
                .windows(2)
                .any(|w| w == ["--dangerously-load-development-channels", "server:abg"])
        );
        assert!(
            l.args
                .contains(&"--dangerously-skip-permissions".to_string())
        );
        assert_eq!(&l.args[l.args.len() - 2..], &s(&["--resume", "x"])[..]);
        assert_eq!(l.args[..2], s(&["--mcp-config", "/s/mcp.json"])[..]);
    }

    #[test]
    fn plugin_launch_has_no_mcp_config_and_loads_the_plugin_channel() {
        let l = plan("claude", &files(), &[], false, Via::Plugin).expect("plan");
        assert!(
            !l.args.contains(&"--mcp-config".to_string()),
            "{:?}",
            l.args
        );
        assert!(
            l.args
                .windows(2)
                .any(|w| w == ["--dangerously-load-development-channels", "plugin:abg@abg"])
        );
        assert!(
            l.args
                .windows(2)
                .any(|w| w == ["--settings", "/s/settings.json"])
        );
        assert!(has_strict_mcp(&s(&["--strict-mcp-config"])));
        assert!(!has_strict_mcp(&s(&["--mcp-config", "x"])));
    }

    #[test]
    fn safe_or_own_permission_mode_keeps_prompts() {
        let l = plan("claude", &files(), &[], true, Via::Generated).expect("plan");
        assert!(
            !l.args
                .contains(&"--dangerously-skip-permissions".to_string())
        );
        let l = plan(
            "claude",
            &files(),
            &s(&["--permission-mode", "plan"]),
            false,
            Via::Plugin,
        )
        .expect("plan");
        assert!(
            !l.args
                .contains(&"--dangerously-skip-permissions".to_string())
        );
    }

    #[test]
    fn channel_flags_are_refused() {
        for a in [
            "--channels",
            "--dangerously-load-development-channels=server:x",
        ] {
            let err = plan("claude", &files(), &s(&[a]), false, Via::Plugin).expect_err(a);
            assert!(err.to_string().contains("owned by abg"));
        }
    }
}
