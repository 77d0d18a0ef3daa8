//! The choice of way, install detection from Claude's files, and the
//! dormancy rules of the two copies.

use std::path::Path;

use serde_json::json;

use super::*;

fn facts(installed: bool, enabled: Option<bool>) -> Facts {
    Facts {
        plugin: PluginState { installed, enabled },
        abg_on_path: true,
        strict_mcp: false,
    }
}

#[test]
fn names_follow_what_claude_shows() {
    assert_eq!(Via::Generated.server_name(), "abg");
    assert_eq!(Via::Plugin.server_name(), "plugin:abg:abg");
    assert_eq!(Via::Generated.channel_entry(), "server:abg");
    assert_eq!(Via::Plugin.channel_entry(), "plugin:abg@abg");
    assert_eq!(Via::Generated.tool("reply"), "mcp__abg__reply");
    assert_eq!(Via::Plugin.tool("reply"), "mcp__plugin_abg_abg__reply");
    for v in [Via::Generated, Via::Plugin] {
        assert_eq!(Via::parse(v.as_str()), Some(v));
    }
    assert_eq!(Via::parse("server"), None);
}

#[test]
fn auto_takes_the_plugin_only_when_it_can_work() {
    let d = decide(Choice::Auto, &facts(true, Some(true))).expect("auto");
    assert_eq!(d.via, Via::Plugin);
    for (f, why) in [
        (facts(false, None), "not installed"),
        (facts(true, Some(false)), "not enabled"),
        (facts(true, None), "not enabled"),
        (
            Facts {
                abg_on_path: false,
                ..facts(true, Some(true))
            },
            "no `abg` on PATH",
        ),
        (
            Facts {
                strict_mcp: true,
                ..facts(true, Some(true))
            },
            "--strict-mcp-config",
        ),
    ] {
        let d = decide(Choice::Auto, &f).expect("auto");
        assert_eq!(d.via, Via::Generated, "{f:?}");
        assert!(d.why.starts_with("auto: ") && d.why.contains(why), "{d:?}");
    }
}

#[test]
fn explicit_choices_are_honoured_or_refused_clearly() {
    let d = decide(Choice::Generated, &facts(true, Some(true))).expect("generated");
    assert_eq!(d.via, Via::Generated);
    let d = decide(Choice::Plugin, &facts(true, Some(true))).expect("plugin");
    assert_eq!(d.via, Via::Plugin);
    let err = decide(Choice::Plugin, &facts(false, None)).expect_err("missing");
    let text = err.to_string();
    assert!(text.contains("not installed"), "{text}");
    assert!(text.contains("abg init --plugin"), "{text}");
    assert!(text.contains("claude.channel = \"generated\""), "{text}");
    assert_eq!(Choice::parse("plugin"), Choice::Plugin);
    assert_eq!(Choice::parse("generated"), Choice::Generated);
    assert_eq!(Choice::parse("auto"), Choice::Auto);
}

fn write(path: &Path, v: serde_json::Value) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, v.to_string()).expect("write");
}

#[test]
fn install_state_is_read_from_claudes_files() {
    let dir = tempfile::tempdir().expect("dir");
    let claude = dir.path().join("home/.claude");
    let proj = dir.path().join("work");
    let other = dir.path().join("elsewhere");
    std::fs::create_dir_all(&proj).expect("mkdir");
    assert_eq!(plugin_state(&claude, &[&proj]), PluginState::default());

    // What `claude plugin install abg@abg` (user scope) wrote on 2.1.330.
    write(
        &claude.join("plugins/installed_plugins.json"),
        json!({"version": 2, "plugins": {"abg@abg": [{
            "scope": "user",
            "installPath": "/x/.claude/plugins/cache/abg/abg/0.1.0",
            "version": "0.1.0"
        }]}}),
    );
    write(
        &claude.join("settings.json"),
        json!({"enabledPlugins": {"abg@abg": true}}),
    );
    let st = plugin_state(&claude, &[&proj]);
    assert_eq!(
        st,
        PluginState {
            installed: true,
            enabled: Some(true)
        }
    );

    // The project disables it (`claude plugin disable --scope project`).
    write(
        &proj.join(".claude/settings.json"),
        json!({"enabledPlugins": {"abg@abg": false}}),
    );
    assert_eq!(plugin_state(&claude, &[&proj]).enabled, Some(false));
    // …and the local layer wins over the project.
    write(
        &proj.join(".claude/settings.local.json"),
        json!({"enabledPlugins": {"abg@abg": true}}),
    );
    assert_eq!(plugin_state(&claude, &[&proj]).enabled, Some(true));

    // A project-scope install counts only for its own project.
    let doc = json!({"version": 2, "plugins": {"abg@abg": [{
        "scope": "project", "projectPath": proj.display().to_string()
    }]}});
    assert!(installed_in(&doc, &[&proj]));
    assert!(!installed_in(&doc, &[&other]));
    assert!(!installed_in(&json!({"plugins": {"x@y": []}}), &[&proj]));
    assert!(!installed_in(&json!("garbage"), &[&proj]));
}

#[test]
fn on_path_finds_only_executables() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("abg");
    std::fs::write(&exe, "#!/bin/sh\n").expect("write");
    let path = std::env::join_paths([dir.path()]).expect("join");
    assert_eq!(on_path("abg", Some(&path)), None);
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(on_path("abg", Some(&path)), Some(exe));
    assert_eq!(on_path("abg", None), None);
}

#[test]
fn only_the_chosen_copy_is_live() {
    use Via::{Generated, Plugin};
    // A bare `abg mcp` / `abg hook` behaves as before `--via` existed.
    assert_eq!(activity(None, None, true), Activity::Active);
    assert_eq!(activity(None, None, false), Activity::ToolsOnly);
    assert!(hook_runs(None, None, false));
    // The copy `abg claude` chose serves; the other idles.
    for (mine, chosen) in [(Generated, Generated), (Plugin, Plugin)] {
        assert_eq!(activity(Some(mine), Some(chosen), true), Activity::Active);
        assert!(hook_runs(Some(mine), Some(chosen), true));
    }
    let idle = activity(Some(Plugin), Some(Generated), true);
    let Activity::Idle(why) = idle else {
        panic!("{idle:?}")
    };
    assert!(why.contains("mcp__abg__reply"), "{why}");
    assert!(!hook_runs(Some(Plugin), Some(Generated), true));
    assert!(!hook_runs(Some(Generated), Some(Plugin), true));
    // The plugin in a plain `claude`: tools only, hooks do nothing.
    assert_eq!(activity(Some(Plugin), None, false), Activity::ToolsOnly);
    assert!(!hook_runs(Some(Plugin), None, false));
}
