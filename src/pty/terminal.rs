//! The injectable seam between the supervisor and the human's terminal.
//!
//! Everything the supervisor needs from "the terminal abg was started in"
//! (bytes in, bytes out, size, raw mode, restore, resize and signal events)
//! goes through [`TerminalIo`], so the whole proxy runs in tests against
//! channels and buffers ([`super::testing`]) and in production against the
//! process's own terminal ([`super::RealTerminal`]).

use std::io::{self, Write};
use std::sync::mpsc::Sender;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::ExitStatus;

/// A terminal size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    /// Number of rows.
    pub rows: u16,
    /// Number of columns.
    pub cols: u16,
}

impl TermSize {
    /// Used when the real size is unknown (stdin and stdout not terminals).
    pub const DEFAULT: TermSize = TermSize { rows: 24, cols: 80 };

    /// A size, with zero dimensions replaced by the default's.
    pub fn new(rows: u16, cols: u16) -> Self {
        Self {
            rows: if rows == 0 { Self::DEFAULT.rows } else { rows },
            cols: if cols == 0 { Self::DEFAULT.cols } else { cols },
        }
    }
}

/// Something that happened to the human's terminal or to abg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermEvent {
    /// The window size changed; the supervisor re-reads [`TerminalIo::size`].
    Resize,
    /// abg received a signal to forward to the child's process group.
    Signal(Signal),
}

/// Messages to the supervisor's control loop.
#[derive(Debug)]
pub(crate) enum Control {
    Term(TermEvent),
    Exited(Result<ExitStatus, nix::Error>),
    Shutdown,
}

/// Where a [`TerminalIo`] reports [`TermEvent`]s.
#[derive(Debug, Clone)]
pub struct EventSink(pub(crate) Sender<Control>);

impl EventSink {
    /// Reports an event; false once the supervisor has finished.
    pub fn send(&self, event: TermEvent) -> bool {
        self.0.send(Control::Term(event)).is_ok()
    }
}

/// The human's keystrokes.
pub trait InputSource: Send {
    /// Waits up to `timeout` for input and reads some of it into `buf`.
    /// `Ok(None)`: nothing arrived in time; `Ok(Some(0))`: end of input.
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>>;
}

/// The terminal abg runs in, as the supervisor sees it.
///
/// Methods take `&self` because the terminal is shared between the control
/// loop and the panic hook, which must be able to call [`TerminalIo::restore`]
/// from any thread.
pub trait TerminalIo: Send + Sync + 'static {
    /// Whether input comes from a terminal (raw mode applies only then).
    fn is_tty(&self) -> bool;
    /// The current window size, `None` when there is no terminal to ask.
    fn size(&self) -> Option<TermSize>;
    /// Saves the current mode and switches to raw mode.
    fn enable_raw_mode(&self) -> io::Result<()>;
    /// Leaves raw mode (restoring the saved mode) and writes `reset` (see
    /// [`super::reset_sequence`]) to the output, so a TUI that died in the
    /// alternate screen or with a hidden cursor leaves a usable terminal.
    /// Safe to call more than once and from a panic hook.
    fn restore(&self, reset: &[u8]) -> io::Result<()>;
    /// The human's keystrokes; called once per supervised child.
    fn input(&self) -> io::Result<Box<dyn InputSource>>;
    /// Where the child's output goes; called once per supervised child.
    fn output(&self) -> io::Result<Box<dyn Write + Send>>;
    /// Starts reporting resize and signal events to `sink`.
    fn start_events(&self, sink: EventSink) -> io::Result<()>;
    /// Stops reporting events (and uninstalls any signal handlers).
    fn stop_events(&self);
}
