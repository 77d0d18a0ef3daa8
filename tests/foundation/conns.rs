//! The control port against idle sockets: a real daemon under an open-file
//! limit of 128 keeps answering its own clients through 150 silent or
//! half-sent connections (the oldest are closed to make room, an
//! established WebSocket is not), and a connection that sends no complete
//! request header within `control.header_timeout_ms` is closed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Output;
use std::time::{Duration, Instant};

use abg::control::protocol::PROTOCOL_VERSION;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::control::{http, next_json, ws_connect};
use crate::env::{AbgEnv, wait_until};

/// `abg status --json` in `project`, whose daemon it spawns with an
/// open-file limit of `fds` (soft and hard, inherited from this CLI) and
/// `extra` environment.
fn spawn_limited(env: &AbgEnv, project: &std::path::Path, fds: u64, extra: &[(&str, &str)]) -> u32 {
    let mut cmd = env.cmd(project);
    cmd.args(["status", "--json"]);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, fds, fds)
                .map_err(std::io::Error::from)
        });
    }
    let out: Output = cmd.output().expect("run abg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    status["pid"].as_u64().expect("pid") as u32
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    s
}

/// Whether the daemon has closed `s` (EOF or reset on read).
fn closed(mut s: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

#[test]
fn idle_sockets_cannot_lock_out_the_daemons_own_clients() {
    let env = AbgEnv::new();
    let p = env.project("p");
    // A header timeout far beyond the test: only the cap can make room.
    let pid = spawn_limited(
        &env,
        &p,
        128,
        &[("ABG_CONTROL_HEADER_TIMEOUT_MS", "600000")],
    );
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>()[3..5],
        ["128", "128"],
        "{line}"
    );
    let port = env.base_port + 2;
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
        .expect("secret")
        .trim()
        .to_string();
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let mut ws = rt.block_on(async {
        let mut ws = ws_connect(port, &secret).await;
        ws.send(Message::text(format!(
            r#"{{"type":"hello","protocol":{PROTOCOL_VERSION},"version":"t","role":"cli"}}"#
        )))
        .await
        .expect("send");
        assert_eq!(next_json(&mut ws).await["type"], "welcome");
        ws
    });

    let idle: Vec<TcpStream> = (0..150)
        .map(|i| {
            let mut s = connect(port);
            if i % 3 == 0 {
                s.write_all(
                    format!("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n").as_bytes(),
                )
                .expect("half a header");
            }
            s
        })
        .collect();

    let started = Instant::now();
    let (status, body) = http(port, "GET", "/healthz", &[], b"");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "/healthz took {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let st = env.json(&p, &["status", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "abg status took {:?}",
        started.elapsed()
    );
    assert_eq!(st["pid"], pid, "the same daemon answered: {st}");
    assert_eq!(st["spawned"], false, "{st}");

    // The daemon (cap 128 - 64 = 64) closed the oldest idle sockets.
    assert!(
        wait_until(Duration::from_secs(10), || idle
            .iter()
            .filter(|s| closed(s))
            .count()
            >= 150 - 64),
        "the oldest idle connections are closed to make room"
    );
    assert!(
        !closed(idle.last().expect("newest")),
        "the newest idle connection is kept"
    );
    rt.block_on(async {
        ws.send(Message::text(r#"{"type":"ping","id":1}"#))
            .await
            .expect("send");
        assert_eq!(
            next_json(&mut ws).await["type"],
            "pong",
            "an established WebSocket is never evicted"
        );
    });
}

#[test]
fn connections_without_a_complete_header_are_closed_after_the_timeout() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let mut cmd = env.cmd(&p);
    let out = cmd
        .args(["status", "--json"])
        .env("ABG_CONTROL_HEADER_TIMEOUT_MS", "1000")
        .output()
        .expect("run abg");
    assert!(out.status.success());
    let port = env.base_port + 2;

    let silent = connect(port);
    let mut half = connect(port);
    half.write_all(format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n").as_bytes())
        .expect("half");
    let mut kept_alive = connect(port);
    kept_alive
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .expect("request");
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = kept_alive.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.ends_with(b"ok") {
            break;
        }
    }
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        !closed(&silent) && !closed(&half),
        "open before the timeout"
    );
    for (name, s) in [
        ("silent", &silent),
        ("half a header", &half),
        ("idle keep-alive", &kept_alive),
    ] {
        assert!(
            wait_until(Duration::from_secs(6), || closed(s)),
            "{name} connection still open after {:?}",
            started.elapsed()
        );
    }
    // The daemon itself is fine.
    assert_eq!(http(port, "GET", "/healthz", &[], b"").0, 200);
}
