//! The approvals inbox's side of the core's port, which names no agent. An
//! adapter that sees its agent ask the human something (run a command,
//! change files, …) records it here ([`Core::record_approval`]); the
//! control server answers it ([`Core::answer_approval`]): the store decides
//! first (the first answer wins, exactly once), then the verdict goes to the
//! owning peer's adapter ([`Peer::deliver_verdict`]). A verdict the adapter
//! cannot carry out leaves the request `abandoned`: nothing is ever approved
//! on anyone's behalf. An adapter that learns its agent's own UI answered
//! closes the request with [`Core::approval_answered_elsewhere`]. Every
//! request and every answer is a pair event (`approval.requested`,
//! `approval.answered`) for the transcript's audit.
//!
//! The core holds no adapter (see `peer`): the caller passes the registry.

use serde_json::json;

use super::bus::LiveEvent;
use super::core::{Core, CoreError};
use super::peer::Peers;
use crate::clock::now_ms;
use crate::control::protocol::approvals::Decision;
pub use crate::control::protocol::approvals::Verdict;
use crate::store::types::{AnsweredVia, Approval, ApprovalState, NewApproval, PeerId};
use crate::store::{Resolution, StoreError};

/// Who answers through abg: the human at the keyboard.
const HUMAN: &str = "human";

/// What recording a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored (or, `fresh: false`, the same request was stored before).
    Stored {
        approval: Box<Approval>,
        fresh: bool,
    },
    /// `approvals.relay` is off: nothing stored; the agent's own UI is the
    /// only place to answer.
    RelayOff,
}

impl Core {
    /// Record a request an agent put to the human, publish it on the live
    /// stream and record `approval.requested`. A replayed request (same peer
    /// and request key) returns the stored row without a second event.
    pub fn record_approval(&self, new: NewApproval) -> Result<Recorded, CoreError> {
        if !self.config().settings.approvals_relay {
            return Ok(Recorded::RelayOff);
        }
        if self.peer(new.peer).is_none() {
            return Err(CoreError::Invalid(format!(
                "an approval must come from a peer of this pair ({}), not {:?}",
                self.peer_ids_text(),
                new.peer.as_str()
            )));
        }
        let (approval, fresh) = self.with_store(|s| s.insert_approval(&new))?;
        if fresh {
            self.bus().publish(LiveEvent::Approval {
                approval: approval.clone(),
            });
            self.record_event(
                "approval.requested",
                json!({
                    "id": approval.id,
                    "peer": approval.peer,
                    "kind": approval.kind,
                    "request_key": approval.request_key,
                    "detail": approval.detail,
                    "options": approval.options,
                }),
            )?;
        }
        Ok(Recorded::Stored {
            approval: Box::new(approval),
            fresh,
        })
    }

    /// Approval `id`, or the error naming it unknown.
    pub fn approval(&self, id: &str) -> Result<Approval, CoreError> {
        self.with_store(|s| s.get_approval(id))?
            .ok_or_else(|| CoreError::NotFound(format!("no approval {id:?} in this pair")))
    }

