//! Quota readings: what an agent said about one of its windows, and when.
//!
//! Windows are identified by their length (`windowDurationMins` ≈ 300 is the
//! 5-hour window, ≈ 10080 the weekly one), never by their position in a
//! payload. Updates are sparse: a field that is null or absent keeps its
//! last known value, and an update carrying no figure at all records
//! nothing (Codex sends all-null updates under API-key auth; that is not
//! 0 %). A figure out of its domain (a reset time before 2000 or more than
//! a year ahead, a usage below 0 % or far above 100 %) rejects that
//! window's update with an [`OutOfRange`] naming the field and value.
//! Parsing here is pure; storing is in `relay`. [`Side`] and [`Window`] are
//! wire types too, kept in `control::protocol::budget` and re-exported.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::ReadingRow;

pub use crate::control::protocol::budget::{Side, Window};

/// One observation of one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub side: Side,
    pub window: Window,
    /// 0–100.
    pub used_pct: f64,
    /// When the window resets, Unix seconds.
    pub resets_at: Option<i64>,
    pub observed_ms: i64,
    /// Where it came from (`statusline`, `codex.read`, `codex.updated`).
    pub source: String,
}

impl Reading {
    pub fn to_row(&self) -> ReadingRow {
        ReadingRow {
            side: self.side.as_str().into(),
            window: self.window.as_str().into(),
            used_pct: self.used_pct,
            resets_at: self.resets_at,
            observed_ms: self.observed_ms,
            source: self.source.clone(),
        }
    }

    pub fn from_row(row: &ReadingRow) -> Option<Reading> {
        Some(Reading {
            side: Side::parse(&row.side)?,
            window: Window::parse(&row.window)?,
            used_pct: row.used_pct,
            resets_at: row.resets_at,
            observed_ms: row.observed_ms,
            source: row.source.clone(),
        })
    }

    /// Older than `stale_ms` at `now_ms`.
    pub fn is_stale(&self, now_ms: i64, stale_ms: i64) -> bool {
        now_ms.saturating_sub(self.observed_ms) > stale_ms
    }

    /// The window's reset time has passed: its figure no longer applies.
    pub fn reset_passed(&self, now_ms: i64) -> bool {
        self.resets_at
            .is_some_and(|r| r.saturating_mul(1000) <= now_ms)
    }
}

/// Earliest reset time accepted: 2000-01-01T00:00:00Z, Unix seconds.
pub const MIN_RESETS_AT: i64 = 946_684_800;
/// How far ahead of now a reset time may be: a year (windows reset within
/// a week; anything later is a bad figure, e.g. `i64::MAX`).
pub const MAX_RESETS_AHEAD_SECS: i64 = 366 * 86_400;
/// Highest usage accepted; above 100 % it reads as 100 % (past the limit).
pub const MAX_USED_PCT: f64 = 200.0;

/// A figure outside its domain; the window's update is not recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{field}` = {value} is out of range: {expected}; this window's reading is not recorded")]
pub struct OutOfRange {
    /// The field as the agent named it (`rate_limits.five_hour.resets_at`).
    pub field: String,
    pub value: String,
    pub expected: String,
}

/// A sparse update of one window: `None` keeps the last known value.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Patch {
    pub used_pct: Option<f64>,
    pub resets_at: Option<i64>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        self.used_pct.is_none() && self.resets_at.is_none()
    }

    /// This patch if its figures are in their domain at `now_ms`; the error
    /// names the offending field as `{prefix}.{used_key|reset_key}`.
    pub fn check(
        self,
        now_ms: i64,
        prefix: &str,
        (used_key, reset_key): (&str, &str),
    ) -> Result<Patch, OutOfRange> {
        if let Some(u) = self.used_pct
            && !(u.is_finite() && (0.0..=MAX_USED_PCT).contains(&u))
        {
            return Err(OutOfRange {
                field: format!("{prefix}.{used_key}"),
                value: u.to_string(),
                expected: format!("a percentage from 0 to 100 (at most {MAX_USED_PCT})"),
            });
        }
        if let Some(r) = self.resets_at {
            let latest = (now_ms / 1000).saturating_add(MAX_RESETS_AHEAD_SECS);
            if !(MIN_RESETS_AT..=latest).contains(&r) {
                return Err(OutOfRange {
                    field: format!("{prefix}.{reset_key}"),
                    value: r.to_string(),
                    expected: format!(
                        "Unix seconds between 2000-01-01 ({MIN_RESETS_AT}) and a year from now ({latest})"
                    ),
                });
            }
        }
        Ok(self)
    }
}

