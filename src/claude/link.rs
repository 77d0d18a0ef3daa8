//! Daemon side of the Claude link: the push worker of an attached `abg
//! mcp` (every `stored` message for Claude is sent as a `deliver` frame,
//! `abg mcp` pushes it as a channel notification and reports `pushed`),
//! and the live state the hooks and the doorbell decide on
//! ([`LinkState`]), which the Claude peer (`peer`) owns. Requests are
//! answered in `inbox`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::policy::TurnMarks;
use crate::control::protocol::{PeerMessage, ServerFrame};
use crate::daemon::core::{Core, CoreError};
use crate::store::QueueMark;
use crate::store::types::{DeliveryState, Message, Pending};

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
    let rows = core.with_store(|s| s.pending_for(crate::claude::PEER, 1000))?;
    // Quota relay (issue 7): hold messages while Claude is budget-paused.
    let rows = crate::budget::gate::gate(core, crate::claude::PEER, rows);
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
        s.pending_in(crate::claude::PEER, &states, PAGE, mark, |id| {
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
    let rows = crate::budget::gate::gate(core, crate::claude::PEER, rows);
    Ok(rows
        .into_iter()
        .filter(|p| p.delivery.state != DeliveryState::Held)
        .collect())
}

/// Push stored messages to an attached `abg mcp` until its connection
/// (`out`) closes or the daemon stops: every `stored` message becomes a
/// `deliver` frame, which the control server writes to the socket. The
/// newest session is the one that pushes; older ones only answer requests.
pub async fn worker(core: Arc<Core>, state: Arc<LinkState>, out: mpsc::Sender<ServerFrame>) {
    let generation = state.begin_session();
    let attached_at = Instant::now();
    tracing::info!(generation, "claude link attached");
    let _ = core.record_event("claude_link", serde_json::json!({"attached": true}));
    let mut sent: HashSet<String> = HashSet::new();
    let mut mark = QueueMark::default();
    let mut shutdown = core.shutdown_signal();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    'session: loop {
        if state.is_current(generation) && state.may_push(attached_at) {
            match unpushed(&core, &mut sent, &mut mark) {
                Ok(rows) => {
                    for p in rows {
                        if p.delivery.state != DeliveryState::Stored || sent.contains(&p.message.id)
                        {
                            continue;
                        }
                        let frame = ServerFrame::Deliver {
                            message: Box::new(peer_message(&p.message)),
                        };
                        if out.send(frame).await.is_err() {
                            break 'session;
                        }
                        sent.insert(p.message.id);
                    }
                }
                Err(e) => tracing::warn!("claude link cannot read the queue: {e}"),
            }
        }
        let Some(wake) = core.bus().notify(crate::claude::PEER) else {
            break;
        };
        tokio::select! {
            _ = wake.notified() => {}
            _ = tick.tick() => {}
            _ = out.closed() => break,
            _ = shutdown.changed() => break,
        }
    }
    tracing::info!(generation, "claude link detached");
    let _ = core.record_event("claude_link", serde_json::json!({"attached": false}));
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
