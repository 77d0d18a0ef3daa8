//! What deliveries mean, as types: where a delivery stands ([`DeliveryState`]), how a
//! peer takes messages ([`DeliveryModel`], which decides the states its deliveries go
//! through) and why a delivery is where it is ([`DeliveryReason`], stored beside the
//! free-text detail, carried by a [`Note`]).
//! Re-exported from `types`, where their string forms (`FromStr`, `Display`) live.

use serde::{Deserialize, Serialize};

/// Where a message stands with one recipient. Which states a recipient's deliveries go
/// through is its [`DeliveryModel`]: push (Claude) `stored → pushed → seen →
/// acknowledged`, turn (Codex) `queued → steering | interrupting → started (turn id) →
/// completed`; both `held` (governor or budget pause) and `failed`.
/// `acknowledged`, `completed` and `failed` are terminal: leaving them takes an explicit
/// retry ([`crate::store::Store::retry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Stored,
    Pushed,
    Seen,
    Acknowledged,
    Queued,
    Steering,
    Interrupting,
    Started,
    Completed,
    Failed,
    Held,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 11] = [
        DeliveryState::Stored,
        DeliveryState::Pushed,
        DeliveryState::Seen,
        DeliveryState::Acknowledged,
        DeliveryState::Queued,
        DeliveryState::Steering,
        DeliveryState::Interrupting,
        DeliveryState::Started,
        DeliveryState::Completed,
        DeliveryState::Failed,
        DeliveryState::Held,
    ];

    /// The states that are not terminal, as SQL string literals for `IN (…)` filters
    /// (which, unlike `NOT IN` over the terminal ones, let SQLite seek the
    /// `(recipient, state)` index instead of scanning every finished delivery).
    pub(crate) const ACTIVE_SQL: &'static str =
        "('stored','pushed','seen','queued','steering','interrupting','started','held')";

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Stored => "stored",
            DeliveryState::Pushed => "pushed",
            DeliveryState::Seen => "seen",
            DeliveryState::Acknowledged => "acknowledged",
            DeliveryState::Queued => "queued",
            DeliveryState::Steering => "steering",
            DeliveryState::Interrupting => "interrupting",
            DeliveryState::Started => "started",
            DeliveryState::Completed => "completed",
            DeliveryState::Failed => "failed",
            DeliveryState::Held => "held",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            DeliveryState::Acknowledged | DeliveryState::Completed | DeliveryState::Failed
        )
    }

    /// Whether entering this state from `from` hands the message to the recipient's transport
    /// once more (counted in [`Delivery::attempts`]). `started` right after `steering` or
    /// `interrupting` completes the same attempt.
    pub fn is_new_attempt(self, from: DeliveryState) -> bool {
        match self {
            DeliveryState::Pushed | DeliveryState::Steering | DeliveryState::Interrupting => true,
            DeliveryState::Started => !matches!(
                from,
                DeliveryState::Steering | DeliveryState::Interrupting | DeliveryState::Started
            ),
            _ => false,
        }
    }
}

/// How a peer takes messages, i.e. which delivery state machine its deliveries follow.
/// A peer without a model only sends.
///
/// `Push`: `stored → pushed → seen → acknowledged` (the message is handed to a live
/// session that reports back; Claude). `Turn`: `queued → steering | interrupting →
/// started → completed` (the message becomes, or joins, a turn; Codex). Both: `held`
/// and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryModel {
    Push,
    Turn,
}

impl DeliveryModel {
    pub const ALL: [DeliveryModel; 2] = [DeliveryModel::Push, DeliveryModel::Turn];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryModel::Push => "push",
            DeliveryModel::Turn => "turn",
        }
    }

    /// The state a fresh (or retried) delivery starts in.
    pub fn initial(self) -> DeliveryState {
        match self {
            DeliveryModel::Push => DeliveryState::Stored,
            DeliveryModel::Turn => DeliveryState::Queued,
        }
    }

    /// Whether `state` belongs to this model's state machine.
    pub fn applies(self, state: DeliveryState) -> bool {
        use DeliveryState::*;
        match self {
            DeliveryModel::Push => {
                matches!(state, Stored | Pushed | Seen | Acknowledged | Failed | Held)
            }
            DeliveryModel::Turn => matches!(
                state,
                Queued | Steering | Interrupting | Started | Completed | Failed | Held
            ),
        }
    }
}

/// Why a delivery is where it is: the meaning of a transition, stored beside its
/// human-readable `detail` (which is never parsed). Stored as its snake_case name; a
/// name this build does not know reads as no reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryReason {
    /// Held: the loop governor paused the relay (or this message reached its limit).
    GovernorHold,
    /// Failed: trivial ping-pong the governor never relays.
    GovernorDamped,
    /// Back to the start: the governor's pause ended.
    GovernorResumed,
    /// Held: the recipient's quota budget is paused.
    BudgetPaused,
    /// Back to the start: the budget pause ended.
    BudgetResumed,
    /// Queued: the recipient's turn state is not known yet.
    TurnStateUnknown,
    /// Queued: a turn runs whose id is not known yet.
    TurnRunning,
    /// Queued behind a running turn until it ends.
    BehindTurn,
    /// Queued while a `turn/start` is on the wire: half sent (the crash marker; the
    /// message may already be a turn).
    Starting,
    /// Queued: the recipient refused to start a turn; retried.
    StartRefused,
    /// Queued: steering into the running turn was refused; waits for it to end.
    SteerRefused,
    /// Queued: an interrupted turn did not end in time.
    InterruptTimeout,
    /// Steering into the running turn.
    Steering,
    /// Interrupting the running turn to start one with this message.
    Interrupting,
    /// Started: the message became a turn.
    TurnStarted,
    /// Started: the message was steered into the running turn.
    Steered,
    /// Started: after a reconnect the message turned out to be a turn already.
    TurnFound,
    /// Completed: its turn ended.
    TurnEnded,
    /// Completed: its turn ended while abg was not listening.
    TurnEndedUnobserved,
    /// Pushed over the live channel.
    ChannelPush,
    /// Seen: handed over as the Stop hook's feedback.
    StopHookFeedback,
    /// Acknowledged by the recipient.
    Acked,
    /// Acknowledged: fetched by the recipient (`get_messages`).
    Fetched,
    /// Acknowledged: found in the recipient's transcript.
    InTranscript,
    /// Acknowledged: in the recipient's context (Stop hook).
    InContext,
}

