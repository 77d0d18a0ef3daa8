//! Who the CLI talks to: a process squatting on the pair's control port
//! never receives the pair secret or a session the daemon would accept,
//! and is named; a daemon that cannot start (port held, corrupt store,
//! `abg kill`) is reported at once with its own reason.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::env::{AbgEnv, pid_alive, wait_until};

/// A plain TCP listener on the control port that records every byte it is
/// sent and answers every request like a daemon would a challenge, with a
/// made-up proof.
struct Squatter {
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Squatter {
    fn bind(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("squat the control port");
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_millis(300)));
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    if complete(&got) {
                        break;
                    }
                }
                s.lock().expect("seen").extend_from_slice(&got);
                let body = format!(
                    r#"{{"server_nonce":"{}","proof":"{}"}}"#,
                    "ab".repeat(32),
                    "00".repeat(32)
                );
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Self {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("seen")).into_owned()
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether `req` holds a whole HTTP request (head and declared body).
fn complete(req: &[u8]) -> bool {
    let text = String::from_utf8_lossy(req);
    let Some(end) = text.find("\r\n\r\n") else {
        return false;
    };
    let len = text[..end]
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    req.len() >= end + 4 + len
}

fn secret(env: &AbgEnv) -> String {
    std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
        .expect("secret")
        .trim()
        .to_string()
}

/// A pair whose daemon ran once and is now gone (not by `abg kill`).
fn pair_with_dead_daemon(env: &AbgEnv) -> std::path::PathBuf {
    let p = env.project("p");
    let pid = env.json(&p, &["status", "--json"])["pid"]
        .as_u64()
        .expect("pid") as u32;
    env.ok(&p, &["kill"]);
    assert!(wait_until(Duration::from_secs(20), || !pid_alive(pid)));
    std::fs::remove_file(env.pair_dirs()[0].join("killed")).expect("unkill");
    p
}

fn assert_nothing_secret(seen: &str, secret: &str) {
    assert!(
        !seen.contains(secret),
        "the squatter got the secret:\n{seen}"
    );
    assert!(
        !seen.to_ascii_lowercase().contains("authorization"),
        "the squatter got a credential:\n{seen}"
    );
}

#[test]
fn a_squatter_on_the_control_port_gets_no_secret_and_is_named() {
    let env = AbgEnv::new();
    let p = pair_with_dead_daemon(&env);
    let secret = secret(&env);
    let port = env.base_port + 2;
    let squatter = Squatter::bind(port);
    let me = std::process::id();

    // No daemon on record: the spawned one cannot bind and says who can.
    let t = Instant::now();
    let out = env.run(&p, &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "reported at once, not polled ({:?}): {err}",
        t.elapsed()
    );
    assert!(
        err.contains(&format!("port {port} is held by pid {me}")),
        "{err}"
    );
    assert_nothing_secret(&squatter.seen(), &secret);

    // The pidfile names a live process, yet the port's listener is someone
    // else: the client asks it to prove itself and refuses it.
    let mut decoy = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", decoy.id())).expect("stat");
    let start: u64 = stat[stat.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(19)
        .expect("start time")
        .parse()
        .expect("number");
    let fake = serde_json::json!({
        "pid": decoy.id(), "start_time": start, "version": env!("CARGO_PKG_VERSION"),
        "protocol": 1, "control_port": port, "phase": "ready", "started_ms": 0
    });
    std::fs::write(
        env.pair_dirs()[0].join("daemon.json"),
        serde_json::to_vec(&fake).expect("json"),
    )
    .expect("pidfile");
    for verb in [&["status"][..], &["send", "--to", "codex", "hello"]] {
        let out = env.run(&p, verb);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{verb:?}: {err}");
        assert!(
            err.contains(&format!("127.0.0.1:{port} is not this pair's daemon"))
                && err.contains(&format!("pid {me}")),
            "{verb:?}: {err}"
        );
    }
    let seen = squatter.seen();
    assert!(seen.contains("/v1/auth/challenge"), "{seen}");
    assert_nothing_secret(&seen, &secret);
    let _ = decoy.kill();
    let _ = decoy.wait();
    let _ = std::fs::remove_file(env.pair_dirs()[0].join("daemon.json"));
}

#[test]
fn a_corrupt_store_fails_fast_with_the_daemons_own_error() {
    let env = AbgEnv::new();
    let p = pair_with_dead_daemon(&env);
    let store = env.pair_dirs()[0].join("store.sqlite");
    let mut bytes = std::fs::read(&store).expect("store");
    bytes[..32].copy_from_slice(b"this is not a sqlite header!!!!!");
    std::fs::write(&store, bytes).expect("corrupt");
    let t = Instant::now();
    let out = env.run(&p, &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}: {err}",
        t.elapsed()
    );
    assert!(err.contains("file is not a database"), "{err}");
    assert!(err.contains("store.sqlite"), "{err}");
}

#[test]
fn verbs_after_kill_fail_at_once_with_the_kill_message() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    env.ok(&p, &["kill"]);
    for verb in [&["send", "--to", "codex", "hello"][..], &["ui"]] {
        let t = Instant::now();
        let out = env.run(&p, verb);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{verb:?}: {err}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{verb:?} took {:?}: {err}",
            t.elapsed()
        );
        assert!(
            err.contains("stopped by `abg kill`") && err.contains("`abg claude` or `abg codex`"),
            "{verb:?}: {err}"
        );
    }
}
