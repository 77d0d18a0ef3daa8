//! Codex's approval requests in the inbox. Why it exists: under `--safe`
//! Codex asks before running a command or changing files, as a server
//! request on the app-server that every subscribed client receives (the
//! TUI shows it; so does the daemon's link). The link records each one
//! through the core's approvals port and never answers on its own; a
//! person's verdict from `abg approve`/`abg deny` is sent back on the
//! link's connection ([`Answers::deliver`]); when the TUI answered first,
//! `serverRequest/resolved` closes the inbox entry. Facts in
//! `tests/reference/approvals.md` (codex 0.169.0).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::transport::Responder;
use crate::control::protocol::approvals::{Decision, Verdict};
use crate::daemon::core::{Core, CoreError};
use crate::store::types::{AnsweredVia, Approval, ApprovalKind, NewApproval};

/// The notification Codex sends every client once a request is answered.
pub const RESOLVED: &str = "serverRequest/resolved";

/// The live connection's responder and the requests open on it (by their
/// JSON-RPC id, which `serverRequest/resolved` names), shared by the link
/// (which sets them) and the Codex peer (which answers through them).
#[derive(Default)]
pub struct Answers {
    inner: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    responder: Option<Responder>,
    /// JSON-RPC id (as JSON text) → the inbox's request key.
    keys: HashMap<String, String>,
    /// The newest file-change items' changes, by item id: Codex's
    /// file-change request carries no path or diff, its `item/started`
    /// just before does (tests/reference/approvals.md §1.3).
    changes: std::collections::VecDeque<(String, Value)>,
}

/// How many file-change items' changes are kept for their requests.
const KEEP_CHANGES: usize = 16;

impl Answers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection: its requests start afresh (Codex replays the
    /// pending ones to it with their ids).
    pub fn connected(&self, responder: Option<Responder>) {
        let mut open = self.lock();
        open.responder = responder;
        open.keys.clear();
    }

    /// `item/started`: keep a file-change item's changes for the request
    /// that follows it.
    pub fn item_started(&self, params: &Value) {
        let item = &params["item"];
        if item["type"] != "fileChange" {
            return;
        }
        let (Some(id), Some(changes)) = (item["id"].as_str(), item.get("changes")) else {
            return;
        };
        let mut open = self.lock();
        open.changes.retain(|(i, _)| i != id);
        open.changes.push_back((id.to_string(), changes.clone()));
        while open.changes.len() > KEEP_CHANGES {
            open.changes.pop_front();
        }
    }

    /// Send `verdict` for `approval` to Codex: fails (and nothing is
    /// approved) when the link is down or the request came on another
    /// connection.
    pub fn deliver(&self, approval: &Approval, verdict: &Verdict) -> Result<(), CoreError> {
        let id = approval
            .detail
            .get("rpc_id")
            .cloned()
            .unwrap_or(Value::Null);
        let open = self.lock();
        let on_this_connection = open
            .keys
            .get(&id.to_string())
            .is_some_and(|k| *k == approval.request_key);
        let (Some(responder), true) = (open.responder.as_ref(), on_this_connection) else {
            return Err(CoreError::Undelivered(
                "Codex's app-server connection that asked is gone; answer in the Codex TUI".into(),
            ));
        };
        let decision = match verdict.decision {
            Decision::Approve => "accept",
            Decision::ApproveForSession => "acceptForSession",
            Decision::Deny => "decline",
        };
        responder
            .respond(&id, json!({ "decision": decision }))
            .map_err(|e| CoreError::Undelivered(format!("cannot answer Codex: {e}")))
    }
}

/// The kind of a Codex server request, `None` for one that is not an
/// approval (left alone).
fn kind_of(method: &str) -> Option<ApprovalKind> {
    match method {
        "item/commandExecution/requestApproval" => Some(ApprovalKind::Command),
        "item/fileChange/requestApproval" => Some(ApprovalKind::FileChange),
        "item/permissions/requestApproval" => Some(ApprovalKind::Permissions),
        "item/tool/requestUserInput" => Some(ApprovalKind::UserInput),
        "mcpServer/elicitation/request" => Some(ApprovalKind::Elicitation),
        _ => None,
    }
}

