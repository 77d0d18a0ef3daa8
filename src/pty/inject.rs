//! Typing into the child's TUI without ever corrupting what the human types.
//!
//! The Claude doorbell (issue 5, delivery path 3) types a short prompt into
//! Claude's TUI when a pushed message stays unacknowledged. Typing into a
//! terminal someone is using is dangerous (anthropics/claude-code#60943), so
//! every write to the child's PTY, human or injected, goes through one
//! [`InputGate`]: an injection holds the gate for its whole duration (text,
//! settle delay, Enter), human bytes that arrive meanwhile wait and are
//! written afterwards in order, and an injection is refused unless the human
//! has been quiet for a while and the caller's screen check says the input
//! line is empty.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::screen::Screen;

/// Decides from the screen whether the TUI's input line is empty.
pub type ReadyCheck = Arc<dyn Fn(&vt100::Screen) -> bool + Send + Sync>;

/// How an injection is made.
#[derive(Clone)]
pub struct InjectOptions {
    /// Refuse if the human pressed a key within this long.
    pub quiet_for: Duration,
    /// Pause between the text and the Enter. TUIs treat text plus Enter in
    /// one burst as a paste and swallow the Enter; 0.4 s works for both.
    pub settle: Duration,
    /// Optional screen check (e.g. "Claude's prompt line holds only `❯`").
    pub ready: Option<ReadyCheck>,
}

impl Default for InjectOptions {
    fn default() -> Self {
        Self {
            quiet_for: Duration::from_secs(3),
            settle: Duration::from_millis(400),
            ready: None,
        }
    }
}

impl std::fmt::Debug for InjectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InjectOptions")
            .field("quiet_for", &self.quiet_for)
            .field("settle", &self.settle)
            .field("ready", &self.ready.is_some())
            .finish()
    }
}

/// Why an injection was not made; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The human pressed a key `ago` ago, within `quiet_for`.
    #[error("the human typed {ago:?} ago")]
    HumanTyping {
        /// Time since the last keystroke.
        ago: Duration,
    },
    /// The screen check said the input line is not empty.
    #[error("the input line is not empty")]
    InputLineNotEmpty,
    /// Another injection is being typed.
    #[error("another injection is in progress")]
    InjectionInProgress,
    /// The child has exited.
    #[error("the child has exited")]
    ChildExited,
}

/// Errors from [`Injector::inject`].
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    /// Not safe now; try again later.
    #[error("injection refused: {0}")]
    Refused(#[from] Refused),
    /// The text is empty or contains control characters (a newline would
    /// submit early, an escape could drive the TUI).
    #[error("injected text must be non-empty and free of control characters")]
    InvalidText,
    /// Writing to the PTY failed.
    #[error("writing to the PTY failed: {0}")]
    Io(#[from] io::Error),
}

/// The single path to the child's PTY input.
pub(crate) struct InputGate {
    writer: Mutex<Option<Box<dyn Write + Send>>>,
    last_keystroke: Mutex<Option<Instant>>,
    injecting: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl InputGate {
    pub(crate) fn new(writer: Box<dyn Write + Send>) -> Self {
        Self {
            writer: Mutex::new(Some(writer)),
            last_keystroke: Mutex::new(None),
            injecting: AtomicBool::new(false),
        }
    }

    /// Forwards the human's bytes, waiting for any injection in progress.
    pub(crate) fn human_write(&self, bytes: &[u8]) -> io::Result<()> {
        if is_keystroke(bytes) {
            // Recorded before taking the writer, so an injection that holds
            // it sees the keystroke it is delaying.
            *lock(&self.last_keystroke) = Some(Instant::now());
        }
        let mut writer = lock(&self.writer);
        let w = writer
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "child exited"))?;
        w.write_all(bytes)?;
        w.flush()
    }

    /// Drops the PTY writer once the child has exited.
    pub(crate) fn close(&self) {
        lock(&self.writer).take();
    }

    fn last_keystroke_age(&self) -> Option<Duration> {
        lock(&self.last_keystroke).map(|t| t.elapsed())
    }
}

/// Types text into the child's TUI; cheap to clone and `Send`.
#[derive(Clone)]
pub struct Injector {
    gate: Arc<InputGate>,
    screen: Screen,
}

