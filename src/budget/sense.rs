//! Sensing, in the daemon: record readings from Claude's statusline and
//! Codex's app-server (`account/rateLimits/read` on connect, merged with
//! `account/rateLimits/updated`), remember why a side has no data, and
//! gather the store's view for decisions and the report. Readings with a
//! figure out of range are rejected here, at the input, and logged.

use std::collections::BTreeMap;

use serde_json::Value;

use super::decide::{State, Thresholds};
use super::readings::{self, CodexSlots, OutOfRange, Parsed, Patch, Reading, Side, Window};
use super::report::{self, Report};
use crate::clock::now_ms;
use crate::daemon::core::{Core, CoreError};

/// Store setting: the relay's pause state ([`State`]).
pub const STATE_KEY: &str = "budget.state";
/// Store setting: Codex's two slots as last merged.
pub const CODEX_SLOTS_KEY: &str = "budget.codex.slots";
/// Store setting: why a side has no data (`{"codex": "unavailable (API-key auth)"}`).
pub const UNAVAILABLE_KEY: &str = "budget.unavailable";
/// Readings per window used for the burn rate and the report.
const HISTORY: usize = 200;

/// Why Codex's `account/rateLimits/read` gave no limits (the Codex link
/// turns its transport error into this at the edge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadFailure {
    /// The account has no rate limits to read (API-key auth); the message
    /// is Codex's.
    Unavailable(String),
    /// The request failed otherwise; the text says how.
    Failed(String),
}

/// Wakes the relay when something it decides on changed.
pub static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Merge `patches` into `side`'s last readings and store them; returns how
/// many readings were recorded.
pub fn record(
    core: &Core,
    side: Side,
    patches: &[(Window, Patch)],
    source: &str,
) -> Result<usize, CoreError> {
    let now = now_ms();
    let mut n = 0;
    for (window, patch) in patches {
        let prev = latest(core, side, *window)?;
        if let Some(r) = readings::merge(prev.as_ref(), side, *window, *patch, now, source) {
            core.with_store(|s| s.insert_reading(&r.to_row()))?;
            n += 1;
        }
    }
    if n > 0 {
        set_unavailable(core, side, None)?;
        WAKE.notify_one();
    }
    Ok(n)
}

/// Record the valid windows of `parsed`; log the rejected ones.
fn record_parsed(
    core: &Core,
    side: Side,
    parsed: &Parsed,
    source: &str,
) -> Result<usize, CoreError> {
    for e in &parsed.rejected {
        tracing::warn!("{} quota reading from {source} rejected: {e}", side.name());
    }
    record(core, side, &parsed.patches, source)
}

/// Claude's statusline `rate_limits` object: how many readings were
/// recorded, and the windows rejected as out of range.
pub fn record_claude(
    core: &Core,
    rate_limits: &Value,
) -> Result<(usize, Vec<OutOfRange>), CoreError> {
    let parsed = readings::claude_patches(rate_limits, now_ms());
    let n = record_parsed(core, Side::Claude, &parsed, "statusline")?;
    Ok((n, parsed.rejected))
}

/// Merge a Codex `rateLimits` object into the stored slots and record it.
fn record_codex(core: &Core, rate_limits: &Value, source: &str) -> Result<usize, CoreError> {
    let mut slots: CodexSlots = core
        .with_store(|s| s.get_setting(CODEX_SLOTS_KEY))?
        .unwrap_or_default();
    let parsed = slots.merge(rate_limits, now_ms());
    core.with_store(|s| s.set_setting(CODEX_SLOTS_KEY, &slots))?;
    record_parsed(core, Side::Codex, &parsed, source)
}

/// Hook for the Codex link: an `account/rateLimits/updated` notification.
/// Never fails the link: problems are logged.
pub fn codex_updated(core: &Core, params: &Value) {
    let Some(limits) = params.get("rateLimits") else {
        return;
    };
    match record_codex(core, limits, "codex.updated") {
        Ok(n) => tracing::debug!(recorded = n, "codex rate limits updated"),
        Err(e) => tracing::warn!("cannot record Codex rate limits: {e}"),
    }
}

