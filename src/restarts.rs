//! Supervision of a server a daemon owns (Codex's app-server, OpenCode's
//! server): [`supervise`] starts it, watches it every 300 ms for an exit, a
//! permission-mode change or the daemon's shutdown, stops it, records its
//! `<prefix>.ready` / `.error` / `.exited` events, and paces restarts with
//! [`Restarts`]: after a failed start or an unexpected exit wait a backoff
//! that doubles up to a cap, cut short by shutdown; a server that ran a
//! while, or a deliberate restart (a mode change), starts again from the
//! shortest wait. The adapters supply only what differs ([`Server`]: how to
//! start, check and stop theirs); the mode file a verb writes for it
//! ([`read_mode`], [`write_mode`]) and the server's log ([`open_log`]) are
//! handled here too. One copy, so
//! both adapters behave alike.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::daemon::core::Core;

/// The permission mode a verb asked its server for, from its mode file
/// (`default` when unset or unreadable): what [`Server::mode`] reads.
pub fn read_mode<M: serde::de::DeserializeOwned>(path: &Path, default: M) -> M {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(s.trim()).ok())
        .unwrap_or(default)
}

/// A supervised server's log, opened to append (created 0600), and where
/// this start's output begins in it (to quote it when the start fails).
pub fn open_log(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let offset = out.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((out, offset))
}

/// Write the mode file a verb hands its server's supervisor (0600).
pub fn write_mode<M: serde::Serialize>(
    path: &Path,
    mode: &M,
) -> Result<(), crate::paths::PathsError> {
    let text = serde_json::to_string(mode).unwrap_or_default();
    crate::paths::write_private_file(path, text.as_bytes())
}

/// The shortest wait, after a deliberate restart or a long run.
const FIRST: Duration = Duration::from_millis(250);
/// The longest wait between attempts.
const MAX: Duration = Duration::from_secs(30);
/// A server that ran this long before it exited is not failing fast.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// The backoff of one supervised server.
#[derive(Debug, Clone)]
pub struct Restarts {
    next: Duration,
}

impl Default for Restarts {
    fn default() -> Self {
        Self { next: FIRST }
    }
}

impl Restarts {
    /// Start again from the shortest wait (a deliberate restart).
    pub fn reset(&mut self) {
        self.next = FIRST;
    }

    /// The wait before the next attempt (for logs and tests).
    pub fn next_wait(&self) -> Duration {
        self.next
    }

    /// The wait after a failed start (`ran: None`) or an exit after
    /// running `ran`, doubling the next one.
    fn step(&mut self, ran: Option<Duration>) -> Duration {
        if ran.is_some_and(|r| r > HEALTHY_RUN) {
            self.reset();
        }
        let wait = self.next;
        self.next = (self.next * 2).min(MAX);
        wait
    }

    /// Wait [`Self::step`]'s time. `false` when `stop` fired meanwhile
    /// (the caller stops supervising).
    pub async fn pause(&mut self, ran: Option<Duration>, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = self.step(ran);
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = stop.changed() => false,
        }
    }
}

/// Why [`supervise`] stopped watching a running server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The daemon is shutting down.
    Shutdown,
    /// The permission mode asked for changed.
    ModeChanged,
    /// The server (or its guard) exited.
    Exited,
}

/// What [`supervise`] needs of one adapter's server.
pub trait Server: Send {
    type Mode: Copy + PartialEq + std::fmt::Debug + serde::Serialize + Send + Sync;
    type State: Send + Sync;
    type Error: std::fmt::Display + Send;
    /// Its name in logs, e.g. `codex app-server`.
    const NAME: &'static str;
    /// The prefix of its events, e.g. `codex.appserver`.
    const EVENTS: &'static str;

    /// The mode it should run in now.
    fn mode(&self) -> Self::Mode;
    /// Start (or adopt) one in `mode`, wait until it is ready and log so.
    fn start(
        &mut self,
        mode: Self::Mode,
    ) -> impl Future<Output = Result<Self::State, Self::Error>> + Send;
    /// Its pid and port (for the events).
    fn pid_port(state: &Self::State) -> (u32, u16);
    /// Whether it has exited (asked every 300 ms).
    fn exited(&mut self, state: &Self::State) -> impl Future<Output = bool> + Send;
    /// Stop it once it is no longer watched for `why`.
    fn stop(&mut self, state: &Self::State, why: Ended) -> impl Future<Output = ()> + Send;
    /// Supervision is over (after the last stop).
    fn finish(&mut self);
}

/// Keep `server` running until the daemon shuts down. `ready_tx` carries a
/// generation number bumped every time a (new) server is ready.
pub async fn supervise<S: Server>(core: &Core, ready_tx: &watch::Sender<u64>, mut server: S) {
    let mut stop = core.shutdown_signal();
    let mut restarts = Restarts::default();
    let mut generation = 0u64;
    let event = |what: &str| format!("{}.{what}", S::EVENTS);
    loop {
        if *stop.borrow() {
            break;
        }
        let mode = server.mode();
        let state = match server.start(mode).await {
            Ok(state) => state,
            Err(e) => {
                tracing::error!("{}: {e}", S::NAME);
                let _ = core.record_event(
                    &event("error"),
                    serde_json::json!({ "error": e.to_string() }),
                );
                if !restarts.pause(None, &mut stop).await {
                    break;
                }
                continue;
            }
        };
        let started = Instant::now();
        generation += 1;
        let (pid, port) = S::pid_port(&state);
        let _ = core.record_event(
            &event("ready"),
            serde_json::json!({ "pid": pid, "port": port, "mode": mode }),
        );
        ready_tx.send_replace(generation);
        // Watch it: exit, mode change or shutdown.
        let why = loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                _ = stop.changed() => break Ended::Shutdown,
            }
            if server.exited(&state).await {
                break Ended::Exited;
            }
            if server.mode() != mode {
                break Ended::ModeChanged;
            }
        };
        if why == Ended::ModeChanged {
            tracing::info!("permission mode changed; restarting the {}", S::NAME);
        }
        server.stop(&state, why).await;
        match why {
            Ended::Shutdown => break,
            Ended::ModeChanged => restarts.reset(),
            Ended::Exited => {
                let _ = core.record_event(&event("exited"), serde_json::json!({ "pid": pid }));
                if !restarts.pause(Some(started.elapsed()), &mut stop).await {
                    break;
                }
            }
        }
    }
    server.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_a_cap_and_resets_after_a_long_run() {
        let mut r = Restarts::default();
        let waits: Vec<Duration> = (0..10).map(|_| r.step(None)).collect();
        assert_eq!(waits[0], FIRST);
        assert_eq!(waits[1], FIRST * 2);
        assert_eq!(waits[9], MAX);
        assert_eq!(
            r.step(Some(Duration::from_secs(5))),
            MAX,
            "a quick exit keeps backing off"
        );
        assert_eq!(
            r.step(Some(Duration::from_secs(61))),
            FIRST,
            "a long run starts over"
        );
        assert_eq!(r.next_wait(), FIRST * 2);
        r.reset();
        assert_eq!(r.next_wait(), FIRST);
    }

    #[tokio::test]
    async fn shutdown_cuts_the_wait_short() {
        let (tx, mut rx) = watch::channel(false);
        let mut r = Restarts::default();
        let stopper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send(true);
        });
        assert!(!r.pause(None, &mut rx).await);
        let _ = stopper.await;
    }
}
