//! Runs one child in a PTY and proxies the human's terminal to it.
//!
//! Threads: output (PTY → terminal, then screen model and tap, so observers
//! never delay the passthrough), input (terminal → PTY through the
//! [`InputGate`]), waiter (`waitpid`), and control (resize, signal
//! forwarding with SIGKILL escalation, panic recovery, teardown). Every
//! blocking read polls with a short timeout so teardown is bounded and no
//! thread is left behind to steal the human's next keystroke.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use portable_pty::{MasterPty, PtySize, native_pty_system};

use super::guard::TerminalGuard;
use super::inject::{Injector, InputGate};
use super::screen::Screen;
use super::terminal::{Control, EventSink, InputSource, TermEvent, TermSize, TerminalIo};
use super::{ExitStatus, LaunchSpec, PtyError};

/// Sees every chunk of the child's output after it reached the terminal.
/// Runs on the output thread: keep it cheap (e.g. forward to a channel).
pub type OutputTap = Box<dyn FnMut(&[u8]) + Send>;

/// How often the control loop checks timers when nothing happens.
const TICK: Duration = Duration::from_millis(100);
/// Poll timeout of the copy threads (bounds teardown, adds no latency).
const IO_POLL: Duration = Duration::from_millis(50);
/// After the child exits, output quiet for this long counts as drained.
const DRAIN_QUIET: Duration = Duration::from_millis(50);

/// Tuning for [`Supervisor::spawn`].
pub struct SupervisorOptions {
    /// After forwarding SIGTERM or SIGHUP, SIGKILL the group if the child is
    /// still alive this much later (the anchor uses 1.5 s).
    pub kill_grace: Duration,
    /// Upper bound on copying output left over after the child exited.
    pub drain_timeout: Duration,
    /// Rows of history kept by the screen model.
    pub scrollback: usize,
    /// Optional observer of the child's output.
    pub output_tap: Option<OutputTap>,
}

impl Default for SupervisorOptions {
    fn default() -> Self {
        Self {
            kill_grace: Duration::from_millis(1500),
            drain_timeout: Duration::from_secs(1),
            scrollback: 0,
            output_tap: None,
        }
    }
}

impl std::fmt::Debug for SupervisorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisorOptions")
            .field("kill_grace", &self.kill_grace)
            .field("drain_timeout", &self.drain_timeout)
            .field("scrollback", &self.scrollback)
            .field("output_tap", &self.output_tap.is_some())
            .finish()
    }
}

/// Runs `spec` under the supervisor with default options and returns how it
/// ended. The terminal is restored before this returns.
pub fn run(spec: LaunchSpec, io: impl TerminalIo) -> Result<ExitStatus, PtyError> {
    Supervisor::spawn(spec, io, SupervisorOptions::default())?.wait()
}

/// A child running in a PTY; dropping it without [`Supervisor::wait`] hangs
/// the child up (SIGHUP, then SIGKILL) and restores the terminal.
pub struct Supervisor {
    pid: u32,
    injector: Injector,
    screen: Screen,
    control: Sender<Control>,
    thread: Option<JoinHandle<Result<ExitStatus, PtyError>>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

fn pty_size(size: TermSize) -> PtySize {
    PtySize {
        rows: size.rows,
        cols: size.cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

fn internal(what: &str, err: impl std::fmt::Display) -> PtyError {
    PtyError::Internal(format!("{what}: {err}"))
}

fn spawn_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, PtyError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| internal("cannot start a thread", e))
}

impl Supervisor {
    /// Opens a PTY sized like the terminal, enters raw mode (if the terminal
    /// is one), starts the child and the copy threads. On error the terminal
    /// is already restored and no child is left running.
    pub fn spawn(
        spec: LaunchSpec,
        io: impl TerminalIo,
        opts: SupervisorOptions,
    ) -> Result<Self, PtyError> {
        let io: Arc<dyn TerminalIo> = Arc::new(io);
        let cmd = spec.to_command()?;
        let size = io.size().unwrap_or(TermSize::DEFAULT);
        let pair = native_pty_system()
            .openpty(pty_size(size))
            .map_err(|e| PtyError::Pty(format!("{e:#}")))?;
        let screen = Screen::new(size, opts.scrollback);
        let guard =
            TerminalGuard::engage(Arc::clone(&io), screen.clone()).map_err(PtyError::Terminal)?;
        let child = pair.slave.spawn_command(cmd).map_err(|e| PtyError::Spawn {
            program: spec.program.to_string_lossy().into_owned(),
            reason: format!("{e:#}"),
        })?;
        // The parent must not hold the slave, or the output never reaches EOF.
        drop(pair.slave);
        let Some(pid) = child.process_id() else {
            let mut child = child;
            let _ = child.kill();
            return Err(PtyError::Internal("child has no pid".into()));
        };
        drop(child);
        let (tx, rx) = channel();
        let mut running = Running {
            io,
            guard,
            master: pair.master,
            pid: Pid::from_raw(pid as i32),
            screen,
            gate: None,
            rx,
            kill_grace: opts.kill_grace,
            exited: Arc::new(AtomicBool::new(false)),
            stop_input: Arc::new(AtomicBool::new(false)),
            output_thread: None,
            input_thread: None,
            finished: false,
            reaped: false,
        };
        // From here on `running`'s Drop kills the child on any error, and the
        // waiter reaps it.
        let waiter_tx = tx.clone();
        let child_pid = running.pid;
        spawn_thread("abg-pty-wait", move || {
            let _ = waiter_tx.send(Control::Exited(wait_child(child_pid)));
        })?;
        let gate = running.start_io(opts.output_tap, opts.drain_timeout)?;
        if let Err(err) = running.io.start_events(EventSink(tx.clone())) {
            tracing::warn!(%err, "window-size and signal forwarding unavailable");
        }
        let screen = running.screen.clone();
        let thread = spawn_thread("abg-pty-control", move || running.run())?;
        Ok(Self {
            pid,
            injector: Injector::new(gate, screen.clone()),
            screen,
            control: tx,
            thread: Some(thread),
        })
    }

