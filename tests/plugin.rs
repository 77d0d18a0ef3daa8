//! `plugin/` is a valid Claude Code plugin marketplace (documented schema,
//! `claude-code.md` §9): the marketplace lists the `abg` plugin, whose
//! manifest, MCP server (`abg mcp`) and hooks (`abg hook …`) agree, both
//! started `--via plugin`; and `abg claude` refuses the plugin way clearly
//! when the plugin cannot serve.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ports.rs"]
mod ports;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kebab(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[test]
fn marketplace_and_plugin_are_valid() {
    let market = json(&root().join(".claude-plugin/marketplace.json"));
    let name = market["name"].as_str().expect("marketplace name");
    assert!(kebab(name), "{name}");
    let reserved = [
        "claude-plugins-official",
        "claude-code-plugins",
        "anthropic-plugins",
    ];
    assert!(
        !reserved.contains(&name),
        "reserved marketplace name {name}"
    );
    assert!(
        market["owner"]["name"].is_string(),
        "owner.name is required"
    );
    let plugins = market["plugins"].as_array().expect("plugins");
    assert_eq!(plugins.len(), 1);
    let entry = &plugins[0];
    let source = entry["source"].as_str().expect("source");
    assert!(source.starts_with("./"), "relative source: {source}");
    let dir = root().join(source);

    let manifest = json(&dir.join(".claude-plugin/plugin.json"));
    assert_eq!(
        manifest["name"], entry["name"],
        "marketplace and manifest names differ"
    );
    assert!(kebab(manifest["name"].as_str().expect("plugin name")));
    let version = manifest["version"].as_str().expect("version");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "plugin version follows the crate"
    );

    let mcp = json(&dir.join(manifest["mcpServers"].as_str().expect("mcpServers path")));
    let server = &mcp["mcpServers"]["abg"];
    assert_eq!(server["command"], "abg");
    assert_eq!(server["args"][0], "mcp");
    // The plugin's copy says which way started it, so it idles unless
    // `abg claude` chose the plugin (claude.channel).
    let args: Vec<&str> = server["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(
        args.windows(2).any(|w| w == ["--via", "plugin"]),
        "{args:?}"
    );
    for ch in manifest["channels"].as_array().expect("channels") {
        let s = ch["server"].as_str().expect("channels[].server");
        assert!(
            mcp["mcpServers"][s].is_object(),
            "channel server {s} not in .mcp.json"
        );
    }

    let hooks = json(&dir.join(manifest["hooks"].as_str().expect("hooks path")));
    let events = hooks["hooks"].as_object().expect("hooks object");
    for want in ["SessionStart", "UserPromptSubmit", "PostToolUse", "Stop"] {
        let list = events[want]
            .as_array()
            .unwrap_or_else(|| panic!("{want} hook missing"));
        for group in list {
            for h in group["hooks"].as_array().expect("hooks[]") {
                assert_eq!(h["type"], "command");
                let cmd = h["command"].as_str().expect("command");
                assert!(cmd.starts_with("abg hook "), "{cmd}");
                assert!(cmd.contains(" --via plugin "), "{cmd}");
                assert!(h["timeout"].as_u64().is_some_and(|t| t <= 30));
            }
        }
    }
}

/// `abg claude` with `claude.channel = "plugin"` and a plugin that cannot
/// serve: exit 1 before anything starts, saying how to fix it. Read from
/// Claude's own state files in a temp home; no Claude runs.
#[test]
fn plugin_way_is_refused_clearly_when_the_plugin_cannot_serve() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = std::fs::canonicalize(tmp.path()).expect("canon");
    let (home, proj) = (root.join("home"), root.join("proj"));
    for d in [&home.join(".claude/plugins"), &proj] {
        std::fs::create_dir_all(d).expect("dir");
    }
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
            .arg("claude")
            .env_clear()
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env("ABG_STATE_DIR", root.join("state"))
            .env("ABG_CONFIG_DIR", root.join("cfg"))
            .env("ABG_BASE_PORT", ports::free_block(30).to_string())
            .env("ABG_CLAUDE_CHANNEL", "plugin")
            .current_dir(&proj)
            .output()
            .expect("run abg claude")
    };
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in [
        "abg@abg plugin is not installed",
        "abg init --plugin",
        "claude.channel = \"generated\"",
    ] {
        assert!(err.contains(want), "{want:?} not in {err}");
    }

    // Installed (as `claude plugin install` writes it) but disabled.
    std::fs::write(
        home.join(".claude/plugins/installed_plugins.json"),
        r#"{"version":2,"plugins":{"abg@abg":[{"scope":"user","version":"0.1.0"}]}}"#,
    )
    .expect("write");
    std::fs::write(
        home.join(".claude/settings.json"),
        r#"{"enabledPlugins":{"abg@abg":false}}"#,
    )
    .expect("write");
    let out = run();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("installed but not enabled"), "{err}");
    assert!(err.contains("claude plugin enable abg@abg"), "{err}");
}
