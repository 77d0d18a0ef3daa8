//! The burst figure, in process: the daemon's own core and control plane
//! (the same `Core`, store and axum router `abg daemon` runs), 10,000
//! messages stored as fast as they come from concurrent senders (each
//! insert returns only once its message is durably committed; inserts that
//! arrive together share one group commit), relayed by the Claude
//! link to a fast fake peer on the control WebSocket (the role `abg mcp`
//! plays, after the channel verdict `abg claude` reports) that reports
//! each batch pushed and acknowledged at once.
//! Checked: every message delivered, in order, exactly once, and nothing
//! left unacknowledged in the store.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use abg::claude::protocol::ClaudeRequest;
use abg::claude::wsclient::ControlLink;
use abg::config::Config;
use abg::control::protocol::Role;
use abg::pair::PairName;
use abg::pair::registry::Registry;
use abg::store::Store;
use abg::store::types::{NewMessage, PeerId};
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

/// Run one burst of `n` messages human → Claude from `senders` concurrent
/// senders (1: one sender that waits for each message to be stored before
/// sending the next; more: a burst arriving at once, as when many messages
/// come in together, which the daemon stores with group commit).
pub async fn run(n: usize, senders: usize) -> anyhow::Result<Burst> {
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
    let mut store = Store::open(&pair.store_file())?;
    store.checkpoint_in_background()?;
    let setup = abg::peers::setup();
    let core = setup.core(pair.clone(), Config::default(), store)?;
    let port = pair.ports.control;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let ui = Arc::new(abg::web::auth::UiAuth::new(port, &secret));
    let app = setup.app(&core, port, &secret, ui);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let (link, mut deliveries) = ControlLink::connect(port, &secret, Role::Peer(abg::claude::PEER))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // As `abg claude` does once Claude registered the channel: without this
    // verdict a new session waits `VERDICT_GRACE` before its first push.
    let verdict = ClaudeRequest::Channel {
        registered: true,
        reason: None,
    };
    link.claude(verdict, Duration::from_secs(10))
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

    let start = Instant::now();
    let share = n.div_ceil(senders.max(1));
    let mut producers = Vec::new();
    for p in 0..senders.max(1) {
        let core = Arc::clone(&core);
        let range = (p * share)..((p + 1) * share).min(n);
        producers.push(tokio::task::spawn_blocking(move || {
            let mut stored = Vec::with_capacity(range.len());
            for i in range {
                let m = NewMessage::new(
                    PeerId::HUMAN,
                    abg::claude::PEER,
                    format!("burst message {i}"),
                );
                let (m, fresh) = core.insert(&m).map_err(|e| anyhow::anyhow!("{e}"))?;
                if !fresh {
                    bail!("message {i} was taken for a duplicate");
                }
                stored.push((m.seq, m.id));
            }
            Ok::<_, anyhow::Error>(stored)
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut each_in_order = true;
    for p in producers {
        let mine = p.await??;
        // Each sender's messages keep the order it sent them in.
        each_in_order &= mine.windows(2).all(|w| w[0].0 < w[1].0);
        all.extend(mine);
    }
    let stored = start.elapsed();
    // The transcript's order is the store's (seq); delivery must follow it.
    all.sort_unstable();
    let sent: Vec<String> = all.into_iter().map(|(_, id)| id).collect();
    let (got, done) = tokio::time::timeout(Duration::from_secs(60), consumer)
        .await
        .context("the burst did not drain within 60 s")??;
    let elapsed = done.duration_since(start);
    let unique: HashSet<&String> = got.iter().collect();
    let left = core.with_store(|s| s.unacked_count(abg::claude::PEER))?;
    let in_order_once = each_in_order && got == sent && unique.len() == n && left == 0;
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