    /// The child's pid (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A handle to type into the child safely.
    pub fn injector(&self) -> Injector {
        self.injector.clone()
    }

    /// The model of the child's screen.
    pub fn screen(&self) -> Screen {
        self.screen.clone()
    }

    /// Forwards `sig` to the child's process group as if abg had received
    /// it (SIGTERM and SIGHUP escalate to SIGKILL after the grace period).
    pub fn signal(&self, sig: Signal) {
        let _ = self.control.send(Control::Term(TermEvent::Signal(sig)));
    }

    /// Waits for the child; returns its status once output is drained and
    /// the terminal restored.
    pub fn wait(mut self) -> Result<ExitStatus, PtyError> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| PtyError::Internal("supervisor thread panicked".into()))?,
            None => Err(PtyError::Internal("already waited".into())),
        }
    }

    /// [`Supervisor::wait`] on a blocking thread, for async callers.
    pub async fn wait_async(self) -> Result<ExitStatus, PtyError> {
        tokio::task::spawn_blocking(move || self.wait())
            .await
            .map_err(|e| internal("wait task failed", e))?
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.control.send(Control::Shutdown);
            let _ = thread.join();
        }
    }
}

fn wait_child(pid: Pid) -> Result<ExitStatus, nix::Error> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signaled(sig)),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// State owned by the control thread.
struct Running {
    io: Arc<dyn TerminalIo>,
    guard: TerminalGuard,
    master: Box<dyn MasterPty + Send>,
    pid: Pid,
    screen: Screen,
    gate: Option<Arc<InputGate>>,
    rx: Receiver<Control>,
    kill_grace: Duration,
    exited: Arc<AtomicBool>,
    stop_input: Arc<AtomicBool>,
    output_thread: Option<JoinHandle<()>>,
    input_thread: Option<JoinHandle<()>>,
    finished: bool,
    reaped: bool,
}

impl Running {
    fn start_io(
        &mut self,
        tap: Option<OutputTap>,
        drain_timeout: Duration,
    ) -> Result<Arc<InputGate>, PtyError> {
        let raw = self
            .master
            .as_raw_fd()
            .ok_or_else(|| PtyError::Pty("master has no file descriptor".into()))?;
        // SAFETY: `raw` belongs to `self.master`, alive for this call; the
        // dup gives the output thread its own descriptor.
        let reader = nix::unistd::dup(unsafe { BorrowedFd::borrow_raw(raw) })
            .map_err(|e| PtyError::Pty(format!("dup: {e}")))?;
        let writer = self
            .master
            .take_writer()
            .map_err(|e| PtyError::Pty(format!("{e:#}")))?;
        let gate = Arc::new(InputGate::new(writer));
        self.gate = Some(Arc::clone(&gate));
        let out = self.io.output().map_err(PtyError::Terminal)?;
        let input = self.io.input().map_err(PtyError::Terminal)?;
        let (screen, exited) = (self.screen.clone(), Arc::clone(&self.exited));
        self.output_thread = Some(spawn_thread("abg-pty-out", move || {
            copy_output(&reader, out, &screen, tap, &exited, drain_timeout);
        })?);
        let (in_gate, stop) = (Arc::clone(&gate), Arc::clone(&self.stop_input));
        self.input_thread = Some(spawn_thread("abg-pty-in", move || {
            copy_input(input, &in_gate, &stop);
        })?);
        Ok(gate)
    }