/// Window patches that passed [`Patch::check`], and the rejections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub patches: Vec<(Window, Patch)>,
    pub rejected: Vec<OutOfRange>,
}

/// Merge `patch` into the last reading of its window. `None` when the patch
/// carries nothing, or no usage figure is known yet.
pub fn merge(
    prev: Option<&Reading>,
    side: Side,
    window: Window,
    patch: Patch,
    now_ms: i64,
    source: &str,
) -> Option<Reading> {
    if patch.is_empty() {
        return None;
    }
    let used_pct = patch
        .used_pct
        .filter(|u| u.is_finite())
        .or(prev.map(|p| p.used_pct))?
        .clamp(0.0, 100.0);
    Some(Reading {
        side,
        window,
        used_pct,
        resets_at: patch.resets_at.or(prev.and_then(|p| p.resets_at)),
        observed_ms: now_ms,
        source: source.to_string(),
    })
}

/// One slot (`primary`/`secondary`) of Codex's `rateLimits`, merged over
/// sparse updates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub used_percent: Option<f64>,
    pub window_duration_mins: Option<i64>,
    pub resets_at: Option<i64>,
}

/// Codex's two slots as last known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CodexSlots {
    pub primary: Slot,
    pub secondary: Slot,
}

impl CodexSlots {
    /// Merge a `rateLimits` object (from `account/rateLimits/read` or
    /// `/updated`) received at `now_ms`; returns the window patches it
    /// carried, identified by each slot's (merged) window length. A slot
    /// with a figure out of range is rejected whole and left as it was.
    pub fn merge(&mut self, rate_limits: &Value, now_ms: i64) -> Parsed {
        let mut out = Parsed::default();
        for (key, slot) in [
            ("primary", &mut self.primary),
            ("secondary", &mut self.secondary),
        ] {
            let Some(obj) = rate_limits.get(key).filter(|v| v.is_object()) else {
                continue;
            };
            let patch = Patch {
                used_pct: obj.get("usedPercent").and_then(Value::as_f64),
                resets_at: obj.get("resetsAt").and_then(Value::as_i64),
            };
            let prefix = format!("rateLimits.{key}");
            let patch = match patch.check(now_ms, &prefix, ("usedPercent", "resetsAt")) {
                Ok(p) => p,
                Err(e) => {
                    out.rejected.push(e);
                    continue;
                }
            };
            if let Some(mins) = obj.get("windowDurationMins").and_then(Value::as_i64) {
                slot.window_duration_mins = Some(mins);
            }
            slot.used_percent = patch.used_pct.or(slot.used_percent);
            slot.resets_at = patch.resets_at.or(slot.resets_at);
            let window = slot.window_duration_mins.and_then(Window::from_minutes);
            if let Some(window) = window
                && !patch.is_empty()
            {
                out.patches.push((window, patch));
            }
        }
        out
    }
}

/// The windows of Claude's statusline JSON (`rate_limits.five_hour` /
/// `seven_day`) received at `now_ms`; absent windows and fields are left
/// out, a window with a figure out of range is rejected.
pub fn claude_patches(rate_limits: &Value, now_ms: i64) -> Parsed {
    let mut out = Parsed::default();
    for (key, window) in [
        ("five_hour", Window::FiveHour),
        ("seven_day", Window::Weekly),
    ] {
        let Some(obj) = rate_limits.get(key) else {
            continue;
        };
        let patch = Patch {
            used_pct: obj.get("used_percentage").and_then(Value::as_f64),
            resets_at: obj.get("resets_at").and_then(Value::as_i64),
        };
        let prefix = format!("rate_limits.{key}");
        match patch.check(now_ms, &prefix, ("used_percentage", "resets_at")) {
            Ok(p) if !p.is_empty() => out.patches.push((window, p)),
            Ok(_) => {}
            Err(e) => out.rejected.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests;