impl std::fmt::Debug for Injector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector").finish_non_exhaustive()
    }
}

struct InjectingFlag<'a>(&'a AtomicBool);

impl Drop for InjectingFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Injector {
    pub(crate) fn new(gate: Arc<InputGate>, screen: Screen) -> Self {
        Self { gate, screen }
    }

    /// The child's screen model.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// Time since the human's last keystroke, `None` if they never typed.
    pub fn last_keystroke_age(&self) -> Option<Duration> {
        self.gate.last_keystroke_age()
    }

    /// True when the human has not pressed a key within `quiet_for`.
    pub fn is_input_idle(&self, quiet_for: Duration) -> bool {
        self.last_keystroke_age().is_none_or(|age| age >= quiet_for)
    }

    /// Types `text`, waits `opts.settle`, then presses Enter (`\r`), holding
    /// the human's input meanwhile. Refused (nothing written) when the human
    /// typed within `opts.quiet_for`, the screen check fails, another
    /// injection is running or the child has exited. Blocks for the settle
    /// delay; from async code use [`Injector::inject_async`].
    pub fn inject(&self, text: &str, opts: &InjectOptions) -> Result<(), InjectError> {
        if text.is_empty() || text.chars().any(char::is_control) {
            return Err(InjectError::InvalidText);
        }
        if self.gate.injecting.swap(true, Ordering::SeqCst) {
            return Err(Refused::InjectionInProgress.into());
        }
        let _flag = InjectingFlag(&self.gate.injecting);
        let mut writer = lock(&self.gate.writer);
        let w = writer.as_mut().ok_or(Refused::ChildExited)?;
        if let Some(ago) = self.gate.last_keystroke_age()
            && ago < opts.quiet_for
        {
            return Err(Refused::HumanTyping { ago }.into());
        }
        if let Some(ready) = &opts.ready
            && !self.screen.with(|s| ready(s))
        {
            return Err(Refused::InputLineNotEmpty.into());
        }
        w.write_all(text.as_bytes())?;
        w.flush()?;
        // The settle delay is part of the protocol, not synchronisation: the
        // TUI must see the text and the Enter as separate reads.
        std::thread::sleep(opts.settle);
        w.write_all(b"\r")?;
        w.flush()?;
        Ok(())
    }

    /// [`Injector::inject`] on a blocking thread, for async callers.
    pub async fn inject_async(&self, text: String, opts: InjectOptions) -> Result<(), InjectError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.inject(&text, &opts))
            .await
            .map_err(|e| InjectError::Io(io::Error::other(e)))?
    }
}

/// Whether a chunk of input contains a human keystroke, as opposed to only
/// terminal reports the TUI asked for (cursor position, device attributes,
/// mode and keyboard-protocol reports, OSC/DCS replies) and focus or mouse
/// events, which say nothing about someone typing.
pub(crate) fn is_keystroke(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b || i + 1 >= bytes.len() {
            return true;
        }
        match bytes[i + 1] {
            b'[' => {
                let start = i + 2;
                let Some(len) = bytes[start..]
                    .iter()
                    .position(|b| (0x40..=0x7e).contains(b))
                else {
                    return true;
                };
                let params = &bytes[start..start + len];
                let report = match bytes[start + len] {
                    b'R' | b'n' | b't' | b'I' | b'O' => true,
                    b'c' | b'y' | b'u' => params.first() == Some(&b'?'),
                    b'M' | b'm' => params.first() == Some(&b'<'),
                    _ => false,
                };
                if !report {
                    return true;
                }
                i = start + len + 1;
            }
            b']' | b'P' | b'_' => {
                // String reply, terminated by BEL or ST (ESC \).
                let body = &bytes[i + 2..];
                let end = body.iter().enumerate().find_map(|(j, b)| match b {
                    0x07 => Some(j + 1),
                    0x1b if body.get(j + 1) == Some(&b'\\') => Some(j + 2),
                    _ => None,
                });
                match end {
                    Some(n) => i += 2 + n,
                    None => return true,
                }
            }
            _ => return true,
        }
    }
    false
}
