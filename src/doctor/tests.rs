//! Doctor checks against injected probes: no real binaries, environment or
//! ports are consulted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::probes::{Output, Probes};
use super::*;

#[derive(Default)]
struct Fake {
    vars: HashMap<String, String>,
    files: HashMap<PathBuf, String>,
    /// Executable path → (args joined by space → output).
    bins: HashMap<PathBuf, HashMap<String, Output>>,
    busy: HashMap<u16, Option<(u32, String)>>,
}

impl Fake {
    fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.insert(k.into(), v.into());
        self
    }
    fn file(mut self, p: &str, text: &str) -> Self {
        self.files.insert(p.into(), text.into());
        self
    }
    fn bin(mut self, path: &str, args: &str, text: &str) -> Self {
        let out = Output {
            success: true,
            text: text.into(),
        };
        self.bins
            .entry(path.into())
            .or_default()
            .insert(args.into(), out);
        self
    }
    fn with_pinned_clis(self) -> Self {
        self.var("PATH", "/nope:/bin")
            .bin("/bin/claude", "--version", "2.1.330 (Claude Code)\n")
            .bin("/bin/codex", "--version", "codex-cli 0.169.0\n")
            .bin(
                "/bin/codex",
                "app-server --help",
                "--listen <URL>\n--ws-auth <MODE> [possible values: capability-token]\n--ws-token-file <PATH>\n",
            )
            .bin(
                "/bin/codex",
                "--help",
                "--remote <ADDR>\n--remote-auth-token-env <ENV_VAR>\n",
            )
    }
}

impl Probes for Fake {
    fn var(&self, key: &str) -> Option<String> {
        self.vars.get(key).cloned()
    }
    fn read(&self, path: &Path) -> Option<String> {
        self.files.get(path).cloned()
    }
    fn is_executable(&self, path: &Path) -> bool {
        self.bins.contains_key(path)
    }
    fn run(&self, program: &Path, args: &[&str]) -> Result<Output, String> {
        let outs = self.bins.get(program).ok_or("not found")?;
        Ok(outs.get(&args.join(" ")).cloned().unwrap_or(Output {
            success: false,
            text: "error: unexpected argument\n".into(),
        }))
    }
    fn port_free(&self, port: u16) -> bool {
        !self.busy.contains_key(&port)
    }
    fn port_owner(&self, port: u16) -> Option<(u32, String)> {
        self.busy.get(&port).cloned().flatten()
    }
}

fn by_id<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

#[test]
fn missing_binaries_fail_with_install_hints() {
    let fake = Fake::default().var("PATH", "/usr/bin");
    let checks = tools::checks(&fake, "claude", "codex");
    let claude = by_id(&checks, "claude.version");
    assert_eq!(claude.status, Status::Fail);
    assert!(claude.summary.contains("not found on PATH"), "{claude:?}");
    let fix = claude.fix.as_deref().unwrap_or("");
    assert!(
        fix.contains("npm install -g @anthropic-ai/claude-code@2.1.330"),
        "{fix}"
    );
    let codex = by_id(&checks, "codex.version");
    assert_eq!(codex.status, Status::Fail);
    let fix = codex.fix.as_deref().unwrap_or("");
    assert!(
        fix.contains("npm install -g @openai/codex@0.169.0"),
        "{fix}"
    );
    // Flag probes are not run without Codex, and not counted twice as failures.
    for id in ["codex.app_server_flags", "codex.remote_auth_flag"] {
        assert_eq!(by_id(&checks, id).status, Status::Warn, "{id}");
    }
    // A configured path that does not exist names the config key.
    let checks = tools::checks(&fake, "/opt/claude", "codex");
    assert!(
        by_id(&checks, "claude.version")
            .summary
            .contains("claude.binary")
    );
}

#[test]
fn pinned_versions_and_flags_are_ok() {
    let fake = Fake::default().with_pinned_clis();
    let checks = tools::checks(&fake, "claude", "codex");
    for c in &checks {
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert!(c.fix.is_none());
    }
    assert!(
        by_id(&checks, "codex.version")
            .summary
            .contains("/bin/codex")
    );
}

