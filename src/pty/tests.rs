//! Tests of the PTY supervisor with the scripted terminal and real children.
//! Every wait is bounded; nothing sleeps to synchronise.

use std::io::{self, Write};
use std::sync::mpsc::channel;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::inject::{InputGate, is_keystroke};
use super::screen::cursor_line;
use super::testing::{TestTerminal, TestTerminalHandle};
use super::*;

const LONG: Duration = Duration::from_secs(10);

fn term(tty: bool, rows: u16, cols: u16) -> (TestTerminal, TestTerminalHandle) {
    TestTerminal::new(tty, TermSize { rows, cols })
}

fn sh(script: &str) -> LaunchSpec {
    LaunchSpec::new("/bin/sh").arg("-c").arg(script)
}

fn spawn(spec: LaunchSpec, t: TestTerminal) -> Supervisor {
    Supervisor::spawn(spec, t, SupervisorOptions::default()).expect("spawn")
}

/// `Supervisor::wait` with a deadline, so a hung child fails the test.
fn wait_bounded(sup: Supervisor) -> ExitStatus {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(sup.wait());
    });
    rx.recv_timeout(LONG)
        .expect("child did not exit in time")
        .expect("wait")
}

fn expect_output(h: &TestTerminalHandle, needle: &str) {
    assert!(
        h.wait_for_output(needle, LONG),
        "missing {needle:?} in output: {:?}",
        h.output_string()
    );
}

#[test]
fn exit_code_size_and_input_pass_through() {
    let (t, h) = term(true, 30, 100);
    let sup = spawn(sh("stty size; read x; echo got:$x; exit 7"), t);
    assert!(h.raw_enabled_count() >= 1, "raw mode enabled while running");
    expect_output(&h, "30 100");
    h.type_bytes(b"hello\r");
    expect_output(&h, "got:hello");
    let status = wait_bounded(sup);
    assert_eq!(status, ExitStatus::Exited(7));
    assert_eq!(status.code(), 7);
    assert!(!h.is_raw(), "raw mode left on");
    assert!(h.restore_count() >= 1);
    assert!(!h.events_active(), "events still reported after exit");
    // The child never used the alternate screen: no `?1049l`, which would
    // make the cursor jump to a position saved long ago.
    let reset = reset_sequence(Some(false));
    assert!(!reset.windows(8).any(|w| w == b"\x1b[?1049l"));
    let out = h.output();
    assert!(out.ends_with(reset), "reset not last: {out:?}");
    let got = out.windows(9).position(|w| w == b"got:hello");
    assert!(got.is_some_and(|i| i < out.len() - reset.len()));
}

#[test]
fn non_tty_runs_without_raw_mode() {
    let (t, h) = term(false, 24, 80);
    let sup = spawn(sh("echo plain; exit 0"), t);
    assert!(wait_bounded(sup).success());
    expect_output(&h, "plain");
    assert_eq!(h.raw_enabled_count(), 0);
}

#[test]
fn resize_reaches_the_child() {
    let (t, h) = term(false, 24, 80);
    let script = "stty size; while read x; do [ \"$x\" = q ] && exit 3; stty size; done";
    let sup = spawn(sh(script), t);
    expect_output(&h, "24 80");
    h.resize(TermSize {
        rows: 40,
        cols: 132,
    });
    // The resize and the keystrokes travel on different threads: ask again
    // until the child reports the new size.
    let deadline = Instant::now() + LONG;
    loop {
        h.type_bytes(b"\r");
        if h.wait_for_output("40 132", Duration::from_millis(200)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new size: {:?}",
            h.output_string()
        );
    }
    let (rows, cols) = sup.screen().with(|s| s.size());
    assert_eq!((rows.get(), cols.get()), (40, 132));
    h.type_bytes(b"q\r");
    assert_eq!(wait_bounded(sup), ExitStatus::Exited(3));
}

