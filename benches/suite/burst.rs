//! The burst figure, in process: the daemon's own core and control plane
//! (the same `Core`, store and axum router `abg daemon` runs), 10,000
//! messages stored one by one as fast as they come, relayed by the Claude
//! link to a fast fake peer on the control WebSocket (the role `abg mcp`
//! plays) that reports each batch pushed and acknowledged at once.
//! Checked: every message delivered, in order, exactly once, and nothing
//! left unacknowledged in the store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use abg::claude::wsclient::ControlLink;
use abg::config::Config;
use abg::control::guard::Guard;
use abg::control::protocol::{ClaudeRequest, Role};
use abg::daemon::core::Core;
use abg::pair::PairName;
use abg::pair::registry::Registry;
use abg::store::Store;
use abg::store::types::{Agent, NewMessage};
use anyhow::{Context, bail};

/// What one burst did.
#[derive(Debug, Clone)]
pub struct Burst {
    /// First insert → last acknowledgement received.
    pub elapsed: Duration,
    /// Time to store all messages (the producer alone).
    pub stored: Duration,
    pub in_order_once: bool,
}

/// Run one burst of `n` messages human → Claude.
pub async fn run(n: usize) -> anyhow::Result<Burst> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(&root)?;
    let root = std::fs::canonicalize(root)?;
    let base = free_base()?;
    let registry = Registry::new(&tmp.path().join("state"), base);
    let (pair, _) = registry
        .find_or_create(&root, &PairName::default())
        .context("cannot register the bench pair")?;
    let secret = pair.secret()?;
    let store = Store::open(&pair.store_file())?;
    let core = Core::new(pair.clone(), Config::default(), store);
    let port = pair.ports.control;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let app = abg::control::server::router(Arc::clone(&core), Arc::new(Guard::new(port, &secret)));
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (link, mut deliveries) = ControlLink::connect(port, &secret, Role::Claude)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let consumer = tokio::spawn(async move {
        let mut got = Vec::with_capacity(n);
        while got.len() < n {
            let Some(first) = deliveries.recv().await else {
                break;
            };
            let mut ids = vec![first.id];
            while let Ok(m) = deliveries.try_recv() {
                ids.push(m.id);
            }
            let t = Duration::from_secs(10);
            let pushed = ClaudeRequest::Pushed { ids: ids.clone() };
            if link.claude(pushed, t).await.is_err() {
                break;
            }
            if link
                .claude(ClaudeRequest::Ack { ids: ids.clone() }, t)
                .await
                .is_err()
            {
                break;
            }
            got.extend(ids);
        }
        (got, Instant::now())
    });

    let producer_core = Arc::clone(&core);
    let start = Instant::now();
    let produced = tokio::task::spawn_blocking(move || {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let m = NewMessage::new(Agent::Human, Agent::Claude, format!("burst message {i}"));
            let (stored, fresh) = producer_core
                .insert(&m)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !fresh {
                bail!("message {i} was taken for a duplicate");
            }
            ids.push(stored.id);
        }
        Ok::<_, anyhow::Error>((ids, start.elapsed()))
    });
    let (sent, stored) = produced.await??;
    let (got, done) = tokio::time::timeout(Duration::from_secs(60), consumer)
        .await
        .context("the burst did not drain within 60 s")??;
    let elapsed = done.duration_since(start);
    let unique: HashSet<&String> = got.iter().collect();
    let left = core.with_store(|s| s.unacked_count(Agent::Claude))?;
    let in_order_once = got == sent && unique.len() == n && left == 0;
    core.request_shutdown("bench done");
    server.abort();
    Ok(Burst {
        elapsed,
        stored,
        in_order_once,
    })
}

/// A port base whose first slot is free right now.
fn free_base() -> anyhow::Result<u16> {
    let seed = std::process::id() as u16;
    for k in 0..400u16 {
        let base = 30000 + (seed.wrapping_add(k.wrapping_mul(7919)) % 2500) * 10;
        if (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no free port block for the burst")
}
