//! Wire types of the Claude side on the control socket: what `abg mcp`,
//! the hooks and `abg claude` ask the daemon (`peer` frames naming
//! "claude") and what the Claude adapter answers. The control plane carries
//! them as opaque JSON; only this adapter and its clients read them.

use serde::{Deserialize, Serialize};

use crate::control::protocol::PeerMessage;
use crate::store::types::PeerId;

/// What a Claude Code hook reports (a subset of its stdin JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookReport {
    /// `SessionStart`, `UserPromptSubmit`, `Stop` or `PostToolUse`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    #[serde(default)]
    pub stop_hook_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Message ids named (`msg_id="…"`) in a UserPromptSubmit prompt: a
    /// channel push starting this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_ids: Vec<String>,
    /// A UserPromptSubmit whose prompt the human typed (not a channel push,
    /// not abg's doorbell): it counts as human input for the loop governor.
    #[serde(default)]
    pub human_prompt: bool,
}

/// The daemon's answer to a hook: at most one of these is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookReply {
    /// Stop hook: keep Claude going with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    /// Facts added to Claude's context (SessionStart, UserPromptSubmit, PostToolUse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
}

/// Requests of the Claude side on the control WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClaudeRequest {
    /// `abg mcp` wrote these messages to Claude as channel notifications.
    Pushed { ids: Vec<String> },
    /// Claude acknowledged these messages (`get_messages(ack)`, `reply(in_reply_to)`).
    Ack { ids: Vec<String> },
    /// Unacknowledged messages for Claude (pull path); `ack` acknowledges the returned ones.
    FetchUnread {
        #[serde(default)]
        ack: bool,
    },
    /// A Claude Code hook fired.
    Hook { report: HookReport },
    /// `abg claude` asks whether to ring the PTY doorbell now.
    Doorbell,
    /// `abg claude` typed the doorbell for these messages.
    Rang { ids: Vec<String> },
    /// `reply` asks whom it goes to: `to` (a peer id or `all`) or, without
    /// it, the default (`daemon::routing::reply_recipients`).
    Recipients {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        in_reply_to: Option<String>,
    },
    /// `abg claude` read the channel registration from Claude's debug log.
    Channel {
        registered: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Claude asked `abg mcp` (the channel permission relay) whether a
    /// tool may run; its dialog is open in the TUI meanwhile.
    Permission(PermissionRequest),
    /// Claude's dialog for a relayed request closed without abg's answer
    /// (read from Claude's debug log by `abg mcp`).
    PermissionSettled {
        session: String,
        request_id: String,
        outcome: Settled,
    },
}

/// A relayed permission request: Claude's four params
/// (`notifications/claude/channel/permission_request`), and the `abg mcp`
/// process that got it (`session`: Claude's request ids are only unique
/// within one Claude session, which is one `abg mcp` process).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionRequest {
    pub session: String,
    pub request_id: String,
    pub tool_name: String,
    #[serde(default)]
    pub description: String,
    /// Display text of the tool's input (may be cut by Claude; never parsed).
    #[serde(default)]
    pub input_preview: String,
}

/// How a dialog closed without abg's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Settled {
    /// The tool was let run (answered in the TUI).
    Allowed,
    /// The tool was refused or the turn interrupted (answered in the TUI).
    Denied,
    /// abg's own answer came too late: Claude had no such dialog open
    /// any more (the TUI answered first).
    Stale,
}

/// What the daemon pushes to an attached `abg mcp` unasked
/// (`ServerFrame::Push`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClaudePush {
    /// The human's answer to a relayed permission request, for the
    /// `abg mcp` process `session` to send as
    /// `notifications/claude/channel/permission`.
    Permission {
        session: String,
        request_id: String,
        behavior: Behavior,
    },
}

/// The relay's answer (Claude's `behavior`): this one call only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behavior {
    Allow,
    Deny,
}

/// Answers to [`ClaudeRequest`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClaudeAnswer {
    /// Done; `unread` messages for Claude are still unacknowledged.
    Done { unread: u64 },
    /// The unacknowledged messages, oldest first.
    Unread {
        messages: Vec<PeerMessage>,
        unread: u64,
    },
    /// What the hook should output.
    Hook { reply: HookReply, unread: u64 },
    /// Whom a reply goes to, in order.
    Recipients { to: Vec<Recipient> },
    /// Ring the doorbell for these messages (empty: don't); `from` names
    /// their senders for the text typed into Claude's prompt.
    Doorbell {
        ids: Vec<String>,
        #[serde(default)]
        from: Vec<PeerId>,
    },
}

/// One recipient of a `reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub id: PeerId,
    /// The name people read ("Codex").
    pub name: String,
    /// Whether it runs turns (so `on_busy` applies).
    pub takes_on_busy: bool,
}
