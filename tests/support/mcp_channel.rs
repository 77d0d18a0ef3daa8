//! A tiny test-only MCP server that is a Claude Code *channel*: it declares
//! `experimental["claude/channel"]` and a `reply` tool, and can push
//! `notifications/claude/channel` into the running session.
//!
//! Why it exists: the Claude scenarios must prove the channel path of the
//! real binary (registration, a push reaching the model as a `<channel>`
//! block, the model's `tool_use` reaching the server) before abg's own MCP
//! server sits there. Claude spawns MCP servers as stdio commands, so the
//! server logic runs here, in the test process (hand-written newline-delimited
//! JSON-RPC, answering the 2.1.330 handshake as `claude-code.md` §2 requires),
//! behind a TCP listener on 127.0.0.1; Claude runs a 20-line Python
//! stdio↔TCP relay (`python3` is on every machine here) as the command.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::recorder::clip;

/// stdin → socket, socket → stdout; half-closes on stdin EOF and exits when
/// the server closes.
const RELAY: &str = r#"import os, socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        s.sendall(b)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    while b:
        b = b[os.write(1, b):]
"#;

/// One JSON-RPC message in either direction.
#[derive(Clone, Debug)]
pub struct Wire {
    /// `true` for messages Claude sent to the server.
    pub from_claude: bool,
    pub msg: Value,
}

#[derive(Default)]
struct State {
    log: Vec<Wire>,
    writer: Option<mpsc::UnboundedSender<String>>,
    initialized: bool,
}

/// A running channel server. Dropping it closes the listener.
pub struct ChannelServer {
    name: String,
    port: u16,
    relay: PathBuf,
    python: PathBuf,
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ChannelServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ChannelServer {
    /// Starts the server for MCP server name `name` (Claude's tools become
    /// `mcp__<name>__reply`, its channel tag `source="<name>"`). The relay
    /// script is written into `dir`.
    pub async fn start(name: &str, dir: &Path) -> Result<Self> {
        let python = find_python()?;
        let relay = dir.join("mcp-relay.py");
        std::fs::write(&relay, RELAY)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let state: Arc<Mutex<State>> = Arc::default();
        let changed = Arc::new(watch::channel(0usize).0);
        let task = {
            let (state, changed) = (state.clone(), changed.clone());
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    tokio::spawn(serve_connection(sock, state.clone(), changed.clone()));
                }
            })
        };
        Ok(Self {
            name: name.to_string(),
            port,
            relay,
            python,
            state,
            changed,
            task,
        })
    }

    /// The `--mcp-config` JSON declaring this server.
    pub fn mcp_config(&self) -> Value {
        json!({"mcpServers": {self.name.as_str(): {
            "type": "stdio",
            "command": self.python.to_string_lossy(),
            "args": [self.relay.to_string_lossy(), self.port.to_string()],
            "env": {}
        }}})
    }

    /// Writes [`ChannelServer::mcp_config`] to `path`.
    pub fn write_mcp_config(&self, path: &Path) -> Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(&self.mcp_config())?)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Every message so far, both directions.
    pub fn wire(&self) -> Vec<Wire> {
        self.lock().log.clone()
    }

    /// Waits until Claude sent `notifications/initialized`.
    pub async fn wait_initialized(&self, timeout: Duration) -> Result<()> {
        self.wait(timeout, "notifications/initialized from Claude", |s| {
            s.initialized.then_some(())
        })
        .await
    }

    /// Pushes a channel event. Fails unless the session is initialized.
    pub fn push_channel(&self, content: &str, meta: Value) -> Result<()> {
        let st = self.lock();
        if !st.initialized {
            bail!("push_channel before notifications/initialized");
        }
        let msg = json!({"jsonrpc": "2.0", "method": "notifications/claude/channel",
            "params": {"content": content, "meta": meta}});
        let writer = st.writer.clone().context("no MCP connection")?;
        drop(st);
        self.record(false, msg.clone());
        writer
            .send(msg.to_string())
            .context("MCP connection closed")
    }

    /// Waits for a `tools/call` of `tool`; returns its params.
    pub async fn wait_tool_call(&self, tool: &str, timeout: Duration) -> Result<Value> {
        self.wait(timeout, &format!("tools/call of {tool:?}"), |s| {
            s.log
                .iter()
                .find(|w| {
                    w.from_claude
                        && w.msg["method"] == "tools/call"
                        && w.msg["params"]["name"] == tool
                })
                .map(|w| w.msg["params"].clone())
        })
        .await
    }

    /// A closure rendering the wire log, for [`super::diag::Diagnostics`].
    pub fn log_source(&self) -> impl Fn() -> String + Send + Sync + 'static {
        let state = self.state.clone();
        move || {
            let st = state.lock().unwrap_or_else(|p| p.into_inner());
            if st.log.is_empty() {
                return "  (no MCP traffic: did Claude start the relay?)".into();
            }
            st.log
                .iter()
                .map(|w| {
                    format!(
                        "  {} {}",
                        if w.from_claude {
                            "claude→"
                        } else {
                            "→claude"
                        },
                        clip(&w.msg.to_string(), 220)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }

    async fn wait<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&State) -> Option<T>,
    ) -> Result<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.changed.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(v) = check(&self.lock()) {
                return Ok(v);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                bail!(
                    "timed out after {timeout:?} waiting for {what}; MCP wire:\n{}",
                    (self.log_source())()
                );
            }
        }
    }

    fn record(&self, from_claude: bool, msg: Value) {
        record(&self.state, &self.changed, from_claude, msg);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn record(state: &Mutex<State>, changed: &watch::Sender<usize>, from_claude: bool, msg: Value) {
    let n = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        if from_claude && msg["method"] == "notifications/initialized" {
            st.initialized = true;
        }
        st.log.push(Wire { from_claude, msg });
        st.log.len()
    };
    changed.send_replace(n);
}

