//! What OpenCode is started with: the permission mode, the environment and
//! inline config of the daemon-owned `opencode serve`, and the argv of the
//! human's TUI (`opencode attach <url> --dir <root> --session <id>`).
//!
//! Why it exists: abg never writes the user's OpenCode config. Its
//! settings go in `OPENCODE_CONFIG_CONTENT`, which OpenCode merges over the
//! config files (reference §2): without `--safe` a `permission` of
//! `{"*":"allow"}`; under `--safe` nothing, so OpenCode keeps the prompts
//! the user's own config asks for. `OPENCODE_DISABLE_CLAUDE_CODE=1` keeps
//! OpenCode from reading Claude's `CLAUDE.md` files when the project has no
//! `AGENTS.md` (§7), and the password travels only in the environment
//! (`OPENCODE_SERVER_PASSWORD`), never on a command line.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The variable carrying the server password to `serve` and `attach`.
pub const PASSWORD_ENV: &str = "OPENCODE_SERVER_PASSWORD";
/// The variable carrying abg's inline config.
pub const CONFIG_ENV: &str = "OPENCODE_CONFIG_CONTENT";
/// What people read in the TUI's footer once its composer is ready is the
/// model's name; the title abg gives the pair's session.
pub const SESSION_TITLE: &str = "abg";

/// The permission mode `abg opencode` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// OpenCode's own permission prompts.
    Safe,
    /// Every tool allowed.
    Yolo,
}

/// The inline config for `serve` in `mode`, merged over `user` (an
/// `OPENCODE_CONFIG_CONTENT` the user set themselves; kept unless it is not
/// a JSON object).
pub fn config_content(mode: Mode, user: Option<&str>) -> Option<String> {
    let mut cfg = user
        .and_then(|u| serde_json::from_str::<Value>(u).ok())
        .filter(Value::is_object);
    if mode == Mode::Yolo {
        let c = cfg.get_or_insert_with(|| json!({}));
        c["permission"] = json!({"*": "allow"});
    }
    match (cfg, user) {
        (Some(c), _) => Some(c.to_string()),
        (None, Some(u)) => Some(u.to_owned()),
        (None, None) => None,
    }
}

/// Environment of `opencode serve` (besides the inherited one).
pub fn server_env(mode: Mode, password: &str, user_config: Option<&str>) -> Vec<(String, String)> {
    let mut env = vec![
        (PASSWORD_ENV.to_owned(), password.to_owned()),
        ("OPENCODE_DISABLE_AUTOUPDATE".to_owned(), "1".to_owned()),
        ("OPENCODE_DISABLE_CLAUDE_CODE".to_owned(), "1".to_owned()),
    ];
    if let Some(c) = config_content(mode, user_config) {
        env.push((CONFIG_ENV.to_owned(), c));
    }
    env
}

/// `serve`'s argv (after the binary).
pub fn server_args(port: u16) -> Vec<String> {
    vec![
        "serve".into(),
        "--port".into(),
        port.to_string(),
        "--hostname".into(),
        "127.0.0.1".into(),
    ]
}

/// The TUI's argv (after the binary): attached to the pair's server and
/// session, then the user's own arguments.
pub fn attach_args(url: &str, dir: &str, session: &str, extra: &[String]) -> Vec<String> {
    let mut a = vec![
        "attach".to_string(),
        url.to_owned(),
        "--dir".into(),
        dir.to_owned(),
        "--session".into(),
        session.to_owned(),
    ];
    a.extend(extra.iter().cloned());
    a
}

/// The port in `serve`'s `opencode server listening on http://H:P` line.
pub fn listening_port(log: &str) -> Option<u16> {
    let line = log
        .lines()
        .find(|l| l.contains("server listening on http://"))?;
    let rest = line.rsplit("http://").next()?;
    let port = rest.rsplit(':').next()?;
    port.trim().trim_end_matches('/').parse().ok()
}
