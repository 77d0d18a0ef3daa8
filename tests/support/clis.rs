//! Locating the pinned real CLIs and deciding whether a real-CLI test runs.
//!
//! Why it exists: the e2e tests must run against exactly the versions the
//! reference facts were verified on (`codex-cli 0.169.0`, Claude Code
//! `2.1.330`, OpenCode `1.18.33`). `tests/e2e/setup.sh` installs them; the
//! tests find the native binaries through `ABG_E2E_CODEX` / `ABG_E2E_CLAUDE`
//! / `ABG_E2E_OPENCODE`, or by globbing the
//! default npm cache dir. Without them a test is skipped with one line, unless
//! `ABG_E2E_REQUIRED=1` (CI), where absence is a hard failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// Pinned Codex version, as printed by `codex --version`.
pub const CODEX_VERSION_LINE: &str = "codex-cli 0.169.0";
/// Pinned Claude Code version, as printed by `claude --version`.
pub const CLAUDE_VERSION_LINE: &str = "2.1.330 (Claude Code)";
/// Pinned OpenCode version, as printed by `opencode --version`.
pub const OPENCODE_VERSION_LINE: &str = "1.18.33";
/// The Claude Code version written into the onboarding seed.
pub const CLAUDE_VERSION: &str = "2.1.330";

const SKIP_LINE: &str =
    "skipping real-CLI e2e: run tests/e2e/setup.sh or set ABG_E2E_CODEX/ABG_E2E_CLAUDE";

/// Paths of the pinned native binaries.
#[derive(Clone, Debug, Default)]
pub struct Clis {
    pub codex: Option<PathBuf>,
    pub claude: Option<PathBuf>,
    pub opencode: Option<PathBuf>,
}

/// Which CLIs a test needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Codex,
    Claude,
    Both,
    /// The pinned OpenCode (`ABG_E2E_OPENCODE`).
    OpenCode,
    /// All three: Codex, Claude and OpenCode.
    All,
}

impl Clis {
    /// Finds the binaries (env vars first, then the cache dir) and checks their
    /// versions once per test process.
    pub fn discover() -> Result<&'static Clis> {
        static FOUND: OnceLock<Result<Clis, String>> = OnceLock::new();
        FOUND
            .get_or_init(|| discover_uncached().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    pub fn codex(&self) -> Result<&Path> {
        self.codex.as_deref().context("codex binary not found")
    }

    pub fn claude(&self) -> Result<&Path> {
        self.claude.as_deref().context("claude binary not found")
    }
}

/// The gate every real-CLI test calls first. Returns the binaries when the
/// test should run; `None` (after printing one line) when it should skip.
/// Panics when `ABG_E2E_REQUIRED=1` and a binary is missing, or when a found
/// binary has the wrong version.
pub fn require(need: Need) -> Option<&'static Clis> {
    let clis = match Clis::discover() {
        Ok(c) => c,
        Err(e) => panic!("real-CLI e2e: {e}"),
    };
    let missing: Vec<&str> = [
        (matches!(need, Need::Codex | Need::Both | Need::All) && clis.codex.is_none())
            .then_some("codex"),
        (matches!(need, Need::Claude | Need::Both | Need::All) && clis.claude.is_none())
            .then_some("claude"),
        (matches!(need, Need::OpenCode | Need::All) && clis.opencode.is_none())
            .then_some("opencode"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        return Some(clis);
    }
    if std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1") {
        panic!(
            "ABG_E2E_REQUIRED=1 but the pinned {} binary is missing: \
             run tests/e2e/setup.sh or set ABG_E2E_CODEX/ABG_E2E_CLAUDE/ABG_E2E_OPENCODE",
            missing.join(" and ")
        );
    }
    // One line per test binary is enough.
    static SKIPPED: OnceLock<()> = OnceLock::new();
    SKIPPED.get_or_init(|| super::announce(SKIP_LINE));
    None
}

/// The npm prefix `tests/e2e/setup.sh` installs into.
pub fn cli_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ABG_E2E_CLI_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".cache/abg-e2e/cli"))
}

fn discover_uncached() -> Result<Clis> {
    let dir = cli_dir();
    let modules = dir.as_ref().map(|d| d.join("node_modules"));
    let codex = from_env("ABG_E2E_CODEX")?.or_else(|| {
        // node_modules/@openai/codex-<os>-<arch>/vendor/<triple>/bin/codex
        let base = modules.as_ref()?.join("@openai");
        glob_dirs(&base, "codex-")
            .into_iter()
            .flat_map(|pkg| glob_dirs(&pkg.join("vendor"), ""))
            .map(|triple| triple.join("bin/codex"))
            .find(|p| p.is_file())
    });
    let claude = from_env("ABG_E2E_CLAUDE")?.or_else(|| {
        // node_modules/@anthropic-ai/claude-code-<os>-<arch>[-musl]/claude
        let base = modules.as_ref()?.join("@anthropic-ai");
        glob_dirs(&base, "claude-code-")
            .into_iter()
            .map(|pkg| pkg.join("claude"))
            .find(|p| p.is_file())
    });
    let opencode = from_env("ABG_E2E_OPENCODE")?.or_else(|| {
        // node_modules/opencode-<os>-<arch>[-baseline|-musl]/bin/opencode:
        // the shortest name (the plain build) first, as the setup picks it.
        let mut found: Vec<PathBuf> = glob_dirs(modules.as_ref()?, "opencode-")
            .into_iter()
            .map(|pkg| pkg.join("bin/opencode"))
            .filter(|p| p.is_file())
            .collect();
        found.sort_by_key(|p| p.as_os_str().len());
        found.into_iter().next()
    });
    if let Some(codex) = &codex {
        check_version(codex, CODEX_VERSION_LINE)?;
    }
    if let Some(opencode) = &opencode {
        check_version(opencode, OPENCODE_VERSION_LINE)?;
    }
    if let Some(claude) = &claude {
        check_version(claude, CLAUDE_VERSION_LINE)?;
    }
    Ok(Clis {
        codex,
        claude,
        opencode,
    })
}

fn from_env(var: &str) -> Result<Option<PathBuf>> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                bail!("{var}={} is not a file", p.display());
            }
            Ok(Some(p))
        }
    }
}

/// Sorted subdirectories of `base` whose names start with `prefix`.
fn glob_dirs(base: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn check_version(bin: &Path, want: &str) -> Result<()> {
    // A throwaway home, so even `--version` cannot touch the real ~/.codex or
    // ~/.claude.
    let home = tempfile::Builder::new()
        .prefix("abg-e2e-version-")
        .tempdir()?;
    let out = Command::new(bin)
        .arg("--version")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("CODEX_HOME", home.path())
        .env("CLAUDE_CONFIG_DIR", home.path())
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .output()
        .with_context(|| format!("running {} --version", bin.display()))?;
    let got = String::from_utf8_lossy(&out.stdout);
    if got.trim() != want {
        bail!(
            "{} --version printed {:?}, the e2e tests are pinned to {want:?}: \
             run tests/e2e/setup.sh",
            bin.display(),
            got.trim()
        );
    }
    Ok(())
}
