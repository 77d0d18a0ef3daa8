//! abg's approvals inbox as the `--safe` scenarios see it, whichever agent
//! asked (`tests/e2e_safe.rs` for Codex, `tests/e2e_safe_claude.rs` for
//! Claude).
//!
//! Why it exists: an approval has two answer paths, abg's CLI (`abg
//! approvals --json`, `abg approve`, `abg deny`) and the agent's own dialog
//! in its terminal, and both agents' scenarios check the same things about
//! them: the listing's JSON, an answer abg must take or refuse, and a key
//! pressed until the dialog is gone.

use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::Value;

use super::WAIT;
use super::tui::Tui;

/// An abg command (`what`) that must succeed.
pub fn ensure_ok(out: &Output, what: &str) -> Result<()> {
    ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// An answer (`what`) that abg must refuse, saying `reason`.
pub fn ensure_refused(out: &Output, reason: &str, what: &str) -> Result<()> {
    ensure!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(reason),
        "{what} was not refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The arguments of `abg approvals --json [--all]`.
pub fn approvals_args(all: bool) -> Vec<&'static str> {
    let mut args = vec!["approvals", "--json"];
    if all {
        args.push("--all");
    }
    args
}

/// The JSON `abg approvals --json` printed.
pub fn approvals_json(out: &Output) -> Result<Value> {
    ensure_ok(out, "abg approvals")?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Presses `key` until `dialog` is gone from the screen (a TUI may ignore
/// keys for a moment after showing a prompt); bounded by [`WAIT`].
pub async fn answer(tui: &Tui, key: &str, dialog: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        tui.press(key)?;
        let gone = tui
            .wait_until(
                &format!("{dialog:?} answered"),
                Duration::from_secs(1),
                |sc| !sc.contains(dialog),
            )
            .await;
        if gone.is_ok() {
            return Ok(());
        }
        if start.elapsed() > WAIT {
            return gone.map(|_| ());
        }
    }
}
