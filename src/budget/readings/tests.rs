use super::*;
use serde_json::json;

/// 2026-12-01T00:00:00Z in ms, the tests' "now".
const NOW_MS: i64 = 1_796_083_200_000;
/// Reset times after [`NOW_MS`].
const R1: i64 = 1_796_090_000;
const R2: i64 = 1_796_500_000;

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
    let got = slots.merge(
        &json!({
            "primary": {"usedPercent": 40, "windowDurationMins": 10080, "resetsAt": R2},
            "secondary": {"usedPercent": 25, "windowDurationMins": 300, "resetsAt": R1},
        }),
        NOW_MS,
    );
    assert!(got.rejected.is_empty());
    assert_eq!(
        got.patches,
        vec![
            (
                Window::Weekly,
                Patch {
                    used_pct: Some(40.0),
                    resets_at: Some(R2)
                }
            ),
            (
                Window::FiveHour,
                Patch {
                    used_pct: Some(25.0),
                    resets_at: Some(R1)
                }
            ),
        ]
    );
    // A sparse update: the slot keeps its length.
    let got = slots.merge(&json!({"primary": null, "secondary": {"usedPercent": 43, "windowDurationMins": null, "resetsAt": null}}), NOW_MS);
    assert_eq!(
        got.patches,
        vec![(
            Window::FiveHour,
            Patch {
                used_pct: Some(43.0),
                resets_at: None
            }
        )]
    );
    assert_eq!(slots.secondary.resets_at, Some(R1));
    // All null (API-key auth): nothing.
    let got = slots.merge(
        &json!({"limitId": null, "primary": null, "secondary": null, "credits": null}),
        NOW_MS,
    );
    assert_eq!(got, Parsed::default());
    // A slot whose length was never said cannot be placed.
    let mut fresh = CodexSlots::default();
    assert!(
        fresh
            .merge(&json!({"primary": {"usedPercent": 10}}), NOW_MS)
            .patches
            .is_empty()
    );
}

#[test]
fn claude_statusline_windows() {
    let got = claude_patches(
        &json!({
            "five_hour": {"used_percentage": 23.5, "resets_at": 1738425600},
            "seven_day": {"used_percentage": 41.2}
        }),
        NOW_MS,
    );
    assert!(got.rejected.is_empty());
    let got = got.patches;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, Window::FiveHour);
    assert_eq!(
        got[1].1,
        Patch {
            used_pct: Some(41.2),
            resets_at: None
        }
    );
    assert_eq!(claude_patches(&json!({}), NOW_MS), Parsed::default());
    assert_eq!(claude_patches(&Value::Null, NOW_MS), Parsed::default());
}

#[test]
fn out_of_range_readings_are_rejected_naming_field_and_value() {
    let max = json!({"five_hour": {"used_percentage": 50, "resets_at": i64::MAX},
                     "seven_day": {"used_percentage": 41.2, "resets_at": R2}});
    let got = claude_patches(&max, NOW_MS);
    // The bad window is rejected whole; the good one is kept.
    assert_eq!(
        got.patches,
        vec![(
            Window::Weekly,
            Patch {
                used_pct: Some(41.2),
                resets_at: Some(R2)
            }
        )]
    );
    assert_eq!(got.rejected.len(), 1);
    let msg = got.rejected[0].to_string();
    assert!(
        msg.contains("`rate_limits.five_hour.resets_at` = 9223372036854775807 is out of range"),
        "{msg}"
    );
    let bad: [(Value, &str); 5] = [
        (
            json!({"used_percentage": 5, "resets_at": 0}),
            "resets_at` = 0",
        ),
        (
            json!({"used_percentage": 5, "resets_at": -1}),
            "resets_at` = -1",
        ),
        (
            // Just over a year ahead.
            json!({"used_percentage": 5, "resets_at": NOW_MS / 1000 + MAX_RESETS_AHEAD_SECS + 1}),
            "resets_at` = 1827705601",
        ),
        (json!({"used_percentage": -3}), "used_percentage` = -3"),
        (
            json!({"used_percentage": 1e9}),
            "used_percentage` = 1000000000",
        ),
    ];
    for (window, want) in bad {
        let got = claude_patches(&json!({ "five_hour": window }), NOW_MS);
        assert!(got.patches.is_empty(), "{window}");
        let msg = got.rejected.first().map(ToString::to_string);
        assert!(msg.as_deref().is_some_and(|m| m.contains(want)), "{msg:?}");
    }
    // Edges that are fine: 2000-01-01, a year ahead, 0 %, an overshoot.
    let ok = json!({"five_hour": {"used_percentage": 0, "resets_at": MIN_RESETS_AT},
                    "seven_day": {"used_percentage": 103, "resets_at": NOW_MS / 1000 + MAX_RESETS_AHEAD_SECS}});
    assert_eq!(claude_patches(&ok, NOW_MS).patches.len(), 2);

    // Codex: the slot is left as it was, its length included.
    let mut slots = CodexSlots::default();
    let got = slots.merge(
        &json!({"primary": {"usedPercent": 40, "windowDurationMins": 300, "resetsAt": i64::MAX}}),
        NOW_MS,
    );
    assert!(got.patches.is_empty());
    assert!(
        got.rejected[0]
            .to_string()
            .contains("`rateLimits.primary.resetsAt` = 9223372036854775807"),
        "{:?}",
        got.rejected
    );
    assert_eq!(slots, CodexSlots::default());
}

/// Found by `fuzz/control_http`: a long decimal figure parsed, written
/// back and parsed again must be the same number (serde_json's default
/// float parser could be one ulp off; abg stores and re-reads readings,
/// slots and reports as JSON).
#[test]
fn readings_requests_round_trip_through_json_exactly() {
    let body = r#"{"side":"claude","rate_limits":{"five_?hour":{"used_percentagg":23.5,"resets_arvsed_percentagt":1796090000},"seveseven_dayn_day":{"used_pe00000000000000000000000000000000000000000000tage":41.2,"resets_at":2293372036854776666666666666666666666666666665807}}}"#;
    let req: crate::control::protocol::budget::ReadingsRequest =
        serde_json::from_str(body).expect("parse");
    let again = serde_json::to_string(&req).expect("serialise");
    let back: crate::control::protocol::budget::ReadingsRequest =
        serde_json::from_str(&again).expect("re-parse");
    assert_eq!(back, req, "{again}");
}