#[test]
fn signal_goes_to_the_childs_process_group() {
    let (t, h) = term(false, 24, 80);
    // The shell traps TERM and survives; its background `sleep` only dies if
    // the whole group was signalled, otherwise `wait $!` blocks for 30 s.
    let script = "trap 'echo trapped' TERM; sleep 30 & echo \"bg=$!;\"; wait; \
                  wait $!; echo sleep-rc $?; exit 5";
    let sup = spawn(sh(script), t);
    expect_output(&h, ";");
    let out = h.output_string();
    let pid = out
        .split("bg=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("background pid");
    // Until the fork has exec'd `sleep` it still runs the shell's trap.
    let deadline = Instant::now() + LONG;
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).map_or(true, |c| c.trim() != "sleep")
    {
        assert!(Instant::now() < deadline, "background sleep never started");
        std::thread::yield_now();
    }
    h.signal(Signal::SIGTERM);
    let status = wait_bounded(sup);
    assert_eq!(status, ExitStatus::Exited(5), "{:?}", h.output_string());
    expect_output(&h, "sleep-rc 143");
}

#[test]
fn ignored_sigterm_escalates_to_sigkill() {
    let (t, h) = term(false, 24, 80);
    let opts = SupervisorOptions {
        kill_grace: Duration::from_millis(200),
        ..SupervisorOptions::default()
    };
    let script = "trap '' TERM; echo ready; while :; do sleep 1; done";
    let sup = Supervisor::spawn(sh(script), t, opts).expect("spawn");
    expect_output(&h, "ready");
    sup.signal(Signal::SIGTERM);
    let status = wait_bounded(sup);
    assert_eq!(status, ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(status.code(), 137);
}

#[test]
fn spawn_error_restores_the_terminal() {
    let (t, h) = term(true, 24, 80);
    let err = Supervisor::spawn(
        LaunchSpec::new("/nonexistent/abg-no-such-program"),
        t,
        SupervisorOptions::default(),
    )
    .expect_err("must fail");
    assert!(matches!(err, PtyError::Spawn { .. }), "{err}");
    assert_eq!(h.raw_enabled_count(), 1);
    assert!(!h.is_raw());
    assert!(h.restore_count() >= 1);
    assert!(h.output().ends_with(reset_sequence(Some(false))));
}

#[test]
fn child_left_in_alternate_screen_gets_the_full_reset() {
    let (t, h) = term(true, 24, 80);
    let sup = spawn(sh("printf '\\033[?1049h\\033[?25lcrashed-tui'; exit 1"), t);
    assert_eq!(wait_bounded(sup), ExitStatus::Exited(1));
    let out = h.output();
    assert!(out.ends_with(RESET_SEQUENCE), "{:?}", h.output_string());
    assert_eq!(reset_sequence(None), RESET_SEQUENCE);
}

#[test]
fn missing_cwd_is_an_error_not_home() {
    let (t, _h) = term(false, 24, 80);
    let spec = sh("exit 0").cwd("/nonexistent/abg-no-such-dir");
    let err = Supervisor::spawn(spec, t, SupervisorOptions::default()).expect_err("must fail");
    assert!(matches!(err, PtyError::Cwd(_)), "{err}");
}

#[test]
fn env_and_cwd_are_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (t, h) = term(false, 24, 80);
    let spec = sh("echo \"v=$ABG_PTY_T u=${HOME-unset} d=$(pwd -P)\"")
        .env("ABG_PTY_T", "x1")
        .env_remove("HOME")
        .cwd(dir.path());
    assert!(wait_bounded(spawn(spec, t)).success());
    let real = dir.path().canonicalize().expect("canonicalize");
    expect_output(&h, &format!("v=x1 u=unset d={}", real.display()));
}

#[test]
fn dropping_the_supervisor_hangs_up_the_child() {
    let (t, h) = term(true, 24, 80);
    let sup = spawn(sh("echo ready; sleep 30"), t);
    expect_output(&h, "ready");
    let started = Instant::now();
    drop(sup);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!h.is_raw());
    assert!(h.restore_count() >= 1);
}

#[test]
fn output_tap_sees_the_output() {
    let (t, h) = term(false, 24, 80);
    let (tx, rx) = channel::<Vec<u8>>();
    let opts = SupervisorOptions {
        output_tap: Some(Box::new(move |b: &[u8]| {
            let _ = tx.send(b.to_vec());
        })),
        ..SupervisorOptions::default()
    };
    let sup = Supervisor::spawn(sh("echo tapped-output"), t, opts).expect("spawn");
    assert!(wait_bounded(sup).success());
    let seen: Vec<u8> = rx.try_iter().flatten().collect();
    assert!(String::from_utf8_lossy(&seen).contains("tapped-output"));
    expect_output(&h, "tapped-output");
}

