//! Wire types of the budget routes (`/v1/budget/…`, served by
//! [`crate::budget::http`]), here so a client names them without importing
//! the handlers: the agents and windows abg reads quotas of ([`Side`],
//! [`Window`]), the report (`GET /v1/budget`, schema in
//! `budget::report`, which builds it), and the bodies of the other routes.
//! `budget::readings` and `budget::report` re-export them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::types::PeerId;

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

/// One of the two agents whose quota abg watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Claude,
    Codex,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Claude, Side::Codex];

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Claude => "claude",
            Side::Codex => "codex",
        }
    }

    /// The agent's display name.
    pub fn name(self) -> &'static str {
        match self {
            Side::Claude => "Claude",
            Side::Codex => "Codex",
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Claude => Side::Codex,
            Side::Codex => Side::Claude,
        }
    }

    pub fn agent(self) -> PeerId {
        match self {
            Side::Claude => PeerId::from_static("claude"),
            Side::Codex => PeerId::from_static("codex"),
        }
    }

    /// `claude` or `codex` (case-insensitive).
    pub fn parse(s: &str) -> Option<Side> {
        match s.to_ascii_lowercase().as_str() {
            "claude" => Some(Side::Claude),
            "codex" => Some(Side::Codex),
            _ => None,
        }
    }

    /// The side of peer `agent`, if it has quota windows abg reads.
    pub fn of_agent(agent: PeerId) -> Option<Side> {
        Side::parse(agent.as_str()).filter(|s| s.agent() == agent)
    }
}

/// A quota window, by length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    FiveHour,
    Weekly,
}

impl Window {
    pub const ALL: [Window; 2] = [Window::FiveHour, Window::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::FiveHour => "five_hour",
            Window::Weekly => "weekly",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Window::FiveHour => "5-hour",
            Window::Weekly => "weekly",
        }
    }

    pub fn parse(s: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// The window of this length: about 5 hours or about a week (±20 %).
    pub fn from_minutes(mins: i64) -> Option<Window> {
        match mins {
            240..=360 => Some(Window::FiveHour),
            8_064..=12_096 => Some(Window::Weekly),
            _ => None,
        }
    }
}

/// The schema id of [`Report`].
pub const SCHEMA: &str = "abg.budget/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub pair_id: String,
    pub generated_at_ms: i64,
    pub enabled: bool,
    pub thresholds: ThresholdsView,
    pub claude: SideReport,
    pub codex: SideReport,
    /// The pair's other agents, which expose no quota windows abg can
    /// read (shown as such; the relay never pauses them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub without_windows: Vec<NoWindows>,
}

/// An agent of the pair with no quota windows abg can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoWindows {
    pub peer: String,
    pub name: String,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdsView {
    pub pause_at: f64,
    pub resume_below: f64,
    pub stale_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideReport {
    pub source: String,
    pub status: String,
    pub note: Option<String>,
    pub five_hour: Option<WindowReport>,
    pub weekly: Option<WindowReport>,
    pub paused: Option<PauseReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    pub used_pct: f64,
    pub resets_at: Option<i64>,
    pub observed_at_ms: i64,
    pub age_secs: i64,
    pub stale: bool,
    pub reset_passed: bool,
    pub burn_pct_per_hour: Option<f64>,
    pub projected_limit_at: Option<i64>,
    pub limit_before_reset: Option<bool>,
    pub readings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PauseReport {
    pub since_ms: i64,
    pub cause: String,
    pub window: Option<Window>,
    pub used_pct: Option<f64>,
    pub resets_at: Option<i64>,
    pub checkpoint_requested: bool,
    pub reason: String,
}
