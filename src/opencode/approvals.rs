//! OpenCode's permission requests in the approvals inbox.
//!
//! Why it exists: under `--safe`, OpenCode asks before a tool call its
//! config marks `ask` (a command, a file edit, a fetch, a directory outside
//! the project, …). The server announces each request on `/event`
//! (`permission.asked`), lists the open ones (`GET /permission`) and takes
//! one answer per request (`POST /permission/{id}/reply`: `once`, `always`
//! or `reject`), whoever sends it first: the TUI's dialog or abg
//! (reference `tests/reference/opencode.md` §8). The link records each
//! request through the core's approvals port and never answers on its own;
//! a person's verdict is posted back ([`deliver`]); an answer given in the
//! TUI (`permission.replied` for a pending entry) closes the entry; and
//! after every (re)connect the open list is replayed and entries OpenCode
//! no longer has are closed. Nothing here approves anything by default.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::api::{Api, plain_id};
use crate::control::protocol::approvals::{Decision, Verdict};
use crate::daemon::core::{Core, CoreError};
use crate::store::types::{AnsweredVia, Approval, ApprovalKind, NewApproval};

/// How much of a pattern list is kept in the preview.
const PREVIEW_CHARS: usize = 2000;

/// The inbox entry for one `permission.asked` request, `None` when it has
/// no id (nothing could answer it).
pub fn request(req: &Value) -> Option<NewApproval> {
    let id = req.get("id").and_then(Value::as_str)?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let permission = s(req, "permission").unwrap_or_default();
    let meta = req.get("metadata").cloned().unwrap_or(Value::Null);
    let patterns: Vec<String> = req
        .get("patterns")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let always = req
        .get("always")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let mut detail = json!({
        "session_id": s(req, "sessionID"),
        "permission": permission,
        "patterns": patterns,
        "always": req.get("always").cloned().unwrap_or(Value::Null),
        "metadata": meta,
        "message_id": req.pointer("/tool/messageID").and_then(Value::as_str),
        "call_id": req.pointer("/tool/callID").and_then(Value::as_str),
    });
    let kind = match permission.as_str() {
        "bash" => {
            detail["command"] = json!(s(&meta, "command").unwrap_or_else(|| patterns.join(" ")));
            ApprovalKind::Command
        }
        "edit" => {
            detail["path"] = json!(s(&meta, "filepath").unwrap_or_else(|| patterns.join(", ")));
            detail["diff"] = meta.get("diff").cloned().unwrap_or(Value::Null);
            ApprovalKind::FileChange
        }
        "external_directory" => {
            detail["reason"] = json!(format!(
                "reach outside the project: {}",
                patterns.join(", ")
            ));
            ApprovalKind::Permissions
        }
        _ => {
            detail["tool"] = json!(permission);
            detail["input_preview"] = json!(
                patterns
                    .join(", ")
                    .chars()
                    .take(PREVIEW_CHARS)
                    .collect::<String>()
            );
            ApprovalKind::Tool
        }
    };
    let mut options = vec!["approve".to_owned()];
    if always {
        options.push("approve_for_session".to_owned());
    }
    options.push("deny".to_owned());
    Some(NewApproval {
        peer: super::PEER,
        request_key: id.to_owned(),
        kind,
        detail,
        options: Some(options),
        expires_ms: None,
    })
}

/// Record `permission.asked` (a replayed request keeps its first row).
pub fn asked(core: &Core, req: &Value) {
    let Some(new) = request(req) else {
        tracing::warn!("a permission request without an id: left to the TUI");
        return;
    };
    if let Err(e) = core.record_approval(new) {
        tracing::warn!("cannot record an OpenCode permission request: {e}");
    }
}

/// `permission.replied`: a pending entry was answered in the TUI (an
/// answer abg sent finds its entry already closed and changes nothing).
pub fn replied(core: &Core, request_id: &str) {
    match core.approval_answered_elsewhere(super::PEER, request_id, AnsweredVia::Tui) {
        Ok(Some(a)) => tracing::info!(id = %a.id, "answered in the OpenCode TUI"),
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot close an OpenCode inbox entry: {e}"),
    }
}

/// After a (re)connect: record every request the server waits on and
/// close the entries it no longer has (answered while the link was down,
/// or asked of a server that has since stopped).
pub async fn replay(core: &Core, api: &Api) -> Result<(), super::api::ApiError> {
    let open = api.permissions().await?;
    let mut keys = HashSet::new();
    for req in &open {
        if let Some(id) = req.get("id").and_then(Value::as_str) {
            keys.insert(id.to_owned());
        }
        asked(core, req);
    }
    core.close_approvals_gone(super::PEER, |_| true, &keys);
    Ok(())
}

/// OpenCode's reply for a verdict, and the message the model is told on a
/// refusal (only the human's own reason: without one, OpenCode stops the
/// turn, as its TUI's Reject does).
fn reply_of(verdict: &Verdict) -> (&'static str, Option<&str>) {
    match verdict.decision {
        Decision::Approve => ("once", None),
        Decision::ApproveForSession => ("always", None),
        Decision::Deny => ("reject", verdict.reason.as_deref()),
    }
}

