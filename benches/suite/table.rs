//! The suite's report: one row per figure with its baseline from the same
//! run, the target and a verdict, printed as a Markdown table (the README's
//! Performance section is a copy of it), then the notes.

/// How a figure fared against its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Miss,
    /// Not measured here, and why.
    NotMeasured(String),
    /// Measured, but too noisy to judge (the note says why).
    Unjudged,
}

impl Verdict {
    pub fn of(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Miss }
    }

    fn text(&self) -> &str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
            Verdict::NotMeasured(_) => "not measured",
            Verdict::Unjudged => "no verdict (noise-bound, see notes)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub figure: String,
    pub measured: String,
    pub baseline: String,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(
        figure: &str,
        measured: String,
        baseline: String,
        target: &str,
        verdict: Verdict,
    ) -> Self {
        Self {
            figure: figure.into(),
            measured,
            baseline,
            target: target.into(),
            verdict,
        }
    }

    pub fn skipped(figure: &str, target: &str, why: &str) -> Self {
        Self::new(
            figure,
            "—".into(),
            "—".into(),
            target,
            Verdict::NotMeasured(why.into()),
        )
    }
}

/// The table and its notes, ready to print.
pub fn render(rows: &[Row], notes: &[String]) -> String {
    let mut out = String::from(
        "| figure | abg: median (min–max) | baseline, same run | target | verdict |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.figure,
            r.measured,
            r.baseline,
            r.target,
            r.verdict.text()
        ));
    }
    let mut n = notes.to_vec();
    for r in rows {
        if let Verdict::NotMeasured(why) = &r.verdict {
            n.push(format!("{}: not measured — {why}", r.figure));
        }
    }
    if !n.is_empty() {
        out.push('\n');
        for line in n {
            out.push_str(&format!("- {line}\n"));
        }
    }
    out
}
