//! The hop figures with in-process fakes: a real `abg` daemon (spawned by
//! `abg status`, as users get it) adopts the fake app-server as its pair's
//! Codex; a real `abg mcp` child plays Claude's channel server.
//!
//! Codex→Claude: the fake emits one `item/completed` to every connection;
//! the figure is when `notifications/claude/channel` with that text is read
//! on `abg mcp`'s stdout minus when the direct client read the same frame.
//! Claude→Codex: `tools/call reply` written to `abg mcp`'s stdin → the fake
//! reads `turn/start`, minus the same trip for a direct client's
//! `turn/start`. Both are paired per sample.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::sync::mpsc;

use super::clients::{DirectClient, McpChild, WAIT, is_channel_push};
use super::fake_app::{FakeAppServer, TurnStart};
use super::henv::{ABG, Henv};
use super::stats::{Samples, ms, signed_ms};

/// Paired hop samples, milliseconds.
#[derive(Debug, Default, Clone)]
pub struct Hops {
    /// abg path minus direct path, per sample.
    pub c2c_overhead: Samples,
    pub c2c_direct: Samples,
    pub x2c_overhead: Samples,
    pub x2c_direct: Samples,
}

/// Keeps a process alive whose pid stands in for the app-server's (the
/// daemon checks that pid is alive and signals its process group on stop).
struct Holder(std::process::Child);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Rig {
    _holder: Holder,
    fake: FakeAppServer,
    starts: mpsc::UnboundedReceiver<TurnStart>,
    direct: DirectClient,
    mcp: McpChild,
}

/// Where the stand-in process keeps its copy of the listening socket.
const HELD_FD: i32 = 100;

/// Tell the pair's daemon that an app-server is running on its app port
/// (what its supervisor adopts after a daemon restart).
fn publish_app_server(pair_dir: &std::path::Path, app_port: u16, pid: u32) -> anyhow::Result<()> {
    let state =
        json!({"pid": pid, "port": app_port, "mode": "yolo", "version": "codex-cli 0.169.0"});
    std::fs::write(pair_dir.join("codex-appserver.json"), state.to_string())?;
    // The daemon adopts an app-server only with a valid token file.
    abg::paths::write_private_file(
        &pair_dir.join("codex.token"),
        abg::paths::new_secret().as_bytes(),
    )?;
    std::fs::write(pair_dir.join("codex.mode"), "\"yolo\"")?;
    Ok(())
}

async fn rig(env: &Henv) -> anyhow::Result<Rig> {
    let status = env.json(&["status", "--json"]);
    let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
    let app_port = u16::try_from(status["app_port"].as_u64().context("app_port")?)?;
    // The stand-in pid holds a copy of the fake's listening socket: the
    // daemon adopts only an app-server whose recorded process holds the
    // app port.
    let listener = std::net::TcpListener::bind(("127.0.0.1", app_port))
        .context("cannot bind the fake app-server port")?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let mut cmd = std::process::Command::new("sleep");
    cmd.arg("86400").process_group(0);
    // SAFETY: only dup2, which is async-signal-safe, runs between fork and
    // exec; the copy (not close-on-exec) keeps the socket in the holder.
    unsafe {
        cmd.pre_exec(move || {
            if nix::libc::dup2(fd, HELD_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let holder = Holder(cmd.spawn().context("cannot start the pid holder")?);
    let (fake, starts) = FakeAppServer::start_on(listener);
    publish_app_server(&pair_dir, app_port, holder.0.id())?;
    // The daemon's Codex link notices the mode file within its tick, adopts
    // the fake and subscribes to its thread.
    let end = Instant::now() + WAIT;
    while !fake.saw("abg", "thread/resume") {
        if Instant::now() > end {
            bail!("the daemon never connected to the fake app-server");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let direct = DirectClient::connect(app_port, None).await?;
    let mcp = McpChild::start(ABG, &env.project, &env.env()).await?;
    Ok(Rig {
        _holder: holder,
        fake,
        starts,
        direct,
        mcp,
    })
}

impl Rig {
    /// One Codex→Claude sample: (abg − direct, direct − emit), ms.
    async fn codex_to_claude(&mut self, tag: &str) -> anyhow::Result<(f64, f64)> {
        let text = format!("bench codex→claude {tag}");
        let emitted = self.fake.emit_item(&format!("item_{tag}"), &text);
        let item = |v: &serde_json::Value| {
            v["method"] == "item/completed" && v["params"]["item"]["text"] == text.as_str()
        };
        let (direct_at, _) = self
            .direct
            .inbox
            .wait(item)
            .await
            .context("direct client")?;
        let (abg_at, _) = self
            .mcp
            .inbox
            .wait(|v| is_channel_push(v, &text))
            .await
            .context("channel push on abg mcp's stdout")?;
        Ok((
            signed_ms(abg_at, direct_at),
            ms(direct_at.duration_since(emitted)),
        ))
    }

    async fn next_start(&mut self, client: &str, text: &str) -> anyhow::Result<Instant> {
        let end = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(end, self.starts.recv()).await {
                Ok(Some(s)) if s.client == client && s.text.contains(text) => return Ok(s.at),
                Ok(Some(_)) => {}
                _ => bail!("no turn/start from {client} for {text:?}"),
            }
        }
    }

    /// One Claude→Codex sample: (abg − direct, direct), ms.
    async fn claude_to_codex(&mut self, tag: &str) -> anyhow::Result<(f64, f64)> {
        let text = format!("bench claude→codex {tag}");
        let (id, wrote) = self.mcp.reply(&text, &format!("toolu_{tag}")).await?;
        let abg = self.next_start("abg", &text).await?.duration_since(wrote);
        // The tool answers once the delivery settled (the turn started).
        self.mcp
            .inbox
            .wait(|v| v["id"] == json!(id) && v.get("method").is_none())
            .await
            .context("reply tool result")?;
        let direct_text = format!("direct {text}");
        let (did, sent) = self.direct.request_nowait(
            "turn/start",
            json!({"threadId": "th_direct", "clientUserMessageId": format!("d_{tag}"),
                   "input": [{"type": "text", "text": direct_text, "text_elements": []}]}),
        )?;
        let direct = self
            .next_start("bench-direct", &direct_text)
            .await?
            .duration_since(sent);
        self.direct
            .inbox
            .wait(|v| v["id"] == json!(did) && v.get("method").is_none())
            .await?;
        Ok((ms(abg) - ms(direct), ms(direct)))
    }
}

/// Run `warmup` unrecorded then `n` recorded samples of each direction.
pub async fn measure(env: &Henv, warmup: usize, n: usize) -> anyhow::Result<Hops> {
    let mut rig = rig(env).await?;
    let mut hops = Hops::default();
    let nonce = std::process::id();
    for i in 0..warmup + n {
        let tag = format!("{nonce}-{i}");
        let (over, direct) = rig.codex_to_claude(&tag).await?;
        if i >= warmup {
            hops.c2c_overhead.push(over);
            hops.c2c_direct.push(direct);
        }
        let (over, direct) = rig.claude_to_codex(&tag).await?;
        if i >= warmup {
            hops.x2c_overhead.push(over);
            hops.x2c_direct.push(direct);
        }
    }
    Ok(hops)
}
