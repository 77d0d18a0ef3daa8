//! Which way `abg claude` loads abg into Claude Code (`claude.channel`),
//! and which copy of `abg mcp` / `abg hook` is live in a session.
//!
//! Both ways were verified with the real claude-code 2.1.330, offline (mock
//! Messages API, the repository's `plugin/` added as a local directory
//! marketplace, `claude plugin install abg@abg`):
//! - **generated**: `--mcp-config` (server `abg`) with
//!   `--dangerously-load-development-channels server:abg` and hooks in
//!   `--settings`. Debug log `MCP server "abg": Channel notifications
//!   registered`; the model sees `<channel source="abg" …>`; tools are
//!   `mcp__abg__*`.
//! - **plugin**: no `--mcp-config`, `--dangerously-load-development-channels
//!   plugin:abg@abg`. The plugin's server is `plugin:abg:abg` (`MCP server
//!   "plugin:abg:abg": Channel notifications registered` — upstream #82939,
//!   where this flag did nothing for a local marketplace on 2.1.220, does
//!   not reproduce on 2.1.330); the model sees `<channel
//!   source="plugin:abg:abg" …>`; tools are `mcp__plugin_abg_abg__*`; the
//!   plugin's hooks run (`Hooks: Stop [abg hook stop …] (plugin abg@abg)`).
//! - **Both at once double everything**: with the plugin installed, a
//!   generated launch also started `plugin:abg:abg` (`Channel notifications
//!   skipped: server plugin:abg:abg not in --channels list for this
//!   session`, but with live tools) and ran both SessionStart hooks. A
//!   `--settings` layer holding `"enabledPlugins": {"abg@abg": false}` keeps
//!   the plugin out of that one session (`Found 5 plugins (4 enabled, 1
//!   disabled)`, no plugin server, no plugin hooks), so generated launches
//!   carry it. Independently, every copy is told its way (`--via`) and
//!   `abg claude` exports the way it chose ([`VIA_ENV`]); a copy whose way
//!   was not chosen stays idle ([`activity`]).
//!
//! `auto` picks the plugin when Claude's own state files say `abg@abg` is
//! installed for this project and enabled ([`plugin_state`]; never by
//! running `claude`), and `abg` is on PATH (the plugin runs it by name).

use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

/// What `abg claude` exports to Claude (and so to every server and hook it
/// starts): the way it loaded abg, `generated` or `plugin`.
pub const VIA_ENV: &str = "ABG_CLAUDE_VIA";
/// The plugin, as Claude Code names it (plugin `abg` of marketplace `abg`).
pub const PLUGIN_REF: &str = crate::init::plugin::PLUGIN_REF;

/// One way of loading abg's server and hooks into Claude Code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Via {
    /// abg's own `--mcp-config` and `--settings` hooks.
    Generated,
    /// The installed `abg@abg` Claude Code plugin.
    Plugin,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Generated => "generated",
            Via::Plugin => "plugin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "generated" => Some(Via::Generated),
            "plugin" => Some(Via::Plugin),
            _ => None,
        }
    }

    /// The server's name in Claude's debug log, which is also the `source`
    /// of its `<channel …>` blocks.
    pub fn server_name(self) -> &'static str {
        match self {
            Via::Generated => "abg",
            Via::Plugin => "plugin:abg:abg",
        }
    }

    /// The entry for `--dangerously-load-development-channels`.
    pub fn channel_entry(self) -> &'static str {
        match self {
            Via::Generated => "server:abg",
            Via::Plugin => "plugin:abg@abg",
        }
    }

    /// A tool's full name as the model and permission rules see it.
    pub fn tool(self, name: &str) -> String {
        match self {
            Via::Generated => format!("mcp__abg__{name}"),
            Via::Plugin => format!("mcp__plugin_abg_abg__{name}"),
        }
    }

    /// The way `abg claude` chose for this process's session, if any.
    pub fn chosen() -> Option<Self> {
        std::env::var(VIA_ENV).ok().as_deref().and_then(Self::parse)
    }
}

/// The `claude.channel` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Generated,
    Plugin,
}

impl Choice {
    /// A validated `claude.channel` value (anything else reads as `auto`).
    pub fn parse(s: &str) -> Self {
        match s {
            "generated" => Choice::Generated,
            "plugin" => Choice::Plugin,
            _ => Choice::Auto,
        }
    }
}

/// The way `claude.channel = "plugin"` cannot be honoured.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "claude.channel is \"plugin\", but {0}. Install the plugin with `abg init --plugin` (or `claude plugin marketplace add <abg checkout>/plugin` then `claude plugin install abg@abg`), or set claude.channel = \"generated\" (ABG_CLAUDE_CHANNEL=generated)"
)]
pub struct PluginUnavailable(pub String);

/// What Claude Code's state files say about the abg plugin for a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginState {
    /// `installed_plugins.json` lists `abg@abg` at user scope, or at
    /// project/local scope for this project.
    pub installed: bool,
    /// The effective `enabledPlugins["abg@abg"]` of the user, project and
    /// local settings (later wins); `None` when no layer sets it.
    pub enabled: Option<bool>,
}

/// Everything the choice depends on besides the setting.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub plugin: PluginState,
    /// An executable `abg` on PATH (the plugin's server and hooks run `abg`).
    pub abg_on_path: bool,
    /// The user passed `--strict-mcp-config`, which keeps every server not
    /// in `--mcp-config` out, the plugin's included (verified on 2.1.330: no
    /// `plugin:abg:abg` server started; the plugin's hooks still ran).
    pub strict_mcp: bool,
}

/// The way chosen, and why (printed by `abg claude`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub via: Via,
    pub why: String,
}

