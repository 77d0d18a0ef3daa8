//! The kickoff: exactly one introduction per agent, the first time both are
//! attached — not on reconnects.

use std::time::Duration;

use abg::control::client::Client;
use abg::control::protocol::PROTOCOL_VERSION;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::env::{AbgEnv, wait_until};

async fn attach(
    port: u16,
    secret: &str,
    role: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut ws = crate::control::ws_connect(port, secret).await;
    let hello = format!(
        r#"{{"type":"hello","protocol":{PROTOCOL_VERSION},"version":"test","role":"{role}"}}"#
    );
    ws.send(Message::text(hello)).await.expect("hello");
    // Attached once the daemon has answered the hello.
    let welcome = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("welcome in time")
        .expect("open")
        .expect("frame");
    assert!(welcome.to_string().contains("welcome"), "{welcome}");
    ws
}

#[test]
fn kickoff_once_when_both_agents_first_attach() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.json(&p, &["status", "--json"]);
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret")).expect("secret");
    let secret = secret.trim().to_string();
    let port = env.base_port + 2;
    let client = Client::new(port, secret.clone());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let notices = |rt: &tokio::runtime::Runtime| {
        rt.block_on(client.messages_after(0, 100))
            .expect("list")
            .messages
            .into_iter()
            .filter(|m| m.from == "abg")
            .map(|m| m.to)
            .collect::<Vec<_>>()
    };
    rt.block_on(async {
        let codex = attach(port, &secret, "codex").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            notices_now(&client).await.is_empty(),
            "no kickoff with one agent"
        );
        let claude = attach(port, &secret, "claude").await;
        drop((codex, claude));
    });
    assert!(wait_until(Duration::from_secs(20), || notices(&rt).len() == 2));
    let mut got = notices(&rt);
    got.sort();
    assert_eq!(got, ["claude", "codex"]);
    // Reconnects do not repeat it.
    rt.block_on(async {
        let a = attach(port, &secret, "codex").await;
        let b = attach(port, &secret, "claude").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop((a, b));
    });
    assert_eq!(notices(&rt).len(), 2);
}

async fn notices_now(client: &Client) -> Vec<String> {
    client
        .messages_after(0, 100)
        .await
        .expect("list")
        .messages
        .into_iter()
        .filter(|m| m.from == "abg")
        .map(|m| m.to)
        .collect()
}
