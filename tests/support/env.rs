//! Hermetic per-test homes and the exact environment each real CLI gets.
//!
//! Why it exists: a test must never read or write the real `~/.codex` or
//! `~/.claude`, must skip every first-run screen, and must keep the CLIs from
//! talking to anything but the local mocks. `TestEnv` creates a private temp
//! tree (workdir, `HOME`, `CODEX_HOME`, `CLAUDE_CONFIG_DIR`, tmp, logs, a
//! `bin/` of `codex`/`claude` symlinks), writes the seeds verified in
//! `testing-real-clis.md` §3 and §5–6, and builds complete environments (the
//! children get *only* these variables). `launcher_env` is for a process that
//! will in turn launch the CLIs by name, such as `abg claude` / `abg codex`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::json;

use super::clis::{CLAUDE_VERSION, Clis};

/// A complete child environment, in order.
pub type Vars = Vec<(String, String)>;

/// The API key Claude sees (only its last 20 chars matter to the approval
/// seed).
pub const ANTHROPIC_KEY: &str = "sk-ant-api03-abg-e2e-mock-key-0123456789abcdef";
/// The env var named by the mock provider's `env_key`, and its value.
pub const MOCK_KEY_VAR: &str = "MOCK_API_KEY";
pub const MOCK_KEY: &str = "dummy";

/// Knobs for the seeded Codex `config.toml`.
#[derive(Clone, Debug)]
pub struct CodexSeed {
    /// `approval_policy`; empty leaves the key out (Codex's own default).
    pub approval_policy: String,
    /// `sandbox_mode`; empty leaves the key out (Codex's own default).
    pub sandbox_mode: String,
    /// Appended verbatim (extra tables such as `[mcp_servers.x]`).
    pub extra_toml: String,
}

impl Default for CodexSeed {
    fn default() -> Self {
        Self {
            approval_policy: "never".into(),
            sandbox_mode: "danger-full-access".into(),
            extra_toml: String::new(),
        }
    }
}

/// Knobs for the seeded Claude state.
#[derive(Clone, Debug, Default)]
pub struct ClaudeSeed {
    /// Seed the `tengu_harbor` flag cache so channels register (§6).
    pub channels: bool,
}

/// One test's private tree. Everything is under `root`, a realpath.
pub struct TestEnv {
    _dir: Option<tempfile::TempDir>,
    pub root: PathBuf,
    /// The project directory the CLIs run in (a realpath: trust seeds key on it).
    pub workdir: PathBuf,
    pub home: PathBuf,
    pub codex_home: PathBuf,
    /// `$HOME/.claude`, used as `CLAUDE_CONFIG_DIR`.
    pub claude_dir: PathBuf,
    /// `codex` and `claude` symlinks to the pinned native binaries.
    pub bin_dir: PathBuf,
    pub tmp_dir: PathBuf,
    /// Logs of processes the test started (captured stdio, debug logs).
    pub logs_dir: PathBuf,
    clis: Clis,
    anthropic_base: OnceLock<String>,
}

