//! A scripted [`TerminalIo`] for tests: keystrokes from a channel, output
//! into a buffer, size and events set by the test, raw-mode calls counted.
//!
//! Public (not `cfg(test)`) so other modules' and integration tests can drive
//! the supervisor without a terminal.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::terminal::{EventSink, InputSource, TermEvent, TermSize, TerminalIo};

#[derive(Default)]
struct RawState {
    raw: bool,
    enabled: usize,
    restored: usize,
}

struct State {
    tty: bool,
    size: Mutex<TermSize>,
    output: Mutex<Vec<u8>>,
    output_changed: Condvar,
    raw: Mutex<RawState>,
    sink: Mutex<Option<EventSink>>,
    input: Mutex<Option<Receiver<Vec<u8>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn append(&self, bytes: &[u8]) {
        lock(&self.output).extend_from_slice(bytes);
        self.output_changed.notify_all();
    }
}

/// The terminal side handed to the supervisor.
pub struct TestTerminal {
    state: Arc<State>,
}

/// The test's side: type, resize, signal, read what was shown.
#[derive(Clone)]
pub struct TestTerminalHandle {
    state: Arc<State>,
    keys: Sender<Vec<u8>>,
}

impl TestTerminal {
    /// A terminal of `size`; `tty` decides whether raw mode is used.
    pub fn new(tty: bool, size: TermSize) -> (TestTerminal, TestTerminalHandle) {
        let (keys, rx) = channel();
        let state = Arc::new(State {
            tty,
            size: Mutex::new(size),
            output: Mutex::new(Vec::new()),
            output_changed: Condvar::new(),
            raw: Mutex::new(RawState::default()),
            sink: Mutex::new(None),
            input: Mutex::new(Some(rx)),
        });
        (
            TestTerminal {
                state: Arc::clone(&state),
            },
            TestTerminalHandle { state, keys },
        )
    }
}

impl TestTerminalHandle {
    /// Sends keystrokes as one read.
    pub fn type_bytes(&self, bytes: &[u8]) {
        let _ = self.keys.send(bytes.to_vec());
    }

    /// Changes the size and reports a resize event.
    pub fn resize(&self, size: TermSize) {
        *lock(&self.state.size) = size;
        self.send(TermEvent::Resize);
    }

    /// Reports that abg received `sig`.
    pub fn signal(&self, sig: Signal) {
        self.send(TermEvent::Signal(sig));
    }

    fn send(&self, event: TermEvent) {
        if let Some(sink) = lock(&self.state.sink).as_ref() {
            sink.send(event);
        }
    }

    /// Everything written to the terminal so far.
    pub fn output(&self) -> Vec<u8> {
        lock(&self.state.output).clone()
    }

    /// [`TestTerminalHandle::output`] as lossy UTF-8.
    pub fn output_string(&self) -> String {
        String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// Waits until the output contains `needle`, at most `timeout`.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut out = lock(&self.state.output);
        loop {
            if String::from_utf8_lossy(&out).contains(needle) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            out = match self.state.output_changed.wait_timeout(out, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Whether the terminal is in raw mode now.
    pub fn is_raw(&self) -> bool {
        lock(&self.state.raw).raw
    }

    /// How many times raw mode was enabled.
    pub fn raw_enabled_count(&self) -> usize {
        lock(&self.state.raw).enabled
    }

    /// How many times the terminal was restored.
    pub fn restore_count(&self) -> usize {
        lock(&self.state.raw).restored
    }

    /// Whether events are being reported (between start and stop).
    pub fn events_active(&self) -> bool {
        lock(&self.state.sink).is_some()
    }
}

impl TerminalIo for TestTerminal {
    fn is_tty(&self) -> bool {
        self.state.tty
    }

    fn size(&self) -> Option<TermSize> {
        Some(*lock(&self.state.size))
    }

    fn enable_raw_mode(&self) -> io::Result<()> {
        let mut raw = lock(&self.state.raw);
        raw.raw = true;
        raw.enabled += 1;
        Ok(())
    }

    fn restore(&self, reset: &[u8]) -> io::Result<()> {
        {
            let mut raw = lock(&self.state.raw);
            raw.raw = false;
            raw.restored += 1;
        }
        self.state.append(reset);
        Ok(())
    }

    fn input(&self) -> io::Result<Box<dyn InputSource>> {
        let rx = lock(&self.state.input)
            .take()
            .ok_or_else(|| io::Error::other("test terminal input already taken"))?;
        Ok(Box::new(ChannelInput {
            rx,
            pending: VecDeque::new(),
        }))
    }

    fn output(&self) -> io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(BufferOutput {
            state: Arc::clone(&self.state),
        }))
    }

    fn start_events(&self, sink: EventSink) -> io::Result<()> {
        *lock(&self.state.sink) = Some(sink);
        Ok(())
    }

    fn stop_events(&self) {
        lock(&self.state.sink).take();
    }
}

struct ChannelInput {
    rx: Receiver<Vec<u8>>,
    pending: VecDeque<u8>,
}

impl InputSource for ChannelInput {
    fn read_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        if self.pending.is_empty() {
            match self.rx.recv_timeout(timeout) {
                Ok(bytes) => self.pending.extend(bytes),
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => return Ok(Some(0)),
            }
        }
        let n = buf.len().min(self.pending.len());
        for (slot, byte) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *slot = byte;
        }
        Ok(Some(n))
    }
}

struct BufferOutput {
    state: Arc<State>,
}

impl Write for BufferOutput {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.state.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
