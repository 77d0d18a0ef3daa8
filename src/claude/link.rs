//! Daemon side of the Claude link: the WebSocket session of an attached
//! `abg mcp` (delivery worker for [`Agent::Claude`]: every `stored` message
//! is sent as a `deliver` frame, `abg mcp` pushes it as a channel
//! notification and reports `pushed`), and the live state the hooks and the
//! doorbell decide on ([`LinkState`]). Requests are answered in `inbox`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::SinkExt;

use super::policy::TurnMarks;
use crate::control::protocol::{ClaudeRequest, ClientFrame, ErrorCode, PeerMessage, ServerFrame};
use crate::daemon::core::{AttachGuard, Core, CoreError};
use crate::store::QueueMark;
use crate::store::types::{Agent, DeliveryState, Message, Pending};

/// How many queued messages one look at the store reads (the rest wait for
/// the next look, right after these are written).
const PAGE: usize = 1000;

/// How long a session waits for `abg claude`'s channel verdict before it
/// pushes without one.
pub const VERDICT_GRACE: Duration = Duration::from_secs(5);

/// How Claude's channel registration went, as `abg claude` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    pub registered: bool,
    pub reason: Option<String>,
}

/// Mutable part of [`LinkState`].
#[derive(Debug, Default)]
pub(crate) struct Inner {
    /// Claude is inside a turn according to its hooks.
    pub busy: bool,
    pub marks: TurnMarks,
    /// Last hook, push or ring.
    pub last_activity_ms: i64,
    /// Messages a Stop hook delivered (never block twice for them).
    pub blocked: HashSet<String>,
    /// Messages the doorbell rang for.
    pub rung: HashSet<String>,
    pub last_ring_ms: i64,
    pub channel: Option<ChannelStatus>,
}

/// The Claude side's live state in the daemon (lost on restart; the store
/// keeps everything that matters for delivery).
#[derive(Debug, Default)]
pub struct LinkState {
    inner: Mutex<Inner>,
    generation: AtomicU64,
}

impl LinkState {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether pushing makes sense (unknown counts as yes).
    pub fn channel_usable(&self) -> bool {
        self.lock().channel.as_ref().is_none_or(|c| c.registered)
    }

    /// The last reported channel registration.
    pub fn channel(&self) -> Option<ChannelStatus> {
        self.lock().channel.clone()
    }

    /// A new `abg mcp` session: its Claude has not registered the channel
    /// yet, so a verdict from an earlier session no longer holds.
    fn begin_session(&self) -> u64 {
        self.lock().channel = None;
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Whether a session attached at `since` may push now: only once `abg
    /// claude` reported the channel registered, since Claude drops pushes
    /// that arrive before it registers the channel (shortly after
    /// `notifications/initialized`). Without any verdict after
    /// [`VERDICT_GRACE`] (a restarted daemon, a Claude not run by `abg
    /// claude`), pushing is tried anyway.
    fn may_push(&self, since: Instant) -> bool {
        match &self.lock().channel {
            Some(c) => c.registered,
            None => since.elapsed() >= VERDICT_GRACE,
        }
    }

    fn is_current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }
}

/// The channel notification view of a stored message.
pub fn peer_message(m: &Message) -> PeerMessage {
    PeerMessage {
        id: m.id.clone(),
        from: m.from,
        body: m.body.clone(),
        created_ms: m.created_ms,
        thread_id: m.thread_id.clone(),
        turn_id: m.turn_id.clone(),
        in_reply_to: m.in_reply_to.clone(),
    }
}

/// Unacknowledged, unheld messages for Claude, oldest first.
pub fn unacked(core: &Core) -> Result<Vec<Pending>, CoreError> {
    let rows = core.with_store(|s| s.pending_for(Agent::Claude, 1000))?;
    // Quota relay (issue 7): hold messages while Claude is budget-paused.
    let rows = crate::budget::gate::gate(core, Agent::Claude, rows);
    Ok(rows
        .into_iter()
        .filter(|p| p.delivery.state != DeliveryState::Held)
        .collect())
}

/// What the session may still push: stored messages for Claude, oldest
/// first (budget-held ones are read too so the gate can release them), but
/// not those in `sent` (handed over already, their push report pending).
/// Reading only these keeps a burst from re-reading the whole
/// unacknowledged queue on every wake-up (`mark` keeps the session's place
/// in it), and the handed-over ones are skipped without being decoded. `sent` is trimmed to the ones still
/// stored, so it stays as small as the push reports' lag.
fn unpushed(
    core: &Core,
    sent: &mut HashSet<String>,
    mark: &mut QueueMark,
) -> Result<Vec<Pending>, CoreError> {
    let states = [DeliveryState::Stored, DeliveryState::Held];
    let mut still = HashSet::new();
    let rows = core.with_store(|s| {
        s.pending_in(Agent::Claude, &states, PAGE, mark, |id| {
            let skip = sent.contains(id);
            if skip {
                still.insert(id.to_owned());
            }
            skip
        })
    })?;
    if rows.len() + still.len() < PAGE {
        // The whole queue was read: whatever is not in it any more was
        // reported pushed (or moved on).
        *sent = still;
    }
    let rows = crate::budget::gate::gate(core, Agent::Claude, rows);
    Ok(rows
        .into_iter()
        .filter(|p| p.delivery.state != DeliveryState::Held)
        .collect())
}

