//! Claude's side of the approvals inbox, in the daemon. `abg mcp` is a
//! channel that declares `experimental["claude/channel/permission"]`, so
//! Claude sends it `notifications/claude/channel/permission_request` for
//! every tool-permission dialog it opens (`tests/reference/approvals.md`
//! §2); `abg mcp` forwards each as [`ClaudeRequest::Permission`] and this
//! module records it in the core's inbox. The human's verdict goes back as
//! a [`ClaudePush::Permission`] on the same `abg mcp` connection, which
//! sends it to Claude as `notifications/claude/channel/permission`
//! (`allow` / `deny`, this call only: Claude's relay has no "for the
//! session" answer). Claude tells the relay nothing when its own dialog
//! is answered first; `abg mcp` reads that from Claude's debug log and
//! reports [`ClaudeRequest::PermissionSettled`], which closes the entry as
//! answered in the TUI.
//!
//! [`ClaudeRequest::Permission`]: super::protocol::ClaudeRequest::Permission
//! [`ClaudeRequest::PermissionSettled`]: super::protocol::ClaudeRequest::PermissionSettled

use serde_json::json;

use super::protocol::{Behavior, ClaudePush, PermissionRequest, Settled};
use crate::control::protocol::approvals::{Decision, Verdict};
use crate::daemon::core::{Core, CoreError};
use crate::store::types::{AnsweredVia, Approval, ApprovalKind, NewApproval};

/// Longest accepted `session` and `request_id`, in bytes.
const MAX_ID: usize = 64;
/// Longest accepted tool name, in bytes.
const MAX_TOOL: usize = 256;
/// Longest kept description and input preview, in bytes (longer ones are
/// cut at a character boundary and marked).
const MAX_TEXT: usize = 64 * 1024;

/// The only decisions Claude's relay takes.
const OPTIONS: [Decision; 2] = [Decision::Approve, Decision::Deny];

/// Whether `s` is a usable id: 1..=64 printable ASCII, no spaces or `:`.
fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID && s.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// The inbox key of `request_id` in `abg mcp` session `session`.
pub fn request_key(session: &str, request_id: &str) -> String {
    format!("{session}:{request_id}")
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let end = (0..=MAX_TEXT)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… [cut by abg at {MAX_TEXT} bytes]", &text[..end])
}

/// What a tool's name says it asks for.
fn kind_of(tool: &str) -> ApprovalKind {
    match tool {
        "Bash" => ApprovalKind::Command,
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => ApprovalKind::FileChange,
        _ => ApprovalKind::Tool,
    }
}

/// Check a forwarded request and turn it into an inbox entry.
pub fn new_approval(req: &PermissionRequest) -> Result<NewApproval, CoreError> {
    let bad = |what: &str, v: &str| {
        CoreError::Invalid(format!(
            "a permission request's {what} must be 1 to {MAX_ID} printable ASCII characters without spaces or ':', not {v:?}"
        ))
    };
    if !valid_id(&req.session) {
        return Err(bad("session", &req.session));
    }
    if !valid_id(&req.request_id) {
        return Err(bad("request_id", &req.request_id));
    }
    if req.tool_name.is_empty() || req.tool_name.len() > MAX_TOOL {
        return Err(CoreError::Invalid(format!(
            "a permission request's tool_name must be 1 to {MAX_TOOL} bytes, not {} bytes",
            req.tool_name.len()
        )));
    }
    Ok(NewApproval {
        peer: super::PEER,
        request_key: request_key(&req.session, &req.request_id),
        kind: kind_of(&req.tool_name),
        detail: json!({
            "tool": req.tool_name,
            "description": cut(&req.description),
            "input_preview": cut(&req.input_preview),
            "request_id": req.request_id,
            "session": req.session,
        }),
        options: Some(OPTIONS.iter().map(|d| d.as_str().to_string()).collect()),
        expires_ms: None,
    })
}

/// Record a forwarded request (relay off: nothing is stored and Claude's
/// dialog stays the only place to answer).
pub fn record(core: &Core, req: &PermissionRequest) -> Result<(), CoreError> {
    core.record_approval(new_approval(req)?)?;
    Ok(())
}

