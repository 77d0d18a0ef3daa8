//! PeerId text never reaches a real terminal as live control sequences:
//! `abg log` (also `-f`) and `abg export` run under a real PTY show a
//! stored title/clear-screen/clipboard attack as `^[…` text, while a pipe
//! and `--raw` keep the bytes.

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::env::AbgEnv;

/// Window title, clear screen, clipboard write (OSC 52), and a C1 CSI.
const ATTACK: &str = "look \x1b]0;pwned\x07\x1b[2J\x1b]52;c;Zm9v\x07 \u{9b}31m done";
const SHOWN: &str = "look ^[]0;pwned^G^[[2J^[]52;c;Zm9v^G <U+009B>31m done";

/// A child running `abg ARGS` on a fresh PTY; its output arrives on `rx`.
struct PtyRun {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    rx: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl PtyRun {
    fn start(env: &AbgEnv, cwd: &Path, args: &[&str]) -> PtyRun {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 200,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_abg"));
        cmd.args(args);
        cmd.cwd(cwd);
        cmd.env_clear();
        let probe = env.cmd(cwd);
        for (k, v) in probe.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let child = pty.slave.spawn_command(cmd).expect("spawn under pty");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _master = pty.master;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        PtyRun {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Read until `done(output)` or `within` passes; returns the output.
    fn read_until(&mut self, within: Duration, done: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + within;
        while !done(&String::from_utf8_lossy(&self.seen)) {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Everything the child wrote until it exits (bounded).
    fn finish(mut self) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if self.child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            self.child.try_wait().expect("wait").is_some(),
            "child did not exit"
        );
        self.read_until(Duration::from_secs(2), |_| false)
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

fn store_attack(env: &AbgEnv, p: &Path) {
    env.ok(p, &["send", "--to", "codex", ATTACK]);
}

#[test]
fn log_and_export_on_a_terminal_show_control_characters() {
    let env = AbgEnv::new();
    let p = env.project("p");
    store_attack(&env, &p);

    let out = PtyRun::start(&env, &p, &["log"]).finish();
    assert!(!out.contains('\x1b'), "ESC reached the terminal: {out:?}");
    assert!(!out.contains('\x07') && !out.contains('\u{9b}'), "{out:?}");
    assert!(out.contains(SHOWN), "{out:?}");

    let out = PtyRun::start(&env, &p, &["export", "--format", "md"]).finish();
    assert!(!out.contains('\x1b'), "ESC reached the terminal: {out:?}");
    assert!(out.contains(SHOWN), "{out:?}");

    // JSON escapes every control character, on a terminal or not.
    let out = PtyRun::start(&env, &p, &["log", "--json"]).finish();
    assert!(!out.contains('\x1b') && !out.contains('\u{9b}'), "{out:?}");
    assert!(out.contains(r"\u001b]0;pwned\u0007") && out.contains(r"\u009b"));

    // --raw asks for the bytes on the terminal.
    let out = PtyRun::start(&env, &p, &["log", "--raw"]).finish();
    assert!(out.contains("\x1b]0;pwned\x07"), "{out:?}");

    // A pipe gets the text as stored.
    assert!(env.ok(&p, &["log"]).contains(ATTACK));
    assert!(env.ok(&p, &["export"]).contains(ATTACK));
}

#[test]
fn log_follow_on_a_terminal_shows_new_control_characters() {
    let env = AbgEnv::new();
    let p = env.project("p");
    env.ok(&p, &["send", "--to", "codex", "first"]);
    let mut run = PtyRun::start(&env, &p, &["log", "-f"]);
    let out = run.read_until(Duration::from_secs(20), |o| o.contains("first"));
    assert!(out.contains("first"), "{out:?}");
    store_attack(&env, &p);
    let out = run.read_until(Duration::from_secs(20), |o| o.contains(" done"));
    assert!(out.contains(SHOWN), "{out:?}");
    assert!(!out.contains('\x1b'), "ESC reached the terminal: {out:?}");
}