#[test]
fn newer_warns_older_and_garbage_fail() {
    let cases = [
        ("2.1.331 (Claude Code)", Status::Warn, "newer"),
        ("3.0.0 (Claude Code)", Status::Warn, "newer"),
        ("2.1.329 (Claude Code)", Status::Fail, "older"),
        ("1.9.999", Status::Fail, "older"),
        ("Claude Code", Status::Fail, "cannot read"),
        ("", Status::Fail, "cannot read"),
    ];
    for (line, want, word) in cases {
        let fake = Fake::default()
            .with_pinned_clis()
            .bin("/bin/claude", "--version", line);
        let (check, path) = tools::version(&fake, &tools::CLAUDE, "claude");
        assert_eq!(check.status, want, "{line}: {check:?}");
        assert!(check.summary.contains(word), "{line}: {check:?}");
        assert!(path.is_some());
    }
}

#[test]
fn version_parsing() {
    assert_eq!(tools::parse_version("codex-cli 0.169.0"), Some((0, 169, 0)));
    assert_eq!(
        tools::parse_version("2.1.330 (Claude Code)"),
        Some((2, 1, 330))
    );
    assert_eq!(tools::parse_version("v1.2.3-beta.1"), Some((1, 2, 3)));
    assert_eq!(tools::parse_version("1.2"), None);
    assert_eq!(tools::parse_version("1.2.3.4"), None);
}

#[test]
fn codex_without_the_flags_fails_the_probe() {
    let fake = Fake::default()
        .with_pinned_clis()
        .bin("/bin/codex", "app-server --help", "--listen <URL>\n")
        .bin("/bin/codex", "--help", "--remote <ADDR>\n");
    let checks = tools::checks(&fake, "claude", "codex");
    let app = by_id(&checks, "codex.app_server_flags");
    assert_eq!(app.status, Status::Fail);
    assert!(app.summary.contains("--ws-auth") && app.summary.contains("capability-token"));
    let tui = by_id(&checks, "codex.remote_auth_flag");
    assert_eq!(tui.status, Status::Fail);
    assert!(tui.summary.contains("--remote-auth-token-env"), "{tui:?}");
}

#[test]
fn third_party_providers_fail_first_party_auth_passes() {
    let bedrock = Fake::default()
        .var("ANTHROPIC_API_KEY", "k")
        .var("CLAUDE_CODE_USE_BEDROCK", "1");
    let c = claude::auth(&bedrock);
    assert_eq!(c.status, Status::Fail);
    assert!(c.summary.contains("Bedrock") && c.summary.contains(claude::FALLBACK));
    let vertex = Fake::default().var("CLAUDE_CODE_USE_VERTEX", "true");
    assert_eq!(claude::auth(&vertex).status, Status::Fail);
    let off = Fake::default()
        .var("CLAUDE_CODE_USE_VERTEX", "0")
        .var("ANTHROPIC_API_KEY", "k");
    assert_eq!(claude::auth(&off).status, Status::Ok);
    let login = Fake::default()
        .var("HOME", "/h")
        .file("/h/.claude/.credentials.json", "{}");
    assert!(claude::auth(&login).summary.contains("claude.ai login"));
    let nothing = Fake::default().var("HOME", "/h");
    assert_eq!(claude::auth(&nothing).status, Status::Warn);
}