    fn run(mut self) -> Result<ExitStatus, PtyError> {
        let mut kill_at: Option<Instant> = None;
        let result = loop {
            match self.rx.recv_timeout(TICK) {
                Ok(Control::Term(TermEvent::Resize)) => self.resize(),
                Ok(Control::Term(TermEvent::Signal(sig))) => {
                    self.forward(sig);
                    if matches!(sig, Signal::SIGTERM | Signal::SIGHUP) {
                        kill_at.get_or_insert_with(|| Instant::now() + self.kill_grace);
                    }
                }
                Ok(Control::Shutdown) => {
                    self.forward(Signal::SIGHUP);
                    kill_at.get_or_insert_with(|| Instant::now() + self.kill_grace);
                }
                Ok(Control::Exited(status)) => {
                    self.reaped = true;
                    break status.map_err(PtyError::Wait);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(PtyError::Internal("child waiter vanished".into()));
                }
            }
            if kill_at.is_some_and(|at| Instant::now() >= at) {
                tracing::info!(pid = self.pid.as_raw(), "child ignored the signal; killing");
                self.forward(Signal::SIGKILL);
                kill_at = None;
            }
            if self.guard.take_panic_restore() {
                // A caught panic restored the terminal while the TUI runs on:
                // back to raw mode, and make the TUI redraw.
                if let Err(err) = self.guard.reengage() {
                    tracing::warn!(%err, "cannot re-enter raw mode");
                }
                self.forward(Signal::SIGWINCH);
            }
        };
        self.finish();
        result
    }

    fn resize(&self) {
        let Some(size) = self.io.size() else { return };
        if let Err(err) = self.master.resize(pty_size(size)) {
            tracing::warn!(%err, "cannot resize the PTY");
        }
        self.screen.resize(size);
    }

    /// Sends `sig` to the child's process group and, if a job in another
    /// group holds the PTY's foreground, to that group too.
    fn forward(&self, sig: Signal) {
        if self.reaped {
            return;
        }
        if let Err(err) = killpg(self.pid, sig)
            && err != Errno::ESRCH
        {
            tracing::warn!(%err, ?sig, "cannot signal the child");
        }
        if let Some(fg) = self.master.process_group_leader()
            && fg != self.pid.as_raw()
        {
            let _ = killpg(Pid::from_raw(fg), sig);
        }
    }

    /// Stops the copy threads (draining output), the events and restores
    /// the terminal after the last byte of child output.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if !self.reaped {
            let _ = killpg(self.pid, Signal::SIGKILL);
        }
        if let Some(gate) = &self.gate {
            gate.close();
        }
        self.stop_input.store(true, Ordering::SeqCst);
        self.exited.store(true, Ordering::SeqCst);
        for handle in [self.input_thread.take(), self.output_thread.take()]
            .into_iter()
            .flatten()
        {
            if handle.join().is_err() {
                tracing::warn!("a PTY copy thread panicked");
            }
        }
        self.io.stop_events();
        if let Err(err) = self.guard.restore() {
            tracing::warn!(%err, "cannot restore the terminal");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.finish();
    }
}

fn copy_output(
    fd: &OwnedFd,
    mut out: Box<dyn std::io::Write + Send>,
    screen: &Screen,
    mut tap: Option<OutputTap>,
    exited: &AtomicBool,
    drain_timeout: Duration,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out_ok = true;
    let mut drain_deadline = None;
    loop {
        let draining = exited.load(Ordering::SeqCst);
        if draining
            && Instant::now()
                >= *drain_deadline.get_or_insert_with(|| Instant::now() + drain_timeout)
        {
            break;
        }
        let timeout = if draining { DRAIN_QUIET } else { IO_POLL };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) if draining => break,
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(%err, "PTY poll failed");
                break;
            }
        }
        let n = match nix::unistd::read(fd.as_fd(), &mut buf) {
            // EIO: every slave descriptor is closed (the child is gone).
            Ok(0) | Err(Errno::EIO) => break,
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(err) => {
                tracing::warn!(%err, "PTY read failed");
                break;
            }
        };
        let chunk = &buf[..n];
        if out_ok && let Err(err) = out.write_all(chunk).and_then(|()| out.flush()) {
            // Keep reading so the child never blocks on a full PTY.
            tracing::warn!(%err, "terminal output failed; discarding child output");
            out_ok = false;
        }
        screen.process(chunk);
        if let Some(f) = tap.as_mut()
            && std::panic::catch_unwind(AssertUnwindSafe(|| f(chunk))).is_err()
        {
            tracing::warn!("output tap panicked; removed");
            tap = None;
        }
    }
    let _ = out.flush();
}

fn copy_input(mut input: Box<dyn InputSource>, gate: &InputGate, stop: &AtomicBool) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match input.read_timeout(&mut buf, IO_POLL) {
            Ok(None) => continue,
            Ok(Some(0)) => break,
            Ok(Some(n)) => {
                if let Err(err) = gate.human_write(&buf[..n]) {
                    tracing::debug!(%err, "PTY input closed");
                    break;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::warn!(%err, "terminal input failed");
                break;
            }
        }
    }
}
