//! The control plane against hostile and sloppy clients: missing secret,
//! foreign Origin and Host, garbage and oversized bodies and frames. Each
//! gets a clear error and the daemon keeps serving.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use abg::control::protocol::PROTOCOL_VERSION;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::env::AbgEnv;

pub struct Daemon {
    pub env: AbgEnv,
    pub port: u16,
    pub secret: String,
    /// `Authorization` value of a session opened with this daemon.
    pub auth: String,
}

pub fn daemon() -> Daemon {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
        .expect("secret")
        .trim()
        .to_string();
    let port = env.base_port + 2;
    let auth = session(port, &secret);
    Daemon {
        env,
        port,
        secret,
        auth,
    }
}

pub fn session(port: u16, secret: &str) -> String {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(abg::control::client::open_session(
        &abg::control::client::http_client(),
        port,
        secret,
    ))
    .expect("session")
}

/// Send a raw HTTP/1.1 request; return (status, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn every_endpoint_but_liveness_needs_the_secret() {
    let d = daemon();
    assert_eq!(http(d.port, "GET", "/healthz", &[], b"").0, 200);
    for (method, path) in [
        ("GET", "/v1/status"),
        ("GET", "/v1/messages"),
        ("POST", "/v1/messages"),
        ("POST", "/v1/shutdown"),
        ("GET", "/v1/ws"),
        ("GET", "/nope"),
    ] {
        let (status, body) = http(d.port, method, path, &[], b"");
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert!(body.contains("pair secret"), "{body}");
        let wrong = http(
            d.port,
            method,
            path,
            &[("Authorization", "Bearer wrong")],
            b"",
        );
        assert_eq!(wrong.0, 401, "{method} {path} with a wrong secret");
        let bare = format!("Bearer {}", d.secret);
        let bare = http(d.port, method, path, &[("Authorization", &bare)], b"");
        assert_eq!(
            bare.0, 401,
            "{method} {path}: the secret itself is not a credential"
        );
    }
    let auth = d.auth.clone();
    assert_eq!(
        http(
            d.port,
            "GET",
            "/v1/status",
            &[("Authorization", &auth)],
            b""
        )
        .0,
        200
    );
    drop(d.env);
}

#[test]
fn foreign_origin_and_host_are_refused() {
    let d = daemon();
    let auth = d.auth.clone();
    let (status, body) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", &auth), ("Origin", "http://evil.example")],
        b"",
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("origin"), "{body}");
    let (status, _) = http(
        d.port,
        "POST",
        "/v1/shutdown",
        &[("Origin", "https://evil.example")],
        b"",
    );
    assert_eq!(
        status, 403,
        "a cross-site POST is refused before anything else"
    );
    let (status, body) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", &auth), ("Host", "rebind.example:80")],
        b"",
    );
    assert_eq!(status, 403, "{body}");
    let own = format!("http://127.0.0.1:{}", d.port);
    let (status, _) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", &auth), ("Origin", &own)],
        b"",
    );
    assert_eq!(status, 200);
}

#[test]
fn bad_http_input_gets_clear_errors_and_daemon_keeps_serving() {
    let d = daemon();
    let auth = d.auth.clone();
    let h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, body) = http(d.port, "POST", "/v1/messages", &h, b"{garbage");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a valid send request"), "{body}");
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/messages",
        &h,
        br#"{"from":"human","to":"nobody","body":"x"}"#,
    );
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/messages",
        &h,
        br#"{"from":"human","to":"codex","body":"  "}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("empty"), "{body}");
    let big = format!(
        r#"{{"from":"human","to":"codex","body":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, _) = http(d.port, "POST", "/v1/messages", &h, big.as_bytes());
    assert_eq!(status, 413);
    let (status, body) = http(d.port, "GET", "/v1/messages?after=x", &h, b"");
    assert_eq!(status, 400, "{body}");
    let (status, body) = http(
        d.port,
        "GET",
        "/v1/status",
        &[("Authorization", &auth), ("abg-protocol", "99")],
        b"",
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("protocol"), "{body}");
    let (status, body) = http(
        d.port,
        "POST",
        "/v1/messages",
        &h,
        br#"{"from":"human","to":"codex","body":"still here"}"#,
    );
    assert_eq!(status, 200, "{body}");
}

pub async fn ws_connect(
    port: u16,
    secret: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://127.0.0.1:{port}/v1/ws")
        .into_client_request()
        .expect("req");
    let session =
        abg::control::client::open_session(&abg::control::client::http_client(), port, secret)
            .await
            .expect("session");
    req.headers_mut()
        .insert("Authorization", session.parse().expect("header"));
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    ws
}

pub async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> serde_json::Value {
    let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("frame in time")
        .expect("stream open")
        .expect("frame");
    match msg {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("json frame"),
        other => panic!("unexpected frame {other:?}"),
    }
}

#[test]
fn websocket_survives_garbage_and_oversized_frames() {
    let d = daemon();
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(async {
        let mut ws = ws_connect(d.port, &d.secret).await;
        ws.send(Message::text(r#"{"type":"status","id":1}"#))
            .await
            .expect("send");
        let f = next_json(&mut ws).await;
        assert_eq!(f["code"], "hello_required", "{f}");

        ws.send(Message::text(format!(
            r#"{{"type":"hello","protocol":{PROTOCOL_VERSION},"version":"t","role":"cli"}}"#
        )))
        .await
        .expect("send");
        assert_eq!(next_json(&mut ws).await["type"], "welcome");

        for garbage in [
            "not json",
            "{}",
            r#"{"type":"send","id":2}"#,
            r#"{"type":"status","id":"x"}"#,
            "[1,2,3]",
        ] {
            ws.send(Message::text(garbage)).await.expect("send");
            let f = next_json(&mut ws).await;
            assert_eq!(f["type"], "error", "{garbage}: {f}");
            assert_eq!(f["code"], "bad_frame", "{garbage}: {f}");
        }
        ws.send(Message::binary(vec![0u8, 1, 2]))
            .await
            .expect("send");
        assert_eq!(next_json(&mut ws).await["code"], "bad_frame");

        let big = format!(
            r#"{{"type":"ping","id":3,"pad":"{}"}}"#,
            "x".repeat(1024 * 1024 + 10)
        );
        ws.send(Message::text(big)).await.expect("send");
        let f = next_json(&mut ws).await;
        assert_eq!(f["code"], "too_large", "{f}");

        let send =
            r#"{"type":"send","id":4,"message":{"from":"human","to":"claude","body":"hello"}}"#;
        ws.send(Message::text(send)).await.expect("send");
        let f = next_json(&mut ws).await;
        assert_eq!(f["type"], "sent", "{f}");
        assert_eq!(f["result"]["state"], "stored");

        ws.send(Message::text(r#"{"type":"status","id":5}"#))
            .await
            .expect("send");
        let f = next_json(&mut ws).await;
        assert_eq!(f["status"]["queues"]["to_claude"], 1, "{f}");

        // A second connection with the wrong protocol gets a clear error.
        let mut ws2 = ws_connect(d.port, &d.secret).await;
        ws2.send(Message::text(
            r#"{"type":"hello","protocol":7,"version":"t","role":"cli"}"#,
        ))
        .await
        .expect("send");
        let f = next_json(&mut ws2).await;
        assert_eq!(f["code"], "protocol_mismatch", "{f}");

        // The first connection still works.
        ws.send(Message::text(r#"{"type":"ping","id":6}"#))
            .await
            .expect("send");
        assert_eq!(next_json(&mut ws).await["type"], "pong");
    });
}
