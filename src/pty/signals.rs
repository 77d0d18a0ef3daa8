//! Turns process signals into [`TermEvent`]s for the real terminal.
//!
//! SIGWINCH becomes a resize; SIGTERM, SIGINT, SIGHUP and SIGQUIT are
//! forwarded to the child's process group (the child runs in its own session,
//! so a Ctrl-C in a non-raw outer terminal or a `kill` aimed at abg would not
//! reach it otherwise). The handlers only write the signal number to a
//! self-pipe; a thread turns bytes into events. The previous handlers are put
//! back when the pump stops, so abg's default behaviour returns after the
//! child exits.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use super::terminal::{EventSink, TermEvent};

/// The signals the pump handles.
const HANDLED: [Signal; 5] = [
    Signal::SIGWINCH,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);
static ACTIVE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: std::ffi::c_int) {
    let saved = Errno::last_raw();
    let fd = WRITE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the pump keeps the pipe open while WRITE_FD holds its
        // number and clears WRITE_FD (after uninstalling this handler)
        // before closing it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        // write(2) is async-signal-safe; a full pipe drops the byte, which is
        // fine because the pipe already holds pending events.
        let _ = nix::unistd::write(fd, &[sig as u8]);
    }
    Errno::set_raw(saved);
}

/// Installed signal handlers plus the thread that reports them.
pub(crate) struct SignalPump {
    previous: Vec<(Signal, SigAction)>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _write: OwnedFd,
}

impl SignalPump {
    /// Installs the handlers; only one pump may be active per process.
    pub(crate) fn start(sink: EventSink) -> std::io::Result<Self> {
        if ACTIVE.swap(true, Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "signal handlers already installed by another supervisor",
            ));
        }
        let (read, write) = match nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
            Ok(fds) => fds,
            Err(e) => {
                ACTIVE.store(false, Ordering::SeqCst);
                return Err(e.into());
            }
        };
        WRITE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        let mut pump = Self {
            previous: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
            _write: write,
        };
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        for sig in HANDLED {
            // SAFETY: `on_signal` only touches atomics, errno and write(2),
            // all async-signal-safe.
            match unsafe { sigaction(sig, &action) } {
                Ok(old) => pump.previous.push((sig, old)),
                Err(e) => {
                    pump.shutdown();
                    return Err(e.into());
                }
            }
        }
        let stop = Arc::clone(&pump.stop);
        let thread = std::thread::Builder::new()
            .name("abg-pty-signals".into())
            .spawn(move || pump_loop(&read, &sink, &stop));
        match thread {
            Ok(handle) => pump.thread = Some(handle),
            Err(e) => {
                pump.shutdown();
                return Err(e);
            }
        }
        Ok(pump)
    }

    fn shutdown(&mut self) {
        for (sig, old) in self.previous.drain(..) {
            // SAFETY: restores the handler that was installed before ours.
            let _ = unsafe { sigaction(sig, &old) };
        }
        WRITE_FD.store(-1, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.thread.take() {
            let _ = handle.join();
        }
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

impl Drop for SignalPump {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn pump_loop(read: &OwnedFd, sink: &EventSink, stop: &AtomicBool) {
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(read.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, 100u16) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(%e, "signal pump poll failed");
                return;
            }
        }
        let n = match nix::unistd::read(read.as_fd(), &mut buf) {
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => {
                tracing::warn!(%e, "signal pump read failed");
                return;
            }
        };
        for &byte in &buf[..n] {
            let event = match Signal::try_from(i32::from(byte)) {
                Ok(Signal::SIGWINCH) => TermEvent::Resize,
                Ok(sig) => TermEvent::Signal(sig),
                Err(_) => continue,
            };
            if !sink.send(event) {
                return;
            }
        }
    }
}
