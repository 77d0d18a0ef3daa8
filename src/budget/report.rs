//! The budget report: both agents, both windows, with burn rate, projected
//! time to the limit, staleness and pauses. One type serves the control
//! plane (`GET /v1/budget`), `abg budget --json`, the text view and
//! Claude's `get_budget` tool, so they always agree. Its types are wire
//! types, kept in `control::protocol::budget` and re-exported here; this
//! module builds the report.
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

pub use crate::control::protocol::budget::{
    NoWindows, PauseReport, Report, SCHEMA, SideReport, ThresholdsView, WindowReport,
};

use super::decide::{Cause, Pause, State, Thresholds};
use super::readings::{Reading, Side, Window};

/// Readings older than this do not count towards the burn rate.
const BURN_SPAN_MS: i64 = 2 * 3600 * 1000;
/// The burn rate needs readings at least this far apart.
const BURN_MIN_MS: i64 = 60 * 1000;

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
