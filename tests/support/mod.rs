//! Shared support for abg's end-to-end tests against the real, pinned `codex`
//! and `claude` CLIs.
//!
//! Why it exists: abg's value is that it works with the real agents, so its
//! tests drive the real binaries with their model APIs replaced by local mock
//! servers. Every integration test file that needs this pulls it in with
//! `mod support;`. Each test file compiles its own copy and uses a different
//! subset, hence the crate-wide `dead_code` allowance below.
//!
//! Pieces:
//! - [`clis`]: finding the pinned binaries, and the skip/require gate;
//! - [`scenario`]: per-scenario thread, network namespace, runtime, timing,
//!   teardown and the stray-process check;
//! - [`env`]: hermetic homes and the environment each CLI gets;
//! - [`mock_openai`] / [`mock_anthropic`] / [`mock_chat`]: scripted model
//!   APIs (Responses for Codex, Messages for Claude, Chat Completions for
//!   OpenCode), on the scaffolding they share ([`mock_server`]);
//! - [`tui`]: the tmux-based terminal driver;
//! - [`procs`]: child processes killed by process group, `/proc` scans;
//! - [`diag`]: what gets printed when a scenario fails;
//! - [`app_server`]: a WebSocket JSON-RPC client for `codex app-server`;
//! - [`mcp_channel`]: a test MCP server that is a Claude Code channel;
//! - [`pair`]: `abg codex` and `abg claude` as one pair, in two terminals;
//! - [`opencode`]: seeding and environment of `abg opencode`;
//! - [`abg_opencode`]: `abg opencode` in tmux, started, inspected and stopped;
//! - [`trio`]: all three agents (Codex, Claude, OpenCode) as one pair;
//! - [`governor`]: reads and checks of the loop-governor e2e test;
//! - [`safe_codex`] / [`safe_claude`]: a Codex approval and a Claude
//!   permission dialog under `--safe` (seed, scripted turn, the reads the
//!   scenarios check them with);
//! - [`inbox`]: abg's approvals inbox from the CLI (`abg approvals --json`,
//!   answers taken or refused) and a dialog answered in the agent's TUI;
//! - [`budget`]: quota-relay helpers (rate-limit headers, `abg budget
//!   --json`, `abg claude` under the test-only token auth).
//!
//! Running: `tests/e2e/setup.sh` installs the pinned CLIs (once), then
//! `cargo test --test e2e_codex --test e2e_claude` (`e2e_harness` needs no
//! CLI). Knobs, all optional:
//! - `ABG_E2E_CODEX`, `ABG_E2E_CLAUDE`: the native binaries (else globbed
//!   under `ABG_E2E_CLI_DIR`, default `~/.cache/abg-e2e/cli`);
//! - `ABG_E2E_REQUIRED=1`: a missing CLI fails instead of skipping (CI);
//! - `ABG_E2E_NO_NETNS=1`: skip the network namespace (env-only isolation);
//! - `ABG_E2E_KEEP=1`: keep each test's temp tree (logs, homes) and print it;
//! - `ABG_E2E_CODEX_RUST_LOG=debug`: Codex's own logs into `logs/*.log`.
#![allow(dead_code)]

pub mod abg_claude;
pub mod abg_codex;
pub mod abg_opencode;
pub mod app_server;
pub mod budget;
pub mod clis;
pub mod control;
pub mod diag;
pub mod env;
pub mod governor;
pub mod inbox;
pub mod mcp_channel;
pub mod mock_anthropic;
pub mod mock_chat;
pub mod mock_openai;
pub mod mock_server;
pub mod opencode;
pub mod pair;
pub mod ports;
pub mod procs;
pub mod recorder;
pub mod safe_claude;
pub mod safe_codex;
pub mod scenario;
pub mod sse;
pub mod trio;
pub mod tui;

use std::time::Duration;

/// Default deadline for one wait. Far above the measured timings (well under
/// a second each), but CI machines are slower.
pub const WAIT: Duration = Duration::from_secs(30);

/// Writes one line to the real stderr, bypassing libtest's output capture, so
/// skip notices, the isolation mode and wall times are visible in a normal
/// `cargo test` run.
pub fn announce(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