#[test]
fn org_policy_from_managed_settings() {
    let path = Path::new("/etc/claude-code/managed-settings.json");
    let p = path.to_str().unwrap_or_default();
    assert_eq!(claude::policy(&Fake::default(), path).status, Status::Ok);
    let on = Fake::default().file(p, r#"{"channelsEnabled": true}"#);
    assert_eq!(claude::policy(&on, path).status, Status::Ok);
    let off = Fake::default().file(p, r#"{"permissions": {}}"#);
    let c = claude::policy(&off, path);
    assert_eq!(c.status, Status::Warn);
    assert!(c.summary.contains("blocks channels") && c.summary.contains(claude::FALLBACK));
    let bad = Fake::default().file(p, "{");
    assert!(
        claude::policy(&bad, path)
            .summary
            .contains("not valid JSON")
    );
}

#[test]
fn channel_flag_cache() {
    let seeded = r#"{"cachedGrowthBookFeatures": {"tengu_harbor": true}}"#;
    let on = Fake::default()
        .var("HOME", "/h")
        .file("/h/.claude.json", seeded);
    assert_eq!(claude::channel_flag(&on).status, Status::Ok);
    let custom = Fake::default()
        .var("CLAUDE_CONFIG_DIR", "/c")
        .file("/c/.claude.json", seeded);
    assert_eq!(claude::channel_flag(&custom).status, Status::Ok);
    // A Claude home without the flag cache: unavailable, fallback named.
    let bare = Fake::default()
        .var("HOME", "/h")
        .file("/h/.claude.json", "{}");
    let c = claude::channel_flag(&bare);
    assert_eq!(c.status, Status::Warn);
    assert!(c.summary.contains("channels unavailable") && c.summary.contains(claude::FALLBACK));
    let off = Fake::default().var("HOME", "/h").file(
        "/h/.claude.json",
        r#"{"cachedGrowthBookFeatures": {"tengu_harbor": false}}"#,
    );
    assert!(
        claude::channel_flag(&off)
            .summary
            .contains("off for this account")
    );
    // Telemetry off: the cache is ignored unless Claude is told to read it.
    let quiet = Fake::default()
        .var("HOME", "/h")
        .var("DISABLE_TELEMETRY", "1")
        .file("/h/.claude.json", seeded);
    assert!(
        claude::channel_flag(&quiet)
            .summary
            .contains("telemetry is off")
    );
    let quiet_ok = Fake::default()
        .var("HOME", "/h")
        .var("DISABLE_TELEMETRY", "1")
        .var("CLAUDE_CODE_GB_DISK_CACHE_WHEN_TELEMETRY_OFF", "1")
        .file("/h/.claude.json", seeded);
    assert_eq!(claude::channel_flag(&quiet_ok).status, Status::Ok);
}

#[test]
fn channel_observation() {
    let none = claude::channel(None);
    assert_eq!(none.status, Status::Warn);
    assert!(none.summary.contains("not yet observed"));
    assert_eq!(claude::channel(Some((true, None))).status, Status::Ok);
    let skipped = claude::channel(Some((
        false,
        Some("channels feature is not currently available".into()),
    )));
    assert!(
        skipped.summary.contains("not currently available")
            && skipped.summary.contains(claude::FALLBACK)
    );
}

fn test_pair(dir: &Path) -> crate::pair::Pair {
    crate::pair::Pair {
        id: "main-12345678".into(),
        name: "main".into(),
        root: "/p".into(),
        slot: 0,
        ports: crate::pair::Ports::for_slot(4500, 0).unwrap_or(crate::pair::Ports {
            app: 4500,
            reserved: 4501,
            control: 4502,
        }),
        dir: dir.to_path_buf(),
        created_ms: 0,
    }
}

#[test]
fn ports_free_ours_or_foreign() {
    let pair = test_pair(Path::new("/s"));
    let mut fake = Fake::default();
    assert_eq!(pair::ports(&fake, &pair, &[], false).status, Status::Ok);
    fake.busy.insert(4502, Some((77, "abg".into())));
    fake.busy.insert(4500, Some((78, "codex".into())));
    let c = pair::ports(&fake, &pair, &[77, 78], true);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(
        c.summary.contains("4502 control: this pair (pid 77)"),
        "{c:?}"
    );
    fake.busy.insert(4501, Some((99, "nginx".into())));
    let c = pair::ports(&fake, &pair, &[77, 78], true);
    assert_eq!(c.status, Status::Fail);
    assert!(
        c.fix.as_deref().unwrap_or("").contains("pid 99 (nginx)"),
        "{c:?}"
    );
    let hidden = Fake {
        busy: HashMap::from([(4502, None)]),
        ..Fake::default()
    };
    assert_eq!(pair::ports(&hidden, &pair, &[], true).status, Status::Ok);
    assert_eq!(pair::ports(&hidden, &pair, &[], false).status, Status::Fail);
}

#[test]
fn private_modes_and_owner() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pair");
    std::fs::create_dir(&dir).expect("dir");
    let pair = test_pair(&dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(pair::state_dir(&pair).status, Status::Ok);
    let missing = pair::secret(&pair);
    assert_eq!(missing.status, Status::Fail);
    assert!(missing.fix.as_deref().unwrap_or("").contains("recreates"));
    std::fs::write(pair.secret_path(), "s").expect("secret");
    std::fs::set_permissions(pair.secret_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let loose = pair::secret(&pair);
    assert_eq!(loose.status, Status::Fail);
    assert!(loose.summary.contains("0644"), "{loose:?}");
    assert!(
        loose.fix.as_deref().unwrap_or("").starts_with("chmod 600 "),
        "{loose:?}"
    );
    std::fs::set_permissions(pair.secret_path(), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    let short = pair::secret(&pair);
    assert_eq!(short.status, Status::Fail, "a 1-byte secret: {short:?}");
    assert!(
        short.fix.as_deref().unwrap_or("").contains("abg pair rm"),
        "{short:?}"
    );
    std::fs::write(pair.secret_path(), crate::paths::new_secret()).expect("secret");
    assert_eq!(pair::secret(&pair).status, Status::Ok);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert!(
        pair::state_dir(&pair)
            .fix
            .as_deref()
            .unwrap_or("")
            .starts_with("chmod 700 ")
    );
}

#[test]
fn daemon_states() {
    use crate::daemon::pidfile::DaemonState;
    let facts = |state, status| pair::DaemonFacts {
        state,
        file: None,
        killed: false,
        status,
    };
    assert_eq!(
        pair::daemon(&facts(DaemonState::Stopped, None)).status,
        Status::Ok
    );
    assert_eq!(
        pair::daemon(&facts(DaemonState::Booting, None)).status,
        Status::Warn
    );
    let broken = pair::daemon(&facts(DaemonState::Ready, Some(Err("refused".into()))));
    assert_eq!(broken.status, Status::Fail);
    assert!(broken.summary.contains("refused"));
}

#[test]
fn store_checks_never_create_the_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().join("store.sqlite");
    let facts = store::read(&path);
    assert_eq!(facts, store::Facts::Absent);
    assert!(!path.exists(), "doctor must not create the store");
    let checks = store::checks(&path, &facts);
    assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:?}");

    let mut s = crate::store::Store::open(&path).expect("open");
    s.set_setting(crate::codex::session::THREAD_SETTING, "thr_9")
        .expect("thread");
    s.record_event(
        store::CHANNEL_EVENT,
        serde_json::json!({"registered": false, "reason": "x"}),
    )
    .expect("event");
    s.record_event(
        store::CHANNEL_EVENT,
        serde_json::json!({"registered": true, "reason": null}),
    )
    .expect("event");
    drop(s);
    let store::Facts::Read(c) = store::read(&path) else {
        panic!("store not read");
    };
    assert_eq!(c.integrity, "ok");
    assert_eq!(c.thread.as_deref(), Some("thr_9"));
    assert_eq!(c.channel, Some((true, None)), "the newest verdict wins");
    let checks = store::checks(&path, &store::Facts::Read(c));
    assert!(checks[2].summary.contains("thr_9"));

    std::fs::write(
        tmp.path().join("junk.sqlite"),
        "not sqlite at all, just text",
    )
    .expect("junk");
    let junk = store::read(&tmp.path().join("junk.sqlite"));
    assert!(matches!(junk, store::Facts::Broken(_)), "{junk:?}");
    assert_eq!(store::checks(&path, &junk)[0].status, Status::Fail);
}

#[test]
fn report_counts_and_renders() {
    let report = Report::new(
        "/p".into(),
        "main".into(),
        vec![
            Check::ok("a", "fine"),
            Check::warn("bb", "hmm", "look"),
            Check::fail("c", "broken", "repair"),
        ],
    );
    assert!(!report.ok);
    assert_eq!(
        report.counts,
        Counts {
            ok: 1,
            warn: 1,
            fail: 1
        }
    );
    let text = report.render();
    assert!(text.contains("FAIL  c   broken\n"), "{text}");
    assert!(text.contains("fix: repair"), "{text}");
    assert!(text.ends_with("1 ok, 1 warning(s), 1 failed"), "{text}");
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["checks"][1]["status"], "warn");
    assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null);
}

