//! A pair's Codex app-server nobody will come back for (issue 19), through
//! the real binary: the guard (`abg appserver-guard`) ends its child once
//! no daemon and no client has been there for the grace period, keeps it
//! while either is, and exits with it; `abg pair`, `abg doctor`, `abg pair
//! prune` and `abg kill --all` see and stop an app-server recorded without
//! its daemon, and never one whose pid was reused. A `sleep` stands in for
//! the app-server (the real one is covered by `tests/e2e_orphans.rs`).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::env::{AbgEnv, pid_alive, wait_until};

fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect(")") + 1..];
    rest.split_whitespace()
        .nth(19)
        .expect("field")
        .parse()
        .expect("number")
}

/// `abg appserver-guard … -- <command>`; returns it and its child's pid.
fn guard(dir: &Path, port: u16, grace: u64, command: &[&str]) -> (Child, u32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_abg"))
        .args(["appserver-guard", "--port", &port.to_string(), "--pair-dir"])
        .arg(dir)
        .args(["--grace-secs", &grace.to_string(), "--"])
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn the guard");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("pid line");
    let pid = line
        .strip_prefix("abg-appserver-guard ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid line: {line:?}"));
    (child, pid)
}

fn exited(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn write_state(dir: &Path, pid: u32, port: u16, start: u64) {
    let state = json!({
        "pid": pid, "port": port, "mode": "yolo", "version": "codex-cli 0.169.0",
        "start_time": start,
    });
    std::fs::write(dir.join("codex-appserver.json"), state.to_string()).expect("state");
}

#[test]
fn guard_keeps_its_app_server_while_a_client_is_connected_then_reaps_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (server_side, _) = listener.accept().expect("accept");
    let (mut g, app) = guard(tmp.path(), port, 1, &["sleep", "300"]);
    write_state(tmp.path(), app, port, start_time(app));
    // No daemon, but a client: kept well past the grace period.
    std::thread::sleep(Duration::from_secs(3));
    assert!(pid_alive(app), "reaped while a client was connected");
    assert!(g.try_wait().expect("wait").is_none());
    drop((client, server_side));
    let status = exited(&mut g, Duration::from_secs(10)).expect("the guard did not end");
    assert!(status.success(), "{status:?}");
    assert!(!pid_alive(app), "the app-server outlived its guard");
    assert!(
        !tmp.path().join("codex-appserver.json").exists(),
        "the state file was left"
    );
}

