//! Quota readings: what an agent said about one of its windows, and when.
//!
//! Windows are identified by their length (`windowDurationMins` ≈ 300 is the
//! 5-hour window, ≈ 10080 the weekly one), never by their position in a
//! payload. Updates are sparse: a field that is null or absent keeps its
//! last known value, and an update carrying no figure at all records
//! nothing (Codex sends all-null updates under API-key auth; that is not
//! 0 %). Parsing here is pure; storing is in `relay`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::ReadingRow;
use crate::store::types::Agent;

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

    pub fn agent(self) -> Agent {
        match self {
            Side::Claude => Agent::Claude,
            Side::Codex => Agent::Codex,
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

    pub fn of_agent(agent: Agent) -> Option<Side> {
        match agent {
            Agent::Claude => Some(Side::Claude),
            Agent::Codex => Some(Side::Codex),
            Agent::Human | Agent::Abg => None,
        }
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
    /// `/updated`); returns the window patches it carried, identified by
    /// each slot's (merged) window length.
    pub fn merge(&mut self, rate_limits: &Value) -> Vec<(Window, Patch)> {
        let mut out = Vec::new();
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
            if let Some(mins) = obj.get("windowDurationMins").and_then(Value::as_i64) {
                slot.window_duration_mins = Some(mins);
            }
            slot.used_percent = patch.used_pct.or(slot.used_percent);
            slot.resets_at = patch.resets_at.or(slot.resets_at);
            let window = slot.window_duration_mins.and_then(Window::from_minutes);
            if let Some(window) = window
                && !patch.is_empty()
            {
                out.push((window, patch));
            }
        }
        out
    }
}

/// The windows of Claude's statusline JSON (`rate_limits.five_hour` /
/// `seven_day`); absent windows and fields are left out.
pub fn claude_patches(rate_limits: &Value) -> Vec<(Window, Patch)> {
    [
        ("five_hour", Window::FiveHour),
        ("seven_day", Window::Weekly),
    ]
    .into_iter()
    .filter_map(|(key, window)| {
        let obj = rate_limits.get(key)?;
        let patch = Patch {
            used_pct: obj.get("used_percentage").and_then(Value::as_f64),
            resets_at: obj.get("resets_at").and_then(Value::as_i64),
        };
        (!patch.is_empty()).then_some((window, patch))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reading(used: f64, resets: Option<i64>) -> Reading {
        Reading {
            side: Side::Codex,
            window: Window::FiveHour,
            used_pct: used,
            resets_at: resets,
            observed_ms: 1,
            source: "t".into(),
        }
    }

    #[test]
    fn windows_are_identified_by_length() {
        assert_eq!(Window::from_minutes(300), Some(Window::FiveHour));
        assert_eq!(Window::from_minutes(10_080), Some(Window::Weekly));
        assert_eq!(Window::from_minutes(60), None);
        assert_eq!(Window::from_minutes(1_440), None);
    }

    #[test]
    fn sparse_merge_keeps_last_values() {
        let prev = reading(40.0, Some(500));
        type Case = (Option<Reading>, Patch, Option<(f64, Option<i64>)>);
        let cases: Vec<Case> = vec![
            // Nothing new: nothing recorded.
            (Some(prev.clone()), Patch::default(), None),
            // Only the usage: the reset time is kept.
            (
                Some(prev.clone()),
                Patch {
                    used_pct: Some(55.0),
                    resets_at: None,
                },
                Some((55.0, Some(500))),
            ),
            // Only the reset: the usage is kept.
            (
                Some(prev.clone()),
                Patch {
                    used_pct: None,
                    resets_at: Some(900),
                },
                Some((40.0, Some(900))),
            ),
            // No previous usage and none given: unknown, not 0 %.
            (
                None,
                Patch {
                    used_pct: None,
                    resets_at: Some(900),
                },
                None,
            ),
            (
                None,
                Patch {
                    used_pct: Some(120.0),
                    resets_at: None,
                },
                Some((100.0, None)),
            ),
        ];
        for (prev, patch, want) in cases {
            let got = merge(prev.as_ref(), Side::Codex, Window::FiveHour, patch, 7, "t")
                .map(|r| (r.used_pct, r.resets_at));
            assert_eq!(got, want, "{prev:?} {patch:?}");
        }
    }

    #[test]
    fn codex_slots_merge_sparse_updates_by_window_length() {
        let mut slots = CodexSlots::default();
        // Weekly first: position does not matter.
        let got = slots.merge(&json!({
            "primary": {"usedPercent": 40, "windowDurationMins": 10080, "resetsAt": 2000},
            "secondary": {"usedPercent": 25, "windowDurationMins": 300, "resetsAt": 1000},
        }));
        assert_eq!(
            got,
            vec![
                (
                    Window::Weekly,
                    Patch {
                        used_pct: Some(40.0),
                        resets_at: Some(2000)
                    }
                ),
                (
                    Window::FiveHour,
                    Patch {
                        used_pct: Some(25.0),
                        resets_at: Some(1000)
                    }
                ),
            ]
        );
        // A sparse update: the slot keeps its length.
        let got = slots.merge(&json!({"primary": null, "secondary": {"usedPercent": 43, "windowDurationMins": null, "resetsAt": null}}));
        assert_eq!(
            got,
            vec![(
                Window::FiveHour,
                Patch {
                    used_pct: Some(43.0),
                    resets_at: None
                }
            )]
        );
        assert_eq!(slots.secondary.resets_at, Some(1000));
        // All null (API-key auth): nothing.
        let got = slots
            .merge(&json!({"limitId": null, "primary": null, "secondary": null, "credits": null}));
        assert!(got.is_empty());
        // A slot whose length was never said cannot be placed.
        let mut fresh = CodexSlots::default();
        assert!(
            fresh
                .merge(&json!({"primary": {"usedPercent": 10}}))
                .is_empty()
        );
    }

    #[test]
    fn claude_statusline_windows() {
        let got = claude_patches(&json!({
            "five_hour": {"used_percentage": 23.5, "resets_at": 1738425600},
            "seven_day": {"used_percentage": 41.2}
        }));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, Window::FiveHour);
        assert_eq!(
            got[1].1,
            Patch {
                used_pct: Some(41.2),
                resets_at: None
            }
        );
        assert!(claude_patches(&json!({})).is_empty());
        assert!(claude_patches(&Value::Null).is_empty());
    }
}