impl TestEnv {
    /// Creates the tree under the system temp dir, named after the test.
    /// With `ABG_E2E_KEEP=1` the tree is kept after the test (for digging
    /// through logs); its path is printed.
    pub fn new(name: &str, clis: &Clis) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("abg-e2e-{name}-"))
            .tempdir()
            .context("creating the test's temp dir")?;
        let root = dir.path().canonicalize()?;
        let dir = if std::env::var("ABG_E2E_KEEP").is_ok_and(|v| v == "1") {
            super::announce(&format!("e2e: keeping {}", dir.keep().display()));
            None
        } else {
            Some(dir)
        };
        let home = root.join("home");
        let env = Self {
            workdir: root.join("work"),
            codex_home: home.join(".codex"),
            claude_dir: home.join(".claude"),
            home,
            bin_dir: root.join("bin"),
            tmp_dir: root.join("tmp"),
            logs_dir: root.join("logs"),
            root,
            _dir: dir,
            clis: clis.clone(),
            anthropic_base: OnceLock::new(),
        };
        for d in [
            &env.workdir,
            &env.codex_home,
            &env.claude_dir,
            &env.bin_dir,
            &env.tmp_dir,
            &env.logs_dir,
        ] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        for (name, target) in [
            ("codex", &clis.codex),
            ("claude", &clis.claude),
            ("opencode", &clis.opencode),
        ] {
            if let Some(target) = target {
                std::os::unix::fs::symlink(target, env.bin_dir.join(name))?;
            }
        }
        Ok(env)
    }

    pub fn clis(&self) -> &Clis {
        &self.clis
    }

    /// A path under the logs dir.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.logs_dir.join(name)
    }

    /// Writes `$CODEX_HOME/config.toml` pointing Codex at the mock Responses
    /// API at `mock_base_url` (`http://127.0.0.1:P/v1`).
    pub fn seed_codex(&self, mock_base_url: &str, seed: &CodexSeed) -> Result<()> {
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        let workdir = self.workdir.to_string_lossy();
        let key = |k: &str, v: &str| {
            if v.is_empty() {
                String::new()
            } else {
                format!("{k} = {}\n", q(v))
            }
        };
        let toml = format!(
            r#"model = "gpt-5.5"
model_provider = "mock"
{approval}{sandbox}check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = {base}
wire_api = "responses"
env_key = "{MOCK_KEY_VAR}"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
daemon_auto_start = false

[tui]
screen_reader_detection_done = true

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"

[projects.{project}]
trust_level = "trusted"

{extra}
"#,
            approval = key("approval_policy", &seed.approval_policy),
            sandbox = key("sandbox_mode", &seed.sandbox_mode),
            base = q(mock_base_url),
            project = q(&workdir),
            extra = seed.extra_toml,
        );
        write(&self.codex_home.join("config.toml"), &toml)
    }

    /// Writes `$CLAUDE_CONFIG_DIR/.claude.json` and `settings.json`, and
    /// remembers the mock's base URL for [`TestEnv::claude_env`].
    pub fn seed_claude(&self, mock_base_url: &str, seed: &ClaudeSeed) -> Result<()> {
        let key_tail: String = {
            let k = ANTHROPIC_KEY.trim();
            k[k.len().saturating_sub(20)..].to_string()
        };
        let mut state = json!({
            "hasCompletedOnboarding": true,
            "lastOnboardingVersion": CLAUDE_VERSION,
            "theme": "dark",
            "numStartups": 1,
            "customApiKeyResponses": {"approved": [key_tail], "rejected": []},
            "projects": {}
        });
        state["projects"][self.workdir.to_string_lossy().as_ref()] = json!({
            "hasTrustDialogAccepted": true,
            "hasCompletedProjectOnboarding": true,
            "allowedTools": [],
            "projectOnboardingSeenCount": 1
        });
        if seed.channels {
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            // `tengu_harbor_permissions`: the channel permission relay
            // (the approvals inbox; tests/reference/approvals.md §2.1).
            state["cachedGrowthBookFeatures"] =
                json!({"tengu_harbor": true, "tengu_harbor_permissions": true});
            state["cachedGrowthBookFeaturesAt"] = json!(now_ms);
        }
        write(
            &self.claude_dir.join(".claude.json"),
            &serde_json::to_string_pretty(&state)?,
        )?;
        write(
            &self.claude_dir.join("settings.json"),
            r#"{"skipDangerousModePermissionPrompt":true}"#,
        )?;
        let _ = self.anthropic_base.set(mock_base_url.to_string());
        Ok(())
    }

    /// Variables every child gets.
    fn base_env(&self) -> Vars {
        let host_path =
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
        vars(&[
            ("HOME", self.home.to_string_lossy().as_ref()),
            ("PATH", &format!("{}:{host_path}", self.bin_dir.display())),
            ("TERM", "xterm-256color"),
            ("LANG", "C.UTF-8"),
            ("TMPDIR", self.tmp_dir.to_string_lossy().as_ref()),
        ])
    }

    fn codex_only(&self) -> Vars {
        let mut v = vars(&[
            ("CODEX_HOME", self.codex_home.to_string_lossy().as_ref()),
            (MOCK_KEY_VAR, MOCK_KEY),
        ]);
        // Debugging aid: `ABG_E2E_CODEX_RUST_LOG=debug` turns on Codex's logs.
        if let Ok(filter) = std::env::var("ABG_E2E_CODEX_RUST_LOG") {
            v.push(("RUST_LOG".into(), filter));
        }
        v
    }

    fn claude_only(&self) -> Result<Vars> {
        let base = self
            .anthropic_base
            .get()
            .context("seed_claude() must run before claude_env()")?;
        let claude_tmp = self.tmp_dir.join("claude");
        std::fs::create_dir_all(&claude_tmp)?;
        let mut v = vars(&[
            (
                "CLAUDE_CONFIG_DIR",
                self.claude_dir.to_string_lossy().as_ref(),
            ),
            ("ANTHROPIC_BASE_URL", base),
            ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
            ("DISABLE_TELEMETRY", "1"),
            ("DISABLE_ERROR_REPORTING", "1"),
            ("DISABLE_AUTOUPDATER", "1"),
            ("DISABLE_BUG_COMMAND", "1"),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
            ("CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY", "1"),
            // Else start-up tries to `git clone` the official plugin
            // marketplace from GitHub (seen in the debug log, 2.1.330).
            ("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1"),
            ("CLAUDE_CODE_GB_DISK_CACHE_WHEN_TELEMETRY_OFF", "1"),
            ("CLAUDE_CODE_TMPDIR", claude_tmp.to_string_lossy().as_ref()),
        ]);
        if nix::unistd::geteuid().is_root() {
            // Else --dangerously-skip-permissions refuses to run as root.
            v.push(("IS_SANDBOX".into(), "1".into()));
        }
        Ok(v)
    }

    /// The complete environment for `codex` (TUI, app-server, exec).
    pub fn codex_env(&self) -> Vars {
        let mut v = self.base_env();
        v.extend(self.codex_only());
        v
    }

    /// The complete environment for `claude`. Needs [`TestEnv::seed_claude`].
    pub fn claude_env(&self) -> Result<Vars> {
        let mut v = self.base_env();
        v.extend(self.claude_only()?);
        Ok(v)
    }

    /// The environment for a process that in turn launches `codex` and/or
    /// `claude` by name (e.g. `abg codex`, `abg claude` from
    /// `CARGO_BIN_EXE_abg`): both CLIs' variables, and `PATH` starting with
    /// the dir of `codex`/`claude` symlinks. Claude's variables are included
    /// only once `seed_claude` ran.
    /// abg's own state and config also live in the test tree
    /// (`ABG_STATE_DIR`, `ABG_CONFIG_DIR`).
    pub fn launcher_env(&self) -> Vars {
        let mut v = self.base_env();
        v.extend(self.codex_only());
        if let Ok(c) = self.claude_only() {
            v.extend(c);
        }
        let (state, config) = (self.root.join("abg-state"), self.root.join("abg-config"));
        v.extend(vars(&[
            ("ABG_STATE_DIR", state.to_string_lossy().as_ref()),
            ("ABG_CONFIG_DIR", config.to_string_lossy().as_ref()),
        ]));
        v
    }
}

/// The `abg` binary under test, when this test crate has it (Cargo sets
/// `CARGO_BIN_EXE_abg` for integration tests of the package).
pub fn abg_bin() -> Option<PathBuf> {
    option_env!("CARGO_BIN_EXE_abg").map(PathBuf::from)
}

/// Builds a `Vars` from pairs.
pub fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sets `key` in `v`, replacing an existing entry.
pub fn set_var(v: &mut Vars, key: &str, value: &str) {
    v.retain(|(k, _)| k != key);
    v.push((key.to_string(), value.to_string()));
}

fn write(path: &Path, content: &str) -> Result<()> {
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}
