//! Files and checks around an `abg claude` launch, as pure or small I/O
//! functions: the MCP config and the settings layer (hooks, pre-allowed
//! tools, statusline; per way, see [`super::channel`]) Claude is started with, the one-live-`abg claude`-per-pair lock,
//! the channel registration line of Claude's debug log, and whether
//! Claude's prompt line is empty (before the doorbell types into it).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::Flock;
use serde_json::{Value, json};
use thiserror::Error;

use super::channel::{self, Via};
use super::launch::SERVER_NAME;

/// Errors preparing a launch.
#[derive(Debug, Error)]
pub enum SetupError {
    #[error(
        "another `abg claude` is already running for this pair (pid {0}); use it, or stop it first. Run a second Claude in another pair with `abg --pair NAME claude`"
    )]
    AlreadyRunning(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SetupError + '_ {
    move |source| SetupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `content` to `path` readable by the owner only (0600), through
/// abg's one private-file writer (never through a symlink).
pub fn write_private(path: &Path, content: &str) -> Result<(), SetupError> {
    Ok(crate::paths::write_private_file(path, content.as_bytes())?)
}

/// Variables that tell `abg mcp` and `abg hook` which pair they serve and
/// which way `abg claude` loaded them (the other way's copies stay idle).
pub fn pair_env(root: &Path, pair_name: &str, via: Via) -> Vec<(String, String)> {
    let mut env = vec![
        (
            super::mcp::PROJECT_ENV.to_string(),
            root.display().to_string(),
        ),
        ("ABG_PAIR".to_string(), pair_name.to_string()),
        (channel::VIA_ENV.to_string(), via.as_str().to_string()),
    ];
    // Quota relay (issue 7): `abg statusline` chains to the user's own statusLine.
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(cmd) = crate::budget::statusline::user_command(root, home.as_deref()) {
        env.push((crate::budget::statusline::USER_ENV.to_string(), cmd));
    }
    for key in ["ABG_STATE_DIR", "ABG_CONFIG_DIR", "ABG_BASE_PORT"] {
        if let Some(v) = std::env::var_os(key).filter(|v| !v.is_empty()) {
            env.push((key.to_string(), v.to_string_lossy().into_owned()));
        }
    }
    env
}

/// The `--mcp-config` content: abg's channel server, run as
/// `abg mcp --via generated`.
pub fn mcp_config(exe: &Path, env: &[(String, String)]) -> Value {
    let env: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({"mcpServers": {SERVER_NAME: {
        "type": "stdio",
        "command": exe.display().to_string(),
        "args": ["mcp", "--via", Via::Generated.as_str()],
        "env": env,
    }}})
}

/// Single-quote `s` for `/bin/sh`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `--settings` layer: abg's tools (as `via` names them) pre-allowed and
/// `abg statusline` as the statusLine (it records Claude's quota windows,
/// issue 7). The generated way adds hooks running `abg hook <event> --via
/// generated` with this exe's absolute path, and switches the abg plugin off
/// for this session (verified on 2.1.330: a `--settings` layer's
/// `enabledPlugins` keeps an installed plugin's server and hooks out), so
/// nothing runs twice. The plugin way brings its own hooks.
pub fn settings(exe: &Path, via: Via) -> Value {
    let hook = |event: &str, timeout: u32| {
        json!([{"hooks": [{
            "type": "command",
            "command": format!(
                "{} hook {event} --via {}",
                sh_quote(&exe.display().to_string()),
                Via::Generated.as_str()
            ),
            "timeout": timeout,
        }]}])
    };
    let tools: Vec<String> = ["reply", "get_messages", "get_budget"]
        .iter()
        .map(|t| via.tool(t))
        .collect();
    let mut layer = json!({
        "permissions": {"allow": tools},
        // Quota relay (issue 7): `abg statusline` records Claude's windows.
        "statusLine": crate::budget::statusline::setting(exe),
    });
    if via == Via::Generated {
        layer["hooks"] = json!({
            "SessionStart": hook("session-start", 10),
            "UserPromptSubmit": hook("user-prompt-submit", 10),
            "PostToolUse": hook("post-tool-use", 10),
            "Stop": hook("stop", 15),
        });
        layer["enabledPlugins"] = json!({ channel::PLUGIN_REF: false });
    }
    layer
}

/// Hold the pair's `abg claude` lock for as long as the returned value lives.
pub fn lock(pair_dir: &Path) -> Result<Flock<File>, SetupError> {
    let path = pair_dir.join("claude.lock");
    match crate::lockfile::try_lock(&path).map_err(io(&path))? {
        Some(mut locked) => {
            let _ = locked.set_len(0);
            let _ = writeln!(locked, "{}", std::process::id());
            Ok(locked)
        }
        None => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            let pid = pid.trim();
            Err(SetupError::AlreadyRunning(if pid.is_empty() {
                "unknown".into()
            } else {
                pid.to_string()
            }))
        }
    }
}

/// What Claude's debug log says about abg's channel (the server named
/// `server`: `abg`, or `plugin:abg:abg` for the plugin): `Some(Ok(()))` when
/// registered, `Some(Err(reason))` when skipped, `None` when not yet known.
pub fn registration(log: &str, server: &str) -> Option<Result<(), String>> {
    let ours = format!("MCP server \"{server}\":");
    for line in log.lines() {
        if !line.contains(&ours) {
            continue;
        }
        if line.contains("Channel notifications registered") {
            return Some(Ok(()));
        }
        if let Some(at) = line.find("Channel notifications skipped:") {
            let reason = line[at + "Channel notifications skipped:".len()..].trim();
            return Some(Err(reason.to_string()));
        }
    }
    None
}

