//! The quota relay's decisions, as pure functions over the latest readings,
//! the thresholds, the persisted pause state, whether a Codex turn runs,
//! and the time. The relay (`relay`) applies them; everything here is
//! table-tested.
//!
//! Rules:
//! - A side pauses when a fresh reading of one of its windows is at or
//!   above `pause_at` and that window has not reset yet. Stale readings
//!   (older than `stale_secs`) never pause anything.
//! - A paused side is asked once for a checkpoint: Claude at once, Codex at
//!   a turn boundary (no turn running).
//! - A quota pause ends when the window that caused it resets (its reset
//!   time passes) or a fresh reading taken after the pause is below
//!   `resume_below`, and no other fresh window of that side is still at or
//!   above `pause_at`. The resume carries a prompt only if a checkpoint was
//!   asked for; a window that resets before that (e.g. while the last turn
//!   was still running) just lifts the pause.
//! - Manual pauses end only by hand.
//! - The state is persisted, so a daemon restart between pause and resume
//!   decides the same way (the relay's tombstone makes the resume prompt
//!   exactly-once).

use serde::{Deserialize, Serialize};

use super::readings::{Reading, Side, Window};
use crate::config::Settings;

/// The relay's configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub enabled: bool,
    pub pause_at: f64,
    pub resume_below: f64,
    pub stale_ms: i64,
}

impl Thresholds {
    pub fn from_settings(s: &Settings) -> Self {
        Thresholds {
            enabled: s.budget_enabled,
            pause_at: f64::from(s.budget_pause_at),
            resume_below: f64::from(s.budget_resume_below),
            stale_ms: i64::try_from(s.budget_stale_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
        }
    }
}

/// Why a side is paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// A window reached `pause_at`.
    Quota {
        window: Window,
        used_pct: f64,
        resets_at: Option<i64>,
    },
    /// `abg budget pause SIDE`.
    Manual,
}

/// A side's pause, persisted in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pause {
    /// Unique per pause: keys the checkpoint and resume tombstones.
    pub id: String,
    pub since_ms: i64,
    pub cause: Cause,
    pub checkpoint_requested: bool,
}

/// Both sides' pauses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub claude: Option<Pause>,
    #[serde(default)]
    pub codex: Option<Pause>,
}

impl State {
    pub fn get(&self, side: Side) -> Option<&Pause> {
        match side {
            Side::Claude => self.claude.as_ref(),
            Side::Codex => self.codex.as_ref(),
        }
    }

    pub fn slot(&mut self, side: Side) -> &mut Option<Pause> {
        match side {
            Side::Claude => &mut self.claude,
            Side::Codex => &mut self.codex,
        }
    }
}

/// Why a pause ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResumeReason {
    WindowReset { window: Window, resets_at: i64 },
    BelowThreshold { window: Window, used_pct: f64 },
}

/// What the relay should do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Pause {
        side: Side,
        window: Window,
        used_pct: f64,
        resets_at: Option<i64>,
        /// The other side is (or is being) paused too.
        other_paused: bool,
    },
    RequestCheckpoint {
        side: Side,
        other_paused: bool,
    },
    Resume {
        side: Side,
        reason: ResumeReason,
        /// Send the resume prompt (a checkpoint was asked for).
        prompt: bool,
    },
}

/// Everything a decision depends on.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub now_ms: i64,
    /// The latest reading of each (side, window) known.
    pub latest: &'a [Reading],
    pub state: &'a State,
    pub codex_turn_running: bool,
    pub th: Thresholds,
}

/// A fresh reading of `side` whose window has not reset and is at or above
/// `pause_at`, the one resetting last first (it is the one to wait for).
fn over_limit<'a>(input: &Input<'a>, side: Side, except: Option<Window>) -> Option<&'a Reading> {
    input
        .latest
        .iter()
        .filter(|r| r.side == side && Some(r.window) != except)
        .filter(|r| !r.is_stale(input.now_ms, input.th.stale_ms) && !r.reset_passed(input.now_ms))
        .filter(|r| r.used_pct >= input.th.pause_at)
        .max_by_key(|r| r.resets_at.unwrap_or(i64::MAX))
}

/// Whether a quota pause on `window` may end, and why.
fn resume_reason(input: &Input<'_>, side: Side, pause: &Pause) -> Option<ResumeReason> {
    let Cause::Quota {
        window, resets_at, ..
    } = &pause.cause
    else {
        return None;
    };
    let reset = resets_at
        .filter(|r| r.saturating_mul(1000) <= input.now_ms)
        .map(|r| ResumeReason::WindowReset {
            window: *window,
            resets_at: r,
        });
    let below = || {
        input
            .latest
            .iter()
            .find(|r| r.side == side && r.window == *window)
            .filter(|r| {
                r.observed_ms > pause.since_ms && !r.is_stale(input.now_ms, input.th.stale_ms)
            })
            .filter(|r| r.used_pct < input.th.resume_below)
            .map(|r| ResumeReason::BelowThreshold {
                window: *window,
                used_pct: r.used_pct,
            })
    };
    let reason = reset.or_else(below)?;
    // Another window still at its limit keeps the side paused.
    over_limit(input, side, Some(*window))
        .is_none()
        .then_some(reason)
}

/// The decisions for this moment, Codex first. Applying them and deciding
/// again yields the next step (pause, then checkpoint, then resume).
pub fn decide(input: &Input<'_>) -> Vec<Decision> {
    let mut out = Vec::new();
    let paused = |s: Side, out: &Vec<Decision>| {
        input.state.get(s).is_some()
            || out
                .iter()
                .any(|d| matches!(d, Decision::Pause { side, .. } if *side == s))
    };
    for side in [Side::Codex, Side::Claude] {
        match input.state.get(side) {
            Some(pause) => {
                if let Some(reason) = resume_reason(input, side, pause) {
                    out.push(Decision::Resume {
                        side,
                        reason,
                        prompt: pause.checkpoint_requested,
                    });
                    continue;
                }
                let boundary = side == Side::Claude || !input.codex_turn_running;
                if matches!(pause.cause, Cause::Quota { .. })
                    && !pause.checkpoint_requested
                    && boundary
                {
                    out.push(Decision::RequestCheckpoint {
                        side,
                        other_paused: paused(side.other(), &out),
                    });
                }
            }
            None if input.th.enabled => {
                if let Some(r) = over_limit(input, side, None) {
                    out.push(Decision::Pause {
                        side,
                        window: r.window,
                        used_pct: r.used_pct,
                        resets_at: r.resets_at,
                        other_paused: paused(side.other(), &out),
                    });
                }
            }
            None => {}
        }
    }
    out
}

/// Apply a decision to the state (pure; the relay persists the result).
pub fn apply(state: &mut State, d: &Decision, now_ms: i64) {
    match d {
        Decision::Pause {
            side,
            window,
            used_pct,
            resets_at,
            ..
        } => {
            *state.slot(*side) = Some(Pause {
                id: format!("{}-{now_ms}", side.as_str()),
                since_ms: now_ms,
                cause: Cause::Quota {
                    window: *window,
                    used_pct: *used_pct,
                    resets_at: *resets_at,
                },
                checkpoint_requested: false,
            });
        }
        Decision::RequestCheckpoint { side, .. } => {
            if let Some(p) = state.slot(*side) {
                p.checkpoint_requested = true;
            }
        }
        Decision::Resume { side, .. } => *state.slot(*side) = None,
    }
}

#[cfg(test)]
mod tests;