/// Claude's dialog for `request_id` closed without abg's answer.
pub fn settled(
    core: &Core,
    session: &str,
    request_id: &str,
    outcome: Settled,
) -> Result<(), CoreError> {
    let key = request_key(session, request_id);
    match outcome {
        Settled::Allowed | Settled::Denied => {
            if let Some(row) =
                core.approval_answered_elsewhere(super::PEER, &key, AnsweredVia::Tui)?
            {
                tracing::info!(id = %row.id, ?outcome, "Claude's dialog was answered in the TUI");
            }
        }
        Settled::Stale => {
            // abg's answer lost the race to the TUI: Claude dropped it.
            // The row keeps abg's answer; the audit says what happened.
            core.record_event(
                "approval.stale",
                json!({
                    "peer": super::PEER,
                    "request_key": key,
                    "note": "Claude's dialog had already been answered in its terminal; abg's answer was dropped by Claude",
                }),
            )?;
        }
    }
    Ok(())
}

/// The push that carries `verdict` on `approval` to its `abg mcp`.
pub fn verdict_push(approval: &Approval, verdict: &Verdict) -> Result<ClaudePush, CoreError> {
    let Some((session, request_id)) = approval.request_key.split_once(':') else {
        return Err(CoreError::Invalid(format!(
            "approval {} was not recorded by Claude's relay",
            approval.id
        )));
    };
    let behavior = match verdict.decision {
        Decision::Approve => Behavior::Allow,
        Decision::Deny => Behavior::Deny,
        Decision::ApproveForSession => {
            return Err(CoreError::Invalid(
                "Claude's permission relay answers one call at a time; approve it, or choose \"always allow\" in Claude's terminal".into(),
            ));
        }
    };
    Ok(ClaudePush::Permission {
        session: session.to_string(),
        request_id: request_id.to_string(),
        behavior,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(session: &str, id: &str, tool: &str) -> PermissionRequest {
        PermissionRequest {
            session: session.into(),
            request_id: id.into(),
            tool_name: tool.into(),
            description: "Create marker".into(),
            input_preview: "{ \"command\": \"touch x\" }".into(),
        }
    }

    #[test]
    fn requests_become_entries_keyed_by_session() {
        let a = new_approval(&req("s1", "uhssg", "Bash")).expect("valid");
        assert_eq!(a.request_key, "s1:uhssg");
        assert_eq!(a.kind, ApprovalKind::Command);
        assert_eq!(a.detail["tool"], "Bash");
        assert_eq!(a.detail["input_preview"], "{ \"command\": \"touch x\" }");
        assert_eq!(
            a.options.as_deref(),
            Some(&["approve".to_string(), "deny".to_string()][..])
        );
        let w = new_approval(&req("s1", "gycic", "Write")).expect("valid");
        assert_eq!(w.kind, ApprovalKind::FileChange);
        let m = new_approval(&req("s1", "abcde", "mcp__x__y")).expect("valid");
        assert_eq!(m.kind, ApprovalKind::Tool);
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        for (s, id, tool) in [
            ("", "a", "Bash"),
            ("s:1", "a", "Bash"),
            ("s", "", "Bash"),
            ("s", "a b", "Bash"),
            ("s", &"x".repeat(65), "Bash"),
            ("s", "a", ""),
        ] {
            let e = new_approval(&req(s, id, tool)).expect_err("invalid");
            assert!(matches!(e, CoreError::Invalid(_)), "{e}");
        }
        let mut long = req("s", "a", "Bash");
        long.input_preview = "é".repeat(MAX_TEXT);
        let a = new_approval(&long).expect("cut, not refused");
        let kept = a.detail["input_preview"].as_str().unwrap_or("");
        assert!(kept.ends_with("[cut by abg at 65536 bytes]"), "{kept:.40}");
    }

    #[test]
    fn verdicts_map_to_behaviors() {
        let stored = Approval {
            id: "a_1".into(),
            peer: super::super::PEER,
            request_key: "s1:uhssg".into(),
            kind: ApprovalKind::Command,
            detail: json!({}),
            options: None,
            state: crate::store::types::ApprovalState::Approved,
            created_ms: 0,
            expires_ms: None,
            answered_ms: None,
            answered_by: None,
            answered_via: None,
            decision: None,
        };
        let v = |decision| Verdict {
            decision,
            reason: None,
            via: AnsweredVia::Cli,
        };
        assert_eq!(
            verdict_push(&stored, &v(Decision::Approve)).expect("allow"),
            ClaudePush::Permission {
                session: "s1".into(),
                request_id: "uhssg".into(),
                behavior: Behavior::Allow
            }
        );
        assert!(matches!(
            verdict_push(&stored, &v(Decision::Deny)),
            Ok(ClaudePush::Permission {
                behavior: Behavior::Deny,
                ..
            })
        ));
        assert!(verdict_push(&stored, &v(Decision::ApproveForSession)).is_err());
    }
}