#[test]
fn guard_keeps_its_app_server_while_the_daemon_lives() {
    let tmp = tempfile::tempdir().expect("tmp");
    let port = TcpListener::bind(("127.0.0.1", 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The "daemon" is this test process, as its pidfile would record it.
    let me = std::process::id();
    let daemon = json!({
        "pid": me, "start_time": start_time(me), "version": "x", "protocol": 1,
        "control_port": 1, "phase": "ready", "started_ms": 0,
    });
    let pidfile = tmp.path().join("daemon.json");
    std::fs::write(&pidfile, daemon.to_string()).expect("pidfile");
    let (mut g, app) = guard(tmp.path(), port, 1, &["sleep", "300"]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(pid_alive(app), "reaped while its daemon was alive");
    // The daemon is gone (a stale pidfile of a reused pid counts as gone).
    let stale = json!({
        "pid": me, "start_time": start_time(me) + 1, "version": "x", "protocol": 1,
        "control_port": 1, "phase": "ready", "started_ms": 0,
    });
    std::fs::write(&pidfile, stale.to_string()).expect("pidfile");
    assert!(exited(&mut g, Duration::from_secs(10)).is_some());
    assert!(!pid_alive(app));
}

#[test]
fn guard_exits_with_its_app_server_and_on_sigterm() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (mut g, _) = guard(tmp.path(), 1, 600, &["sh", "-c", "sleep 0.3; exit 7"]);
    let status = exited(&mut g, Duration::from_secs(5)).expect("the guard outlived its child");
    assert_eq!(status.code(), Some(7));

    // SIGTERM to the guard stops the app-server, even one that ignores
    // the first SIGTERM (as Codex does while a turn runs).
    let script = "trap 'trap - TERM' TERM; while :; do sleep 0.1; done";
    let (mut g, app) = guard(tmp.path(), 1, 600, &["sh", "-c", script]);
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(g.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(exited(&mut g, Duration::from_secs(10)).is_some());
    assert!(!pid_alive(app));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

/// A stand-in app-server recorded for the pair in `dir`, whose daemon is
/// stopped: what a killed daemon leaves when its guard is gone too.
fn fake_orphan(env: &AbgEnv, dir: &Path, start_offset: u64) -> Child {
    let child = Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .expect("sleep");
    let pid = child.id();
    write_state(dir, pid, env.base_port, start_time(pid) + start_offset);
    child
}

#[test]
fn orphaned_app_servers_are_listed_reported_pruned_and_killed() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    env.ok(&p, &["kill"]);
    let dir = env.pair_dirs()[0].clone();

    let mut orphan = fake_orphan(&env, &dir, 0);
    let pid = orphan.id();
    let rows = env.json(&p, &["pair", "--json"]);
    assert_eq!(rows[0]["app_server"]["pid"], pid);
    assert_eq!(rows[0]["app_server"]["state"], "abandoned");
    assert_eq!(rows[0]["app_server"]["clients"], 0);
    let table = env.ok(&p, &["pair"]);
    assert!(
        table.contains("abandoned")
            && table.contains(&format!(
                "codex app-server pid {pid} runs without its daemon"
            ))
            && table.contains("abg kill --all"),
        "{table}"
    );

    let out = env.run(&p, &["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor json");
    let checks = report["checks"].as_array().expect("checks");
    let check = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} check: {report}"))
            .clone()
    };
    let orphans = check("orphans");
    assert_eq!(orphans["status"], "warn", "{orphans}");
    assert!(
        orphans["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("codex app-server pid {pid} of pair main"))),
        "{orphans}"
    );
    assert!(
        orphans["fix"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("cd {} && abg --pair main kill", p.display()))),
        "{orphans}"
    );
    assert_eq!(check("codex.app_server")["status"], "warn");

    let dry = env.ok(&p, &["pair", "prune", "--dry-run"]);
    assert!(
        dry.contains("would stop the orphaned codex app-server"),
        "{dry}"
    );
    assert!(pid_alive(pid), "--dry-run stopped it");
    let pruned = env.ok(&p, &["pair", "prune"]);
    assert!(pruned.contains("stopped (SIGTERM)"), "{pruned}");
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)));
    let _ = orphan.wait();
    assert!(!dir.join("codex-appserver.json").exists());
    let rows = env.json(&p, &["pair", "--json"]);
    assert!(rows[0]["app_server"].is_null(), "{rows}");

    // `abg kill --all` stops one too.
    let mut orphan = fake_orphan(&env, &dir, 0);
    let pid = orphan.id();
    let killed = env.ok(&p, &["kill", "--all"]);
    assert!(
        killed.contains("orphaned codex app-server stopped (SIGTERM)"),
        "{killed}"
    );
    assert!(wait_until(Duration::from_secs(5), || !pid_alive(pid)));
    let _ = orphan.wait();
    assert!(!dir.join("codex-appserver.json").exists());

    // A recorded pid now used by another process is never signalled.
    let mut other = fake_orphan(&env, &dir, 1);
    let pid = other.id();
    let rows = env.json(&p, &["pair", "--json"]);
    assert!(rows[0]["app_server"].is_null(), "{rows}");
    env.ok(&p, &["pair", "prune"]);
    env.ok(&p, &["kill", "--all"]);
    assert!(pid_alive(pid), "a reused pid was killed");
    let _ = other.kill();
    let _ = other.wait();
}
