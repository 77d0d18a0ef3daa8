//! The report's schema is pinned by a snapshot; burn rate and projection
//! by tables.

use super::*;

const NOW: i64 = 1_760_000_000_000;

fn r(side: Side, window: Window, used: f64, age_s: i64, resets_at: Option<i64>) -> Reading {
    Reading {
        side,
        window,
        used_pct: used,
        resets_at,
        observed_ms: NOW - age_s * 1000,
        source: "t".into(),
    }
}

fn th() -> Thresholds {
    Thresholds {
        enabled: true,
        pause_at: 95.0,
        resume_below: 50.0,
        stale_ms: 600_000,
    }
}

#[test]
fn burn_rate_uses_the_current_window_instance() {
    let reset = Some(NOW / 1000 + 3600);
    // 10 % in 30 minutes: 20 %/h.
    let h = vec![
        r(Side::Codex, Window::FiveHour, 50.0, 0, reset),
        r(Side::Codex, Window::FiveHour, 45.0, 900, reset),
        r(Side::Codex, Window::FiveHour, 40.0, 1800, reset),
        // The previous window instance is ignored.
        r(Side::Codex, Window::FiveHour, 99.0, 2000, Some(1)),
    ];
    assert_eq!(burn_rate(&h), Some(20.0));
    // Too close together to say.
    assert_eq!(burn_rate(&h[..1]), None);
    let close = vec![
        r(Side::Codex, Window::FiveHour, 50.0, 0, reset),
        r(Side::Codex, Window::FiveHour, 49.0, 30, reset),
    ];
    assert_eq!(burn_rate(&close), None);
    // Usage that went down (a partial reset) burns nothing.
    let down = vec![
        r(Side::Codex, Window::FiveHour, 10.0, 0, reset),
        r(Side::Codex, Window::FiveHour, 20.0, 600, reset),
    ];
    assert_eq!(burn_rate(&down), Some(0.0));
}

pub(crate) fn sample_report() -> Report {
    let reset = NOW / 1000 + 3600;
    let history = vec![
        (
            Side::Claude,
            Window::FiveHour,
            vec![
                r(Side::Claude, Window::FiveHour, 42.0, 60, Some(reset)),
                r(Side::Claude, Window::FiveHour, 32.0, 3660, Some(reset)),
            ],
        ),
        (
            Side::Claude,
            Window::Weekly,
            vec![r(
                Side::Claude,
                Window::Weekly,
                30.0,
                900,
                Some(reset + 86_400 * 3),
            )],
        ),
        (
            Side::Codex,
            Window::FiveHour,
            vec![r(
                Side::Codex,
                Window::FiveHour,
                96.0,
                10,
                Some(reset - 1800),
            )],
        ),
    ];
    let state = State {
        claude: None,
        codex: Some(Pause {
            id: "codex-1".into(),
            since_ms: NOW - 5_000,
            cause: Cause::Quota {
                window: Window::FiveHour,
                used_pct: 96.0,
                resets_at: Some(reset - 1800),
            },
            checkpoint_requested: true,
        }),
    };
    build(&Inputs {
        pair_id: "proj-0123abcd",
        now_ms: NOW,
        th: th(),
        state: &state,
        history: &history,
        unavailable: &[(Side::Codex, "unavailable (API-key auth)".into())],
        others: &[],
    })
}

#[test]
fn report_schema_snapshot() {
    let report = sample_report();
    insta::assert_json_snapshot!("budget_report_v1", report);
    // It round-trips (the CLI reads what the daemon writes).
    let text = serde_json::to_string(&report).expect("ser");
    let back: Report = serde_json::from_str(&text).expect("de");
    assert_eq!(back, report);
}

#[test]
fn report_text_snapshot() {
    let report = sample_report();
    insta::assert_snapshot!(
        "budget_report_text",
        super::super::text::render(&report, "abg budget — main", NOW)
    );
}

#[test]
fn sides_without_data_say_why() {
    let report = build(&Inputs {
        pair_id: "p",
        now_ms: NOW,
        th: th(),
        state: &State::default(),
        history: &[],
        unavailable: &[(Side::Codex, "unavailable (API-key auth)".into())],
        others: &[("third".into(), "Third".into())],
    });
    assert_eq!(report.codex.status, "unavailable");
    assert_eq!(
        report.codex.note.as_deref(),
        Some("unavailable (API-key auth)")
    );
    assert_eq!(report.claude.status, "no_data");
    assert!(report.claude.five_hour.is_none());
    // An agent with no windows to read is listed as such, in text too.
    assert_eq!(report.without_windows.len(), 1);
    assert_eq!(report.without_windows[0].peer, "third");
    let text = super::super::text::render(&report, "t", NOW);
    assert!(
        text.contains("Third: no quota windows — Third exposes no quota windows"),
        "{text}"
    );
    // Stale readings are shown as such.
    let history = vec![(
        Side::Claude,
        Window::FiveHour,
        vec![r(Side::Claude, Window::FiveHour, 80.0, 3600, None)],
    )];
    let report = build(&Inputs {
        pair_id: "p",
        now_ms: NOW,
        th: th(),
        state: &State::default(),
        history: &history,
        unavailable: &[],
        others: &[],
    });
    let w = report.claude.five_hour.expect("window");
    assert!(w.stale);
    assert_eq!(w.age_secs, 3600);
}

/// A reset time stored before readings were range-checked (or any huge
/// figure) never wraps: the report and its text say the far future, not
/// 1969, and nothing overflows.
#[test]
fn far_future_reset_times_never_print_as_1969() {
    for far in [i64::MAX, i64::MAX / 1000 + 1, 1_000_000_000_000_000] {
        let history = vec![(
            Side::Codex,
            Window::FiveHour,
            vec![
                r(Side::Codex, Window::FiveHour, 96.0, 0, Some(far)),
                r(Side::Codex, Window::FiveHour, 50.0, 3600, Some(far)),
            ],
        )];
        let state = State {
            claude: None,
            codex: Some(Pause {
                id: "codex-1".into(),
                since_ms: NOW - 5_000,
                cause: Cause::Quota {
                    window: Window::FiveHour,
                    used_pct: 96.0,
                    resets_at: Some(far),
                },
                checkpoint_requested: false,
            }),
        };
        let report = build(&Inputs {
            pair_id: "p",
            now_ms: NOW,
            th: th(),
            state: &state,
            history: &history,
            unavailable: &[],
            others: &[],
        });
        let reason = &report.codex.paused.as_ref().expect("paused").reason;
        assert!(
            !reason.contains("1969-") && !reason.contains("1970-"),
            "{reason}"
        );
        let text = super::super::text::render(&report, "abg budget", NOW);
        assert!(!text.contains("1969-") && !text.contains("1970-"), "{text}");
        assert!(text.contains("resets ") && text.contains("(in "), "{text}");
        assert!(text.contains("(resume in "), "{text}");
    }
}