#[test]
fn caught_panic_restores_then_reenters_raw_mode() {
    let (t, h) = term(true, 24, 80);
    let sup = spawn(sh("echo ready; read x; exit 0"), t);
    expect_output(&h, "ready");
    let before = h.restore_count();
    let joined = std::thread::spawn(|| panic!("deliberate panic in a pty test")).join();
    assert!(joined.is_err());
    assert!(h.restore_count() > before, "panic hook did not restore");
    let deadline = Instant::now() + LONG;
    while !h.is_raw() {
        assert!(Instant::now() < deadline, "raw mode not re-entered");
        std::thread::yield_now();
    }
    h.type_bytes(b"x\r");
    assert!(wait_bounded(sup).success());
    assert!(!h.is_raw());
}

#[test]
fn injection_reaches_a_real_child() {
    let (t, h) = term(false, 24, 80);
    let sup = spawn(sh("echo ready; read x; echo got:$x"), t);
    expect_output(&h, "ready");
    let opts = InjectOptions {
        quiet_for: Duration::ZERO,
        settle: Duration::from_millis(50),
        ready: None,
    };
    sup.injector().inject("ping", &opts).expect("inject");
    expect_output(&h, "got:ping");
    let injector = sup.injector();
    assert!(wait_bounded(sup).success());
    let err = injector.inject("late", &opts).expect_err("child gone");
    assert!(
        matches!(err, InjectError::Refused(Refused::ChildExited)),
        "{err}"
    );
}

/// A PTY writer stand-in recording each write with its time.
#[derive(Clone, Default)]
struct Recorder(Arc<(Writes, Condvar)>);

type Writes = Mutex<Vec<(Instant, Vec<u8>)>>;

impl Recorder {
    fn writes(&self) -> Vec<Vec<u8>> {
        let guard = self.0.0.lock().expect("lock");
        guard.iter().map(|(_, b)| b.clone()).collect()
    }

    fn wait_for_writes(&self, n: usize) -> bool {
        let guard = self.0.0.lock().expect("lock");
        let (guard, _) = self
            .0
            .1
            .wait_timeout_while(guard, LONG, |w| w.len() < n)
            .expect("lock");
        guard.len() >= n
    }

