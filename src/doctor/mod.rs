//! `abg doctor`: everything a pair needs, checked and explained.
//!
//! Checks are data ([`Check`]: id, ok/warn/fail, a one-line summary and the
//! fix), and each is a function of what it probes, so tests inject fakes
//! ([`Probes`]) instead of real binaries, environment or ports. Doctor is
//! read-only: it never starts the daemon, never creates a pair, and never
//! creates or migrates the store.
//!
//! Modules: `tools` (the `claude`/`codex` binaries, versions vs the tested
//! pins, Codex flag support from its own `--help`), `claude` (channel
//! prerequisites: auth provider, org policy, the feature-flag cache, the
//! observed registration), `pair` (registry, ports, file modes, daemon,
//! app-server, agents), `store` (integrity, queues, current thread),
//! `orphans` (app-servers without their daemon and daemons without their
//! project, of every pair), `gather` (runs them all for one project).
//!
//! # JSON schema (`abg doctor --json`), version 1
//!
//! ```text
//! {
//!   "schema_version": 1,            // bumped on any incompatible change
//!   "abg_version": "0.1.0",
//!   "project": "/abs/project/root",
//!   "pair": "main",                  // the pair name checked
//!   "ok": true,                      // no check failed (= exit code 0)
//!   "counts": {"ok": 12, "warn": 2, "fail": 0},
//!   "checks": [
//!     {"id": "codex.version",        // stable, dotted; see CHECK_IDS
//!      "status": "ok",               // "ok" | "warn" | "fail"
//!      "summary": "Codex 0.169.0 (the tested version) at /usr/bin/codex",
//!      "fix": null}                  // what to do, when status is not ok
//!   ]
//! }
//! ```
//!
//! Check ids appear in the order of [`CHECK_IDS`]; the `pair.*`, `daemon`,
//! `codex.app_server`, `agents`, `store.*` and `codex.thread` checks appear
//! only when the pair is registered (`pair.registry` says so otherwise);
//! `orphans` always comes last.
//! New ids may be added without a version bump; consumers must ignore ids
//! they do not know.

pub mod claude;
pub mod gather;
pub mod orphans;
pub mod pair;
pub mod probes;
pub mod store;
pub mod tools;

#[cfg(test)]
mod tests;

use serde::Serialize;

pub use gather::{Inputs, diagnose};
pub use probes::{Output, Probes, System};

/// Version of the `--json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Every check id, in report order.
pub const CHECK_IDS: &[&str] = &[
    "config",
    "claude.version",
    "codex.version",
    "codex.app_server_flags",
    "codex.remote_auth_flag",
    "claude.auth",
    "claude.policy",
    "claude.channel_flag",
    "claude.channel",
    "pair.registry",
    "pair.ports",
    "pair.state_dir",
    "pair.secret",
    "daemon",
    "codex.app_server",
    "agents",
    "store.integrity",
    "store.queues",
    "codex.thread",
    "orphans",
];

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub summary: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(id: &'static str, summary: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Ok,
            summary: summary.into(),
            fix: None,
        }
    }
    pub fn warn(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Warn,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }
    pub fn fail(id: &'static str, summary: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            id,
            status: Status::Fail,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }
}

/// How many checks ended in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub abg_version: String,
    pub project: String,
    pub pair: String,
    pub ok: bool,
    pub counts: Counts,
    pub checks: Vec<Check>,
}

impl Report {
    /// A report of `checks` for one project and pair.
    pub fn new(project: String, pair: String, checks: Vec<Check>) -> Self {
        let mut counts = Counts::default();
        for c in &checks {
            match c.status {
                Status::Ok => counts.ok += 1,
                Status::Warn => counts.warn += 1,
                Status::Fail => counts.fail += 1,
            }
        }
        Self {
            schema_version: SCHEMA_VERSION,
            abg_version: crate::version().to_string(),
            project,
            pair,
            ok: counts.fail == 0,
            counts,
            checks,
        }
    }

    /// The human-readable report: one line per check, a fix line under
    /// each that is not ok, and a tally.
    pub fn render(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = format!(
            "abg doctor · project {} · pair {}\n",
            self.project, self.pair
        );
        for c in &self.checks {
            let tag = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            out.push_str(&format!("{tag}  {:<width$}  {}\n", c.id, c.summary));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      {:<width$}  fix: {fix}\n", ""));
            }
        }
        out.push_str(&format!(
            "{} ok, {} warning(s), {} failed",
            self.counts.ok, self.counts.warn, self.counts.fail
        ));
        out
    }
}
