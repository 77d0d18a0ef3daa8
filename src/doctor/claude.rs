//! Whether Claude Code channels can work here (`claude-code.md` §8): the
//! auth provider (channels need first-party Anthropic auth), the org policy
//! (`channelsEnabled` in managed settings, where readable), the cached
//! channels feature flag, and what the last `abg claude` session actually
//! observed. When channels cannot work abg still delivers, through its
//! fallback ([`FALLBACK`]); the checks name it.

use std::path::{Path, PathBuf};

use super::Check;
use super::probes::{Probes, truthy};

/// How messages reach Claude when channel pushes do not.
pub const FALLBACK: &str = "the Stop hook, the prompt doorbell and the get_messages tool";

/// Org policy file on Linux (macOS: `/Library/Application Support/ClaudeCode/`).
pub fn managed_settings_path() -> PathBuf {
    if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/ClaudeCode/managed-settings.json")
    } else {
        PathBuf::from("/etc/claude-code/managed-settings.json")
    }
}

/// Claude's config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn config_dir(p: &dyn Probes) -> Option<PathBuf> {
    p.var("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| p.var("HOME").map(|h| Path::new(&h).join(".claude")))
}

/// Claude's global state file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`.
fn state_file(p: &dyn Probes) -> Option<PathBuf> {
    match p.var("CLAUDE_CONFIG_DIR") {
        Some(dir) => Some(Path::new(&dir).join(".claude.json")),
        None => p.var("HOME").map(|h| Path::new(&h).join(".claude.json")),
    }
}

/// Auth type and provider, from the environment and the credentials file.
pub fn auth(p: &dyn Probes) -> Check {
    const ID: &str = "claude.auth";
    for (var, provider) in [
        ("CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock"),
        ("CLAUDE_CODE_USE_VERTEX", "Google Vertex AI"),
        ("CLAUDE_CODE_USE_FOUNDRY", "Microsoft Foundry"),
    ] {
        if truthy(p.var(var)) {
            return Check::fail(
                ID,
                format!(
                    "Claude uses {provider} ({var}): channels need first-party Anthropic auth, so abg falls back to {FALLBACK}"
                ),
                format!("unset {var} and log in with `claude` (/login) or set ANTHROPIC_API_KEY"),
            );
        }
    }
    if p.var("ANTHROPIC_API_KEY").is_some() {
        return Check::ok(
            ID,
            "Anthropic Console API key (ANTHROPIC_API_KEY), first-party",
        );
    }
    if p.var("ANTHROPIC_AUTH_TOKEN").is_some() {
        return Check::ok(ID, "bearer token (ANTHROPIC_AUTH_TOKEN), first-party");
    }
    if p.var("CLAUDE_CODE_OAUTH_TOKEN").is_some() {
        return Check::ok(
            ID,
            "claude.ai OAuth token (CLAUDE_CODE_OAUTH_TOKEN), first-party",
        );
    }
    let creds = config_dir(p).map(|d| d.join(".credentials.json"));
    match creds {
        Some(path) if p.read(&path).is_some() => Check::ok(
            ID,
            format!("claude.ai login ({}), first-party", path.display()),
        ),
        _ => Check::warn(
            ID,
            "no Claude credentials visible to abg (no ANTHROPIC_API_KEY, no credentials file; a system keychain login cannot be seen)",
            "if `claude` asks you to log in, do so (/login) or set ANTHROPIC_API_KEY",
        ),
    }
}

/// Org policy: managed settings must allow channels when they exist.
pub fn policy(p: &dyn Probes, managed: &Path) -> Check {
    const ID: &str = "claude.policy";
    let Some(text) = p.read(managed) else {
        return Check::ok(
            ID,
            format!(
                "no managed settings at {} (no org channel policy)",
                managed.display()
            ),
        );
    };
    let value: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    match value.as_ref().map(|v| v.get("channelsEnabled")) {
        None => Check::warn(
            ID,
            format!(
                "{} is not valid JSON; cannot tell whether org policy allows channels",
                managed.display()
            ),
            "ask your Claude Code admin to fix the managed settings",
        ),
        Some(Some(serde_json::Value::Bool(true))) => Check::ok(
            ID,
            format!(
                "org policy allows channels (channelsEnabled in {})",
                managed.display()
            ),
        ),
        Some(_) => Check::warn(
            ID,
            format!(
                "org policy blocks channels: {} lacks `\"channelsEnabled\": true`; abg falls back to {FALLBACK}",
                managed.display()
            ),
            "ask your Claude Code admin to set \"channelsEnabled\": true in the managed settings",
        ),
    }
}

/// The channels feature flag as Claude last cached it (undocumented
/// internals: `cachedGrowthBookFeatures.tengu_harbor` in `.claude.json`).
pub fn channel_flag(p: &dyn Probes) -> Check {
    const ID: &str = "claude.channel_flag";
    let telemetry_off = truthy(p.var("DISABLE_TELEMETRY"))
        || truthy(p.var("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"));
    if telemetry_off && !truthy(p.var("CLAUDE_CODE_GB_DISK_CACHE_WHEN_TELEMETRY_OFF")) {
        return Check::warn(
            ID,
            format!(
                "channels unavailable: telemetry is off, so Claude does not read its feature-flag cache; abg delivers through {FALLBACK}"
            ),
            "unset DISABLE_TELEMETRY / CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC to use channel pushes",
        );
    }
    let Some(path) = state_file(p) else {
        return Check::warn(
            ID,
            format!(
                "cannot locate Claude's state file (no HOME); channels availability unknown, fallback: {FALLBACK}"
            ),
            "set HOME or CLAUDE_CONFIG_DIR",
        );
    };
    let flag = p
        .read(&path)
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.pointer("/cachedGrowthBookFeatures/tengu_harbor").cloned());
    match flag {
        Some(serde_json::Value::Bool(true)) => Check::ok(
            ID,
            format!(
                "channels feature enabled for this account (flag cache in {})",
                path.display()
            ),
        ),
        Some(_) => Check::warn(
            ID,
            format!(
                "channels unavailable: the channels feature is off for this account ({}); abg delivers through {FALLBACK}",
                path.display()
            ),
            "nothing to do locally: Anthropic enables channels per account; abg works without them",
        ),
        None => Check::warn(
            ID,
            format!(
                "channels unavailable: no cached channels feature flag in {}; abg delivers through {FALLBACK}",
                path.display()
            ),
            "run `claude` once while online so it caches its feature flags, then `abg doctor` again",
        ),
    }
}

/// What the last `abg claude` session saw: `Some((registered, reason))`.
pub fn channel(observed: Option<(bool, Option<String>)>) -> Check {
    const ID: &str = "claude.channel";
    match observed {
        None => Check::warn(
            ID,
            "channel registration not yet observed (no `abg claude` session so far)",
            "run `abg claude`; abg reads Claude's debug log and doctor then reports the result",
        ),
        Some((true, _)) => Check::ok(
            ID,
            "Claude registered abg's channel in the last `abg claude` session",
        ),
        Some((false, reason)) => Check::warn(
            ID,
            format!(
                "Claude skipped abg's channel in the last session ({}); abg delivers through {FALLBACK}",
                reason.as_deref().unwrap_or("no reason given")
            ),
            "see the other claude.* checks for the gate that failed",
        ),
    }
}

/// All Claude channel checks, in report order.
pub fn checks(
    p: &dyn Probes,
    managed: &Path,
    observed: Option<(bool, Option<String>)>,
) -> Vec<Check> {
    vec![
        auth(p),
        policy(p, managed),
        channel_flag(p),
        channel(observed),
    ]
}
