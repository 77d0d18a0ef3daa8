//! Daemon lifecycle through the real binary: auto-spawn, slots, kill,
//! respawn after `kill -9` with the store intact, SIGTERM clean-up.

use std::time::Duration;

use abg::control::client::Client;
use abg::control::protocol::SendRequest;
use abg::store::types::PeerId;

use crate::env::{AbgEnv, pid_alive, wait_until};

fn pid_of(status: &serde_json::Value) -> u32 {
    status["pid"].as_u64().expect("pid") as u32
}

#[test]
fn status_spawns_daemon_pairs_get_slots_and_kill_stops_it() {
    let env = AbgEnv::new();
    let a = env.project("a");
    let status = env.json(&a, &["status", "--json"]);
    assert_eq!(status["phase"], "ready");
    assert_eq!(status["spawned"], true);
    assert_eq!(status["app_port"], env.base_port);
    assert_eq!(status["control_port"], env.base_port + 2);
    let pid = pid_of(&status);
    assert!(pid_alive(pid));

    let pairs = env.json(&a, &["pair", "--json"]);
    let row = &pairs[0];
    assert_eq!(row["slot"], 0);
    assert_eq!(row["daemon"], "ready");
    assert_eq!(row["ports"]["app"], env.base_port);
    assert_eq!(row["ports"]["reserved"], env.base_port + 1);
    assert_eq!(row["ports"]["control"], env.base_port + 2);

    // A warm daemon is reused, not respawned.
    let again = env.json(&a, &["status", "--json"]);
    assert_eq!(again["spawned"], false);
    assert_eq!(pid_of(&again), pid);

    let b = env.project("b");
    let sb = env.json(&b, &["status", "--json"]);
    assert_eq!(sb["app_port"], env.base_port + 10);
    let all = env.json(&a, &["pair", "--all", "--json"]);
    let slots: Vec<u64> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["slot"].as_u64().expect("slot"))
        .collect();
    assert_eq!(slots, vec![0, 1]);

    let out = env.ok(&a, &["kill"]);
    assert!(out.contains("stopped"), "{out}");
    assert!(wait_until(Duration::from_secs(20), || !pid_alive(pid)));
    let pairs = env.json(&a, &["pair", "--json"]);
    assert_eq!(pairs[0]["daemon"], "stopped");

    // The kill sentinel keeps `abg status` from respawning it.
    let st = env.json(&a, &["status", "--json"]);
    assert_eq!(st["daemon"], "stopped");
    assert_eq!(st["killed"], true);
    let pairs = env.json(&a, &["pair", "--json"]);
    assert_eq!(pairs[0]["daemon"], "stopped");
}

#[test]
fn kill_9_then_status_respawns_with_messages_intact() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let status = env.json(&p, &["status", "--json"]);
    let pid = pid_of(&status);
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret")).expect("secret");
    let client = Client::new(env.base_port + 2, secret.trim().to_string());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = rt
            .block_on(client.send(&SendRequest {
                from: PeerId::HUMAN,
                to: abg::codex::PEER,
                body: format!("message {i}"),
                on_busy: None,
                in_reply_to: None,
                idempotency_key: None,
            }))
            .expect("send");
        ids.push(r.message_id);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill -9");
    assert!(wait_until(Duration::from_secs(20), || !pid_alive(pid)));

    let status = env.json(&p, &["status", "--json"]);
    let new_pid = pid_of(&status);
    assert_ne!(new_pid, pid);
    assert_eq!(status["spawned"], true);
    assert_eq!(status["queues"]["to_codex"], 5);
    let page = rt.block_on(client.messages_after(0, 100)).expect("list");
    let got: Vec<String> = page.messages.iter().map(|m| m.id.clone()).collect();
    assert_eq!(got, ids);
    assert_eq!(page.messages[4].body, "message 4");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let pid = pid_of(&env.json(&p, &["status", "--json"]));
    let pidfile = env.pair_dirs()[0].join("daemon.json");
    assert!(pidfile.exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(wait_until(Duration::from_secs(20), || !pid_alive(pid)));
    assert!(
        wait_until(Duration::from_secs(2), || !pidfile.exists()),
        "pidfile removed on clean shutdown"
    );
    let log = std::fs::read_to_string(env.pair_dirs()[0].join("logs/daemon.log")).expect("log");
    assert!(
        log.contains("SIGTERM") && log.contains("daemon stopped"),
        "{log}"
    );
}

#[test]
fn stale_pidfile_is_replaced() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let pid = pid_of(&env.json(&p, &["status", "--json"]));
    env.ok(&p, &["kill"]);
    std::fs::remove_file(env.pair_dirs()[0].join("killed")).expect("unkill");
    // A pidfile naming a live process that is not the daemon (pid reuse).
    let fake = serde_json::json!({
        "pid": std::process::id(), "start_time": 1, "version": "0.0.0", "protocol": 1,
        "control_port": env.base_port + 2, "phase": "ready", "started_ms": 0
    });
    std::fs::write(
        env.pair_dirs()[0].join("daemon.json"),
        serde_json::to_vec(&fake).expect("json"),
    )
    .expect("write");
    let status = env.json(&p, &["status", "--json"]);
    assert_eq!(status["spawned"], true);
    assert_ne!(pid_of(&status), pid);
    assert!(
        pid_alive(std::process::id()),
        "the test process was not touched"
    );
}