/// abg's options for what Codex offers: only command and file-change
/// requests are answered from abg (the others read-only: answer in the
/// TUI). `decline` is always possible on the wire, though 0.169.0 offers
/// `cancel` instead for commands.
fn options_of(kind: ApprovalKind, params: &Value) -> Vec<String> {
    match kind {
        ApprovalKind::Command | ApprovalKind::FileChange => {
            let offered: Vec<&str> = params
                .get("availableDecisions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut options = vec!["approve".to_string()];
            if offered.contains(&"acceptForSession") {
                options.push("approve_for_session".into());
            }
            options.push("deny".into());
            options
        }
        _ => Vec::new(),
    }
}

/// Record a server request in the inbox (if it is an approval).
pub fn on_request(core: &Core, answers: &Answers, id: &Value, method: &str, params: &Value) {
    let Some(kind) = kind_of(method) else {
        tracing::debug!(%id, method, "server request left to the TUI");
        return;
    };
    let item = params
        .get("itemId")
        .or_else(|| params.get("turnId"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    let key = format!("{item}:{id}");
    let pick = |k: &str| params.get(k).cloned().unwrap_or(Value::Null);
    // The files and diffs of a file change, from its `item/started`.
    let changes = answers
        .lock()
        .changes
        .iter()
        .find(|(i, _)| i == item)
        .map(|(_, c)| c.clone())
        .unwrap_or(Value::Null);
    let detail = json!({
        "changes": changes,
        "method": method,
        "command": pick("command"),
        "cwd": pick("cwd"),
        "reason": pick("reason"),
        "thread_id": pick("threadId"),
        "turn_id": pick("turnId"),
        "item_id": pick("itemId"),
        "rpc_id": id,
    });
    answers.lock().keys.insert(id.to_string(), key.clone());
    let new = NewApproval {
        peer: super::PEER,
        request_key: key,
        kind,
        detail,
        options: Some(options_of(kind, params)),
        expires_ms: None,
    };
    if let Err(e) = core.record_approval(new) {
        tracing::warn!(%id, method, "cannot record Codex's approval request: {e}");
    }
}

/// `serverRequest/resolved`: whoever answered first (the TUI, or abg
/// itself), an entry still pending was answered elsewhere.
pub fn on_resolved(core: &Core, answers: &Answers, params: &Value) {
    let Some(id) = params.get("requestId") else {
        return;
    };
    let key = answers.lock().keys.remove(&id.to_string());
    if let Some(key) = key
        && let Err(e) = core.approval_answered_elsewhere(super::PEER, &key, AnsweredVia::Tui)
    {
        tracing::warn!(%id, "cannot close Codex's approval request: {e}");
    }
}

/// After subscribing to `thread_id` on a new connection (and the grace in
/// which Codex replays the requests still open): a pending entry of that
/// thread that was not replayed is no longer open at Codex. It was
/// answered (or withdrawn with its turn) while abg was not connected,
/// e.g. in the TUI while the daemon was down. Its entry closes as answered
/// elsewhere by the agent's side, so no late answer is taken for it.
pub fn reconcile(core: &Core, answers: &Answers, thread_id: &str) {
    let open: std::collections::HashSet<String> = answers.lock().keys.values().cloned().collect();
    let of_thread =
        |row: &Approval| row.detail.get("thread_id").and_then(Value::as_str) == Some(thread_id);
    core.close_approvals_gone(super::PEER, of_thread, &open);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::ApprovalState;

    fn request(core: &Core, answers: &Answers, rpc: i64, item: &str, thread: &str) {
        on_request(
            core,
            answers,
            &json!(rpc),
            "item/commandExecution/requestApproval",
            &json!({"threadId": thread, "turnId": "t1", "itemId": item,
                    "command": "touch x", "cwd": "/w", "reason": "why",
                    "availableDecisions": ["accept", "cancel"]}),
        );
    }

    fn state_of(core: &Core, key: &str) -> ApprovalState {
        core.with_store(|s| s.approval_by_key("codex", key))
            .ok()
            .flatten()
            .map(|a| a.state)
            .unwrap_or(ApprovalState::Expired)
    }

    #[test]
    fn requests_not_replayed_on_a_new_connection_are_closed() {
        let dir = tempfile::tempdir().expect("dir");
        let core = crate::peers::test_core(dir.path());
        let answers = Answers::default();
        request(&core, &answers, 0, "call_1", "th1");
        request(&core, &answers, 1, "call_2", "th1");
        request(&core, &answers, 2, "call_3", "th2");
        // A new connection: Codex replays only call_2 (call_1 was answered
        // in the TUI while abg was away).
        answers.connected(None);
        request(&core, &answers, 1, "call_2", "th1");
        reconcile(&core, &answers, "th1");
        assert_eq!(
            state_of(&core, "call_1:0"),
            ApprovalState::AnsweredElsewhere
        );
        assert_eq!(state_of(&core, "call_2:1"), ApprovalState::Pending);
        // Another thread's entry is not judged by this one's replay.
        assert_eq!(state_of(&core, "call_3:2"), ApprovalState::Pending);
        let row = core
            .with_store(|s| s.approval_by_key("codex", "call_1:0"))
            .ok()
            .flatten()
            .expect("row");
        assert_eq!(row.answered_via, Some(AnsweredVia::Agent));
        assert!(row.decision.is_none(), "nothing was approved");
    }

    #[test]
    fn a_file_change_request_carries_the_diff_of_its_item() {
        let dir = tempfile::tempdir().expect("dir");
        let core = crate::peers::test_core(dir.path());
        let answers = Answers::default();
        let changes = json!([{"path": "/w/a.txt", "kind": {"type": "add"}, "diff": "hello\n"}]);
        answers.item_started(&json!({"threadId": "th1", "turnId": "t1",
            "item": {"type": "fileChange", "id": "call_p", "changes": changes, "status": "inProgress"}}));
        answers.item_started(&json!({"item": {"type": "commandExecution", "id": "call_c"}}));
        on_request(
            &core,
            &answers,
            &json!(5),
            "item/fileChange/requestApproval",
            &json!({"threadId": "th1", "turnId": "t1", "itemId": "call_p", "reason": null, "grantRoot": null}),
        );
        let row = core
            .with_store(|s| s.approval_by_key("codex", "call_p:5"))
            .ok()
            .flatten()
            .expect("row");
        assert_eq!(row.kind, ApprovalKind::FileChange);
        assert_eq!(row.detail["changes"], changes);
    }

    #[test]
    fn options_follow_what_codex_offers() {
        let p = json!({"availableDecisions": ["accept", "acceptForSession", "cancel"]});
        assert_eq!(
            options_of(ApprovalKind::Command, &p),
            vec!["approve", "approve_for_session", "deny"]
        );
        assert!(options_of(ApprovalKind::UserInput, &p).is_empty());
        assert_eq!(kind_of("item/unknown/request"), None);
    }
}