impl DeliveryReason {
    pub const ALL: [DeliveryReason; 25] = [
        DeliveryReason::GovernorHold,
        DeliveryReason::GovernorDamped,
        DeliveryReason::GovernorResumed,
        DeliveryReason::BudgetPaused,
        DeliveryReason::BudgetResumed,
        DeliveryReason::TurnStateUnknown,
        DeliveryReason::TurnRunning,
        DeliveryReason::BehindTurn,
        DeliveryReason::Starting,
        DeliveryReason::StartRefused,
        DeliveryReason::SteerRefused,
        DeliveryReason::InterruptTimeout,
        DeliveryReason::Steering,
        DeliveryReason::Interrupting,
        DeliveryReason::TurnStarted,
        DeliveryReason::Steered,
        DeliveryReason::TurnFound,
        DeliveryReason::TurnEnded,
        DeliveryReason::TurnEndedUnobserved,
        DeliveryReason::ChannelPush,
        DeliveryReason::StopHookFeedback,
        DeliveryReason::Acked,
        DeliveryReason::Fetched,
        DeliveryReason::InTranscript,
        DeliveryReason::InContext,
    ];

    pub fn as_str(self) -> &'static str {
        use DeliveryReason::*;
        match self {
            GovernorHold => "governor_hold",
            GovernorDamped => "governor_damped",
            GovernorResumed => "governor_resumed",
            BudgetPaused => "budget_paused",
            BudgetResumed => "budget_resumed",
            TurnStateUnknown => "turn_state_unknown",
            TurnRunning => "turn_running",
            BehindTurn => "behind_turn",
            Starting => "starting",
            StartRefused => "start_refused",
            SteerRefused => "steer_refused",
            InterruptTimeout => "interrupt_timeout",
            Steering => "steering",
            Interrupting => "interrupting",
            TurnStarted => "turn_started",
            Steered => "steered",
            TurnFound => "turn_found",
            TurnEnded => "turn_ended",
            TurnEndedUnobserved => "turn_ended_unobserved",
            ChannelPush => "channel_push",
            StopHookFeedback => "stop_hook_feedback",
            Acked => "acked",
            Fetched => "fetched",
            InTranscript => "in_transcript",
            InContext => "in_context",
        }
    }

    /// A short phrase for people (`abg status`, the web UI).
    pub fn label(self) -> &'static str {
        use DeliveryReason::*;
        match self {
            GovernorHold => "held by the loop governor",
            GovernorDamped => "not relayed (trivial ping-pong)",
            GovernorResumed => "released: the relay resumed",
            BudgetPaused => "held: quota budget paused",
            BudgetResumed => "released: the budget pause ended",
            TurnStateUnknown => "waiting for the turn state",
            TurnRunning | BehindTurn => "waiting for the running turn",
            Starting => "half sent: starting a turn",
            StartRefused => "turn start refused; will retry",
            SteerRefused => "steer refused; waits for the turn",
            InterruptTimeout => "interrupt timed out; queued",
            Steering => "steering into the running turn",
            Interrupting => "interrupting the running turn",
            TurnStarted => "became a turn",
            Steered => "steered into the running turn",
            TurnFound => "found as a turn after a reconnect",
            TurnEnded => "its turn ended",
            TurnEndedUnobserved => "its turn ended unobserved",
            ChannelPush => "pushed over the channel",
            StopHookFeedback => "delivered as Stop hook feedback",
            Acked => "acknowledged",
            Fetched => "fetched with get_messages",
            InTranscript => "in the transcript",
            InContext => "in context (Stop hook)",
        }
    }

    /// Queued in a way a waiting sender takes as settled: behind a running turn, or
    /// after a refused steer.
    pub fn settles_queued(self) -> bool {
        matches!(
            self,
            DeliveryReason::BehindTurn | DeliveryReason::SteerRefused
        )
    }
}

/// What a transition records besides its state: why (typed, for code) and the detail
/// (free text, for people). `From<Option<&str>>` keeps plain-text call sites working
/// (no reason then); `From<DeliveryReason>` records a reason without detail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Note<'a> {
    pub reason: Option<DeliveryReason>,
    pub detail: Option<&'a str>,
}

impl<'a> Note<'a> {
    pub fn new(reason: DeliveryReason, detail: &'a str) -> Self {
        Note {
            reason: Some(reason),
            detail: Some(detail),
        }
    }
}

impl<'a> From<Option<&'a str>> for Note<'a> {
    fn from(detail: Option<&'a str>) -> Self {
        Note {
            reason: None,
            detail,
        }
    }
}

impl From<DeliveryReason> for Note<'_> {
    fn from(reason: DeliveryReason) -> Self {
        Note {
            reason: Some(reason),
            detail: None,
        }
    }
}
