//! Web UI sessions are revoked server-side: after logout the same cookie is
//! refused (also after a daemon restart, while other sessions live on), and
//! `abg ui --revoke-all` voids every earlier cookie while a fresh login
//! works.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::control::http;
use crate::env::{AbgEnv, pid_alive, wait_until};

/// One raw HTTP/1.1 exchange; the whole answer with lower-case header names.
pub fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    s.write_all(body).expect("body");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let head: Vec<String> = head
        .lines()
        .map(|l| match l.split_once(':') {
            Some((k, v)) => format!("{}:{v}", k.to_ascii_lowercase()),
            None => l.to_string(),
        })
        .collect();
    format!("{}\r\n\r\n{rest}", head.join("\r\n"))
}

/// A fresh session through the real `abg ui` link: its cookie.
pub fn login(env: &AbgEnv, project: &Path, port: u16) -> String {
    let url = env.ok(project, &["ui"]);
    let path = url
        .trim()
        .strip_prefix(&format!("http://127.0.0.1:{port}"))
        .expect("link on the control port")
        .to_string();
    let answer = raw(port, "GET", &path, &[], b"");
    answer
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no cookie: {answer}"))
        .to_string()
}

fn session_status(port: u16, cookie: &str) -> u16 {
    http(port, "GET", "/ui/api/session", &[("Cookie", cookie)], b"").0
}

fn csrf(port: u16, cookie: &str) -> String {
    let (status, body) = http(port, "GET", "/ui/api/session", &[("Cookie", cookie)], b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v["csrf"].as_str().expect("csrf").to_string()
}

/// Stop the daemon (SIGTERM) and let `abg status` start a new one.
fn restart(env: &AbgEnv, project: &Path) {
    let pid = env.json(project, &["status", "--json"])["pid"]
        .as_u64()
        .expect("pid") as u32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(wait_until(Duration::from_secs(20), || !pid_alive(pid)));
    let st = env.json(project, &["status", "--json"]);
    assert_eq!(st["spawned"], true, "{st}");
}

#[test]
fn logout_and_revoke_all_invalidate_sessions_server_side() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    let port = env.base_port + 2;
    let origin = format!("http://127.0.0.1:{port}");

    let a = login(&env, &p, port);
    let b = login(&env, &p, port);
    assert_eq!(session_status(port, &a), 200);
    let token = csrf(port, &a);
    let (status, body) = http(
        port,
        "POST",
        "/ui/api/logout",
        &[("Cookie", &a), ("Origin", &origin), ("x-abg-csrf", &token)],
        b"",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(session_status(port, &a), 401, "the logged-out cookie");
    let (status, _) = http(port, "GET", "/ui/api/stream", &[("Cookie", &a)], b"");
    assert_eq!(status, 401, "no stream for it either");
    assert_eq!(session_status(port, &b), 200, "another session lives on");

    restart(&env, &p);
    assert_eq!(session_status(port, &a), 401, "logout survives a restart");
    assert_eq!(session_status(port, &b), 200, "sessions survive a restart");

    let c = login(&env, &p, port);
    let out = env.ok(&p, &["ui", "--revoke-all"]);
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(session_status(port, &b), 401);
    assert_eq!(session_status(port, &c), 401);
    let fresh = login(&env, &p, port);
    assert_eq!(session_status(port, &fresh), 200, "a fresh login works");

    restart(&env, &p);
    assert_eq!(
        session_status(port, &b),
        401,
        "revoke-all survives a restart"
    );
    assert_eq!(session_status(port, &fresh), 200);
}
