//! Tables for the relay's decisions: thresholds, stale data, both sides
//! low, a reset passing while a turn runs, and a restart between pause and
//! resume (the state is all the relay needs).

use super::*;

const NOW: i64 = 1_000_000_000; // ms
const RESET: i64 = 1_003_600; // s: an hour after NOW

fn th() -> Thresholds {
    Thresholds {
        enabled: true,
        pause_at: 95.0,
        resume_below: 50.0,
        stale_ms: 600_000,
    }
}

fn r(side: Side, window: Window, used: f64, age_ms: i64, resets_at: i64) -> Reading {
    Reading {
        side,
        window,
        used_pct: used,
        resets_at: Some(resets_at),
        observed_ms: NOW - age_ms,
        source: "t".into(),
    }
}

fn quota_pause(side: Side, window: Window, resets_at: i64, since_ms: i64, cp: bool) -> Pause {
    Pause {
        id: format!("{}-x", side.as_str()),
        since_ms,
        cause: Cause::Quota {
            window,
            used_pct: 96.0,
            resets_at: Some(resets_at),
        },
        checkpoint_requested: cp,
    }
}

fn run(latest: &[Reading], state: &State, turn: bool, now: i64) -> Vec<Decision> {
    decide(&Input {
        now_ms: now,
        latest,
        state,
        codex_turn_running: turn,
        th: th(),
    })
}

use Side::{Claude, Codex};
use Window::{FiveHour, Weekly};

#[test]
fn thresholds_pause_only_on_fresh_unreset_windows() {
    let none = State::default();
    let cases: Vec<(&str, Vec<Reading>, Vec<Decision>)> = vec![
        (
            "below the line",
            vec![r(Codex, FiveHour, 94.9, 0, RESET)],
            vec![],
        ),
        (
            "at the line",
            vec![r(Codex, FiveHour, 95.0, 0, RESET)],
            vec![Decision::Pause {
                side: Codex,
                window: FiveHour,
                used_pct: 95.0,
                resets_at: Some(RESET),
                other_paused: false,
            }],
        ),
        (
            "weekly window counts too",
            vec![
                r(Claude, FiveHour, 10.0, 0, RESET),
                r(Claude, Weekly, 99.0, 0, RESET + 86_400),
            ],
            vec![Decision::Pause {
                side: Claude,
                window: Weekly,
                used_pct: 99.0,
                resets_at: Some(RESET + 86_400),
                other_paused: false,
            }],
        ),
        (
            "two windows over: wait for the later reset",
            vec![
                r(Codex, FiveHour, 97.0, 0, RESET),
                r(Codex, Weekly, 96.0, 0, RESET + 9),
            ],
            vec![Decision::Pause {
                side: Codex,
                window: Weekly,
                used_pct: 96.0,
                resets_at: Some(RESET + 9),
                other_paused: false,
            }],
        ),
        (
            "stale data never pauses",
            vec![r(Codex, FiveHour, 100.0, 600_001, RESET)],
            vec![],
        ),
        (
            "window already reset",
            vec![r(Codex, FiveHour, 100.0, 0, NOW / 1000)],
            vec![],
        ),
    ];
    for (name, latest, want) in cases {
        assert_eq!(run(&latest, &none, false, NOW), want, "{name}");
    }
}

#[test]
fn disabled_relay_decides_nothing_automatically() {
    let latest = vec![r(Codex, FiveHour, 100.0, 0, RESET)];
    let d = decide(&Input {
        now_ms: NOW,
        latest: &latest,
        state: &State::default(),
        codex_turn_running: false,
        th: Thresholds {
            enabled: false,
            ..th()
        },
    });
    assert!(d.is_empty());
}

#[test]
fn checkpoint_is_asked_once_at_a_turn_boundary() {
    let latest = vec![r(Codex, FiveHour, 96.0, 0, RESET)];
    let mut state = State {
        codex: Some(quota_pause(Codex, FiveHour, RESET, NOW - 10, false)),
        ..State::default()
    };
    // Codex is still in a turn: wait for its end.
    assert!(run(&latest, &state, true, NOW).is_empty());
    let d = run(&latest, &state, false, NOW);
    assert_eq!(
        d,
        vec![Decision::RequestCheckpoint {
            side: Codex,
            other_paused: false
        }]
    );
    apply(&mut state, &d[0], NOW);
    assert!(
        run(&latest, &state, false, NOW).is_empty(),
        "asked only once"
    );
    // Claude is asked at once, turn or not.
    let claude = State {
        claude: Some(quota_pause(Claude, FiveHour, RESET, NOW - 10, false)),
        ..State::default()
    };
    let latest = vec![r(Claude, FiveHour, 96.0, 0, RESET)];
    assert_eq!(
        run(&latest, &claude, true, NOW),
        vec![Decision::RequestCheckpoint {
            side: Claude,
            other_paused: false
        }]
    );
}

