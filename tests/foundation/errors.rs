//! Every error of the control plane and the web API is the documented JSON
//! `{"error": code, "message": …}`, naming the limit, the field or the
//! methods: oversized bodies (413), wrong content type (415), bodies or
//! queries that do not fit (422, 400), unknown paths (404), wrong methods
//! (405); and the CLI shows the limit.

use std::io::Write;
use std::process::Stdio;

use crate::control::http;
use crate::env::AbgEnv;

/// Parse `body` as the JSON error shape; return (code, message).
fn error_of(what: &str, status: u16, body: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("{what} ({status}): not JSON ({e}): {body:?}"));
    let obj = v.as_object().expect("object");
    assert_eq!(obj.len(), 2, "{what}: exactly error and message: {v}");
    let code = v["error"].as_str().expect("error code").to_string();
    let message = v["message"].as_str().expect("message").to_string();
    (code, message)
}

/// Log in through the real `abg ui`; returns (cookie, csrf token).
fn ui_login(env: &AbgEnv, project: &std::path::Path, port: u16) -> (String, String) {
    let cookie = crate::ui_sessions::login(env, project, port);
    let (status, body) = http(port, "GET", "/ui/api/session", &[("Cookie", &cookie)], b"");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    (cookie, v["csrf"].as_str().expect("csrf").to_string())
}

#[test]
fn every_error_is_json_naming_the_limit_or_field() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let max = [("ABG_CONTROL_MAX_FRAME_BYTES", "1024")];
    let mut cmd = env.cmd(&p);
    assert!(
        cmd.args(["status", "--json"])
            .envs(max)
            .output()
            .expect("abg")
            .status
            .success()
    );
    let port = env.base_port + 2;
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
        .expect("secret")
        .trim()
        .to_string();
    let auth = crate::control::session(port, &secret);
    let (cookie, csrf) = ui_login(&env, &p, port);
    let origin = format!("http://127.0.0.1:{port}");
    let bearer = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let ui_json = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("x-abg-csrf", csrf.as_str()),
        ("Content-Type", "application/json"),
    ];
    let ui_plain = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("x-abg-csrf", csrf.as_str()),
        ("Content-Type", "text/plain"),
    ];
    let big = format!(
        r#"{{"from":"human","to":"codex","body":"{}"}}"#,
        "x".repeat(6000)
    );
    let big_ui = format!(r#"{{"to":"codex","body":"{}"}}"#, "x".repeat(6000));
    // (what, method, path, headers, body, status, code, must name)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [u8],
        u16,
        &'a str,
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            "control: body over the cap",
            "POST",
            "/v1/messages",
            &bearer,
            big.as_bytes(),
            413,
            "too_large",
            &["5120 bytes", "control.max_frame_bytes"],
        ),
        (
            "control: bad query",
            "GET",
            "/v1/messages?after=x",
            &bearer,
            b"",
            400,
            "invalid_argument",
            &["after="],
        ),
        (
            "control: budget body missing a field",
            "POST",
            "/v1/budget/pause",
            &bearer,
            b"{}",
            400,
            "bad_frame",
            &["side"],
        ),
        (
            "control: websocket without an upgrade",
            "GET",
            "/v1/ws",
            &bearer,
            b"",
            400,
            "invalid_argument",
            &["upgrade"],
        ),
        (
            "control: unknown path",
            "GET",
            "/v1/nope",
            &bearer,
            b"",
            404,
            "invalid_argument",
            &["GET /v1/nope"],
        ),
        (
            "control: wrong method",
            "DELETE",
            "/v1/status",
            &bearer,
            b"",
            405,
            "invalid_argument",
            &["DELETE", "/v1/status", "GET"],
        ),
        (
            "web: body over the cap",
            "POST",
            "/ui/api/send",
            &ui_json,
            big_ui.as_bytes(),
            413,
            "too_large",
            &["5120 bytes", "control.max_frame_bytes"],
        ),
        (
            "web: not JSON",
            "POST",
            "/ui/api/send",
            &ui_plain,
            br#"{"to":"codex","body":"hi"}"#,
            415,
            "bad_frame",
            &["Content-Type: application/json"],
        ),
        (
            "web: JSON missing a field",
            "POST",
            "/ui/api/send",
            &ui_json,
            br#"{"to":"codex"}"#,
            422,
            "bad_frame",
            &["missing field `body`"],
        ),
        (
            "web: JSON syntax",
            "POST",
            "/ui/api/send",
            &ui_json,
            b"{garbage",
            400,
            "invalid_argument",
            &["JSON"],
        ),
        (
            "web: bad query",
            "GET",
            "/ui/api/events?limit=x",
            &ui_json,
            b"",
            400,
            "invalid_argument",
            &["limit"],
        ),
        (
            "web: missing query field",
            "GET",
            "/ui/api/export",
            &ui_json,
            b"",
            400,
            "invalid_argument",
            &["format"],
        ),
        (
            "web: unknown path",
            "GET",
            "/ui/api/nope",
            &ui_json,
            b"",
            404,
            "invalid_argument",
            &["GET /ui/api/nope"],
        ),
        (
            "web: wrong method",
            "GET",
            "/ui/api/send",
            &ui_json,
            b"",
            405,
            "invalid_argument",
            &["GET", "/ui/api/send", "POST"],
        ),
    ];
    for (what, method, path, headers, body, status, code, names) in cases {
        let (got, text) = http(port, method, path, headers, body);
        assert_eq!(got, *status, "{what}: {text}");
        let (c, message) = error_of(what, got, &text);
        assert_eq!(c, *code, "{what}: {message}");
        for name in *names {
            assert!(message.contains(name), "{what}: {message:?} lacks {name:?}");
        }
    }

    // The CLI shows the limit too.
    let mut child = env
        .cmd(&p)
        .args(["send", "--to", "codex", "-"])
        .envs(max)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("abg send");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all("y".repeat(6000).as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("5120 bytes") && stderr.contains("control.max_frame_bytes"),
        "{stderr}"
    );
}