#[test]
fn check_ids_are_listed() {
    let fake = Fake::default().with_pinned_clis();
    let mut ids: Vec<&str> = tools::checks(&fake, "claude", "codex")
        .iter()
        .map(|c| c.id)
        .collect();
    ids.extend(
        claude::checks(&fake, Path::new("/x"), None)
            .iter()
            .map(|c| c.id),
    );
    for id in ids {
        assert!(CHECK_IDS.contains(&id), "{id} missing from CHECK_IDS");
    }
}

#[test]
fn orphans_are_reported_with_the_command_that_stops_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    let none = orphans::check(&orphans::Facts::default());
    assert_eq!((none.id, none.status), ("orphans", Status::Ok));
    assert!(CHECK_IDS.contains(&none.id));

    let facts = orphans::Facts {
        apps: vec![orphans::OrphanApp {
            pair: "main".into(),
            root: tmp.path().to_path_buf(),
            pid: 4242,
            clients: 0,
        }],
        daemons: vec![orphans::OrphanDaemon {
            pair: "side".into(),
            root: tmp.path().join("gone"),
            pid: 4343,
        }],
    };
    let c = orphans::check(&facts);
    assert_eq!(c.status, Status::Warn);
    assert!(
        c.summary.contains("codex app-server pid 4242 of pair main")
            && c.summary.contains("runs without its daemon, 0 client(s)")
            && c.summary.contains("daemon pid 4343 of pair side"),
        "{}",
        c.summary
    );
    let fix = c.fix.expect("fix");
    assert!(
        fix.contains(&format!(
            "cd {} && abg --pair main kill",
            tmp.path().display()
        )) && fix.contains("abg pair prune")
            && fix.contains("abg kill --all"),
        "{fix}"
    );
}

