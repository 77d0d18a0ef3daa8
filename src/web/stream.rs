//! The live transcript as Server-Sent Events. The store is the source of
//! truth and the bus only says "look again": the stream keeps a cursor
//! (`m.d.e`, sent as each event's id) and after every wake-up reads what the
//! store has past it, so a reconnect (`Last-Event-ID`, or `?after=` when the
//! browser starts over after a daemon restart) resumes with no duplicates
//! and no gaps; it ends when its session is logged out or revoked (checked
//! on every wake-up, at least every few seconds). Event types: `message`
//! ([`UiMessage`]), `delivery` (a delivery-log row), `event` (a pair event),
//! `approval` (after each `approval.*` event: that approval's row as it
//! stands, see [`super::approvals`]), `status` ([`StatusView`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};

use super::{WebError, WebState};
use crate::control::protocol::web::{Cursor, PeerBar, StatusView, UiMessage};
use crate::daemon::core::Core;
use crate::store::StoreError;

/// Rows read per store query while catching up.
const BATCH: usize = 200;
/// How often the status bar is refreshed without other activity.
const STATUS_EVERY: Duration = Duration::from_secs(2);

impl StatusView {
    pub fn of(core: &Core) -> Self {
        let mut s = core.status();
        let peers = core
            .peers()
            .iter()
            .filter_map(|p| {
                let st = s.peers.remove(p.id.as_str())?;
                // An optional agent this pair never ran is not shown.
                if st.takes_part == Some(false) {
                    return None;
                }
                Some(PeerBar {
                    id: p.id.as_str().to_string(),
                    name: st.name,
                    attached: st.attached,
                    queued: st.queued,
                    model: st.model,
                    view: st.view,
                })
            })
            .collect();
        Self {
            pair_name: s.pair_name,
            phase: s.phase,
            attached: s.attached,
            queues: s.queues,
            peers,
            version: s.version,
        }
    }
}

/// Advance the cached lower bound of the delivery log's head and return it.
pub(super) fn delivery_head(w: &WebState) -> Result<i64, StoreError> {
    let mut head = w.delivery_head.load(Ordering::Relaxed);
    loop {
        let batch = w
            .core
            .with_store(|s| s.delivery_log_after(head, crate::store::MAX_PAGE))?;
        let Some(last) = batch.last() else { break };
        head = last.seq;
        if batch.len() < crate::store::MAX_PAGE {
            break;
        }
    }
    w.delivery_head.fetch_max(head, Ordering::Relaxed);
    Ok(head)
}

/// The cursor of everything stored so far.
pub fn head_cursor(w: &WebState) -> Result<Cursor, StoreError> {
    let d = delivery_head(w)?;
    let stats = w.core.with_store(|s| s.stats())?;
    Ok(Cursor {
        m: stats.last_message_seq,
        d,
        e: stats.last_event_seq,
    })
}

#[derive(Deserialize)]
pub struct StreamQuery {
    after: Option<String>,
}

pub async fn stream(
    State(w): State<WebState>,
    headers: HeaderMap,
    Query(q): Query<StreamQuery>,
) -> Response {
    let given = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .or(q.after);
    let cursor = match given {
        Some(text) => match text.parse::<Cursor>() {
            Ok(c) => c,
            Err(e) => return WebError::Invalid(e.to_string()).into_response(),
        },
        None => match head_cursor(&w) {
            Ok(c) => c,
            Err(e) => return WebError::from(e).into_response(),
        },
    };
    let (tx, mut rx) = mpsc::channel::<SseEvent>(64);
    // Subscribe before the first catch-up so nothing falls between them.
    let live = w.core.bus().subscribe();
    // The guard let the request in, so it carries a session; the stream
    // ends once that session is logged out or revoked.
    let Some(session) = w.ui.session(&headers) else {
        return crate::control::errors::error(
            axum::http::StatusCode::UNAUTHORIZED,
            crate::control::protocol::ErrorCode::Unauthorized,
            "not logged in: run `abg ui` and open the link it prints".into(),
        );
    };
    let alive = {
        let ui = Arc::clone(&w.ui);
        move || ui.is_live(&session)
    };
    tokio::spawn(pump(Arc::clone(&w.core), live, cursor, tx, alive));
    let events = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|e| e.map(Ok::<_, Infallible>))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Feed one client: catch up from the store, then wait for the bus.
async fn pump(
    core: Arc<Core>,
    mut live: broadcast::Receiver<Arc<crate::daemon::bus::LiveEvent>>,
    mut cursor: Cursor,
    tx: mpsc::Sender<SseEvent>,
    alive: impl Fn() -> bool,
) {
    let mut shutdown = core.shutdown_signal();
    let hello = SseEvent::default()
        .retry(Duration::from_millis(1000))
        .comment("abg");
    if tx.send(hello).await.is_err() {
        return;
    }
    let mut last_status: Option<StatusView> = None;
    let mut status_at: Option<Instant> = None;
    loop {
        if *shutdown.borrow() || !alive() {
            return;
        }
        loop {
            let batch = match catch_up(&core, &mut cursor) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("ui stream: store read failed: {e}");
                    break;
                }
            };
            if batch.is_empty() {
                break;
            }
            for ev in batch {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        }
        if status_at.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)) {
            status_at = Some(Instant::now());
            let now = StatusView::of(&core);
            if last_status.as_ref() != Some(&now) {
                if let Ok(ev) = SseEvent::default().event("status").json_data(&now)
                    && tx.send(ev).await.is_err()
                {
                    return;
                }
                last_status = Some(now);
            }
        }
        tokio::select! {
            r = live.recv() => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
                // Let a burst settle into one read.
                tokio::time::sleep(Duration::from_millis(20)).await;
                while live.try_recv().is_ok() {}
            }
            _ = tokio::time::sleep(STATUS_EVERY) => {}
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}

/// Everything past `cursor` (up to a batch of each kind) as SSE events,
/// advancing the cursor; each event's id is the cursor after it.
fn catch_up(core: &Core, cursor: &mut Cursor) -> Result<Vec<SseEvent>, WebError> {
    let (messages, log, events) = core.with_store(|s| -> Result<_, StoreError> {
        let messages = s
            .messages_after(cursor.m, BATCH)?
            .into_iter()
            .map(|m| {
                let d = s.deliveries_for(&m.id)?.into_iter().next();
                Ok(UiMessage::new(m, d))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let log = s.delivery_log_after(cursor.d, BATCH)?;
        let events = s.events_after(cursor.e, BATCH)?;
        Ok((messages, log, events))
    })?;
    let mut out = Vec::with_capacity(messages.len() + log.len() + events.len());
    for m in messages {
        cursor.m = m.seq;
        out.push(
            SseEvent::default()
                .event("message")
                .id(cursor.to_string())
                .data(serde_json::to_string(&m)?),
        );
    }
    for entry in log {
        cursor.d = entry.seq;
        out.push(
            SseEvent::default()
                .event("delivery")
                .id(cursor.to_string())
                .data(serde_json::to_string(&entry)?),
        );
    }
    for ev in events {
        cursor.e = ev.seq;
        let id = cursor.to_string();
        out.push(
            SseEvent::default()
                .event("event")
                .id(&id)
                .data(serde_json::to_string(&ev)?),
        );
        out.extend(super::approvals::stream_event(core, &ev, &id));
    }
    Ok(out)
}
