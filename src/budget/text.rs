//! The budget report as text, for `abg budget`, `abg budget --watch` and
//! Claude's `get_budget` tool (which reads the report from the daemon:
//! [`report_text`]). Countdowns are computed against the `now`
//! given, so a refreshed view counts down without a new report.

use super::readings::Side;
use super::report::{PauseReport, Report, SideReport, WindowReport};

/// "1d 02h", "1h 02m", "3m 04s", "12s".
pub fn countdown(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// Unix seconds as milliseconds, saturating (a reset time of `i64::MAX`
/// reads as the far future, never wraps to 1969).
fn secs_to_ms(secs: i64) -> i64 {
    secs.saturating_mul(1000)
}

fn at(secs: i64, now_ms: i64) -> String {
    let when = crate::clock::utc(secs_to_ms(secs));
    let delta = secs_to_ms(secs).saturating_sub(now_ms);
    if delta >= 0 {
        format!("{when} (in {})", countdown(delta))
    } else {
        format!("{when} ({} ago)", countdown(delta.saturating_neg()))
    }
}

fn window_line(label: &str, w: &WindowReport, now_ms: i64) -> String {
    let mut parts = vec![format!("{label:<7} {:>5.1}%", w.used_pct)];
    match w.resets_at {
        Some(r) if w.reset_passed => {
            parts.push(format!("reset at {} — figure predates it", at(r, now_ms)))
        }
        Some(r) => parts.push(format!("resets {}", at(r, now_ms))),
        None => parts.push("reset time unknown".into()),
    }
    match w.burn_pct_per_hour {
        Some(b) => parts.push(format!("burn {b:.1}%/h")),
        None => parts.push("burn n/a".into()),
    }
    match (w.projected_limit_at, w.limit_before_reset) {
        (Some(p), Some(false)) => parts.push(format!(
            "limit not before reset (~{})",
            countdown(secs_to_ms(p).saturating_sub(now_ms))
        )),
        (Some(p), _) => parts.push(format!(
            "limit in ~{}",
            countdown(secs_to_ms(p).saturating_sub(now_ms))
        )),
        (None, _) => {}
    }
    let age = countdown((now_ms - w.observed_at_ms).max(0));
    if w.stale {
        parts.push(format!("STALE ({age} old, not acted on)"));
    } else {
        parts.push(format!("{age} ago"));
    }
    parts.join(" · ")
}

fn pause_line(p: &PauseReport, now_ms: i64) -> String {
    let mut s = format!("PAUSED: {}", p.reason);
    if let Some(r) = p.resets_at {
        let left = secs_to_ms(r).saturating_sub(now_ms);
        if left > 0 {
            s.push_str(&format!(" (resume in {})", countdown(left)));
        } else {
            s.push_str(" (resuming)");
        }
    }
    if p.checkpoint_requested {
        s.push_str("; checkpoint requested (.abg/checkpoint.md)");
    }
    s
}

fn side_lines(side: Side, r: &SideReport, now_ms: i64) -> Vec<String> {
    let name = format!("{:<6}", side.as_str());
    let mut lines = Vec::new();
    let pad = " ".repeat(name.len());
    let mut first = true;
    let mut prefix = || {
        let p = if first { name.clone() } else { pad.clone() };
        first = false;
        p
    };
    for (label, w) in [("5-hour", &r.five_hour), ("weekly", &r.weekly)] {
        if let Some(w) = w {
            lines.push(format!("{}  {}", prefix(), window_line(label, w, now_ms)));
        }
    }
    if let Some(note) = &r.note {
        lines.push(format!("{}  {note}", prefix()));
    }
    if let Some(p) = &r.paused {
        lines.push(format!("{}  {}", prefix(), pause_line(p, now_ms)));
    }
    lines
}

/// The whole report as lines of text.
pub fn render(report: &Report, title: &str, now_ms: i64) -> String {
    let mut out = vec![format!(
        "{title} · pause at {}% · resume below {}% or at the reset · stale after {}{}",
        report.thresholds.pause_at,
        report.thresholds.resume_below,
        countdown(secs_to_ms(report.thresholds.stale_secs)),
        if report.enabled {
            ""
        } else {
            " · relay OFF (budget.enabled = false)"
        }
    )];
    out.extend(side_lines(Side::Claude, &report.claude, now_ms));
    out.extend(side_lines(Side::Codex, &report.codex, now_ms));
    for o in &report.without_windows {
        out.push(format!("{}: no quota windows — {}", o.name, o.note));
    }
    out.join("\n")
}

/// The budget report as text for Claude's `get_budget` tool; a sentence
/// saying why when it cannot be read.
pub async fn report_text(pair: Option<&crate::pair::Pair>) -> String {
    let Some(pair) = pair else {
        return "abg: no budget data: this MCP server is not attached to an abg pair".into();
    };
    let client = match crate::control::client::Client::for_pair(pair) {
        Ok(c) => c,
        Err(e) => return format!("abg: cannot read the budget: {e}"),
    };
    match client.budget().await {
        Ok(r) => render(
            &r,
            &format!("abg budget — {}", pair.name),
            crate::clock::now_ms(),
        ),
        Err(e) => format!("abg: cannot read the budget: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns() {
        assert_eq!(countdown(12_400), "12s");
        assert_eq!(countdown(3_720_000), "1h 02m");
        assert_eq!(countdown(90_000_000), "1d 01h");
        assert_eq!(countdown(-1), "0s");
    }
}
