//! What a failing e2e scenario prints: the terminal screens and the tails of
//! the logs the test registered.
//!
//! Why it exists: a real-CLI test fails far from its cause (a first-run
//! screen, a gate line in Claude's debug log, an unexpected mock request).
//! Every wait that times out, and every scenario that returns an error,
//! appends this report, so the failure explains itself without a rerun.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Marks a message that already carries the report (not appended twice).
pub const REPORT_MARKER: &str = "======== e2e diagnostics ========";

type Render = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
enum Source {
    /// The last `lines` lines of a file.
    File { path: PathBuf, lines: usize },
    /// Rendered on demand (mock request summaries, transcripts).
    Func(Render),
    /// A fixed snapshot (a screen captured at teardown).
    Text(String),
}

/// A shared, cloneable registry of report sections, in registration order.
#[derive(Clone, Default)]
pub struct Diagnostics {
    sections: Arc<Mutex<Vec<(String, Source)>>>,
}

impl Diagnostics {
    /// Adds (or replaces) a log file section showing its last `lines` lines.
    pub fn add_file(&self, name: &str, path: impl Into<PathBuf>, lines: usize) {
        self.set(
            name,
            Source::File {
                path: path.into(),
                lines,
            },
        );
    }

    /// Adds (or replaces) a section rendered when the report is built.
    pub fn add_source(&self, name: &str, f: impl Fn() -> String + Send + Sync + 'static) {
        self.set(name, Source::Func(Arc::new(f)));
    }

    /// Adds (or replaces) a fixed text section.
    pub fn set_text(&self, name: &str, text: String) {
        self.set(name, Source::Text(text));
    }

    fn set(&self, name: &str, src: Source) {
        let mut s = self.sections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = s.iter_mut().find(|(n, _)| n == name) {
            slot.1 = src;
        } else {
            s.push((name.to_string(), src));
        }
    }

    /// The full report.
    pub fn report(&self) -> String {
        let sections = self
            .sections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = format!("\n{REPORT_MARKER}\n");
        for (name, src) in sections {
            let body = match src {
                Source::File { path, lines } => tail_file(&path, lines)
                    .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display())),
                Source::Func(f) => f(),
                Source::Text(t) => t,
            };
            out.push_str(&format!("-------- {name} --------\n{}\n", body.trim_end()));
        }
        out.push_str("======== end of e2e diagnostics ========\n");
        out
    }

    /// `msg` followed by the report.
    pub fn with_report(&self, msg: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{msg}{}", self.report())
    }
}

/// The last `lines` lines of a file (reading at most its last 256 KiB).
pub fn tail_file(path: &std::path::Path, lines: usize) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(256 * 1024);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    let skip = all.len().saturating_sub(lines);
    if all.is_empty() {
        return Ok("(empty)".to_string());
    }
    Ok(all[skip..].join("\n"))
}

/// Polls a log file every 100 ms until it contains `needle`; fails with the
/// report when the deadline passes. A missing file counts as empty.
pub async fn wait_for_file_text(
    diag: &Diagnostics,
    path: &std::path::Path,
    needle: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<String> {
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return Ok(line.to_string());
        }
        if start.elapsed() >= timeout {
            return Err(diag.with_report(format!(
                "timed out after {timeout:?} waiting for {needle:?} in {}",
                path.display()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
