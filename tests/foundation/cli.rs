//! What users see from the CLI: help text, exit codes, clear errors for bad
//! names and bad config, completions that match the CLI, quiet broken pipes.

use std::process::Stdio;

use crate::env::AbgEnv;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_lists_the_verbs() {
    let env = AbgEnv::new();
    let out = env.ok(env.path(), &["--help"]);
    insta::assert_snapshot!("help", out);
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("daemon ")),
        "the daemon subcommand is hidden"
    );
}

#[test]
fn invalid_pair_names_are_usage_errors() {
    let env = AbgEnv::new();
    let p = env.project("p");
    for bad in ["..", ".", "a/b", "has space", &"x".repeat(65)] {
        let out = env.run(&p, &["--pair", bad, "status"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("invalid pair name"),
            "{bad}: {}",
            stderr(&out)
        );
    }
    // Accepted after the subcommand too.
    let out = env.run(&p, &["pair", "--pair", "..", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(env.pair_dirs().is_empty(), "nothing was created");
}

#[test]
fn malformed_config_is_a_clear_error_naming_file_and_key() {
    let env = AbgEnv::new();
    let p = env.project("p");
    std::fs::create_dir_all(p.join(".abg")).expect("dir");
    let file = p.join(".abg/config.toml");
    std::fs::write(&file, "[daemon]\nidle_shutdown_minutes = \"soon\"\n").expect("write");
    let out = env.run(&p, &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("config.toml") && err.contains("daemon.idle_shutdown_minutes"),
        "{err}"
    );
    std::fs::write(&file, "[daemon\n").expect("write");
    let err = stderr(&env.run(&p, &["status"]));
    assert!(err.contains("config.toml"), "{err}");
    std::fs::write(&file, "[daemon]\nidle_shutdown = 3\n").expect("write");
    let err = stderr(&env.run(&p, &["status"]));
    assert!(err.contains("did you mean"), "{err}");
    assert!(
        env.pair_dirs().is_empty(),
        "nothing was created on a config error"
    );
}

#[test]
fn bad_env_config_names_the_variable() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let out = env
        .cmd(&p)
        .args(["status"])
        .env("ABG_DAEMON_IDLE_SHUTDOWN_MINUTES", "forever")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ABG_DAEMON_IDLE_SHUTDOWN_MINUTES"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn checked_in_completions_match_the_cli() {
    let env = AbgEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [("bash", "abg.bash"), ("zsh", "_abg"), ("fish", "abg.fish")] {
        let generated = env.ok(env.path(), &["completions", shell]);
        let checked_in = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|e| panic!("completions/{file}: {e}"));
        assert!(
            generated.trim_end() == checked_in.trim_end(),
            "completions/{file} is stale; regenerate with `cargo run -- completions {shell} > completions/{file}`"
        );
    }
}

#[test]
fn closed_stdout_is_not_an_error() {
    let env = AbgEnv::new();
    let mut child = env
        .cmd(env.path())
        .args(["completions", "zsh"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn budget_says_no_data_honestly() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    let v = env.json(&p, &["budget", "--json"]);
    assert_eq!(v["schema"], "abg.budget/1");
    for side in ["claude", "codex"] {
        assert_eq!(v[side]["status"], "no_data", "{v}");
        assert!(v[side]["five_hour"].is_null() && v[side]["weekly"].is_null());
        assert!(
            v[side]["note"]
                .as_str()
                .unwrap_or("")
                .contains("no data yet")
        );
    }
}

#[test]
fn usage_errors_exit_2_and_version_exits_0() {
    let env = AbgEnv::new();
    assert_eq!(env.run(env.path(), &["frobnicate"]).status.code(), Some(2));
    let out = env.run(env.path(), &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("abg "));
}

#[test]
fn send_stores_for_both_and_log_shows_them() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let sent = env.json(&p, &["send", "--to", "both", "--json", "review the parser"]);
    let sent = sent.as_array().expect("array");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["state"], "stored");
    assert_eq!(sent[1]["state"], "queued");
    let out = env.run(&p, &["send", "--to", "claude", "--on-busy", "steer", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--on-busy applies to agents that run turns"));
    let out = env.run(&p, &["send", "--to", "codex", "   "]);
    assert_eq!(out.status.code(), Some(1));
    let log = env.ok(&p, &["log", "--json"]);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["to"], "claude");
    assert_eq!(lines[1]["to"], "codex");
    assert_eq!(lines[1]["body"], "review the parser");
    let text = env.ok(&p, &["log", "-n", "1"]);
    assert!(text.contains("human → codex [queued]"), "{text}");
    let status = env.json(&p, &["status", "--json"]);
    let pending = status["pending"].as_array().expect("pending");
    let states: Vec<&str> = pending
        .iter()
        .map(|p| p["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        states,
        ["stored", "queued"],
        "each message's state shows in status"
    );
    let text = env.ok(&p, &["status"]);
    assert!(text.contains("human → codex queued"), "{text}");
    // `all` is every agent taking part (not OpenCode, which this pair never
    // ran); an unknown peer is refused by name.
    let all = env.json(&p, &["send", "--to", "all", "--json", "and the lexer"]);
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    // Its copies share one send key (the UI joins them), each one new.
    let new: Vec<Option<bool>> = all
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["duplicate"].as_bool())
        .collect();
    assert_eq!(new, [Some(false), Some(false)], "{all}");
    let out = env.run(&p, &["send", "--to", "nobody", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("(claude, codex, opencode) or all"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_show_the_daemon_log() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let out = env.run(&p, &["logs"]);
    assert_eq!(out.status.code(), Some(1), "no pair yet is a clear error");
    assert!(stderr(&out).contains("no pair named"), "{}", stderr(&out));
    env.json(&p, &["status", "--json"]);
    let log = env.ok(&p, &["logs", "-n", "50"]);
    assert!(log.contains("daemon ready"), "{log}");
    let one = env.ok(&p, &["logs", "-n", "1"]);
    assert_eq!(one.lines().count(), 1, "{one}");
}

#[test]
fn a_default_recipient_the_pair_lacks_stops_the_daemon_with_a_clear_error() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let out = env
        .cmd(&p)
        .args(["status"])
        .env("ABG_ROUTING_DEFAULT_TO", "gemini")
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("routing.default_to is \"gemini\"") && err.contains("claude, codex, opencode"),
        "{err}"
    );
}
