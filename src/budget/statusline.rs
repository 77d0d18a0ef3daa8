//! Pure helpers of `abg statusline` (Claude Code's statusLine command):
//! the settings entry `abg claude` installs, the user's own statusLine
//! command it chains to, and the compact line abg prints.

use std::path::Path;

use serde_json::{Value, json};

/// Env var carrying the user's own statusLine command to `abg statusline`.
pub const USER_ENV: &str = "ABG_USER_STATUSLINE";
/// Set while a chained user command runs, so `abg statusline` never chains
/// to itself.
pub const DEPTH_ENV: &str = "ABG_STATUSLINE_CHAINED";

/// The `statusLine` settings entry running `abg statusline` by absolute path.
pub fn setting(exe: &Path) -> Value {
    let exe = format!("'{}'", exe.display().to_string().replace('\'', r"'\''"));
    json!({"type": "command", "command": format!("{exe} statusline"), "padding": 0, "refreshInterval": 30})
}

/// The user's own statusLine command from Claude's settings files, in
/// Claude's precedence (project local, project, user); `None` when there is
/// none or it is abg's own.
pub fn user_command(project_root: &Path, home: Option<&Path>) -> Option<String> {
    let mut files = vec![
        project_root.join(".claude/settings.local.json"),
        project_root.join(".claude/settings.json"),
    ];
    if let Some(home) = home {
        files.push(home.join(".claude/settings.json"));
    }
    files.iter().find_map(|f| {
        // The repository decides what its settings files are: bounded read.
        let bytes = crate::paths::read_bounded_regular_file(f, crate::paths::FILE_CAP).ok()?;
        command_of(&serde_json::from_slice(&bytes).ok()?)
    })
}

/// The command of a settings object's `statusLine`, unless it is abg's.
pub fn command_of(settings: &Value) -> Option<String> {
    let line = settings.get("statusLine")?;
    if line
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "command")
    {
        return None;
    }
    let cmd = line.get("command")?.as_str()?.trim();
    let ours = cmd.split_whitespace().any(|w| w == "statusline")
        && cmd
            .split_whitespace()
            .any(|w| w.trim_matches('\'').ends_with("abg"));
    (!cmd.is_empty() && !ours).then(|| cmd.to_string())
}

/// abg's compact status line for Claude's statusline JSON at `now_s`.
pub fn compact(input: &Value, now_s: i64) -> String {
    let mut parts = vec!["abg".to_string()];
    let limits = input.get("rate_limits");
    for (key, label) in [("five_hour", "5h"), ("seven_day", "7d")] {
        let Some(w) = limits.and_then(|l| l.get(key)) else {
            continue;
        };
        let Some(used) = w.get("used_percentage").and_then(Value::as_f64) else {
            continue;
        };
        let mut s = format!("{label} {used:.0}%");
        if let Some(reset) = w.get("resets_at").and_then(Value::as_i64)
            && reset > now_s
        {
            s.push_str(&format!(
                " ↻{}",
                super::text::countdown(reset.saturating_sub(now_s).saturating_mul(1000))
            ));
        }
        parts.push(s);
    }
    if parts.len() == 1
        && let Some(model) = input
            .get("model")
            .and_then(|m| m.get("display_name"))
            .and_then(Value::as_str)
    {
        parts.push(model.to_string());
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_lines() {
        let with = json!({"model": {"display_name": "Opus"},
            "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": 1000 + 3720},
                            "seven_day": {"used_percentage": 41.2}}});
        assert_eq!(compact(&with, 1000), "abg · 5h 24% ↻1h 02m · 7d 41%");
        let without = json!({"model": {"display_name": "Opus"}});
        assert_eq!(compact(&without, 0), "abg · Opus");
        assert_eq!(compact(&Value::Null, 0), "abg");
    }

    #[test]
    fn far_future_resets_do_not_overflow() {
        let far =
            json!({"rate_limits": {"five_hour": {"used_percentage": 5, "resets_at": i64::MAX}}});
        let line = compact(&far, 1_800_000_000);
        assert!(line.starts_with("abg · 5h 5% ↻"), "{line}");
        assert!(line.ends_with('h'), "{line}");
    }

    #[test]
    fn user_commands_but_never_our_own() {
        assert_eq!(
            command_of(&json!({"statusLine": {"type": "command", "command": "~/bin/line.sh"}})),
            Some("~/bin/line.sh".into())
        );
        assert_eq!(
            command_of(
                &json!({"statusLine": {"type": "command", "command": "'/x/abg' statusline"}})
            ),
            None
        );
        assert_eq!(command_of(&json!({"statusLine": {"type": "static"}})), None);
        assert_eq!(command_of(&json!({})), None);
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("p/.claude")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("h/.claude")).expect("mkdir");
        std::fs::write(
            dir.path().join("h/.claude/settings.json"),
            r#"{"statusLine":{"type":"command","command":"user-line"}}"#,
        )
        .expect("write");
        let root = dir.path().join("p");
        let home = dir.path().join("h");
        assert_eq!(user_command(&root, Some(&home)), Some("user-line".into()));
        std::fs::write(
            root.join(".claude/settings.json"),
            r#"{"statusLine":{"type":"command","command":"project-line"}}"#,
        )
        .expect("write");
        assert_eq!(
            user_command(&root, Some(&home)),
            Some("project-line".into())
        );
        assert_eq!(
            setting(Path::new("/o/abg"))["command"],
            "'/o/abg' statusline"
        );
    }
}
