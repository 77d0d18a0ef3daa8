//! The agent binaries: found on PATH (or at the configured path), their
//! versions against the pins abg is tested with (newer: warn; older or
//! unreadable: fail; missing: fail with the install command), and whether
//! Codex supports the flags abg relies on, read from its own `--help`.
//! OpenCode is optional: missing, it is a notice (`ok`, saying only
//! `abg opencode` needs it), never a failure.

use std::path::{Path, PathBuf};

use super::Check;
use super::probes::{Probes, which};

/// One agent CLI abg drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// Check id of the version check.
    pub id: &'static str,
    /// Name shown to the user.
    pub name: &'static str,
    /// Config key naming the binary.
    pub key: &'static str,
    /// npm package.
    pub package: &'static str,
    /// The version abg is tested with (CI pin).
    pub pin: (u64, u64, u64),
}

/// Claude Code, pinned at 2.1.330.
pub const CLAUDE: Tool = Tool {
    id: "claude.version",
    name: "Claude Code",
    key: "claude.binary",
    package: "@anthropic-ai/claude-code",
    pin: (2, 1, 330),
};

/// Codex CLI, pinned at 0.169.0.
pub const CODEX: Tool = Tool {
    id: "codex.version",
    name: "Codex",
    key: "codex.binary",
    package: "@openai/codex",
    pin: (0, 169, 0),
};

/// OpenCode, the optional third peer, pinned at 1.18.33.
pub const OPENCODE: Tool = Tool {
    id: "opencode.version",
    name: "OpenCode",
    key: "opencode.binary",
    package: "opencode-ai",
    pin: (1, 18, 33),
};

impl Tool {
    /// The pinned version as text.
    pub fn pin_text(&self) -> String {
        let (a, b, c) = self.pin;
        format!("{a}.{b}.{c}")
    }

    /// The command that installs the pinned version.
    pub fn install_hint(&self) -> String {
        format!("npm install -g {}@{}", self.package, self.pin_text())
    }
}

/// The first `x.y.z` in a `--version` line (`codex-cli 0.169.0`,
/// `2.1.330 (Claude Code)`, `v1.2.3-beta`).
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    text.split_whitespace().find_map(|word| {
        let word = word.trim_start_matches('v');
        let core = word.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let v = (
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
            parts.next()?.parse().ok()?,
        );
        parts.next().is_none().then_some(v)
    })
}

/// Locate `binary` and judge its version; returns the path when found.
pub fn version(p: &dyn Probes, tool: &Tool, binary: &str) -> (Check, Option<PathBuf>) {
    let pin = tool.pin_text();
    let Some(path) = which(p, binary) else {
        let summary = if binary.contains('/') {
            format!("{} not found at {binary} ({})", tool.name, tool.key)
        } else {
            format!("{} (`{binary}`) not found on PATH", tool.name)
        };
        let fix = format!(
            "install the tested version: {} (or set {} to its path)",
            tool.install_hint(),
            tool.key
        );
        return (Check::fail(tool.id, summary, fix), None);
    };
    let out = p.run(&path, &["--version"]);
    let text = match &out {
        Ok(o) if o.success => o.text.trim().to_string(),
        Ok(o) => format!("exit status not 0: {}", o.text.trim()),
        Err(e) => e.clone(),
    };
    let found = out
        .as_ref()
        .ok()
        .filter(|o| o.success)
        .and_then(|o| parse_version(&o.text));
    let check = match found {
        None => Check::fail(
            tool.id,
            format!(
                "cannot read the {} version from `{} --version` ({text})",
                tool.name,
                path.display()
            ),
            format!("reinstall the tested version: {}", tool.install_hint()),
        ),
        Some(v) => {
            let shown = format!("{}.{}.{}", v.0, v.1, v.2);
            if v == tool.pin {
                Check::ok(
                    tool.id,
                    format!(
                        "{} {shown} (the tested version) at {}",
                        tool.name,
                        path.display()
                    ),
                )
            } else if v > tool.pin {
                Check::warn(
                    tool.id,
                    format!(
                        "{} {shown} at {} is newer than the tested {pin}",
                        tool.name,
                        path.display()
                    ),
                    format!(
                        "usually fine; if something breaks, install the tested version: {}",
                        tool.install_hint()
                    ),
                )
            } else {
                Check::fail(
                    tool.id,
                    format!(
                        "{} {shown} at {} is older than the tested {pin}",
                        tool.name,
                        path.display()
                    ),
                    format!("upgrade: {}", tool.install_hint()),
                )
            }
        }
    };
    (check, Some(path))
}

