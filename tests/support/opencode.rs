//! What every test that runs `abg opencode` needs, whether alone
//! (`tests/e2e_opencode.rs`) or as the third agent of a pair
//! ([`super::trio`]): OpenCode's config seeded against the Chat Completions
//! mock, the environment that points it at the hermetic home and the pinned
//! binary, the Chat Completions mock with its requests in the failure
//! report, the wait for its ready composer, and the pair dir lookup.
//!
//! Why it exists: OpenCode reads its config and data from the XDG dirs
//! (reference `tests/reference/opencode.md`), so the hermetic home is only
//! hermetic once every XDG variable points into it, and its model is the
//! mock only through the seeded `opencode.json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::env::{Vars, set_var};
use super::mock_chat::MockChat;
use super::scenario::Scenario;
use super::tui::Tui;

/// OpenCode boots slowly on a loaded machine (reference §9: up to 16 s).
pub const BOOT: Duration = Duration::from_secs(120);

/// Starts the Chat Completions mock; its requests go into the scenario's
/// failure report.
pub async fn start_mock(s: &Scenario) -> Result<MockChat> {
    let mock = MockChat::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("chat mock requests", move || log.summary(40));
    Ok(mock)
}

/// Writes `~/.config/opencode/opencode.json` in the scenario's home: the
/// model is `mock/mock-model` at `chat_base` (the mock's `/v1`), with no
/// autoupdate and no sharing.
pub fn seed_opencode(s: &Scenario, chat_base: &str) -> Result<()> {
    let config = s.env.home.join(".config/opencode");
    std::fs::create_dir_all(&config)?;
    let cfg = json!({
        "model": "mock/mock-model", "small_model": "mock/mock-model",
        "autoupdate": false, "share": "disabled",
        "provider": {"mock": {"npm": "@ai-sdk/openai-compatible", "name": "Mock",
            "options": {"baseURL": chat_base, "apiKey": "dummy"},
            "models": {"mock-model": {"name": "Mock Model"}}}}
    });
    std::fs::write(config.join("opencode.json"), cfg.to_string())?;
    Ok(())
}

/// Adds OpenCode's variables to an abg environment: the pinned binary
/// (`ABG_OPENCODE_BINARY`), every XDG dir inside the scenario's home, and
/// no autoupdate, models fetch, LSP download or sharing.
pub fn opencode_env(s: &Scenario, env: &mut Vars) -> Result<()> {
    let home = &s.env.home;
    let binary = s.clis.opencode.as_ref().context("no opencode")?;
    set_var(env, "ABG_OPENCODE_BINARY", &binary.to_string_lossy());
    for (k, sub) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ] {
        set_var(env, k, &home.join(sub).to_string_lossy());
    }
    for k in [
        "OPENCODE_DISABLE_AUTOUPDATE",
        "OPENCODE_DISABLE_MODELS_FETCH",
        "OPENCODE_DISABLE_LSP_DOWNLOAD",
        "OPENCODE_DISABLE_SHARE",
    ] {
        set_var(env, k, "1");
    }
    Ok(())
}

/// Waits for OpenCode's composer: its footer names the model once ready.
pub async fn wait_composer(tui: &Tui) -> Result<()> {
    tui.wait_until("the OpenCode composer", BOOT, |screen| {
        screen.contains("Mock Model")
    })
    .await?;
    Ok(())
}

/// The pair dir under an abg state dir (the one with a `secret`).
pub fn pair_dir_in(state: &Path) -> Option<PathBuf> {
    std::fs::read_dir(state.join("pairs"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("secret").exists())
}