/// Answer one Claude request (also reachable from plain CLI sessions:
/// hooks and `abg claude` connect as `cli`).
pub async fn answer(core: &Arc<Core>, id: u64, request: ClaudeRequest) -> ServerFrame {
    let core = Arc::clone(core);
    // Hooks read transcripts: keep file I/O off the async workers.
    let result = tokio::task::spawn_blocking(move || super::inbox::handle(&core, request)).await;
    match result {
        Ok(Ok(answer)) => ServerFrame::Claude { id, answer },
        Ok(Err(e)) => ServerFrame::Error {
            id: Some(id),
            code: e.status().1,
            message: e.to_string(),
        },
        Err(e) => ServerFrame::Error {
            id: Some(id),
            code: ErrorCode::Internal,
            message: format!("claude request failed: {e}"),
        },
    }
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.send(WsMessage::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// Queue `frame` without flushing (the caller flushes once per batch).
async fn feed(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.feed(WsMessage::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

/// Serve an attached `abg mcp` on `socket` until it goes away. The newest
/// session is the one that pushes; older ones only answer requests.
pub async fn session(core: Arc<Core>, mut socket: WebSocket, attach: Option<AttachGuard>) {
    let state = core.claude();
    let generation = state.begin_session();
    let attached_at = Instant::now();
    tracing::info!(generation, "claude link attached");
    let _ = core.record_event("claude_link", serde_json::json!({"attached": true}));
    let mut sent: HashSet<String> = HashSet::new();
    let mut mark = QueueMark::default();
    let mut shutdown = core.shutdown_signal();
    let cap = core.max_frame_bytes();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        if state.is_current(generation) && state.may_push(attached_at) {
            match unpushed(&core, &mut sent, &mut mark) {
                Ok(rows) => {
                    // Queue every new frame, then write them with one flush.
                    let mut queued = false;
                    for p in rows {
                        if p.delivery.state != DeliveryState::Stored || sent.contains(&p.message.id)
                        {
                            continue;
                        }
                        let frame = ServerFrame::Deliver {
                            message: Box::new(peer_message(&p.message)),
                        };
                        if !feed(&mut socket, &frame).await {
                            drop(attach);
                            return;
                        }
                        queued = true;
                        sent.insert(p.message.id);
                    }
                    if queued && socket.flush().await.is_err() {
                        drop(attach);
                        return;
                    }
                }
                Err(e) => tracing::warn!("claude link cannot read the queue: {e}"),
            }
        }
        let Some(wake) = core.bus().notify(Agent::Claude) else {
            break;
        };
        let msg = tokio::select! {
            m = socket.recv() => m,
            _ = wake.notified() => continue,
            _ = tick.tick() => continue,
            _ = shutdown.changed() => break,
        };
        let Some(Ok(msg)) = msg else { break };
        let text = match msg {
            WsMessage::Text(t) => t,
            WsMessage::Close(_) => break,
            _ => continue,
        };
        let reply = frame_reply(&core, text.as_str(), cap).await;
        if !send(&mut socket, &reply).await {
            break;
        }
    }
    tracing::info!(generation, "claude link detached");
    let _ = core.record_event("claude_link", serde_json::json!({"attached": false}));
    drop(attach);
}

async fn frame_reply(core: &Arc<Core>, text: &str, cap: usize) -> ServerFrame {
    let error = |id, code, message: String| ServerFrame::Error { id, code, message };
    if text.len() > cap {
        return error(
            None,
            ErrorCode::TooLarge,
            format!("frame is {} bytes, over the limit of {cap}", text.len()),
        );
    }
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            return error(
                None,
                ErrorCode::BadFrame,
                format!("frame is not a valid control frame: {e}"),
            );
        }
    };
    match frame {
        ClientFrame::Claude { id, request } => answer(core, id, request).await,
        ClientFrame::Send {
            id,
            message,
            wait_ms,
        } => core.answer_send(id, message, wait_ms).await,
        ClientFrame::Ping { id } => ServerFrame::Pong { id },
        ClientFrame::Status { id } => ServerFrame::Status {
            id,
            status: Box::new(core.status()),
        },
        ClientFrame::Hello { .. } => error(
            None,
            ErrorCode::BadFrame,
            "hello was already received on this connection".into(),
        ),
        #[allow(unreachable_patterns)]
        _ => error(
            None,
            ErrorCode::BadFrame,
            "this frame is not served on the Claude link".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_wait_for_this_sessions_channel_verdict() {
        let state = LinkState::default();
        state.lock().channel = Some(ChannelStatus {
            registered: true,
            reason: None,
        });
        state.begin_session();
        let now = Instant::now();
        assert!(state.channel().is_none(), "an old verdict survived");
        assert!(!state.may_push(now), "pushed before the verdict");
        let long_ago = now.checked_sub(VERDICT_GRACE).unwrap_or(now);
        assert!(state.may_push(long_ago), "no push after the grace");
        for (registered, push) in [(true, true), (false, false)] {
            state.lock().channel = Some(ChannelStatus {
                registered,
                reason: None,
            });
            assert_eq!(state.may_push(now), push);
            assert_eq!(state.may_push(long_ago), push);
        }
    }
}