/// Flags abg needs, each with the words that prove support in `--help`.
struct FlagProbe {
    id: &'static str,
    args: &'static [&'static str],
    needles: &'static [&'static str],
    what: &'static str,
}

const APP_SERVER: FlagProbe = FlagProbe {
    id: "codex.app_server_flags",
    args: &["app-server", "--help"],
    needles: &[
        "--listen",
        "--ws-auth",
        "capability-token",
        "--ws-token-file",
    ],
    what: "app-server websocket listener with capability-token auth",
};

const REMOTE_AUTH: FlagProbe = FlagProbe {
    id: "codex.remote_auth_flag",
    args: &["--help"],
    needles: &["--remote", "--remote-auth-token-env"],
    what: "TUI `--remote` with `--remote-auth-token-env`",
};

fn flag_check(p: &dyn Probes, probe: &FlagProbe, codex: Option<&Path>) -> Check {
    let shown = format!("codex {}", probe.args.join(" "));
    let Some(codex) = codex else {
        return Check::warn(
            probe.id,
            format!("not checked: Codex was not found ({})", probe.what),
            format!(
                "install Codex ({}), then run `abg doctor` again",
                CODEX.install_hint()
            ),
        );
    };
    let text = match p.run(codex, probe.args) {
        Ok(o) if o.success => o.text,
        Ok(o) => {
            return Check::fail(
                probe.id,
                format!("`{shown}` failed: {}", first_line(&o.text)),
                format!("install the tested Codex: {}", CODEX.install_hint()),
            );
        }
        Err(e) => {
            return Check::fail(
                probe.id,
                format!("cannot run `{shown}`: {e}"),
                format!("install the tested Codex: {}", CODEX.install_hint()),
            );
        }
    };
    let missing: Vec<&str> = probe
        .needles
        .iter()
        .copied()
        .filter(|n| !text.contains(n))
        .collect();
    if missing.is_empty() {
        Check::ok(probe.id, format!("supported: {} (`{shown}`)", probe.what))
    } else {
        Check::fail(
            probe.id,
            format!(
                "`{shown}` does not mention {}: this Codex lacks the {}",
                missing.join(", "),
                probe.what
            ),
            format!("install the tested Codex: {}", CODEX.install_hint()),
        )
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// All binary checks, in report order.
pub fn checks(p: &dyn Probes, claude_binary: &str, codex_binary: &str) -> Vec<Check> {
    let (claude, _) = version(p, &CLAUDE, claude_binary);
    let (codex, codex_path) = version(p, &CODEX, codex_binary);
    vec![
        claude,
        codex,
        flag_check(p, &APP_SERVER, codex_path.as_deref()),
        flag_check(p, &REMOTE_AUTH, codex_path.as_deref()),
    ]
}

/// Checks of the optional agents: OpenCode's version when it is installed,
/// a notice when it is not.
pub fn optional_checks(p: &dyn Probes, opencode_binary: &str) -> Vec<Check> {
    if which(p, opencode_binary).is_none() {
        return vec![Check::ok(
            OPENCODE.id,
            format!(
                "OpenCode (`{opencode_binary}`) not installed; optional, only `abg opencode` needs it ({})",
                OPENCODE.install_hint()
            ),
        )];
    }
    vec![version(p, &OPENCODE, opencode_binary).0]
}