    /// Approvals in `state` (all when `None`), pending first, and how many
    /// are pending in all.
    pub fn approvals(
        &self,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<(Vec<Approval>, u64), CoreError> {
        Ok(self.with_store(|s| {
            Ok::<_, StoreError>((s.list_approvals(state, limit)?, s.pending_approvals()?))
        })?)
    }

    /// Answer approval `id` with `verdict`: refused when the request does
    /// not offer that decision; otherwise the store decides first (a second
    /// answer is a conflict naming the first), then the owning peer's
    /// adapter in `peers` gets the verdict. If it refuses or fails, the
    /// request becomes `abandoned` with the error and the error is returned.
    /// May block (an adapter talks to its agent): call it off the async
    /// workers.
    pub fn answer_approval(
        &self,
        peers: &Peers,
        id: &str,
        verdict: &Verdict,
    ) -> Result<Approval, CoreError> {
        let current = self.approval(id)?;
        if current.state != ApprovalState::Pending {
            return Err(closed(id, &current));
        }
        if !verdict.decision.offered_by(current.options.as_deref()) {
            let offered = match &current.options {
                Some(o) => o.join(", "),
                None => "approve, deny".into(),
            };
            return Err(CoreError::Invalid(format!(
                "approval {id} does not offer {:?}; it offers: {offered}",
                verdict.decision.as_str()
            )));
        }
        let to = match verdict.decision {
            Decision::Approve | Decision::ApproveForSession => ApprovalState::Approved,
            Decision::Deny => ApprovalState::Denied,
        };
        let resolution = Resolution {
            to,
            decision: Some(json!({
                "decision": verdict.decision,
                "reason": verdict.reason,
            })),
            by: Some(HUMAN.into()),
            via: verdict.via,
        };
        let answered = self
            .with_store(|s| s.resolve_approval(id, &resolution))
            .map_err(conflict)?;
        let delivered = match peers.get(answered.peer) {
            Some(adapter) => adapter.deliver_verdict(self, &answered, verdict),
            None => Err(CoreError::Undelivered(format!(
                "no peer {:?} in this pair to take the answer",
                answered.peer.as_str()
            ))),
        };
        match delivered {
            Ok(()) => {
                self.answered(&answered, verdict.reason.as_deref(), None);
                Ok(answered)
            }
            Err(e) => {
                let error = e.to_string();
                let abandoned = self
                    .with_store(|s| s.abandon_approval(id, answered.state, &error))
                    .map_err(conflict)?;
                self.answered(&abandoned, verdict.reason.as_deref(), Some(&error));
                Err(CoreError::Undelivered(format!(
                    "approval {id} was not answered: {error}; it is abandoned (nothing was approved); answer it in the agent's own terminal"
                )))
            }
        }
    }

    /// The agent's own UI answered (or the agent withdrew) the request
    /// `request_key` of `peer`: a pending row moves to
    /// `answered_elsewhere` and is returned; any other row is left alone
    /// (`None`), as is a request abg never recorded.
    pub fn approval_answered_elsewhere(
        &self,
        peer: PeerId,
        request_key: &str,
        via: AnsweredVia,
    ) -> Result<Option<Approval>, CoreError> {
        let Some(row) = self.with_store(|s| s.approval_by_key(peer.as_str(), request_key))? else {
            return Ok(None);
        };
        if row.state != ApprovalState::Pending {
            return Ok(None);
        }
        let resolution = Resolution {
            to: ApprovalState::AnsweredElsewhere,
            decision: None,
            by: None,
            via,
        };
        match self.with_store(|s| s.resolve_approval(&row.id, &resolution)) {
            Ok(moved) => {
                self.answered(&moved, None, None);
                Ok(Some(moved))
            }
            Err(StoreError::ApprovalClosed { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The agent has just told abg every request of `peer` it still waits
    /// on (a replay after a (re)connect): each pending row of `peer` that
    /// `in_scope` selects and whose request key is not in `open` was
    /// answered while abg was not listening (or withdrawn), so it closes as
    /// `answered_elsewhere` via the agent. Returns how many closed.
    pub fn close_approvals_gone(
        &self,
        peer: PeerId,
        in_scope: impl Fn(&Approval) -> bool,
        open: &std::collections::HashSet<String>,
    ) -> usize {
        let pending = match self.approvals(Some(ApprovalState::Pending), 1000) {
            Ok((rows, _)) => rows,
            Err(e) => {
                tracing::warn!("cannot list pending approvals: {e}");
                return 0;
            }
        };
        let mut closed = 0;
        for row in pending {
            if row.peer != peer || !in_scope(&row) || open.contains(&row.request_key) {
                continue;
            }
            match self.approval_answered_elsewhere(peer, &row.request_key, AnsweredVia::Agent) {
                Ok(Some(_)) => {
                    closed += 1;
                    tracing::info!(id = %row.id, %peer, "the agent no longer asks: closed a stale inbox entry");
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(id = %row.id, "cannot close a stale inbox entry: {e}"),
            }
        }
        closed
    }

    /// Stream a resolved approval and record `approval.answered`.
    fn answered(&self, approval: &Approval, reason: Option<&str>, error: Option<&str>) {
        self.bus().publish(LiveEvent::Approval {
            approval: approval.clone(),
        });
        let data = json!({
            "id": approval.id,
            "peer": approval.peer,
            "kind": approval.kind,
            "state": approval.state,
            "decision": approval.decision.as_ref().and_then(|d| d.get("decision")).cloned(),
            "reason": reason,
            "by": approval.answered_by,
            "via": approval.answered_via,
            "answered_ms": approval.answered_ms.unwrap_or_else(now_ms),
            "error": error,
        });
        if let Err(e) = self.record_event("approval.answered", data) {
            tracing::warn!(id = %approval.id, "approval.answered not recorded: {e}");
        }
    }
}

/// The conflict of an answer to an approval already answered.
fn closed(id: &str, row: &Approval) -> CoreError {
    CoreError::Conflict(format!("approval {id} is already {}", row.answered_text()))
}

/// A store error of an answer, with a lost race as a conflict.
fn conflict(e: StoreError) -> CoreError {
    match e {
        StoreError::ApprovalClosed { .. } => CoreError::Conflict(e.to_string()),
        StoreError::NotFound { key, .. } => {
            CoreError::NotFound(format!("no approval {key:?} in this pair"))
        }
        e => e.into(),
    }
}
