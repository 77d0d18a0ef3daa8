//! Wire types of the approvals inbox (`/v1/approvals`): the list, the answer
//! a human gives, and what the answer did. The rows themselves are the
//! store's [`Approval`].

use serde::{Deserialize, Serialize};

pub use crate::store::types::{AnsweredVia, Approval, ApprovalKind, ApprovalState};

/// What the human decides, by abg's names; an adapter maps each to its
/// agent's own decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allow this once.
    Approve,
    /// Allow this and the like for the rest of the agent's session.
    ApproveForSession,
    /// Refuse.
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::ApproveForSession => "approve_for_session",
            Decision::Deny => "deny",
        }
    }

    /// The decisions a request offers when it names none.
    pub const DEFAULT_OPTIONS: [Decision; 2] = [Decision::Approve, Decision::Deny];

    /// Whether `options` (a request's offered decisions, `None`: the
    /// defaults) include this one.
    pub fn offered_by(self, options: Option<&[String]>) -> bool {
        match options {
            Some(list) => list.iter().any(|o| o == self.as_str()),
            None => Self::DEFAULT_OPTIONS.contains(&self),
        }
    }
}

/// `POST /v1/approvals/{id}`: the human's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    pub decision: Decision,
    /// Why (shown to the agent where it takes a reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Answer to [`AnswerRequest`]: the approval as it now stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerResult {
    pub approval: Approval,
}

/// `GET /v1/approvals`: pending ones first (oldest first), then the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalList {
    pub approvals: Vec<Approval>,
    /// How many wait for an answer in all.
    pub pending: u64,
}

/// A human's answer to an approval request, as handed to the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// Why (for agents that take a reason).
    pub reason: Option<String>,
    /// Where it was given.
    pub via: AnsweredVia,
}
