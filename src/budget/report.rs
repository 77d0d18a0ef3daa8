//! The budget report: both agents, both windows, with burn rate, projected
//! time to the limit, staleness and pauses. One type serves the control
//! plane (`GET /v1/budget`), `abg budget --json`, the text view and
//! Claude's `get_budget` tool, so they always agree.
//!
//! JSON schema `abg.budget/1` (stable; fields are only ever added):
//!
//! ```text
//! { "schema": "abg.budget/1", "pair_id": str, "generated_at_ms": int,
//!   "enabled": bool,
//!   "thresholds": {"pause_at": num, "resume_below": num, "stale_secs": int},
//!   "claude" | "codex": {
//!     "source": "statusline" | "app-server",
//!     "status": "ok" | "no_data" | "unavailable",
//!     "note": str | null,                      // why there is no data
//!     "five_hour" | "weekly": null | {
//!       "used_pct": num,                       // 0–100
//!       "resets_at": int | null,               // Unix seconds
//!       "observed_at_ms": int, "age_secs": int,
//!       "stale": bool,                         // older than stale_secs: never acted on
//!       "reset_passed": bool,                  // the figure predates the reset
//!       "burn_pct_per_hour": num | null,       // over the recent readings of this window
//!       "projected_limit_at": int | null,      // Unix seconds at this burn rate
//!       "limit_before_reset": bool | null,
//!       "readings": int },
//!     "paused": null | {"since_ms": int, "cause": "quota" | "manual",
//!       "window": "five_hour" | "weekly" | null, "used_pct": num | null,
//!       "resets_at": int | null, "checkpoint_requested": bool, "reason": str } } }
//! ```

use serde::{Deserialize, Serialize};

use super::decide::{Cause, Pause, State, Thresholds};
use super::readings::{Reading, Side, Window};

/// The schema id of [`Report`].
pub const SCHEMA: &str = "abg.budget/1";

/// Readings older than this do not count towards the burn rate.
const BURN_SPAN_MS: i64 = 2 * 3600 * 1000;
/// The burn rate needs readings at least this far apart.
const BURN_MIN_MS: i64 = 60 * 1000;

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

/// What the report is built from (the relay gathers it from the store).
pub struct Inputs<'a> {
    pub pair_id: &'a str,
    pub now_ms: i64,
    pub th: Thresholds,
    pub state: &'a State,
    /// Recent readings per (side, window), newest first.
    pub history: &'a [(Side, Window, Vec<Reading>)],
    /// Why a side has no data, when known (e.g. API-key auth).
    pub unavailable: &'a [(Side, String)],
    /// The pair's other agents (id, name): no windows to show.
    pub others: &'a [(String, String)],
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Burn rate in %/hour over the recent readings of the newest reading's
/// window instance (same reset time), if they span long enough.
pub fn burn_rate(history: &[Reading]) -> Option<f64> {
    let newest = history.first()?;
    let oldest = history
        .iter()
        .take_while(|r| r.resets_at == newest.resets_at)
        .take_while(|r| newest.observed_ms - r.observed_ms <= BURN_SPAN_MS)
        .last()?;
    let span = newest.observed_ms - oldest.observed_ms;
    if span < BURN_MIN_MS {
        return None;
    }
    let rate = (newest.used_pct - oldest.used_pct) / (span as f64 / 3_600_000.0);
    Some(round1(rate.max(0.0)))
}

fn window_report(history: &[Reading], now_ms: i64, th: &Thresholds) -> Option<WindowReport> {
    let r = history.first()?;
    let burn = burn_rate(history);
    let projected = burn.filter(|b| *b > 0.0).map(|b| {
        let secs = ((100.0 - r.used_pct).max(0.0) / b * 3600.0) as i64;
        (r.observed_ms / 1000).saturating_add(secs)
    });
    Some(WindowReport {
        used_pct: round1(r.used_pct),
        resets_at: r.resets_at,
        observed_at_ms: r.observed_ms,
        age_secs: (now_ms - r.observed_ms).max(0) / 1000,
        stale: r.is_stale(now_ms, th.stale_ms),
        reset_passed: r.reset_passed(now_ms),
        burn_pct_per_hour: burn,
        projected_limit_at: projected,
        limit_before_reset: projected.zip(r.resets_at).map(|(p, reset)| p < reset),
        readings: history.len(),
    })
}

/// The sentence explaining a pause.
pub fn pause_reason(side: Side, p: &Pause) -> String {
    match &p.cause {
        Cause::Manual => format!(
            "paused by hand (`abg budget resume {}` resumes)",
            side.as_str()
        ),
        Cause::Quota {
            window,
            used_pct,
            resets_at,
        } => {
            let when = resets_at
                .map(|r| {
                    format!(
                        "; resumes when it resets at {}",
                        crate::clock::utc(r.saturating_mul(1000))
                    )
                })
                .unwrap_or_default();
            format!(
                "{}'s {} window is at {}%{when}",
                side.name(),
                window.label(),
                round1(*used_pct)
            )
        }
    }
}

fn pause_report(side: Side, p: &Pause) -> PauseReport {
    let (cause, window, used, resets) = match &p.cause {
        Cause::Manual => ("manual", None, None, None),
        Cause::Quota {
            window,
            used_pct,
            resets_at,
        } => ("quota", Some(*window), Some(round1(*used_pct)), *resets_at),
    };
    PauseReport {
        since_ms: p.since_ms,
        cause: cause.into(),
        window,
        used_pct: used,
        resets_at: resets,
        checkpoint_requested: p.checkpoint_requested,
        reason: pause_reason(side, p),
    }
}

/// Build the report.
pub fn build(i: &Inputs<'_>) -> Report {
    let side = |side: Side| {
        let hist = |w: Window| {
            i.history
                .iter()
                .find(|(s, win, _)| *s == side && *win == w)
                .map(|(_, _, h)| h.as_slice())
                .unwrap_or(&[])
        };
        let five_hour = window_report(hist(Window::FiveHour), i.now_ms, &i.th);
        let weekly = window_report(hist(Window::Weekly), i.now_ms, &i.th);
        let unavailable = i
            .unavailable
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, n)| n.clone());
        let (status, note) = match (&five_hour, &weekly, unavailable) {
            (None, None, Some(n)) => ("unavailable", Some(n)),
            (None, None, None) => (
                "no_data",
                Some(match side {
                    Side::Claude => "no data yet: Claude reports its windows to `abg statusline` (claude.ai subscriptions only, after the first answer of a session)".to_string(),
                    Side::Codex => "no data yet: Codex reports its windows after its first turn (or on connect with a ChatGPT login)".to_string(),
                }),
            ),
            _ => ("ok", None),
        };
        SideReport {
            source: match side {
                Side::Claude => "statusline".into(),
                Side::Codex => "app-server".into(),
            },
            status: status.into(),
            note,
            five_hour,
            weekly,
            paused: i.state.get(side).map(|p| pause_report(side, p)),
        }
    };
    Report {
        schema: SCHEMA.into(),
        pair_id: i.pair_id.into(),
        generated_at_ms: i.now_ms,
        enabled: i.th.enabled,
        thresholds: ThresholdsView {
            pause_at: i.th.pause_at,
            resume_below: i.th.resume_below,
            stale_secs: i.th.stale_ms / 1000,
        },
        claude: side(Side::Claude),
        codex: side(Side::Codex),
        without_windows: i
            .others
            .iter()
            .map(|(peer, name)| NoWindows {
                peer: peer.clone(),
                name: name.clone(),
                note: format!("{name} exposes no quota windows abg can read; it is never paused by the quota relay"),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