/// Hook for the Codex link: the answer to `account/rateLimits/read`.
pub fn codex_read(core: &Core, answer: Result<Value, ReadFailure>) {
    let outcome = match answer {
        Ok(v) => match v.get("rateLimits") {
            Some(limits) => record_codex(core, limits, "codex.read").map(|_| ()),
            None => Ok(()),
        },
        Err(ReadFailure::Unavailable(message)) => {
            tracing::info!("codex rate limits unavailable: {message}");
            set_unavailable(core, Side::Codex, Some("unavailable (API-key auth)"))
        }
        Err(ReadFailure::Failed(e)) => {
            tracing::warn!("account/rateLimits/read failed: {e}");
            Ok(())
        }
    };
    if let Err(e) = outcome {
        tracing::warn!("cannot record Codex rate limits: {e}");
    }
}

fn set_unavailable(core: &Core, side: Side, note: Option<&str>) -> Result<(), CoreError> {
    let mut map: BTreeMap<String, String> = core
        .with_store(|s| s.get_setting(UNAVAILABLE_KEY))?
        .unwrap_or_default();
    let changed = match note {
        Some(n) => map.insert(side.as_str().into(), n.into()).as_deref() != Some(n),
        None => map.remove(side.as_str()).is_some(),
    };
    if changed {
        core.with_store(|s| s.set_setting(UNAVAILABLE_KEY, &map))?;
    }
    Ok(())
}

/// The newest reading of one window.
pub fn latest(core: &Core, side: Side, window: Window) -> Result<Option<Reading>, CoreError> {
    Ok(history(core, side, window, 1)?.into_iter().next())
}

fn history(core: &Core, side: Side, window: Window, n: usize) -> Result<Vec<Reading>, CoreError> {
    let rows = core.with_store(|s| s.recent_readings(side.as_str(), window.as_str(), n))?;
    Ok(rows.iter().filter_map(Reading::from_row).collect())
}

/// The newest reading of every window that has one.
pub fn all_latest(core: &Core) -> Result<Vec<Reading>, CoreError> {
    let mut out = Vec::new();
    for side in Side::ALL {
        for window in Window::ALL {
            out.extend(latest(core, side, window)?);
        }
    }
    Ok(out)
}

/// The persisted pause state.
pub fn load_state(core: &Core) -> Result<State, CoreError> {
    Ok(core
        .with_store(|s| s.get_setting(STATE_KEY))?
        .unwrap_or_default())
}

pub fn save_state(core: &Core, state: &State) -> Result<(), CoreError> {
    Ok(core.with_store(|s| s.set_setting(STATE_KEY, state))?)
}

pub fn thresholds(core: &Core) -> Thresholds {
    Thresholds::from_settings(&core.config().settings)
}

/// The report for `GET /v1/budget`.
pub fn report(core: &Core) -> Result<Report, CoreError> {
    let mut hist = Vec::new();
    for side in Side::ALL {
        for window in Window::ALL {
            hist.push((side, window, history(core, side, window, HISTORY)?));
        }
    }
    let map: BTreeMap<String, String> = core
        .with_store(|s| s.get_setting(UNAVAILABLE_KEY))?
        .unwrap_or_default();
    let unavailable: Vec<(Side, String)> = map
        .into_iter()
        .filter_map(|(k, v)| Some((Side::parse(&k)?, v)))
        .collect();
    let state = load_state(core)?;
    let others: Vec<(String, String)> = core
        .peers()
        .iter()
        .filter(|p| core.takes_part(p.id) && Side::parse(p.id.as_str()).is_none())
        .map(|p| (p.id.as_str().to_string(), p.name.to_string()))
        .collect();
    Ok(report::build(&report::Inputs {
        pair_id: core.pair_id(),
        now_ms: now_ms(),
        th: thresholds(core),
        state: &state,
        history: &hist,
        unavailable: &unavailable,
        others: &others,
    }))
}
