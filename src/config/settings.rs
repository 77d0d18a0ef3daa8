//! The effective configuration, typed: [`Settings`], one field per key of
//! the registry (`keys::KEYS`), and the durations and limits callers read
//! from it. It exists apart from the registry so the table of keys and the
//! struct it fills stay each under one screenful of reading; the registry
//! fills it (`Settings::from_values`), nothing here knows the table.

use std::time::Duration;

use serde::Serialize;

/// The effective settings, typed. Each field is the dotted key with `.`
/// replaced by `_`; its documentation is the key's help in [`KEYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `daemon.idle_shutdown_minutes`; 0 = never. See [`Settings::daemon_idle_shutdown`].
    pub daemon_idle_shutdown_minutes: u32,
    /// `daemon.orphan_grace_secs`. See [`Settings::daemon_orphan_grace`].
    pub daemon_orphan_grace_secs: u64,
    /// `daemon.ready_timeout_ms`.
    pub daemon_ready_timeout_ms: u64,
    /// `log.level`: a tracing `EnvFilter` directive.
    pub log_level: String,
    /// `log.max_bytes`.
    pub log_max_bytes: usize,
    /// `log.max_files`.
    pub log_max_files: usize,
    /// `control.max_frame_bytes`.
    pub control_max_frame_bytes: usize,
    /// `control.max_connections`.
    pub control_max_connections: usize,
    /// `control.header_timeout_ms`.
    pub control_header_timeout_ms: u64,
    /// `ports.base`.
    pub ports_base: u16,
    /// `codex.binary`.
    pub codex_binary: String,
    /// `claude.binary`.
    pub claude_binary: String,
    /// `opencode.binary`.
    pub opencode_binary: String,
    /// `codex.turn_stall_secs`.
    pub codex_turn_stall_secs: u64,
    /// `claude.channel`: `auto`, `generated` or `plugin`.
    pub claude_channel: String,
    /// `claude.doorbell_secs`.
    pub claude_doorbell_secs: u64,
    /// `claude.push_max_bytes`.
    pub claude_push_max_bytes: usize,
    /// `governor.max_exchanges`; 0 = no limit.
    pub governor_max_exchanges: u32,
    /// `budget.enabled`.
    pub budget_enabled: bool,
    /// `budget.pause_at`, a percentage.
    pub budget_pause_at: u8,
    /// `budget.resume_below`, a percentage, always below `budget_pause_at`.
    pub budget_resume_below: u8,
    /// `budget.stale_secs`.
    pub budget_stale_secs: u64,
    /// `approvals.relay`.
    pub approvals_relay: bool,
    /// `routing.default_to`: a peer id (checked against the pair's peers
    /// when the daemon starts).
    pub routing_default_to: String,
    /// `routing.relay`: `all` or `addressed`.
    pub routing_relay: String,
    /// `safe`.
    pub safe: bool,
}

impl Settings {
    /// A blank struct for [`KeyDef::apply`] to fill; never handed out.
    pub(super) fn blank() -> Self {
        Settings {
            daemon_idle_shutdown_minutes: 0,
            daemon_orphan_grace_secs: 0,
            daemon_ready_timeout_ms: 0,
            log_level: String::new(),
            log_max_bytes: 0,
            log_max_files: 0,
            control_max_frame_bytes: 0,
            control_max_connections: 0,
            control_header_timeout_ms: 0,
            ports_base: 0,
            codex_binary: String::new(),
            claude_binary: String::new(),
            opencode_binary: String::new(),
            codex_turn_stall_secs: 0,
            claude_channel: String::new(),
            claude_doorbell_secs: 0,
            claude_push_max_bytes: 0,
            governor_max_exchanges: 0,
            budget_enabled: false,
            budget_pause_at: 0,
            budget_resume_below: 0,
            budget_stale_secs: 0,
            approvals_relay: false,
            routing_default_to: String::new(),
            routing_relay: String::new(),
            safe: false,
        }
    }

    /// Idle time after which the daemon exits; `None` = never.
    pub fn daemon_idle_shutdown(&self) -> Option<Duration> {
        match self.daemon_idle_shutdown_minutes {
            0 => None,
            m => Some(Duration::from_secs(u64::from(m) * 60)),
        }
    }

    /// The control port's header (and keep-alive idle) timeout.
    pub fn control_header_timeout(&self) -> Duration {
        Duration::from_millis(self.control_header_timeout_ms)
    }

    /// How long the pair's app-server outlives its daemon with no client.
    pub fn daemon_orphan_grace(&self) -> Duration {
        Duration::from_secs(self.daemon_orphan_grace_secs)
    }

    /// How long to wait for a spawned daemon to become ready.
    pub fn daemon_ready_timeout(&self) -> Duration {
        Duration::from_millis(self.daemon_ready_timeout_ms)
    }

    /// Silence after which a Codex turn counts as stalled.
    pub fn codex_turn_stall(&self) -> Duration {
        Duration::from_secs(self.codex_turn_stall_secs)
    }

    /// Unacknowledged-push timeout before abg nudges an idle Claude.
    pub fn claude_doorbell(&self) -> Duration {
        Duration::from_secs(self.claude_doorbell_secs)
    }

    /// Age after which a quota reading is stale.
    pub fn budget_stale(&self) -> Duration {
        Duration::from_secs(self.budget_stale_secs)
    }

    /// The exchange limit of the relay governor; `None` = no limit.
    pub fn governor_limit(&self) -> Option<u32> {
        match self.governor_max_exchanges {
            0 => None,
            n => Some(n),
        }
    }
}
