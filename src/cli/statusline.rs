//! `abg statusline` (hidden): Claude Code's statusLine command, installed
//! by `abg claude`. Reads Claude's statusline JSON on stdin, records its
//! `rate_limits` (5-hour and weekly windows) with the pair's daemon, and
//! prints a compact status line. When the user had a statusLine command of
//! their own (`ABG_USER_STATUSLINE`), it runs that with the same stdin and
//! prints its output instead, so nothing the user had is lost.
//!
//! Never fails Claude's UI: every error still prints a line and exits 0,
//! and every step is bounded in time.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::budget::readings::Side;
use crate::budget::statusline::{self, DEPTH_ENV, USER_ENV};
use crate::claude::mcp::Options;
use crate::control::client::Client;
use crate::control::protocol::budget::ReadingsRequest;

/// Record Claude's quota windows and print a status line (run by Claude).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project directory whose pair to report to (default: ABG_PROJECT_ROOT,
    /// then the statusline JSON's project dir).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
}

const RECORD_TIMEOUT: Duration = Duration::from_millis(1500);
const USER_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn run(pair: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let mut raw = String::new();
    let _ = std::io::stdin().take(1024 * 1024).read_to_string(&mut raw);
    let input: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let user = std::env::var(USER_ENV)
        .ok()
        .filter(|c| !c.trim().is_empty() && std::env::var_os(DEPTH_ENV).is_none());
    let record = record(&input, pair, args.project);
    let theirs = async {
        match &user {
            Some(cmd) => run_user(cmd, &raw).await,
            None => None,
        }
    };
    let (_, theirs) = tokio::join!(record, theirs);
    let now = crate::clock::now_ms() / 1000;
    let text = theirs.unwrap_or_else(|| statusline::compact(&input, now));
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", text.trim_end_matches('\n'));
    let _ = writeln!(out);
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

/// Post `rate_limits` to the daemon (if there are any); errors are logged only.
async fn record(input: &Value, pair: Option<&str>, project: Option<PathBuf>) {
    let Some(limits) = input.get("rate_limits").filter(|v| v.is_object()) else {
        return;
    };
    let project = project
        .or_else(|| {
            std::env::var_os(crate::claude::mcp::PROJECT_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(|| {
            input
                .get("workspace")
                .and_then(|w| w.get("project_dir"))
                .or_else(|| input.get("cwd"))
                .and_then(Value::as_str)
                .map(PathBuf::from)
        });
    let opts = Options {
        project,
        pair: pair.map(str::to_string),
        via: None,
    };
    let work = async {
        let (pair, _) = crate::claude::mcp::resolve(&opts).map_err(anyhow::Error::msg)?;
        let client = Client::for_pair(&pair)?;
        let req = ReadingsRequest {
            side: Side::Claude,
            rate_limits: limits.clone(),
        };
        let ack = client.budget_readings(&req, RECORD_TIMEOUT).await?;
        for why in &ack.rejected {
            tracing::debug!("statusline: the daemon rejected a reading: {why}");
        }
        anyhow::Ok(())
    };
    match tokio::time::timeout(RECORD_TIMEOUT * 2, work).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("statusline: cannot record rate limits: {e:#}"),
        Err(_) => tracing::debug!("statusline: recording timed out"),
    }
}

/// Run the user's statusLine command with Claude's stdin; its stdout, or
/// `None` if it failed to run or printed nothing.
async fn run_user(cmd: &str, stdin: &str) -> Option<String> {
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .env(DEPTH_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.as_bytes()).await;
        drop(pipe);
    }
    let out = tokio::time::timeout(USER_TIMEOUT, child.wait_with_output())
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (!text.trim().is_empty()).then_some(text)
}
