//! [`TerminalIo`] for the terminal abg was started in.
//!
//! Raw mode is set on stdin with termios (the saved mode is restored exactly,
//! like `stty -g`); output goes straight to fd 1 so the panic hook can write
//! the reset sequence without taking std's stdout lock; the size comes from
//! crossterm; resize and signals come from [`super::signals`]. When stdin is
//! not a terminal (pipes, CI) raw mode is skipped and the reset sequence is
//! only written if stdout is a terminal.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{self, SetArg, Termios};

use super::signals::SignalPump;
use super::terminal::{EventSink, InputSource, TermSize, TerminalIo};

/// The process's own terminal (stdin, stdout, signals).
pub struct RealTerminal {
    stdin_tty: bool,
    stdout_tty: bool,
    saved: Mutex<Option<Termios>>,
    pump: Mutex<Option<SignalPump>>,
}

impl std::fmt::Debug for RealTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealTerminal")
            .field("stdin_tty", &self.stdin_tty)
            .field("stdout_tty", &self.stdout_tty)
            .finish_non_exhaustive()
    }
}

impl Default for RealTerminal {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn poll_timeout(timeout: Duration) -> PollTimeout {
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    PollTimeout::from(ms)
}

impl RealTerminal {
    /// Looks at stdin and stdout; nothing is changed until the supervisor
    /// starts.
    pub fn new() -> Self {
        Self {
            stdin_tty: nix::unistd::isatty(io::stdin()).unwrap_or(false),
            stdout_tty: nix::unistd::isatty(io::stdout()).unwrap_or(false),
            saved: Mutex::new(None),
            pump: Mutex::new(None),
        }
    }
}

impl TerminalIo for RealTerminal {
    fn is_tty(&self) -> bool {
        self.stdin_tty
    }

    fn size(&self) -> Option<TermSize> {
        if !self.stdin_tty && !self.stdout_tty {
            return None;
        }
        match crossterm::terminal::size() {
            Ok((cols, rows)) if cols > 0 && rows > 0 => Some(TermSize { rows, cols }),
            _ => None,
        }
    }

    fn enable_raw_mode(&self) -> io::Result<()> {
        if !self.stdin_tty {
            return Ok(());
        }
        let stdin = io::stdin();
        let current = termios::tcgetattr(stdin.as_fd())?;
        let mut raw = current.clone();
        termios::cfmakeraw(&mut raw);
        let mut saved = lock(&self.saved);
        if saved.is_none() {
            *saved = Some(current);
        }
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw)?;
        Ok(())
    }

    fn restore(&self, reset: &[u8]) -> io::Result<()> {
        let mut result = Ok(());
        if let Some(saved) = lock(&self.saved).take() {
            result = termios::tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &saved)
                .map_err(io::Error::from);
        }
        if self.stdout_tty {
            let written = FdStdout.write_all(reset);
            result = result.and(written);
        }
        result
    }

    fn input(&self) -> io::Result<Box<dyn InputSource>> {
        Ok(Box::new(StdinSource))
    }

    fn output(&self) -> io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(FdStdout))
    }

    fn start_events(&self, sink: EventSink) -> io::Result<()> {
        let pump = SignalPump::start(sink)?;
        *lock(&self.pump) = Some(pump);
        Ok(())
    }

    fn stop_events(&self) {
        // Dropping the pump restores the previous signal handlers.
        lock(&self.pump).take();
    }
}

/// Stdin, read with `poll` so the input thread can stop when the child exits
/// instead of stealing the human's next keystroke.
struct StdinSource;

impl InputSource for StdinSource {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let stdin = io::stdin();
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, poll_timeout(timeout)) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        match nix::unistd::read(stdin.as_fd(), buf) {
            Ok(n) => Ok(Some(n)),
            Err(Errno::EINTR | Errno::EAGAIN) => Ok(None),
            // A hung-up terminal reads as EIO; treat it as end of input.
            Err(Errno::EIO) => Ok(Some(0)),
            Err(e) => Err(e.into()),
        }
    }
}

/// fd 1 without std's buffering or lock; waits out `EAGAIN` if a terminal
/// left stdout non-blocking.
struct FdStdout;

impl Write for FdStdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stdout = io::stdout();
        loop {
            match nix::unistd::write(stdout.as_fd(), buf) {
                Ok(n) => return Ok(n),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
                    match poll(&mut fds, PollTimeout::from(1000u16)) {
                        Ok(0) => return Err(io::ErrorKind::WouldBlock.into()),
                        Ok(_) | Err(Errno::EINTR) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
