//! The command line `abg codex` runs: the real `codex` TUI pointed at the
//! pair's app-server with its token, with the user's own arguments placed
//! where Codex's CLI expects them. Pure functions, table-tested.

use thiserror::Error;

/// Env var through which the TUI reads the app-server token.
pub const TOKEN_ENV: &str = "ABG_CODEX_TOKEN";

/// Codex subcommands that are not the TUI: passed through untouched.
const NON_TUI: &[&str] = &[
    "exec",
    "e",
    "review",
    "login",
    "logout",
    "mcp",
    "mcp-server",
    "app-server",
    "completion",
    "sandbox",
    "debug",
    "apply",
    "a",
    "cloud",
    "features",
    "help",
    "queue",
    "generate-ts",
];
/// TUI subcommands whose options (incl. `--remote`) follow the subcommand.
const TUI_SUBCOMMANDS: &[&str] = &["resume", "fork"];

/// Arguments abg owns and refuses from the user.
const OWNED: &[&str] = &["--remote", "--remote-auth-token-env"];

/// Errors in the user's Codex arguments.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LaunchError {
    #[error("`{0}` is set by abg (it points Codex at the pair's app-server); remove it")]
    Owned(String),
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    /// Whether this is the bridged TUI (false: a pass-through subcommand).
    pub bridged: bool,
}

/// Whether the user chose a permission mode themselves.
pub fn has_permission_flag(args: &[String]) -> bool {
    args.iter().any(|a| {
        a == "-a"
            || a == "-s"
            || a == "--yolo"
            || a == "--dangerously-bypass-approvals-and-sandbox"
            || a.starts_with("--ask-for-approval")
            || a.starts_with("--sandbox")
            || (a.starts_with("-a") && !a.starts_with("--") && a.len() > 2)
            || (a.starts_with("-s") && !a.starts_with("--") && a.len() > 2)
    })
}

/// Build the launch for `user_args`.
pub fn plan(
    program: &str,
    url: &str,
    user_args: &[String],
    safe: bool,
) -> Result<Launch, LaunchError> {
    for a in user_args {
        if let Some(owned) = OWNED
            .iter()
            .find(|o| a == *o || a.starts_with(&format!("{o}=")))
        {
            return Err(LaunchError::Owned((*owned).to_string()));
        }
    }
    let first = user_args.iter().find(|a| !a.starts_with('-'));
    if let Some(sub) = first
        && NON_TUI.contains(&sub.as_str())
    {
        return Ok(Launch {
            program: program.into(),
            args: user_args.to_vec(),
            bridged: false,
        });
    }
    let mut bridge = vec![
        "--remote".to_string(),
        url.to_string(),
        "--remote-auth-token-env".to_string(),
        TOKEN_ENV.to_string(),
        "-c".to_string(),
        "features.daemon_auto_start=false".to_string(),
    ];
    let resuming = first.is_some_and(|s| TUI_SUBCOMMANDS.contains(&s.as_str()));
    // `codex resume|fork --remote` refuses permission overrides.
    if !safe && !resuming && !has_permission_flag(user_args) {
        bridge.push("--yolo".into());
    }
    let mut args = Vec::new();
    match first.filter(|s| TUI_SUBCOMMANDS.contains(&s.as_str())) {
        Some(sub) => {
            let pos = user_args.iter().position(|a| a == sub).unwrap_or(0);
            args.extend_from_slice(&user_args[..=pos]);
            args.extend(bridge);
            args.extend_from_slice(&user_args[pos + 1..]);
        }
        None => {
            args.extend(bridge);
            args.extend_from_slice(user_args);
        }
    }
    Ok(Launch {
        program: program.into(),
        args,
        bridged: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const URL: &str = "ws://127.0.0.1:4500";

    #[test]
    fn plain_tui_gets_remote_and_yolo() {
        let l = plan("codex", URL, &[], false).expect("plan");
        assert!(l.bridged);
        assert_eq!(
            l.args,
            s(&[
                "--remote",
                URL,
                "--remote-auth-token-env",
                TOKEN_ENV,
                "-c",
                "features.daemon_auto_start=false",
                "--yolo"
            ])
        );
    }

    #[test]
    fn safe_and_user_permission_flags_suppress_yolo() {
        for args in [
            s(&[]),
            s(&["-a", "never"]),
            s(&["-anever"]),
            s(&["--sandbox=read-only"]),
            s(&["--dangerously-bypass-approvals-and-sandbox"]),
        ] {
            let safe = args.is_empty();
            let l = plan("codex", URL, &args, safe).expect("plan");
            assert!(!l.args.contains(&"--yolo".to_string()), "{args:?}");
        }
    }

    #[test]
    fn resume_places_flags_after_subcommand_without_yolo() {
        let l = plan("codex", URL, &s(&["resume", "abc"]), false).expect("plan");
        assert_eq!(l.args[0], "resume");
        assert_eq!(l.args[1], "--remote");
        assert_eq!(l.args.last().map(String::as_str), Some("abc"));
        assert!(!l.args.contains(&"--yolo".to_string()));
        // `codex fork --remote --yolo` exits: "Permission overrides are not
        // supported when forking a remote task" (0.169.0).
        let f = plan("codex", URL, &s(&["fork", "abc"]), false).expect("plan");
        assert_eq!(f.args[0], "fork");
        assert!(!f.args.contains(&"--yolo".to_string()));
    }

    #[test]
    fn non_tui_subcommands_pass_through() {
        let args = s(&["exec", "--json", "hi"]);
        let l = plan("codex", URL, &args, false).expect("plan");
        assert!(!l.bridged);
        assert_eq!(l.args, args);
    }

    #[test]
    fn owned_flags_are_refused() {
        assert_eq!(
            plan("codex", URL, &s(&["--remote", "ws://x:1"]), false),
            Err(LaunchError::Owned("--remote".into()))
        );
        assert!(plan("codex", URL, &s(&["--remote-auth-token-env=X"]), false).is_err());
    }
}
