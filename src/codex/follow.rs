//! Which Codex thread the daemon's link follows: after a (re)connect it
//! re-subscribes to the pair's saved thread (only in the permission mode it
//! was started in), and on every tick it follows the thread the TUI is on
//! (the best of the app-server's loaded threads). Subscribing also arms the
//! inbox's reconciliation: entries Codex does not replay on this connection
//! are closed (see `approvals::reconcile`).

use std::time::Instant;

use serde_json::json;

use super::appserver;
use super::link::{Link, LinkError, REPLAY_GRACE};
use super::protocol::Thread;
use super::session::{self, CurrentThread, THREAD_SETTING, TurnState};
use super::transport::TransportError;

impl Link {
    /// Re-subscribe to the pair's thread after a (re)connect.
    pub(super) async fn restore(&mut self) -> Result<(), LinkError> {
        let saved: Option<String> = self.core.with_store(|s| s.get_setting(THREAD_SETTING))?;
        let Some(id) = saved else { return Ok(()) };
        let mode = appserver::read_mode(self.core.pair());
        if let Some(started) = self.saved_mode(&id)
            && started != mode
        {
            // It keeps the other mode's permissions: `abg codex` starts a
            // new thread instead, which `discover` follows.
            tracing::info!(thread = %id, ?started, ?mode, "not resuming a thread of the other permission mode");
            return Ok(());
        }
        match session::subscribe(&self.conn, &id).await {
            Ok(thread) => self.switch(thread).await,
            Err(TransportError::Rpc { error, .. }) => {
                tracing::warn!(thread = %id, "cannot resume the pair's thread: {}", error.message);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Follow the thread the human is on.
    pub(super) async fn discover(&mut self) -> Result<(), LinkError> {
        let current = self.session.thread_id().map(str::to_owned);
        let threads = session::loaded_threads(&self.conn, current.as_deref()).await?;
        self.follow(threads).await
    }

    /// Follow the best of the app-server's loaded `threads` (the TUI's).
    pub(super) async fn follow(&mut self, threads: Vec<Thread>) -> Result<(), LinkError> {
        let current = self.session.thread_id().map(str::to_owned);
        let Some(best) = session::select_thread(&threads, current.as_deref()) else {
            return Ok(());
        };
        if Some(best.id.as_str()) == current.as_deref() {
            return Ok(());
        }
        if self.announced.as_deref() != Some(best.id.as_str()) {
            self.announced = Some(best.id.clone());
            tracing::info!(
                thread = %best.id, previous = ?current, preview = %best.preview,
                loaded = ?threads.iter().map(|t| (&t.id, t.ephemeral, &t.source, t.updated_at)).collect::<Vec<_>>(),
                "following the TUI's thread"
            );
        }
        let best = best.clone();
        match session::subscribe(&self.conn, &best.id).await {
            Ok(thread) => self.switch(thread).await,
            Err(TransportError::Rpc { error, .. }) => {
                // A thread the TUI just created has no rollout until its
                // first turn: try again on the next tick.
                tracing::debug!(thread = %best.id, "cannot subscribe yet: {}", error.message);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn switch(&mut self, thread: Thread) -> Result<(), LinkError> {
        let id = thread.id.clone();
        self.session.subscribed.insert(id.clone());
        self.reconcile_at = Some((Instant::now() + REPLAY_GRACE, id.clone()));
        self.session.thread = Some(thread.clone());
        self.session.turn = TurnState::Unknown;
        self.core
            .with_store(|s| s.set_setting(THREAD_SETTING, &id))?;
        let mode = self
            .saved_mode(&id)
            .unwrap_or_else(|| appserver::read_mode(self.core.pair()));
        let current = CurrentThread {
            thread_id: id.clone(),
            path: thread.path.clone(),
            mode: Some(mode),
        };
        let file = self.core.pair().dir.join("codex-thread.json");
        let json = serde_json::to_string(&current).unwrap_or_default();
        if let Err(e) = crate::paths::write_private_file(&file, json.as_bytes()) {
            tracing::warn!("cannot write {}: {e}", file.display());
        }
        self.core.record_event(
            "codex.thread",
            json!({"thread_id": id, "path": thread.path}),
        )?;
        self.resync().await
    }

    /// The mode `thread_id` was started in, as `codex-thread.json` says.
    fn saved_mode(&self, thread_id: &str) -> Option<appserver::Mode> {
        let file = self.core.pair().dir.join("codex-thread.json");
        let text = std::fs::read_to_string(file).ok()?;
        let current: CurrentThread = serde_json::from_str(&text).ok()?;
        (current.thread_id == thread_id)
            .then_some(current.mode)
            .flatten()
    }
}
