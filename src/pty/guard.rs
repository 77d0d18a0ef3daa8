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

use super::terminal::TerminalIo;

/// Written after the child exits: pop the kitty keyboard protocol, disable
/// bracketed paste and focus reporting, leave the alternate screen, show the
/// cursor, reset attributes (the same sequence as the anchor).
pub const RESET_SEQUENCE: &[u8] = b"\x1b[<u\x1b[?2004l\x1b[?1004l\x1b[?1049l\x1b[?25h\x1b[0m";

struct Entry {
    id: u64,
    io: Arc<dyn TerminalIo>,
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
            let _ = entry.io.restore();
        }
    }
}

/// Raw mode for the lifetime of a supervised child.
pub(crate) struct TerminalGuard {
    id: u64,
    io: Arc<dyn TerminalIo>,
    restored: Arc<AtomicBool>,
    by_panic: Arc<AtomicBool>,
}

impl TerminalGuard {
    /// Registers the terminal for panic restore and, if it is a terminal,
    /// enables raw mode.
    pub(crate) fn engage(io: Arc<dyn TerminalIo>) -> std::io::Result<Self> {
        install_panic_hook();
        let guard = Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            io,
            restored: Arc::new(AtomicBool::new(false)),
            by_panic: Arc::new(AtomicBool::new(false)),
        };
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Entry {
                id: guard.id,
                io: Arc::clone(&guard.io),
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

    /// Restores the terminal (once) and unregisters from the panic hook.
    pub(crate) fn restore(&self) -> std::io::Result<()> {
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|e| e.id != self.id);
        if self.restored.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.io.restore()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Err(err) = self.restore() {
            tracing::warn!(%err, "could not restore the terminal");
        }
    }
}
