//! A hermetic environment for running the real `abg` binary: temp HOME,
//! state and config dirs, a free port range, and cleanup that stops every
//! daemon the test started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "../support/ports.rs"]
pub mod ports;

pub struct AbgEnv {
    pub tmp: tempfile::TempDir,
    pub base_port: u16,
}

impl AbgEnv {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("home")).expect("home");
        std::fs::create_dir_all(tmp.path().join("proj")).expect("proj");
        Self {
            tmp,
            base_port: ports::free_block(40),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A project directory (created) under the temp dir.
    pub fn project(&self, name: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(&p).expect("project dir");
        std::fs::canonicalize(p).expect("canonical")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config")
    }

    /// A `Command` for the real binary with the hermetic env, run in `cwd`.
    pub fn cmd(&self, cwd: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_abg"));
        c.current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path().join("home"))
            .env("XDG_STATE_HOME", self.path().join("home/.local/state"))
            .env("XDG_CONFIG_HOME", self.path().join("home/.config"))
            .env("ABG_STATE_DIR", self.state_dir())
            .env("ABG_CONFIG_DIR", self.config_dir())
            .env("ABG_BASE_PORT", self.base_port.to_string());
        c
    }

    /// Run `abg ARGS` in `cwd` and return the output.
    pub fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.cmd(cwd).args(args).output().expect("run abg")
    }

    /// Run and require success; return stdout.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(
            out.status.success(),
            "abg {args:?} failed ({:?})\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Run and parse stdout as JSON.
    pub fn json(&self, cwd: &Path, args: &[&str]) -> serde_json::Value {
        let text = self.ok(cwd, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
    }

    /// The one pair directory of the state dir (tests with one pair).
    pub fn pair_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.state_dir().join("pairs"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        dirs
    }
}

impl Drop for AbgEnv {
    fn drop(&mut self) {
        let cwd = self.path().to_path_buf();
        let _ = self.cmd(&cwd).args(["kill", "--all"]).output();
    }
}

/// Poll `f` until it returns true or `within` passes.
pub fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    let mut delay = Duration::from_millis(5);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(100));
    }
    f()
}

/// Whether a process with `pid` exists (and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next().map(str::to_owned));
            !matches!(state.as_deref(), Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}