/// Post `verdict` for `approval` to the pair's running OpenCode server.
/// Fails, with nothing approved, when the server is not running or no
/// longer has the request. Blocks (its own thread and runtime), as the
/// core's answer path allows.
pub fn deliver(core: &Core, approval: &Approval, verdict: &Verdict) -> Result<(), CoreError> {
    let gone = |why: String| CoreError::Undelivered(why);
    let id = approval.request_key.clone();
    if !plain_id(&id) {
        return Err(gone(format!("{id:?} is not an OpenCode request id")));
    }
    let pair = core.pair();
    let state = super::server::read_state(pair)
        .ok_or_else(|| gone("the OpenCode server is not running; answer in its TUI".into()))?;
    let api = super::server::api(pair, &state).map_err(|e| gone(e.to_string()))?;
    let (reply, message) = reply_of(verdict);
    let message = message.map(str::to_owned);
    let posted = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(api.reply_permission(&id, reply, message.as_deref()))
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| gone("the answer's thread failed".into()))?;
    match posted {
        Ok(true) => Ok(()),
        Ok(false) => Err(gone(format!(
            "OpenCode no longer waits on {} (answered in its TUI, or its server restarted)",
            approval.request_key
        ))),
        Err(e) => Err(gone(format!("cannot answer OpenCode: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bash_request_is_a_command_with_every_option() {
        // The frame recorded in reference §8.
        let req = json!({"id":"per_24d9202c4001MtZdPUlaUSoM6h","sessionID":"ses_1","permission":"bash",
            "patterns":["echo approved > perm.txt"],"metadata":{"command":"echo approved > perm.txt"},
            "always":["echo *"],"tool":{"messageID":"msg_1","callID":"call_mock_1"}});
        let a = request(&req).expect("entry");
        assert_eq!(a.request_key, "per_24d9202c4001MtZdPUlaUSoM6h");
        assert_eq!(a.kind, ApprovalKind::Command);
        assert_eq!(a.detail["command"], "echo approved > perm.txt");
        assert_eq!(a.detail["call_id"], "call_mock_1");
        assert!(
            a.detail.get("tool").is_none(),
            "no object where a tool name is read"
        );
        assert_eq!(
            a.options.as_deref(),
            Some(
                &[
                    "approve".to_owned(),
                    "approve_for_session".into(),
                    "deny".into()
                ][..]
            )
        );
    }

    #[test]
    fn an_edit_carries_its_path_and_diff_and_others_are_tools() {
        let edit = json!({"id":"per_2","sessionID":"s","permission":"edit","patterns":["a.txt"],
            "always":["*"],"metadata":{"filepath":"/w/a.txt","diff":"--- a\n+++ b\n"}});
        let a = request(&edit).expect("edit");
        assert_eq!(a.kind, ApprovalKind::FileChange);
        assert_eq!(
            (a.detail["path"].as_str(), a.detail["diff"].as_str()),
            (Some("/w/a.txt"), Some("--- a\n+++ b\n"))
        );
        let fetch =
            json!({"id":"per_3","permission":"webfetch","patterns":["https://x"],"always":[]});
        let f = request(&fetch).expect("fetch");
        assert_eq!(f.kind, ApprovalKind::Tool);
        assert_eq!(
            (
                f.detail["tool"].as_str(),
                f.detail["input_preview"].as_str()
            ),
            (Some("webfetch"), Some("https://x"))
        );
        assert_eq!(
            f.options.as_deref(),
            Some(&["approve".to_owned(), "deny".into()][..]),
            "no always offered"
        );
        let outside = json!({"id":"per_4","permission":"external_directory","patterns":["/etc/*"]});
        assert_eq!(
            request(&outside).expect("dir").kind,
            ApprovalKind::Permissions
        );
        assert!(
            request(&json!({"permission":"bash"})).is_none(),
            "no id, no entry"
        );
    }

    #[test]
    fn verdicts_map_to_replies_and_only_a_human_reason_is_sent() {
        let v = |decision, reason: Option<&str>| Verdict {
            decision,
            reason: reason.map(str::to_owned),
            via: AnsweredVia::Cli,
        };
        assert_eq!(reply_of(&v(Decision::Approve, Some("x"))), ("once", None));
        assert_eq!(
            reply_of(&v(Decision::ApproveForSession, None)),
            ("always", None)
        );
        assert_eq!(reply_of(&v(Decision::Deny, None)), ("reject", None));
        assert_eq!(
            reply_of(&v(Decision::Deny, Some("not now"))),
            ("reject", Some("not now"))
        );
        assert!(plain_id("per_24d9202c4001MtZdPUlaUSoM6h"));
        for bad in ["", "../session", "per 1", "per_1?x=1", "per/1"] {
            assert!(!plain_id(bad), "{bad:?}");
        }
    }
}