    fn gap(&self, a: usize, b: usize) -> Duration {
        let guard = self.0.0.lock().expect("lock");
        guard[b].0 - guard[a].0
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .0
            .lock()
            .expect("lock")
            .push((Instant::now(), buf.to_vec()));
        self.0.1.notify_all();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn injector_with_recorder() -> (Injector, Arc<InputGate>, Recorder) {
    let rec = Recorder::default();
    let gate = Arc::new(InputGate::new(Box::new(rec.clone())));
    let screen = Screen::new(TermSize::DEFAULT, 0);
    (Injector::new(Arc::clone(&gate), screen), gate, rec)
}

#[test]
fn inject_writes_text_then_cr_and_holds_human_input() {
    let (inj, gate, rec) = injector_with_recorder();
    let settle = Duration::from_millis(150);
    let opts = InjectOptions {
        quiet_for: Duration::from_secs(1),
        settle,
        ready: None,
    };
    let worker = {
        let inj = inj.clone();
        std::thread::spawn(move || inj.inject("3 new messages from Codex", &opts))
    };
    assert!(rec.wait_for_writes(1));
    // The human types mid-injection: held, then written after the Enter.
    let typist = {
        let gate = Arc::clone(&gate);
        std::thread::spawn(move || gate.human_write(b"h"))
    };
    worker.join().expect("join").expect("inject");
    typist.join().expect("join").expect("human write");
    assert_eq!(
        rec.writes(),
        vec![
            b"3 new messages from Codex".to_vec(),
            b"\r".to_vec(),
            b"h".to_vec()
        ]
    );
    assert!(rec.gap(0, 1) >= settle);
    assert!(!inj.is_input_idle(Duration::from_secs(60)));
}

#[test]
fn inject_is_refused_while_the_human_types() {
    let (inj, gate, rec) = injector_with_recorder();
    assert!(
        inj.is_input_idle(Duration::from_secs(60)),
        "never typed = idle"
    );
    // Terminal reports (cursor position, focus) are not typing.
    gate.human_write(b"\x1b[12;5R\x1b[I").expect("write");
    assert!(inj.is_input_idle(Duration::from_secs(60)));
    gate.human_write(b"a").expect("write");
    assert!(!inj.is_input_idle(Duration::from_secs(60)));
    assert!(inj.is_input_idle(Duration::ZERO));
    let opts = InjectOptions {
        quiet_for: Duration::from_secs(60),
        ..InjectOptions::default()
    };
    let err = inj.inject("doorbell", &opts).expect_err("refused");
    assert!(
        matches!(err, InjectError::Refused(Refused::HumanTyping { .. })),
        "{err}"
    );
    assert_eq!(rec.writes().concat(), b"\x1b[12;5R\x1b[Ia".to_vec());
}

#[test]
fn inject_is_refused_when_the_input_line_is_not_empty() {
    let (inj, _gate, rec) = injector_with_recorder();
    inj.screen().process(b"> half-typed draft");
    let opts = InjectOptions {
        quiet_for: Duration::ZERO,
        settle: Duration::ZERO,
        ready: Some(Arc::new(|s: &vt100::Screen| cursor_line(s).trim() == ">")),
    };
    let err = inj.inject("doorbell", &opts).expect_err("refused");
    assert!(matches!(
        err,
        InjectError::Refused(Refused::InputLineNotEmpty)
    ));
    assert!(rec.writes().is_empty());
    inj.screen().process(b"\r\x1b[K> ");
    inj.inject("doorbell", &opts).expect("empty line now");
    assert_eq!(rec.writes(), vec![b"doorbell".to_vec(), b"\r".to_vec()]);
}

#[test]
fn inject_rejects_control_characters() {
    let (inj, _gate, rec) = injector_with_recorder();
    let opts = InjectOptions::default();
    for text in ["", "a\nb", "x\r", "\x1b[A"] {
        assert!(matches!(
            inj.inject(text, &opts),
            Err(InjectError::InvalidText)
        ));
    }
    assert!(rec.writes().is_empty());
}

#[test]
fn keystroke_classification() {
    let cases: &[(&[u8], bool)] = &[
        (b"a", true),
        (b"\r", true),
        (b"\x1b", true),
        (b"\x1b[A", true),
        (b"\x1bx", true),
        (b"\x1b[97;5u", true),
        (b"\x1b[12;40R", false),
        (b"\x1b[?62;22c", false),
        (b"\x1b[?1u", false),
        (b"\x1b[?2004;1$y", false),
        (b"\x1b[I\x1b[O", false),
        (b"\x1b[<0;10;5M", false),
        (b"\x1b]11;rgb:0000/0000/0000\x1b\\", false),
        (b"\x1b]10;rgb:ffff/ffff/ffff\x07", false),
        (b"\x1b[12;40Rq", true),
    ];
    for (bytes, want) in cases {
        assert_eq!(is_keystroke(bytes), *want, "{bytes:?}");
    }
}

#[test]
fn exit_status_codes() {
    assert_eq!(ExitStatus::Exited(7).code(), 7);
    assert_eq!(ExitStatus::Signaled(Signal::SIGTERM).code(), 143);
    assert!(!ExitStatus::Exited(1).success());
}

#[test]
fn signal_pump_reports_and_uninstalls() {
    use super::signals::SignalPump;
    use super::terminal::Control;
    for _ in 0..2 {
        let (tx, rx) = channel();
        let pump = SignalPump::start(EventSink(tx)).expect("start");
        nix::sys::signal::raise(Signal::SIGWINCH).expect("raise");
        nix::sys::signal::raise(Signal::SIGHUP).expect("raise");
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match rx.recv_timeout(LONG).expect("event") {
                Control::Term(ev) => seen.push(ev),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            seen,
            vec![TermEvent::Resize, TermEvent::Signal(Signal::SIGHUP)]
        );
        drop(pump);
    }
}
