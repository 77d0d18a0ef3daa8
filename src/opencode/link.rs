//! The daemon's OpenCode link: keeps the pair's `opencode serve` running
//! (`server`), keeps the pair's session, follows its `/event` stream,
//! delivers queued messages as prompts (`delivery`), ingests final
//! answers (`ingest`), keeps the approvals inbox in step with the
//! server's permission requests (`approvals`) and follows the human to
//! another session (`follow`).
//!
//! Why it exists: this is the one task that owns the OpenCode side of a
//! pair. It waits, doing nothing, until `abg opencode` first asks for the
//! server; then it reconnects after any drop (server crash, restart, mode
//! change), re-reads the session's status and messages each time (the
//! stream is opened first, so nothing between is missed), and resumes the
//! store's queue, so a fault loses and duplicates nothing. The pair's
//! session is created once, titled (a titled session asks the model for no
//! title), remembered in the store, and written to `opencode-session` for
//! `abg opencode` to attach the TUI to.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use thiserror::Error;
use tokio::sync::watch;

use super::api::{Api, ApiError};
use super::event::Event;
use super::launch::SESSION_TITLE;
use super::server::{self, ServerError};
use crate::daemon::core::{Core, CoreError};
use crate::pair::Pair;
use crate::store::StoreError;
use crate::store::types::DeliveryReason;

const TICK: Duration = Duration::from_secs(1);
/// Store setting holding the pair's session id.
pub const SESSION_SETTING: &str = "opencode.session";

/// Why a connection ended.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the opencode server is not running")]
    NotRunning,
    #[error("the opencode event stream closed")]
    Closed,
    #[error("the opencode server restarted")]
    Restarted,
    #[error("following the human from session {from} to {to}")]
    Followed { from: String, to: String },
}

/// The prompt abg posted last, until its turn ends.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub message_id: String,
    pub prompt_id: String,
    pub posted: Instant,
    /// Its user message is in the session (delivery `started`).
    pub seen: bool,
}

impl InFlight {
    pub fn posted(message_id: &str, prompt_id: &str) -> Self {
        InFlight {
            message_id: message_id.to_owned(),
            prompt_id: prompt_id.to_owned(),
            posted: Instant::now(),
            seen: false,
        }
    }
}

/// One connection's state.
pub struct Link {
    pub(super) core: Arc<Core>,
    pub(super) api: Api,
    /// The pair's session.
    pub(super) sid: String,
    /// The session's status; `None` until read.
    pub(super) busy: Option<bool>,
    pub(super) in_flight: Option<InFlight>,
    /// Answers ingested over this connection (the store dedups across).
    pub(super) ingested: HashSet<String>,
    /// User messages already looked at for human input.
    pub(super) humans_seen: HashSet<String>,
    /// When this connection opened (ms): older user messages are history.
    pub(super) connected_ms: i64,
    pub(super) retry_after: Option<Instant>,
    /// Low bits of prompt ids made in the same millisecond.
    pub(super) counter: u16,
    /// Another session the human typed in, to follow (see `follow`).
    pub(super) follow_to: Option<String>,
}

/// The file `abg opencode` reads the session id from.
pub fn session_file(pair: &Pair) -> std::path::PathBuf {
    pair.dir.join("opencode-session")
}

