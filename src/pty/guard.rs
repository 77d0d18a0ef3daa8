//! Restores the human's terminal on every exit path.
//!
//! A TUI that crashes (or an abg that panics) must never leave the terminal in
//! raw mode, in the alternate screen, with a hidden cursor or with keyboard
//! protocols enabled. [`TerminalGuard`] restores on drop; a chained panic
//! hook restores every live guard before the panic message is printed. A
//! panic that something catches (a tokio task, say) does not end the session,
//! so the supervisor can notice [`TerminalGuard::take_panic_restore`] and put
//! the terminal back into raw mode.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

use super::screen::Screen;
use super::terminal::TerminalIo;

/// Written after the child exits: pop the kitty keyboard protocol, disable
/// bracketed paste and focus reporting, leave the alternate screen, show the
/// cursor, reset attributes (the same sequence as the anchor).
pub const RESET_SEQUENCE: &[u8] = b"\x1b[<u\x1b[?2004l\x1b[?1004l\x1b[?1049l\x1b[?25h\x1b[0m";

/// [`RESET_SEQUENCE`] without `?1049l`. Leaving the alternate screen also
/// restores the cursor saved by the last `?1049h` (xterm, tmux), so sending
/// it when the child already left (or never entered) makes the cursor jump
/// back and the shell overwrite earlier output.
const RESET_KEEP_SCREEN: &[u8] = b"\x1b[<u\x1b[?2004l\x1b[?1004l\x1b[?25h\x1b[0m";

/// The reset to write: the full sequence if the child's screen may still be
/// the alternate one (`None`: unknown), otherwise without `?1049l`.
pub fn reset_sequence(alternate_screen: Option<bool>) -> &'static [u8] {
    if alternate_screen == Some(false) {
        RESET_KEEP_SCREEN
    } else {
        RESET_SEQUENCE
    }
}

struct Entry {
    id: u64,
    io: Arc<dyn TerminalIo>,
    screen: Screen,
    restored: Arc<AtomicBool>,
    by_panic: Arc<AtomicBool>,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static HOOK: Once = Once::new();

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_all_for_panic();
            previous(info);
        }));
    });
}

fn restore_all_for_panic() {
    // A panic while the registry is locked would deadlock `lock`; skip then.
    let entries = match REGISTRY.try_lock() {
        Ok(entries) => entries,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return,
    };
    for entry in entries.iter() {
        if !entry.restored.swap(true, Ordering::SeqCst) {
            entry.by_panic.store(true, Ordering::SeqCst);
            // try_lock: the panic may have happened inside the screen lock.
            let reset = reset_sequence(entry.screen.try_alternate_screen());
            let _ = entry.io.restore(reset);
        }
    }
}

/// Raw mode for the lifetime of a supervised child.
pub(crate) struct TerminalGuard {
    id: u64,
    io: Arc<dyn TerminalIo>,
    screen: Screen,
    restored: Arc<AtomicBool>,
    by_panic: Arc<AtomicBool>,
    done: AtomicBool,
}

impl TerminalGuard {
    /// Registers the terminal for panic restore and, if it is a terminal,
    /// enables raw mode.
    pub(crate) fn engage(io: Arc<dyn TerminalIo>, screen: Screen) -> std::io::Result<Self> {
        install_panic_hook();
        let guard = Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            io,
            screen,
            restored: Arc::new(AtomicBool::new(false)),
            by_panic: Arc::new(AtomicBool::new(false)),
            done: AtomicBool::new(false),
        };
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Entry {
                id: guard.id,
                io: Arc::clone(&guard.io),
                screen: guard.screen.clone(),
                restored: Arc::clone(&guard.restored),
                by_panic: Arc::clone(&guard.by_panic),
            });
        if guard.io.is_tty() {
            // On failure the guard drops here and restores what it can.
            guard.io.enable_raw_mode()?;
        }
        Ok(guard)
    }

    /// True once, after the panic hook restored the terminal while this
    /// guard was live; the caller decides whether to re-enter raw mode.
    pub(crate) fn take_panic_restore(&self) -> bool {
        self.by_panic.swap(false, Ordering::SeqCst)
    }

    /// Re-enters raw mode after a caught panic restored the terminal.
    pub(crate) fn reengage(&self) -> std::io::Result<()> {
        if self.io.is_tty() {
            self.io.enable_raw_mode()?;
        }
        self.restored.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Restores the terminal and unregisters from the panic hook. Runs once,
    /// even if the panic hook already restored: the child may have changed
    /// modes since.
    pub(crate) fn restore(&self) -> std::io::Result<()> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|e| e.id != self.id);
        self.restored.store(true, Ordering::SeqCst);
        self.io
            .restore(reset_sequence(self.screen.try_alternate_screen()))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Err(err) = self.restore() {
            tracing::warn!(%err, "could not restore the terminal");
        }
    }
}