#[test]
fn an_app_server_without_its_daemon_warns() {
    let state = crate::codex::appserver::AppServerState {
        pid: 7,
        port: 4500,
        mode: crate::codex::appserver::Mode::Yolo,
        version: "codex-cli 0.169.0".into(),
        start_time: None,
        guard: None,
        guard_start_time: None,
    };
    let facts = pair::AppFacts {
        state: Some(state),
        alive: true,
        ready: true,
    };
    assert_eq!(pair::app_server(&facts, true).status, Status::Ok);
    let c = pair::app_server(&facts, false);
    assert_eq!(c.status, Status::Warn);
    assert!(c.summary.contains("without its daemon"), "{}", c.summary);
}

#[test]
fn opencode_is_optional_missing_is_a_notice() {
    let missing = tools::optional_checks(&Fake::default(), "opencode");
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].status, Status::Ok);
    assert!(
        missing[0].summary.contains("optional")
            && missing[0].summary.contains("opencode-ai@1.18.33")
    );
    let found = Fake::default()
        .var("PATH", "/bin")
        .bin("/bin/opencode", "--version", "1.18.33\n");
    let checks = tools::optional_checks(&found, "opencode");
    assert_eq!(by_id(&checks, "opencode.version").status, Status::Ok);
    assert!(
        by_id(&checks, "opencode.version")
            .summary
            .contains("tested version")
    );
    let old = Fake::default()
        .var("PATH", "/bin")
        .bin("/bin/opencode", "--version", "1.0.0\n");
    assert_eq!(
        tools::optional_checks(&old, "opencode")[0].status,
        Status::Fail
    );
}