/// The verdict of whichever way the log's launch used: the generated
/// server's when it has one (a generated launch may also log the plugin's
/// server as skipped), else the plugin's.
pub fn last_registration(log: &str) -> Option<Result<(), String>> {
    registration(log, Via::Generated.server_name())
        .or_else(|| registration(log, Via::Plugin.server_name()))
}

/// The one line `abg claude` prints when channels are unavailable.
pub fn unavailable_line(reason: &str) -> String {
    format!(
        "abg: Claude channels are unavailable here ({reason}); messages from Codex are delivered through the Stop hook, the prompt doorbell and get_messages instead"
    )
}

/// Whether Claude's input line (the cursor's row) holds no typed text.
pub fn prompt_is_empty(cursor_line: &str) -> bool {
    let line = cursor_line.trim_matches(|c: char| c.is_whitespace() || c == '│');
    let Some(rest) = line.strip_prefix('❯').or_else(|| line.strip_prefix('>')) else {
        return false;
    };
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with("Try \"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_lines_are_read() {
        let reg = "2026 [DEBUG] MCP server \"abg\": Channel notifications registered\n";
        assert_eq!(registration(reg, "abg"), Some(Ok(())));
        assert_eq!(registration(reg, "plugin:abg:abg"), None);
        let skip = "x MCP server \"abg\": Channel notifications skipped: channels feature is not currently available\n";
        assert_eq!(
            registration(skip, "abg"),
            Some(Err("channels feature is not currently available".into()))
        );
        let other = "x MCP server \"bridge\": Channel notifications registered\n";
        assert_eq!(registration(other, "abg"), None);
        assert_eq!(registration("", "abg"), None);
        // The plugin's server, as 2.1.330 logs it; in a generated launch with
        // the plugin still enabled it was skipped while `abg` registered.
        let log = "t [DEBUG] MCP server \"plugin:abg:abg\": Channel notifications skipped: server plugin:abg:abg not in --channels list for this session\n\
                   t [DEBUG] MCP server \"abg\": Channel notifications registered\n";
        assert_eq!(registration(log, "abg"), Some(Ok(())));
        assert!(
            matches!(registration(log, "plugin:abg:abg"), Some(Err(r)) if r.contains("--channels list"))
        );
        let plug = "t [DEBUG] MCP server \"plugin:abg:abg\": Channel notifications registered\n";
        assert_eq!(registration(plug, "plugin:abg:abg"), Some(Ok(())));
        assert_eq!(last_registration(plug), Some(Ok(())));
        assert_eq!(last_registration(log), Some(Ok(())));
    }

    #[test]
    fn prompt_line_checks() {
        for (line, empty) in [
            ("❯ ", true),
            ("│ ❯          │", true),
            ("> Try \"edit main.rs\"", true),
            ("❯ hello", false),
            ("  2. Exit", false),
        ] {
            assert_eq!(prompt_is_empty(line), empty, "{line:?}");
        }
    }

    #[test]
    fn settings_run_hooks_by_absolute_path() {
        let s = settings(Path::new("/opt/abg dir/abg"), Via::Generated);
        let cmd = s["hooks"]["Stop"][0]["hooks"][0]["command"]
            .as_str()
            .expect("cmd");
        assert_eq!(cmd, "'/opt/abg dir/abg' hook stop --via generated");
        assert_eq!(s["permissions"]["allow"][0], "mcp__abg__reply");
        assert_eq!(s["enabledPlugins"]["abg@abg"], false);
        assert!(s["statusLine"].is_object());
        let m = mcp_config(Path::new("/x/abg"), &[("ABG_PAIR".into(), "main".into())]);
        assert_eq!(
            m["mcpServers"]["abg"]["args"],
            json!(["mcp", "--via", "generated"])
        );
        assert_eq!(m["mcpServers"]["abg"]["env"]["ABG_PAIR"], "main");
    }

    #[test]
    fn plugin_settings_carry_only_what_the_plugin_lacks() {
        let s = settings(Path::new("/x/abg"), Via::Plugin);
        assert!(s.get("hooks").is_none(), "the plugin brings its hooks: {s}");
        assert!(s.get("enabledPlugins").is_none(), "{s}");
        assert!(s["statusLine"].is_object());
        assert_eq!(
            s["permissions"]["allow"],
            json!([
                "mcp__plugin_abg_abg__reply",
                "mcp__plugin_abg_abg__get_messages",
                "mcp__plugin_abg_abg__get_budget"
            ])
        );
        let env = pair_env(Path::new("/p"), "main", Via::Plugin);
        assert!(
            env.contains(&("ABG_CLAUDE_VIA".into(), "plugin".into())),
            "{env:?}"
        );
    }

    #[test]
    fn the_lock_refuses_a_second_holder_and_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let first = lock(dir.path()).expect("first");
        let err = lock(dir.path()).expect_err("second");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        assert!(lock(dir.path()).is_ok());
        let p = dir.path().join("f.json");
        write_private(&p, "{}").expect("write");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn private_writes_never_go_through_a_symlink() {
        let dir = tempfile::tempdir().expect("dir");
        let pair_dir = dir.path().join("pair");
        crate::paths::ensure_private_dir(&pair_dir).expect("pair dir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let p = pair_dir.join("claude-settings.json");
        std::os::unix::fs::symlink(&victim, &p).expect("plant");
        assert!(write_private(&p, "{}").is_err());
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
        // The lock file is not followed either.
        let lock_path = pair_dir.join("claude.lock");
        std::os::unix::fs::symlink(&victim, &lock_path).expect("plant lock");
        assert!(lock(&pair_dir).is_err());
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
    }
}