/// Why the plugin cannot be used, if it cannot.
fn plugin_blocker(facts: &Facts) -> Option<String> {
    if !facts.plugin.installed {
        return Some(format!(
            "the {PLUGIN_REF} plugin is not installed for this project"
        ));
    }
    if facts.plugin.enabled != Some(true) {
        return Some(format!(
            "the {PLUGIN_REF} plugin is installed but not enabled (`claude plugin enable {PLUGIN_REF}`)"
        ));
    }
    if !facts.abg_on_path {
        return Some("the plugin runs `abg` from PATH and there is no `abg` on PATH".into());
    }
    if facts.strict_mcp {
        return Some("--strict-mcp-config keeps the plugin's server out".into());
    }
    None
}

/// Pick the way for `choice`.
pub fn decide(choice: Choice, facts: &Facts) -> Result<Decision, PluginUnavailable> {
    let blocker = plugin_blocker(facts);
    match (choice, blocker) {
        (Choice::Generated, _) => Ok(Decision {
            via: Via::Generated,
            why: "claude.channel = \"generated\"".into(),
        }),
        (Choice::Plugin, Some(why)) => Err(PluginUnavailable(why)),
        (Choice::Plugin, None) => Ok(Decision {
            via: Via::Plugin,
            why: "claude.channel = \"plugin\"".into(),
        }),
        (Choice::Auto, None) => Ok(Decision {
            via: Via::Plugin,
            why: format!("auto: the {PLUGIN_REF} plugin is installed and enabled"),
        }),
        (Choice::Auto, Some(why)) => Ok(Decision {
            via: Via::Generated,
            why: format!("auto: {why}"),
        }),
    }
}

/// Claude's config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
pub fn claude_config_dir() -> Option<PathBuf> {
    std::env::var_os("CLAUDE_CONFIG_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".claude")))
}

/// A settings file, read with a bound: some are the repository's.
fn read_json(path: &Path) -> Option<Value> {
    let bytes = crate::paths::read_bounded_regular_file(path, crate::paths::FILE_CAP).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Read the plugin's state for `projects` (the directory Claude runs in
/// and the project root) from the files claude-code 2.1.330 writes:
/// `<config>/plugins/installed_plugins.json` (`{"version":2,"plugins":
/// {"abg@abg":[{"scope":"user"|"project"|"local","projectPath"?:…}]}}`) and
/// `enabledPlugins` in `<config>/settings.json`,
/// `<project>/.claude/settings.json` and `.claude/settings.local.json`.
pub fn plugin_state(claude_dir: &Path, projects: &[&Path]) -> PluginState {
    let installed = read_json(&claude_dir.join("plugins/installed_plugins.json"))
        .is_some_and(|v| installed_in(&v, projects));
    let mut layers = vec![claude_dir.join("settings.json")];
    for name in ["settings.json", "settings.local.json"] {
        for p in projects {
            layers.push(p.join(".claude").join(name));
        }
    }
    let mut enabled = None;
    for layer in layers {
        if let Some(v) = read_json(&layer)
            .as_ref()
            .and_then(|v| v["enabledPlugins"][PLUGIN_REF].as_bool())
        {
            enabled = Some(v);
        }
    }
    PluginState { installed, enabled }
}

/// Whether an `installed_plugins.json` document installs the plugin for one
/// of `projects`.
pub fn installed_in(doc: &Value, projects: &[&Path]) -> bool {
    let entries = match &doc["plugins"][PLUGIN_REF] {
        Value::Array(list) => list.clone(),
        one @ Value::Object(_) => vec![one.clone()],
        _ => return false,
    };
    entries.iter().any(|e| match e["scope"].as_str() {
        Some("user") | None => true,
        Some(_) => e["projectPath"]
            .as_str()
            .is_some_and(|p| projects.iter().any(|q| Path::new(p) == *q)),
    })
}

/// The first executable `name` on `path` (a `PATH` value).
pub fn on_path(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path?)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What a copy of `abg mcp` / `abg hook` does in its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// Serve as the pair's Claude: pushes, hook reports.
    Active,
    /// Not launched by `abg claude`: tools only, no pushes; hooks started
    /// with `--via` do nothing.
    ToolsOnly,
    /// `abg claude` chose the other way: do nothing at all (why).
    Idle(String),
}

/// The rule: `via` is how this copy was started (`--via`; `None` for a bare
/// `abg mcp`/`abg hook`, which behaves as before `--via` existed), `chosen`
/// the way `abg claude` exported ([`VIA_ENV`]), `launched_by_abg` whether
/// the pair environment (`ABG_PROJECT_ROOT`) is present.
pub fn activity(via: Option<Via>, chosen: Option<Via>, launched_by_abg: bool) -> Activity {
    match (via, chosen) {
        (None, _) if launched_by_abg => Activity::Active,
        (None, _) => Activity::ToolsOnly,
        (Some(v), Some(c)) if v == c => Activity::Active,
        (Some(v), Some(c)) => Activity::Idle(format!(
            "`abg claude` loaded abg through its {} way in this session, so this {} copy stays idle; use {} instead",
            c.as_str(),
            v.as_str(),
            c.tool("reply")
        )),
        (Some(_), None) => Activity::ToolsOnly,
    }
}

/// Whether a hook started with `via` reports to the daemon.
pub fn hook_runs(via: Option<Via>, chosen: Option<Via>, launched_by_abg: bool) -> bool {
    match activity(via, chosen, launched_by_abg) {
        Activity::Active => true,
        Activity::ToolsOnly => via.is_none(),
        Activity::Idle(_) => false,
    }
}

#[cfg(test)]
mod tests;
