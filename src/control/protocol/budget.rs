//! Wire types of the budget routes (`/v1/budget/…`, served by
//! [`crate::budget::http`]), here so a client names them without importing
//! the handlers. The report itself is [`crate::budget::report::Report`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::budget::readings::Side;

/// `POST /v1/budget/readings`: readings from an agent's own surface (today:
/// Claude's statusline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsRequest {
    pub side: Side,
    /// Claude's statusline `rate_limits` object, as received.
    pub rate_limits: Value,
}

/// Answer to [`ReadingsRequest`]: how many windows were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingsAck {
    pub recorded: usize,
    /// Why windows were not recorded (a figure out of range), one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

/// `POST /v1/budget/{pause,resume}`: the side to pause or resume by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideRequest {
    pub side: Side,
}

/// Answer to `POST /v1/budget/{pause,resume}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualResult {
    pub changed: bool,
    pub message: String,
}
