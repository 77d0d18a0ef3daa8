//! A hermetic environment for the real `abg` binary, as the foundation
//! tests build it: a temp HOME, its own state and config dirs, a free port
//! range, and teardown that stops every daemon it started.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `abg` under measurement (the release build under `cargo bench`).
pub const ABG: &str = env!("CARGO_BIN_EXE_abg");

/// `abg kill` with exactly `env`, run in `dir`: stops a bench pair's daemon
/// and the server it owns (best effort: a bench that failed still cleans up).
pub fn abg_kill(env: &[(String, String)], dir: &Path) {
    let _ = Command::new(ABG)
        .arg("kill")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir)
        .output();
}

pub struct Henv {
    pub tmp: tempfile::TempDir,
    pub base_port: u16,
    pub project: PathBuf,
    /// Extra variables for every command (config knobs).
    pub vars: Vec<(String, String)>,
}

/// A base port whose first two slots (20 ports) are free right now.
fn free_base() -> u16 {
    let mut seed = u64::from(std::process::id()) ^ rand_seed();
    for _ in 0..500 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let candidate = 21000 + u16::try_from(seed % 3000).unwrap_or(0) * 10;
        if (0..20).all(|i| TcpListener::bind(("127.0.0.1", candidate + i)).is_ok()) {
            return candidate;
        }
    }
    panic!("bench: no free port range found");
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1
}

impl Henv {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("bench: cannot create a temp dir");
        for d in ["home", "proj", "state", "config"] {
            std::fs::create_dir_all(tmp.path().join(d)).expect("bench: cannot create temp dirs");
        }
        let project =
            std::fs::canonicalize(tmp.path().join("proj")).expect("bench: canonical project");
        Self {
            tmp,
            base_port: free_base(),
            project,
            vars: vec![
                // Never pause the relay or idle out in the middle of a run.
                ("ABG_GOVERNOR_MAX_EXCHANGES".into(), "0".into()),
                ("ABG_DAEMON_IDLE_SHUTDOWN_MINUTES".into(), "0".into()),
                ("ABG_LOG".into(), "warn".into()),
            ],
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// The environment every abg process gets (PATH kept, the rest hermetic).
    pub fn env(&self) -> Vec<(String, String)> {
        let p = |s: &str| self.path().join(s).display().to_string();
        let mut v = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            ("HOME".into(), p("home")),
            ("XDG_STATE_HOME".into(), p("home/.local/state")),
            ("XDG_CONFIG_HOME".into(), p("home/.config")),
            ("ABG_STATE_DIR".into(), p("state")),
            ("ABG_CONFIG_DIR".into(), p("config")),
            ("ABG_BASE_PORT".into(), self.base_port.to_string()),
        ];
        v.extend(self.vars.iter().cloned());
        v
    }

    /// `program` with the hermetic env, run in the project.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.project).env_clear().envs(self.env());
        c
    }

    /// `abg ARGS` with the hermetic env, run in the project.
    pub fn abg(&self, args: &[&str]) -> Command {
        let mut c = self.command(ABG);
        c.args(args);
        c
    }

    /// Run `abg ARGS`, require success, parse stdout as JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self
            .abg(args)
            .output()
            .unwrap_or_else(|e| panic!("bench: cannot run abg {args:?}: {e}"));
        assert!(
            out.status.success(),
            "bench: abg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("bench: abg {args:?} printed no JSON: {e}"))
    }
}

impl Drop for Henv {
    fn drop(&mut self) {
        let _ = self.abg(&["kill", "--all"]).output();
    }
}
