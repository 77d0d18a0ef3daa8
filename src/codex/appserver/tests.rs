//! Unit tests of the app-server lifecycle helpers (versions, argv, token).

use super::*;

#[test]
fn versions_parse_and_compare() {
    assert_eq!(parse_version("codex-cli 0.169.0"), Some((0, 169, 0)));
    assert_eq!(
        parse_version("codex-cli 0.170.1-alpha.2"),
        Some((0, 170, 1))
    );
    assert!(parse_version("codex-cli 0.131.0").is_some_and(|v| v < MIN_VERSION));
    assert_eq!(parse_version("garbage"), None);
}

#[test]
fn args_carry_auth_and_mode() {
    let a = args(4500, Path::new("/p/codex.token"), Mode::Yolo);
    let s = a.join(" ");
    assert!(s.starts_with("app-server --listen ws://127.0.0.1:4500 --ws-auth capability-token --ws-token-file /p/codex.token"));
    assert!(s.contains("features.daemon_auto_start=false"));
    assert!(s.contains("approval_policy=\"never\""));
    let safe = args(4500, Path::new("/p/t"), Mode::Safe).join(" ");
    assert!(!safe.contains("approval_policy"));
}

fn test_pair(dir: &Path) -> Pair {
    let reg = crate::pair::registry::Registry::new(dir, 40000);
    let pair = reg.pair(&crate::pair::registry::Entry {
        id: "main-0123abcd".into(),
        name: "main".into(),
        root: dir.to_path_buf(),
        slot: 0,
        created_ms: 0,
    });
    crate::paths::ensure_private_dir(&pair.dir).expect("pair dir");
    crate::paths::write_private_file(&pair.secret_path(), crate::paths::new_secret().as_bytes())
        .expect("secret");
    pair
}

#[test]
fn tokens_are_random_per_start_private_and_not_the_secret() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let pair = test_pair(tmp.path());
    let first = write_new_token(&pair).expect("token");
    assert_eq!(first.len(), 64);
    assert_eq!(read_token(&pair).expect("read"), first);
    let mode = std::fs::metadata(token_file(&pair))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let second = write_new_token(&pair).expect("token");
    assert_ne!(
        first, second,
        "a leaked token must not open a later app-server"
    );
    assert_eq!(read_token(&pair).expect("read"), second);
    assert_ne!(second, pair.secret().expect("secret"));
    // A broken token file is refused, with the way out.
    std::fs::write(token_file(&pair), "").expect("empty");
    let err = read_token(&pair).expect_err("empty").to_string();
    assert!(err.contains("abg kill"), "{err}");
}

#[test]
fn a_symlink_planted_at_a_temp_name_is_not_followed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pair = test_pair(tmp.path());
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "precious").expect("victim");
    // `codex.tmp` was the fixed temp name of codex.mode and codex.token.
    for name in ["codex.tmp", "codex-appserver.tmp", "codex.mode.tmp"] {
        std::os::unix::fs::symlink(&victim, pair.dir.join(name)).expect("plant");
    }
    write_mode(&pair, Mode::Safe).expect("mode");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    assert_eq!(read_mode(&pair), Mode::Safe);
    assert!(
        std::fs::symlink_metadata(mode_file(&pair))
            .expect("mode file")
            .is_file()
    );
}

#[tokio::test]
async fn missing_binary_is_a_clear_error() {
    let e = check_version("/nonexistent/codex")
        .await
        .expect_err("missing");
    let text = e.to_string();
    assert!(
        text.contains("0.169.0") && text.contains("/nonexistent/codex"),
        "{text}"
    );
}

/// A listener that took the app port after abg's app-server is never
/// adopted (the daemon would hand it the token), even when it answers
/// `/readyz` and the recorded pid is alive.
#[tokio::test]
async fn a_squatter_on_the_app_port_is_not_adopted() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().expect("tempdir");
    let squat = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = squat.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in squat.incoming().flatten().take(8) {
            let mut conn = conn;
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    let pair = Pair {
        id: "main-test".into(),
        name: "main".into(),
        root: tmp.path().to_path_buf(),
        slot: 0,
        ports: crate::pair::ports::Ports {
            app: port,
            reserved: port,
            control: port,
        },
        dir: tmp.path().to_path_buf(),
        created_ms: 0,
    };
    let mut recorded = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("sleep");
    let state = AppServerState {
        pid: recorded.id(),
        port,
        mode: Mode::Yolo,
        version: "codex-cli 0.169.0".into(),
        start_time: None,
        guard: None,
        guard_start_time: None,
    };
    crate::paths::write_private_file(
        &state_file(&pair),
        serde_json::to_string(&state).expect("json").as_bytes(),
    )
    .expect("state");
    let got = start_or_adopt(
        &pair,
        "/nonexistent/codex",
        Mode::Yolo,
        std::time::Duration::from_secs(120),
        &mut None,
    )
    .await;
    let _ = recorded.kill();
    let _ = recorded.wait();
    let err = got.expect_err("must not adopt the squatter").to_string();
    assert!(
        err.contains(&format!(
            "port {port} is held by pid {}",
            std::process::id()
        )),
        "{err}"
    );
}
