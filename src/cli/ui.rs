//! `abg ui`: print (and with `--open` open) a one-time login link to the
//! pair's web UI. The daemon mints the token (`POST /v1/ui/login-token`,
//! over a control session proved by the pair secret) and swaps it for a
//! session cookie. `abg ui --revoke-all` logs every browser out
//! (`POST /v1/ui/revoke-all`).

use std::process::ExitCode;

use anyhow::Context as _;

use super::{Context, output};
use crate::control::client::Client;
use crate::daemon::ensure;

/// Open the pair's web UI: print a one-time login link.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also open the link in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Print the link and its expiry as JSON.
    #[arg(long)]
    pub json: bool,
    /// Log every browser out: revoke all web UI sessions and unused login
    /// links (prints no new link).
    #[arg(long, conflicts_with = "open")]
    pub revoke_all: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let port = pair.ports.control;
    let client = Client::for_pair(&pair)?;
    if args.revoke_all {
        client
            .ui_revoke_all()
            .await
            .context("cannot revoke the web UI sessions")?;
        if args.json {
            output::json(&serde_json::json!({"revoked_all": true}))?;
        } else {
            output::line("every web UI session is revoked; run `abg ui` for a new login link")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let token = client
        .ui_login_token()
        .await
        .context("cannot mint a login token for the web UI")?;
    let url = format!("http://127.0.0.1:{port}{}", token.path);
    if args.json {
        output::json(&serde_json::json!({"url": url, "expires_ms": token.expires_ms}))?;
    } else {
        output::line(&url)?;
    }
    if args.open {
        open_browser(&url)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Open `url` with `$BROWSER`, else the platform's opener.
fn open_browser(url: &str) -> anyhow::Result<()> {
    let opener = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| {
            if cfg!(target_os = "macos") {
                "open".into()
            } else {
                "xdg-open".into()
            }
        });
    std::process::Command::new(&opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {opener:?} to open the link; open it yourself"))?;
    Ok(())
}
