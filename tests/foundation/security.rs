//! Issue 15: malformed secrets, pair directories others can write to,
//! registry entries that are not pair ids, and config files that are
//! devices, FIFOs or huge. Each is refused with a clear error (and the
//! fix), and nothing is served, followed, deleted or read without bound.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::env::{AbgEnv, pid_alive, wait_until};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Wait for `child` (which this test started) at most `limit`; kill it by
/// pid and fail when it is still running then.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let end = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET /v1/status` without credentials: the HTTP status, or `None` when
/// nothing listens.
fn unauthenticated_status(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req =
        format!("GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace().nth(1).and_then(|c| c.parse().ok())
}

fn daemon_pid(pair_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pair_dir.join("daemon.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
}

#[test]
fn malformed_secrets_are_refused_by_the_cli_and_the_daemon() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    let dir = env.pair_dirs()[0].clone();
    let secret = dir.join("secret");
    let port = env.base_port + 2;
    let running = daemon_pid(&dir).expect("daemon pid");
    let good = std::fs::read_to_string(&secret).expect("secret");
    let bad = [
        String::new(),
        " \n\t\n".to_string(),
        "abc".to_string(),
        "z".repeat(64),
        good.to_ascii_uppercase(),
    ];
    for (i, content) in bad.iter().enumerate() {
        std::fs::write(&secret, content).expect("write secret");
        let out = env.run(&p, &["status"]);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "status with secret {content:?} succeeded"
        );
        assert!(
            err.contains("not a valid abg secret")
                && err.contains(&format!("rm {}", secret.display()))
                && err.contains("abg pair rm main"),
            "{content:?}: {err}"
        );
        if i == 0 {
            // `abg kill` still stops the daemon that holds the old secret.
            let out = env.run(&p, &["kill"]);
            assert!(out.status.success(), "kill: {}", stderr(&out));
            assert!(wait_until(Duration::from_secs(10), || !pid_alive(running)));
            let _ = std::fs::remove_file(dir.join("killed"));
        }
        // Started by hand, the daemon refuses before binding anything.
        let child = env
            .cmd(&p)
            .args(["daemon", "--root"])
            .arg(&p)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let out = wait_bounded(child, Duration::from_secs(10), "abg daemon");
        assert!(!out.status.success(), "the daemon ran with {content:?}");
        assert!(
            stderr(&out).contains("not a valid abg secret"),
            "{}",
            stderr(&out)
        );
        assert_eq!(unauthenticated_status(port), None, "{content:?}");
    }
    // The fix the message gives works: delete the file, a new one is written.
    std::fs::remove_file(&secret).expect("rm");
    env.json(&p, &["status", "--json"]);
    let fresh = std::fs::read_to_string(&secret).expect("new secret");
    assert!(fresh.len() == 64 && fresh != good, "{fresh:?}");
    assert_eq!(unauthenticated_status(port), Some(401));
}

#[test]
fn a_pair_dir_others_can_write_is_refused_not_used() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    env.ok(&p, &["kill"]);
    let dir = env.pair_dirs()[0].clone();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = env.run(&p, &["status"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "status used a 0777 pair dir");
    assert!(
        err.contains(&dir.display().to_string()) && err.contains("chmod 700"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&dir).expect("meta").permissions().mode() & 0o777,
        0o777,
        "refused, not silently tightened"
    );
    let out = env.run(&p, &["pair", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 700"), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    // The fix: tighten it after a look.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let _ = std::fs::remove_file(dir.join("killed"));
    env.json(&p, &["status", "--json"]);
}

fn bad_entry(id: &str, slot: u32) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "name": "main",
        "root": "/nonexistent/abg-test/gone",
        "slot": slot,
        "created_ms": 0,
    })
}

#[test]
fn registry_ids_that_are_not_pair_ids_are_left_alone() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    env.ok(&p, &["kill"]);
    let victim = env.path().join("victim");
    std::fs::create_dir_all(&victim).expect("victim");
    std::fs::write(victim.join("keep"), "precious").expect("keep");
    let pairs = env.state_dir().join("pairs");
    let xyz = pairs.join("main-XYZ");
    std::fs::create_dir_all(&xyz).expect("main-XYZ");
    let registry = pairs.join("registry.json");
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&registry).expect("registry")).expect("json");
    let ids = [
        victim.display().to_string(),
        "../../victim".into(),
        "main-XYZ".into(),
    ];
    let list = file["pairs"].as_array_mut().expect("pairs");
    for (i, id) in ids.iter().enumerate() {
        list.push(bad_entry(id, 5 + i as u32));
    }
    std::fs::write(&registry, serde_json::to_vec(&file).expect("json")).expect("write");

    for args in [
        &["pair", "prune"][..],
        &["pair", "list", "--all"],
        &["kill", "--all"],
    ] {
        let out = env.run(&p, args);
        let err = stderr(&out);
        assert!(victim.join("keep").exists(), "{args:?} removed the victim");
        assert!(xyz.exists(), "{args:?} removed main-XYZ");
        assert!(out.status.success(), "{args:?}: {err}");
        for id in &ids {
            assert!(
                err.contains(&format!("{id:?}")),
                "{args:?} did not report {id}: {err}"
            );
        }
    }
    let out = env.run(&p, &["pair", "rm", "main"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(victim.join("keep").exists() && xyz.exists());
    let after = std::fs::read_to_string(&registry).expect("registry");
    for id in &ids {
        assert!(
            after.contains(&serde_json::to_string(id).expect("id")),
            "{after}"
        );
    }
}

/// Run `abg pair list` in `p` with at most 1 GiB of address space, so a
/// read without bound fails instead of eating the machine's memory.
fn pair_list_bounded(env: &AbgEnv, p: &Path) -> (Output, Duration) {
    let abg = env.cmd(p);
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" pair list")
        .arg(abg.get_program())
        .current_dir(p)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in abg.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let started = Instant::now();
    let child = c.spawn().expect("spawn");
    let out = wait_bounded(child, Duration::from_secs(10), "abg pair list");
    (out, started.elapsed())
}

fn config_file(p: &Path) -> PathBuf {
    let dir = p.join(".abg");
    std::fs::create_dir_all(&dir).expect(".abg");
    dir.join("config.toml")
}

#[test]
fn a_config_symlinked_to_dev_zero_fails_fast_in_bounded_memory() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let file = config_file(&p);
    std::os::unix::fs::symlink("/dev/zero", &file).expect("symlink");
    let (out, took) = pair_list_bounded(&env, &p);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(&file.display().to_string()) && err.contains("character device"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_config_that_is_a_fifo_fails_without_hanging() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let file = config_file(&p);
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let (out, _) = pair_list_bounded(&env, &p);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(&file.display().to_string()) && err.contains("FIFO"),
        "{err}"
    );
}

#[test]
fn a_config_over_one_mib_names_the_cap() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let file = config_file(&p);
    std::fs::write(&file, "# padding\n".repeat((2 << 20) / 10)).expect("write");
    let (out, _) = pair_list_bounded(&env, &p);
    let err = stderr(&out);
    assert!(!out.status.success(), "a 2 MiB config was read");
    assert!(
        err.contains(&file.display().to_string()) && err.contains("1048576 bytes (1 MiB)"),
        "{err}"
    );
}
