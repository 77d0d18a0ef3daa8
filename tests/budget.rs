//! `abg statusline` and `abg budget` against a real daemon in a hermetic
//! env: the documented statusline JSON (with and without `rate_limits`)
//! records Claude's windows, a user's own statusLine command is chained
//! with the same stdin and its output preserved, a broken setup still
//! prints a line and exits 0, `abg budget --json` matches its schema
//! (snapshot, time-dependent fields redacted), and pause/resume by hand.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "foundation/env.rs"]
#[allow(dead_code)]
mod env;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use env::AbgEnv;

const WITH: &str = include_str!("fixtures/statusline/with_rate_limits.json");
const WITHOUT: &str = include_str!("fixtures/statusline/without_rate_limits.json");

/// Run `abg statusline` in `proj` with `stdin` and extra env.
fn statusline(env: &AbgEnv, proj: &Path, stdin: &str, extra: &[(&str, String)]) -> Output {
    let mut cmd = env.cmd(proj);
    cmd.arg("statusline")
        .env("ABG_PROJECT_ROOT", proj)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn statusline");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("statusline output");
    assert!(out.status.success(), "statusline must exit 0: {out:?}");
    out
}

/// Replace values that depend on the clock or the machine.
fn redact(mut v: Value) -> Value {
    v["pair_id"] = "[pair_id]".into();
    v["generated_at_ms"] = "[now]".into();
    for side in ["claude", "codex"] {
        for w in ["five_hour", "weekly"] {
            let win = &mut v[side][w];
            if win.is_object() {
                win["observed_at_ms"] = "[observed]".into();
                win["age_secs"] = "[age]".into();
            }
        }
        if v[side]["paused"].is_object() {
            v[side]["paused"]["since_ms"] = "[since]".into();
        }
    }
    v
}

#[test]
fn statusline_records_windows_and_budget_reports_them() {
    let env = AbgEnv::new();
    let proj = env.project("proj");
    env.ok(&proj, &["status"]);

    // Without rate_limits: a compact line, nothing recorded.
    let out = statusline(&env, &proj, WITHOUT, &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abg · Opus\n");
    let report = env.json(&proj, &["budget", "--json"]);
    assert_eq!(report["schema"], "abg.budget/1");
    assert_eq!(report["claude"]["status"], "no_data");

    // With rate_limits: both windows recorded.
    let out = statusline(&env, &proj, WITH, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "abg · 5h 24% · 7d 41%\n"
    );
    let report = env.json(&proj, &["budget", "--json"]);
    assert_eq!(report["claude"]["five_hour"]["used_pct"], 23.5);
    assert_eq!(report["claude"]["five_hour"]["resets_at"], 1738425600);
    assert_eq!(report["claude"]["weekly"]["used_pct"], 41.2);
    insta::assert_json_snapshot!("budget_json_after_statusline", redact(report));

    // The text view says the same.
    let text = env.ok(&proj, &["budget"]);
    assert!(text.contains("claude  5-hour   23.5%"), "{text}");
    assert!(text.contains("codex"), "{text}");
}

#[test]
fn statusline_chains_the_users_command_with_the_same_stdin() {
    let env = AbgEnv::new();
    let proj = env.project("proj");
    env.ok(&proj, &["status"]);
    let seen = env.path().join("seen.json");
    let user = format!(
        "cat > '{}'; printf 'user line 1\\n\\033[32muser line 2\\033[0m\\n'",
        seen.display()
    );
    let out = statusline(&env, &proj, WITH, &[("ABG_USER_STATUSLINE", user)]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user line 1\n\u{1b}[32muser line 2\u{1b}[0m\n"
    );
    assert_eq!(std::fs::read_to_string(&seen).expect("user stdin"), WITH);
    // abg still recorded the windows.
    let report = env.json(&proj, &["budget", "--json"]);
    assert_eq!(report["claude"]["five_hour"]["used_pct"], 23.5);

    // A user command that prints nothing (or fails): abg's own line.
    let out = statusline(
        &env,
        &proj,
        WITH,
        &[("ABG_USER_STATUSLINE", "exit 3".into())],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "abg · 5h 24% · 7d 41%\n"
    );
}

#[test]
fn statusline_never_fails_claudes_ui() {
    let env = AbgEnv::new();
    let proj = env.project("proj");
    // No pair, no daemon, garbage input: still a line and exit 0.
    let out = statusline(&env, &proj, "not json", &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abg\n");
    let out = statusline(&env, &proj, WITH, &[]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "abg · 5h 24% · 7d 41%\n"
    );
}

#[test]
fn budget_pause_and_resume_by_hand() {
    let env = AbgEnv::new();
    let proj = env.project("proj");
    env.ok(&proj, &["status"]);
    let out = env.ok(&proj, &["budget", "pause", "codex"]);
    assert!(out.contains("Codex paused by hand"), "{out}");
    let report = env.json(&proj, &["budget", "--json"]);
    assert_eq!(report["codex"]["paused"]["cause"], "manual");
    // Sending still stores (the Codex worker holds it when it looks).
    let sent = env.json(&proj, &["send", "--to", "codex", "--json", "hello"]);
    assert_eq!(sent[0]["state"], "queued", "{sent}");
    let out = env.ok(&proj, &["budget", "resume", "codex"]);
    assert!(out.contains("Codex resumed"), "{out}");
    let report = env.json(&proj, &["budget", "--json"]);
    assert!(report["codex"]["paused"].is_null());
    let out = env.run(&proj, &["budget", "pause", "nobody"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn out_of_range_readings_are_rejected_at_the_input() {
    let env = AbgEnv::new();
    let proj = env.project("proj");
    env.ok(&proj, &["status"]);
    let far = r#"{"model":{"display_name":"Opus"},"rate_limits":{
        "five_hour":{"used_percentage":50,"resets_at":9223372036854775807},
        "seven_day":{"used_percentage":41.2,"resets_at":1738857600}}}"#;
    let out = statusline(&env, &proj, far, &[]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(line.starts_with("abg · 5h 50% ↻"), "{line}");
    // The window with the absurd reset time is not recorded; the other is.
    let report = env.json(&proj, &["budget", "--json"]);
    assert!(report["claude"]["five_hour"].is_null(), "{report}");
    assert_eq!(report["claude"]["weekly"]["used_pct"], 41.2);
    let text = env.ok(&proj, &["budget"]);
    assert!(!text.contains("1969-"), "{text}");
    // The daemon log names the field and the value.
    let log = env.ok(&proj, &["logs"]);
    assert!(
        log.contains("`rate_limits.five_hour.resets_at` = 9223372036854775807 is out of range"),
        "{log}"
    );
}