async fn serve_connection(
    sock: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
    changed: Arc<watch::Sender<usize>>,
) {
    let (read, mut write) = sock.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    {
        // The newest connection is the one pushes go to.
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.writer = Some(tx.clone());
        st.initialized = false;
    }
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if write
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        record(&state, &changed, true, msg.clone());
        if let Some(reply) = answer(&msg) {
            record(&state, &changed, false, reply.clone());
            if tx.send(reply.to_string()).is_err() {
                break;
            }
        }
    }
    drop(tx);
    {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        st.writer = None;
    }
    writer.abort();
}

/// The reply to one message from Claude (`None` for notifications and
/// responses).
fn answer(msg: &Value) -> Option<Value> {
    let id = msg.get("id")?.clone();
    let method = msg.get("method")?.as_str()?;
    let ok = |result: Value| Some(json!({"jsonrpc": "2.0", "id": id, "result": result}));
    match method {
        "initialize" => ok(json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"experimental": {"claude/channel": {}}, "tools": {}},
            "serverInfo": {"name": "abg-e2e-channel", "version": "0.0.0"},
            "instructions": "Test channel. Messages arrive as <channel> blocks; answer with the reply tool."
        })),
        "tools/list" => ok(json!({"tools": [{
            "name": "reply",
            "description": "Send a message back to the peer.",
            "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
        }]})),
        "tools/call" => {
            ok(json!({"content": [{"type": "text", "text": "delivered"}], "isError": false}))
        }
        "ping" => ok(json!({})),
        // server/discover must be refused so Claude falls back to the legacy
        // handshake, the only era in which channels register.
        other => Some(json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32601, "message": format!("method not found: {other}")}})),
    }
}

/// A real python3 interpreter (not a pyenv shim, which needs the real HOME).
fn find_python() -> Result<PathBuf> {
    let system = PathBuf::from("/usr/bin/python3");
    if system.is_file() {
        return Ok(system);
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("python3 is needed for the MCP stdio relay")?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !path.is_file() {
        bail!("cannot locate a python3 executable for the MCP stdio relay");
    }
    Ok(path)
}
