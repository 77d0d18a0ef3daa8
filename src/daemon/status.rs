//! What `abg status`, its control frame and the web UI's status bar read
//! of a running daemon: identity, phase, every peer (attached, queue, what
//! it publishes about itself) and the undelivered messages.

use crate::clock::now_ms;
use crate::control::protocol::{DaemonStatus, PROTOCOL_VERSION, PeerStatus, PendingView, Queues};

use super::core::Core;

impl Core {
    /// Health and identity for `abg status`.
    pub fn status(&self) -> DaemonStatus {
        let stats = self.with_store(|s| s.stats()).unwrap_or_default();
        let now = now_ms();
        let mut peers = std::collections::BTreeMap::new();
        let mut queues = Queues::default();
        let mut attached = std::collections::BTreeMap::new();
        for p in self.peers() {
            let id = p.id.as_str().to_string();
            let queued = stats
                .by_recipient
                .get(&p.id)
                .map(|r| r.pending)
                .unwrap_or(0);
            let on = self.is_attached(p.id);
            queues.0.insert(id.clone(), queued);
            attached.insert(id.clone(), on);
            peers.insert(
                id,
                PeerStatus {
                    name: p.name.to_string(),
                    model: Some(p.model),
                    attached: on,
                    queued,
                    view: self.view(p.id),
                    takes_part: Some(self.takes_part(p.id)),
                },
            );
        }
        let pair = self.pair();
        let config = self.config();
        DaemonStatus {
            pair_id: pair.id.clone(),
            pair_name: pair.name.clone(),
            root: pair.root.display().to_string(),
            state_dir: pair.dir.display().to_string(),
            pid: std::process::id(),
            version: crate::version().to_string(),
            protocol: PROTOCOL_VERSION,
            phase: self.phase(),
            started_ms: self.started_ms(),
            uptime_ms: now - self.started_ms(),
            control_port: pair.ports.control,
            app_port: pair.ports.app,
            attached,
            queues,
            idle_shutdown_minutes: u64::from(config.settings.daemon_idle_shutdown_minutes),
            config: serde_json::to_value(config.explain()).unwrap_or_default(),
            relay_paused: self.with_store(super::governor::judge::paused),
            peers,
            pending: self.pending_views(20),
            approvals_pending: self
                .with_store(|s| s.pending_approvals())
                .unwrap_or_default(),
        }
    }

    /// Undelivered messages with their states, oldest first.
    fn pending_views(&self, limit: usize) -> Vec<PendingView> {
        let now = now_ms();
        let mut all: Vec<PendingView> = self
            .peers()
            .iter()
            .flat_map(|p| {
                self.with_store(|s| s.pending_for(p.id, limit))
                    .unwrap_or_default()
            })
            .map(|p| PendingView {
                id: p.message.id,
                from: p.message.from.as_str().to_string(),
                to: p.delivery.recipient.as_str().to_string(),
                state: p.delivery.state.as_str().to_string(),
                reason: p.delivery.reason.map(|r| r.as_str().to_string()),
                detail: p.delivery.detail,
                age_ms: now - p.message.created_ms,
            })
            .collect();
        all.sort_by_key(|p| std::cmp::Reverse(p.age_ms));
        all.truncate(limit);
        all
    }
}
