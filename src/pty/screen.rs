//! A model of what the child has drawn, kept by parsing its PTY output.
//!
//! abg never scrapes the human's terminal; it replays the same bytes into a
//! `vt100` parser. Callers use it to recognise screens (Claude's dev-channels
//! dialog, Codex's composer), to decide whether a TUI's input line is empty
//! before the doorbell types into it, and in tests to wait for output with a
//! deadline instead of sleeping.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::terminal::TermSize;

struct Inner {
    parser: Mutex<vt100::Parser>,
    changed: Condvar,
}

/// A shared, thread-safe screen model; cheap to clone.
#[derive(Clone)]
pub struct Screen {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen").finish_non_exhaustive()
    }
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap_or(std::num::NonZeroU16::MIN)
}

impl Screen {
    /// An empty screen of `size` keeping `scrollback` rows of history.
    pub fn new(size: TermSize, scrollback: usize) -> Self {
        let parser = vt100::Parser::new(nonzero(size.rows), nonzero(size.cols), scrollback);
        Self {
            inner: Arc::new(Inner {
                parser: Mutex::new(parser),
                changed: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, vt100::Parser> {
        self.inner
            .parser
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Feeds child output into the model and wakes waiters.
    pub fn process(&self, bytes: &[u8]) {
        self.lock().process(bytes);
        self.inner.changed.notify_all();
    }

    /// Follows a window-size change.
    pub fn resize(&self, size: TermSize) {
        self.lock().set_size(nonzero(size.rows), nonzero(size.cols));
        self.inner.changed.notify_all();
    }

    /// Runs `f` on the current screen.
    pub fn with<R>(&self, f: impl FnOnce(&vt100::Screen) -> R) -> R {
        f(self.lock().screen())
    }

    /// Whether the child left the terminal in the alternate screen; `None`
    /// if the model is busy (never blocks, so it is safe in a panic hook).
    pub fn try_alternate_screen(&self) -> Option<bool> {
        match self.inner.parser.try_lock() {
            Ok(parser) => Some(parser.screen().alternate_screen()),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                Some(p.into_inner().screen().alternate_screen())
            }
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// The visible text, rows joined by newlines.
    pub fn contents(&self) -> String {
        self.with(|s| s.contents())
    }

    /// The text of the row the cursor is on (trailing blanks trimmed).
    pub fn cursor_line(&self) -> String {
        self.with(cursor_line)
    }

    /// Waits until `pred` holds for the screen, at most `timeout`; returns
    /// whether it held.
    pub fn wait_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&vt100::Screen) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut parser = self.lock();
        loop {
            if pred(parser.screen()) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            parser = match self.inner.changed.wait_timeout(parser, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Waits until the visible text contains `needle`, at most `timeout`.
    pub fn wait_for_text(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.contents().contains(needle))
    }
}

/// The text of the row the cursor is on, trailing blanks trimmed.
pub fn cursor_line(screen: &vt100::Screen) -> String {
    let (row, _) = screen.cursor_position();
    let (_, cols) = screen.size();
    screen
        .rows(0, cols.get())
        .nth(usize::from(row))
        .map(|line| line.trim_end().to_owned())
        .unwrap_or_default()
}
