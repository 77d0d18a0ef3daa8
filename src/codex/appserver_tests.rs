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

#[test]
fn token_is_derived_not_the_secret() {
    let t = token("secret");
    assert_eq!(t.len(), 64);
    assert_ne!(t, "secret");
    assert_eq!(t, token("secret"));
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
