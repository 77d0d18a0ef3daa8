//! Following the session the human works in. Why it exists: the pair's
//! messages must land where the human can see them. OpenCode's TUI can
//! start a new session (`/new`) or open another (`/sessions`), and the
//! server does not say which one the TUI shows; what it does show is a
//! user message the human typed. So a new user message in another root
//! session of the pair's server (not a subagent's child session, not a
//! prompt abg posted) makes that session the pair's: remembered in the
//! store and in `opencode-session` (where `abg opencode` attaches next
//! time), recorded as `opencode.session.followed`, and the link reconnects
//! to it. While a prompt of abg's is in flight the switch waits, so the
//! answer to it is still read from the session it went to.

use serde_json::json;

use super::event::Event;
use super::link::{Link, LinkError, SESSION_SETTING, session_file};

impl Link {
    /// Note a human's message in another session (see the module doc).
    pub(super) async fn note_other_session(&mut self, ev: &Event) -> Result<(), LinkError> {
        let Event::Message { session, info } = ev else {
            return Ok(());
        };
        if info.role != "user"
            || session.is_empty()
            || *session == self.sid
            || info.created_ms < self.connected_ms
            || self.follow_to.as_deref() == Some(session.as_str())
            || !self.humans_seen.insert(info.id.clone())
        {
            // (`message.updated` comes several times per message: each is
            // looked at once, so a subagent's session is asked about once.)
            return Ok(());
        }
        let ours: Option<String> = self
            .core
            .with_store(|s| s.get_setting(&super::delivery::origin_key(&info.id)))?;
        if ours.is_some() {
            return Ok(());
        }
        // A subagent's session has a parent; the human never types there.
        let Some(found) = self.api.session_info(session).await? else {
            return Ok(());
        };
        if found.get("parentID").is_some_and(|p| !p.is_null()) {
            return Ok(());
        }
        tracing::info!(from = %self.sid, to = %session, "the human typed in another OpenCode session");
        crate::daemon::governor::human_input(&self.core, "human typed in the OpenCode TUI")?;
        self.follow_to = Some(session.clone());
        Ok(())
    }

    /// Make the noted session the pair's once no prompt of abg's is in
    /// flight; the caller reconnects on [`LinkError::Followed`].
    pub(super) fn follow_when_free(&mut self) -> Result<(), LinkError> {
        let Some(to) = self.follow_to.clone() else {
            return Ok(());
        };
        if self.in_flight.is_some() {
            return Ok(());
        }
        let from = std::mem::replace(&mut self.sid, to.clone());
        self.core
            .with_store(|s| s.set_setting(SESSION_SETTING, &to))?;
        crate::paths::write_private_file(&session_file(self.core.pair()), to.as_bytes())
            .map_err(super::server::ServerError::from)?;
        self.core.record_event(
            "opencode.session.followed",
            json!({ "from": from, "to": to }),
        )?;
        Err(LinkError::Followed { from, to })
    }
}