#[test]
fn resume_on_reset_or_below_threshold() {
    let paused = State {
        codex: Some(quota_pause(Codex, FiveHour, RESET, NOW - 60_000, true)),
        ..State::default()
    };
    let after_reset = RESET * 1000;
    let cases: Vec<(&str, Vec<Reading>, i64, Vec<Decision>)> = vec![
        (
            "still over, before reset",
            vec![r(Codex, FiveHour, 97.0, 0, RESET)],
            NOW,
            vec![],
        ),
        (
            "reset passed (stale data is fine: the time is a fact)",
            vec![r(Codex, FiveHour, 97.0, 900_000, RESET)],
            after_reset,
            vec![Decision::Resume {
                side: Codex,
                reason: ResumeReason::WindowReset {
                    window: FiveHour,
                    resets_at: RESET,
                },
                prompt: true,
            }],
        ),
        (
            "fresh reading after the pause below resume_below",
            vec![r(Codex, FiveHour, 10.0, 0, RESET)],
            NOW,
            vec![Decision::Resume {
                side: Codex,
                reason: ResumeReason::BelowThreshold {
                    window: FiveHour,
                    used_pct: 10.0,
                },
                prompt: true,
            }],
        ),
        (
            "between the lines: stay paused",
            vec![r(Codex, FiveHour, 70.0, 0, RESET)],
            NOW,
            vec![],
        ),
        (
            "low reading from before the pause does not count",
            vec![r(Codex, FiveHour, 10.0, 120_000, RESET)],
            NOW,
            vec![],
        ),
        (
            "stale low reading does not count",
            vec![r(Codex, FiveHour, 10.0, 700_000, RESET)],
            NOW + 100_000,
            vec![],
        ),
        (
            "5-hour reset but weekly still at the limit",
            vec![
                r(Codex, FiveHour, 97.0, 0, RESET),
                r(Codex, Weekly, 99.0, -3_600_000, RESET + 86_400),
            ],
            after_reset,
            vec![],
        ),
        (
            "a stale weekly figure does not keep it paused",
            vec![r(Codex, Weekly, 99.0, 0, RESET + 86_400)],
            after_reset,
            vec![Decision::Resume {
                side: Codex,
                reason: ResumeReason::WindowReset {
                    window: FiveHour,
                    resets_at: RESET,
                },
                prompt: true,
            }],
        ),
    ];
    for (name, latest, now, want) in cases {
        assert_eq!(run(&latest, &paused, false, now), want, "{name}");
    }
}

#[test]
fn manual_pauses_end_only_by_hand() {
    let state = State {
        claude: Some(Pause {
            id: "claude-1".into(),
            since_ms: NOW - 1,
            cause: Cause::Manual,
            checkpoint_requested: false,
        }),
        ..State::default()
    };
    let latest = vec![r(Claude, FiveHour, 1.0, 0, RESET)];
    assert!(run(&latest, &state, false, RESET * 1000 + 1).is_empty());
}

#[test]
fn both_sides_low() {
    let latest = vec![
        r(Codex, FiveHour, 96.0, 0, RESET),
        r(Claude, FiveHour, 97.0, 0, RESET + 60),
    ];
    let mut state = State::default();
    let d = run(&latest, &state, false, NOW);
    assert_eq!(
        d,
        vec![
            Decision::Pause {
                side: Codex,
                window: FiveHour,
                used_pct: 96.0,
                resets_at: Some(RESET),
                other_paused: false,
            },
            Decision::Pause {
                side: Claude,
                window: FiveHour,
                used_pct: 97.0,
                resets_at: Some(RESET + 60),
                other_paused: true,
            },
        ]
    );
    for x in &d {
        apply(&mut state, x, NOW);
    }
    // Both checkpoints know nobody carries on.
    assert_eq!(
        run(&latest, &state, false, NOW + 1),
        vec![
            Decision::RequestCheckpoint {
                side: Codex,
                other_paused: true
            },
            Decision::RequestCheckpoint {
                side: Claude,
                other_paused: true
            },
        ]
    );
    for x in run(&latest, &state, false, NOW + 1) {
        apply(&mut state, &x, NOW + 1);
    }
    // Codex's window resets first: only Codex resumes.
    let d = run(&latest, &state, false, RESET * 1000);
    assert_eq!(
        d,
        vec![Decision::Resume {
            side: Codex,
            reason: ResumeReason::WindowReset {
                window: FiveHour,
                resets_at: RESET
            },
            prompt: true,
        }]
    );
}

#[test]
fn reset_passing_while_the_last_turn_runs_lifts_the_pause_without_a_prompt() {
    let state = State {
        codex: Some(quota_pause(Codex, FiveHour, RESET, NOW, false)),
        ..State::default()
    };
    let latest = vec![r(Codex, FiveHour, 97.0, 0, RESET)];
    // The turn runs past the reset: no checkpoint was asked, so no resume prompt.
    assert_eq!(
        run(&latest, &state, true, RESET * 1000 + 5),
        vec![Decision::Resume {
            side: Codex,
            reason: ResumeReason::WindowReset {
                window: FiveHour,
                resets_at: RESET
            },
            prompt: false,
        }]
    );
}

#[test]
fn restart_between_pause_and_resume_decides_from_the_persisted_state() {
    let latest = vec![r(Codex, FiveHour, 96.0, 0, RESET)];
    let mut state = State::default();
    for d in run(&latest, &state, false, NOW) {
        apply(&mut state, &d, NOW);
    }
    for d in run(&latest, &state, false, NOW + 1) {
        apply(&mut state, &d, NOW + 1);
    }
    // The daemon restarts: the state went through JSON (the store setting).
    let text = serde_json::to_string(&state).expect("ser");
    let restored: State = serde_json::from_str(&text).expect("de");
    assert_eq!(restored, state);
    // No readings yet after the restart: still paused, nothing asked twice.
    assert!(run(&[], &restored, false, NOW + 2).is_empty());
    // After the reset: exactly one resume with its prompt.
    let d = run(&[], &restored, false, RESET * 1000);
    assert_eq!(d.len(), 1);
    assert!(matches!(
        d[0],
        Decision::Resume {
            side: Codex,
            prompt: true,
            ..
        }
    ));
    let mut after = restored.clone();
    apply(&mut after, &d[0], RESET * 1000);
    assert_eq!(after, State::default());
    assert!(
        run(&latest, &after, false, RESET * 1000 + 1).is_empty(),
        "old reading is past its reset"
    );
}