/// The daemon's OpenCode task; returns on shutdown.
pub async fn run(core: Arc<Core>) {
    let pair = core.pair().clone();
    let mut stop = core.shutdown_signal();
    // Nothing runs until the pair is used from the OpenCode side.
    while !server::mode_file(&pair).exists() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => return,
        }
    }
    let (ready_tx, mut ready_rx) = watch::channel(0u64);
    let supervisor = tokio::spawn(server::supervise(Arc::clone(&core), ready_tx));
    loop {
        if *stop.borrow() {
            break;
        }
        let generation = *ready_rx.borrow_and_update();
        if generation == 0 {
            tokio::select! {
                r = ready_rx.changed() => if r.is_err() { break } else { continue },
                _ = stop.changed() => break,
            }
        }
        let mut stopping = core.shutdown_signal();
        let served = tokio::select! {
            served = serve(&core, &mut ready_rx, &mut stop) => served,
            _ = stopping.wait_for(|s| *s) => Ok(()),
        };
        core.publish_view(super::PEER, None);
        match served {
            Ok(()) => break,
            Err(e @ LinkError::Followed { .. }) => tracing::info!("opencode link: {e}"),
            Err(e) => {
                tracing::warn!("opencode link: {e}; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
    let _ = supervisor.await;
}

/// The pair's session on this server: the remembered one if the server
/// has it, else a new one.
async fn ensure_session(core: &Core, api: &Api) -> Result<String, LinkError> {
    let saved: Option<String> = core.with_store(|s| s.get_setting(SESSION_SETTING))?;
    let sid = match saved {
        Some(sid) if api.session_exists(&sid).await? => sid,
        _ => {
            let sid = api.create_session(SESSION_TITLE).await?;
            core.with_store(|s| s.set_setting(SESSION_SETTING, &sid))?;
            core.record_event("opencode.session", json!({ "session_id": sid }))?;
            sid
        }
    };
    crate::paths::write_private_file(&session_file(core.pair()), sid.as_bytes())
        .map_err(ServerError::from)?;
    Ok(sid)
}

async fn serve(
    core: &Arc<Core>,
    ready_rx: &mut watch::Receiver<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let pair = core.pair();
    let state = server::read_state(pair).ok_or(LinkError::NotRunning)?;
    let api = server::api(pair, &state)?;
    // The stream first: whatever happens while the state is read is queued.
    let mut events = api.events().await?;
    let sid = ensure_session(core, &api).await?;
    tracing::info!(session = %sid, port = state.port, "connected to the opencode server");
    let mut link = Link {
        core: Arc::clone(core),
        api,
        sid,
        busy: None,
        in_flight: None,
        ingested: HashSet::new(),
        humans_seen: HashSet::new(),
        connected_ms: crate::clock::now_ms(),
        retry_after: None,
        counter: 0,
        follow_to: None,
    };
    // The stream is open: requests asked from here on arrive as events, so
    // the replay misses none.
    super::approvals::replay(core, &link.api).await?;
    let busy = link.api.busy(&link.sid).await?;
    link.busy = Some(busy);
    link.sync(!busy).await?;
    link.pump().await?;
    link.publish();
    let mut tick = tokio::time::interval(TICK);
    let wake = core.bus().notify(super::PEER);
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Err(LinkError::Closed) };
                link.handle(ev).await?;
                while let Ok(ev) = events.try_recv() {
                    link.handle(ev).await?;
                }
            }
            _ = async {
                match &wake {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = tick.tick() => {
                link.check_in_flight().await?;
                if link.in_flight.as_ref().is_some_and(|f| f.seen && f.posted.elapsed() > Duration::from_secs(3)) {
                    // The fallback when an idle was missed.
                    let busy = link.api.busy(&link.sid).await?;
                    link.busy = Some(busy);
                    link.sync(!busy).await?;
                }
            }
            r = ready_rx.changed() => {
                if r.is_err() { return Ok(()) }
                return Err(LinkError::Restarted);
            }
            _ = stop.changed() => return Ok(()),
        }
        link.follow_when_free()?;
        link.pump().await?;
        link.publish();
    }
}

impl Link {
    async fn handle(&mut self, ev: Event) -> Result<(), LinkError> {
        match &ev {
            Event::PermissionAsked { request } => super::approvals::asked(&self.core, request),
            Event::PermissionReplied { request_id, .. } => {
                super::approvals::replied(&self.core, request_id);
            }
            _ => {}
        }
        self.note_other_session(&ev).await?;
        if ev.session().is_some_and(|s| s != self.sid) {
            return Ok(());
        }
        let prompt = self.in_flight.as_ref().map(|f| f.prompt_id.clone());
        match ev {
            Event::Message { info, .. }
                if info.role == "user" && prompt.as_deref() == Some(info.id.as_str()) =>
            {
                self.mark_seen(DeliveryReason::TurnStarted, "its user message appeared")?;
            }
            Event::Part { message_id, .. } if prompt.as_deref() == Some(message_id.as_str()) => {
                self.mark_seen(DeliveryReason::TurnStarted, "its user message appeared")?;
            }
            Event::Message { info, .. }
                if info.is_final_answer() && !self.ingested.contains(&info.id) =>
            {
                self.sync(false).await?;
            }
            Event::Status { busy, .. } => self.busy = Some(busy),
            Event::Idle { .. } => {
                self.busy = Some(false);
                self.sync(true).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Publish the session and its status (`abg status`, the web UI).
    fn publish(&self) {
        let turn = match self.busy {
            None => "unknown",
            Some(true) => "active",
            Some(false) => "idle",
        };
        self.core.publish_view(
            super::PEER,
            Some(json!({"session_id": self.sid, "turn": turn, "in_flight": self.in_flight.as_ref().map(|f| &f.message_id)})),
        );
    }
}
