//! `abg init`, `abg doctor` and `abg resume` through the real binary, each
//! test in a temp project with a hermetic environment (HOME, state and
//! config dirs, a free port base, a PATH holding only the fake or pinned
//! agent CLIs the test puts there).
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

struct Env {
    tmp: tempfile::TempDir,
    base_port: u16,
}

const FAKE_CODEX: &str = r#"#!/bin/sh
case "$*" in
  "--version") echo "codex-cli 0.169.0" ;;
  "app-server --help") printf '%s\n' "Usage: codex app-server [OPTIONS]" \
      "      --listen <URL>" "      --ws-auth <MODE>" \
      "          [possible values: capability-token, signed-bearer-token]" \
      "      --ws-token-file <PATH>" ;;
  "--help") printf '%s\n' "Usage: codex [OPTIONS] [PROMPT]" "      --remote <ADDR>" \
      "      --remote-auth-token-env <ENV_VAR>" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

const FAKE_CLAUDE: &str = r#"#!/bin/sh
echo "$*" >> "${0%/*}/claude.argv"
case "$*" in
  "--version") echo "2.1.330 (Claude Code)" ;;
  "plugin marketplace add"*) echo "Successfully added marketplace: abg" ;;
  "plugin install abg@abg") echo "Successfully installed plugin: abg@abg" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#;

impl Env {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        for d in ["home", "bin", "proj/.git"] {
            std::fs::create_dir_all(tmp.path().join(d)).expect("dir");
        }
        // A checkout, as `git init` leaves it (an empty `.git` is none).
        std::fs::write(tmp.path().join("proj/.git/HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        Self {
            tmp,
            base_port: support::ports::free_block(30),
        }
    }
    fn path(&self) -> PathBuf {
        std::fs::canonicalize(self.tmp.path()).expect("canon")
    }
    fn project(&self) -> PathBuf {
        self.path().join("proj")
    }
    fn bin(&self) -> PathBuf {
        self.path().join("bin")
    }
    fn script(&self, name: &str, text: &str) {
        let path = self.bin().join(name);
        std::fs::write(&path, text).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    fn fake_clis(&self) {
        self.script("codex", FAKE_CODEX);
        self.script("claude", FAKE_CLAUDE);
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_abg"));
        c.current_dir(self.project())
            .env_clear()
            .env("PATH", self.bin())
            .env("HOME", self.path().join("home"))
            .env("XDG_STATE_HOME", self.path().join("home/.local/state"))
            .env("XDG_CONFIG_HOME", self.path().join("home/.config"))
            .env("ABG_STATE_DIR", self.path().join("state"))
            .env("ABG_CONFIG_DIR", self.path().join("config"))
            .env("ABG_BASE_PORT", self.base_port.to_string())
            .args(args);
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run abg")
    }
    fn doctor_json(&self) -> (Output, Value) {
        let out = self.run(&["doctor", "--json"]);
        let v = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out, v)
    }
    /// Register the pair without starting anything (as `abg claude` would).
    fn register_pair(&self) -> abg::pair::Pair {
        let registry =
            abg::pair::registry::Registry::new(&self.path().join("state"), self.base_port);
        let name = abg::pair::PairName::default();
        registry
            .find_or_create(&self.project(), &name)
            .expect("pair")
            .0
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

#[test]
fn doctor_without_clis_fails_with_install_hints() {
    let env = Env::new();
    let (out, report) = env.doctor_json();
    assert_eq!(out.status.code(), Some(1), "{report:#}");
    assert_eq!(report["ok"], false);
    for (id, hint) in [
        (
            "claude.version",
            "npm install -g @anthropic-ai/claude-code@2.1.330",
        ),
        ("codex.version", "npm install -g @openai/codex@0.169.0"),
    ] {
        let c = check(&report, id);
        assert_eq!(c["status"], "fail", "{c}");
        assert!(
            c["summary"]
                .as_str()
                .unwrap_or("")
                .contains("not found on PATH"),
            "{c}"
        );
        assert!(c["fix"].as_str().unwrap_or("").contains(hint), "{c}");
    }
    // Doctor is read-only: no pair, no state.
    assert!(!env.path().join("state/pairs/registry.json").exists());
    let human = env.run(&["doctor"]);
    assert_eq!(human.status.code(), Some(1));
    let stdout = text(&human.stdout);
    assert!(stdout.contains("FAIL  codex.version"), "{stdout}");
    assert!(
        stdout.contains("fix: install the tested version: npm install -g @openai/codex@0.169.0"),
        "{stdout}"
    );
}

#[test]
fn doctor_with_pinned_fake_clis_passes_those_checks() {
    let env = Env::new();
    env.fake_clis();
    let (out, report) = env.doctor_json();
    for id in [
        "claude.version",
        "codex.version",
        "codex.app_server_flags",
        "codex.remote_auth_flag",
    ] {
        assert_eq!(check(&report, id)["status"], "ok", "{id}: {report:#}");
    }
    assert_eq!(check(&report, "claude.channel")["status"], "warn");
    assert!(
        check(&report, "claude.channel")["summary"]
            .as_str()
            .unwrap_or("")
            .contains("not yet observed")
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{report:#}\n{}",
        text(&out.stderr)
    );
}

fn redact(env: &Env, pair: &abg::pair::Pair, report: &mut Value) {
    let tmp = env.path().display().to_string();
    let base = env.base_port;
    let version = abg::version().to_string();
    let policy_file = Path::new("/etc/claude-code/managed-settings.json").exists();
    fn walk(v: &mut Value, f: &dyn Fn(&str) -> String) {
        match v {
            Value::String(s) => *s = f(s),
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
            Value::Object(o) => o.values_mut().for_each(|x| walk(x, f)),
            _ => {}
        }
    }
    walk(report, &|s: &str| {
        let mut s = s.replace(&tmp, "[TMP]").replace(&pair.id, "[PAIR_ID]");
        for (port, label) in [
            (base, "[PORT_APP]"),
            (base + 1, "[PORT_RESERVED]"),
            (base + 2, "[PORT_CONTROL]"),
        ] {
            s = s.replace(&port.to_string(), label);
        }
        if s == version {
            s = "[VERSION]".into();
        }
        s
    });
    if policy_file {
        // This machine has an org policy file: its verdict is not ours to pin.
        if let Some(c) = report["checks"]
            .as_array_mut()
            .and_then(|a| a.iter_mut().find(|c| c["id"] == "claude.policy"))
        {
            c["summary"] = "[machine policy]".into();
            c["status"] = "ok".into();
            c["fix"] = Value::Null;
        }
    }
}

#[test]
fn doctor_json_schema_snapshot() {
    let env = Env::new();
    env.fake_clis();
    let pair = env.register_pair();
    let (out, mut report) = env.doctor_json();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    redact(&env, &pair, &mut report);
    insta::assert_json_snapshot!("doctor_json_fresh_pair", report);
}

#[test]
fn init_writes_contract_idempotently_and_dry_run_writes_nothing() {
    let env = Env::new();
    let agents = env.project().join("AGENTS.md");
    std::fs::write(&agents, "# House rules\n\nNo force pushes.\n").expect("agents");

    let dry = env.run(&["init", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let diff = text(&dry.stdout);
    assert!(
        diff.contains("--- a/AGENTS.md\n+++ b/AGENTS.md\n@@ -1,3 +1,"),
        "{diff}"
    );
    assert!(diff.contains("--- /dev/null\n+++ b/CLAUDE.md\n"), "{diff}");
    assert!(
        diff.contains("+<!-- abg:start -->") && diff.contains("would create .abg/config.toml"),
        "{diff}"
    );
    assert!(
        diff.trim_end().ends_with("dry run: nothing was written"),
        "{diff}"
    );
    assert!(!env.project().join("CLAUDE.md").exists() && !env.project().join(".abg").exists());

    let first = env.run(&["init"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let said = text(&first.stdout);
    assert!(
        said.contains("AGENTS.md: abg's section added (previous version saved as"),
        "{said}"
    );
    assert!(
        said.contains("CLAUDE.md: created with abg's section"),
        "{said}"
    );
    assert!(
        said.contains(".abg/config.toml: created with commented defaults"),
        "{said}"
    );
    assert!(
        said.contains("AGENTS.md is read by Codex and by OpenCode"),
        "{said}"
    );
    let written = std::fs::read_to_string(&agents).expect("agents");
    assert!(written.starts_with("# House rules\n\nNo force pushes.\n\n<!-- abg:start -->\n"));
    assert_eq!(
        std::fs::read_to_string(env.project().join("AGENTS.md.abg-backup")).expect("backup"),
        "# House rules\n\nNo force pushes.\n"
    );
    // The config written is the commented template, and loads.
    let cfg = std::fs::read_to_string(env.project().join(".abg/config.toml")).expect("cfg");
    assert_eq!(cfg, abg::config::commented_defaults());

    let again = env.run(&["init"]);
    assert!(again.status.success());
    assert_eq!(
        text(&again.stdout),
        "AGENTS.md: up to date\nCLAUDE.md: up to date\n"
    );
    assert_eq!(std::fs::read_to_string(&agents).expect("agents"), written);
    let dry = env.run(&["init", "--dry-run"]);
    assert!(text(&dry.stdout).contains("everything is up to date"));
}

#[test]
fn init_refuses_malformed_markers() {
    let env = Env::new();
    std::fs::write(env.project().join("CLAUDE.md"), "a\n<!-- abg:end -->\n").expect("claude");
    let out = env.run(&["init"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("CLAUDE.md") && err.contains("line 2") && err.contains("run `abg init` again"),
        "{err}"
    );
    assert!(
        !env.project().join("AGENTS.md").exists(),
        "nothing written on error"
    );
}

#[test]
fn init_plugin_runs_claude_and_reports_it() {
    let env = Env::new();
    env.fake_clis();
    let market = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin");
    let market = std::fs::canonicalize(&market).expect("plugin dir");
    let out = env.run(&["init", "--plugin"]);
    let said = text(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", text(&out.stderr));
    let argv = std::fs::read_to_string(env.bin().join("claude.argv")).expect("argv log");
    assert_eq!(
        argv,
        format!(
            "plugin marketplace add {}\nplugin install abg@abg\n",
            market.display()
        )
    );
    assert!(
        said.contains(&format!(
            "$ claude plugin marketplace add {}\nSuccessfully added marketplace: abg\n→ exit 0\n",
            market.display()
        )),
        "{said}"
    );
    assert!(
        said.contains(
            "$ claude plugin install abg@abg\nSuccessfully installed plugin: abg@abg\n→ exit 0"
        ),
        "{said}"
    );

    // A failing `claude` stops, reports its exit code and the manual steps.
    env.script(
        "claude",
        "#!/bin/sh\necho 'marketplace error' >&2\nexit 3\n",
    );
    let out = env.run(&["init", "--plugin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("marketplace error\n→ exit 3"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("/plugin install abg@abg"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn resume_prints_both_sides() {
    let env = Env::new();
    let id = "0c9c6a3e-1f2b-4c5d-8e9f-a0b1c2d3e4f5";
    let root = env.project().display().to_string();
    let dir_name: String = root
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let sessions = env.path().join("home/.claude/projects").join(dir_name);
    std::fs::create_dir_all(&sessions).expect("sessions");
    std::fs::write(sessions.join(format!("{id}.jsonl")), "{}\n").expect("session");
    let out = env.run(&["resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("abg claude -- --resume {id}\n")),
        "{said}"
    );
    assert!(said.contains("\nabg codex\n"), "{said}");

    let fresh = Env::new();
    let out = fresh.run(&["resume", "claude"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no Claude session found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn doctor_passes_version_and_flag_checks_with_the_pinned_real_clis() {
    let Some(clis) = support::clis::require(support::clis::Need::Both) else {
        return;
    };
    let env = Env::new();
    for (name, path) in [("codex", clis.codex()), ("claude", clis.claude())] {
        let path = path.expect("binary");
        std::os::unix::fs::symlink(path, env.bin().join(name)).expect("link");
    }
    let (_, report) = env.doctor_json();
    for id in [
        "claude.version",
        "codex.version",
        "codex.app_server_flags",
        "codex.remote_auth_flag",
    ] {
        assert_eq!(check(&report, id)["status"], "ok", "{id}: {report:#}");
    }
}

/// Stops the pair's daemon when the test ends, even on failure.
struct KillOnDrop<'a>(&'a Env);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["kill", "--all"]);
    }
}

#[test]
fn doctor_checks_a_running_daemon_without_disturbing_it() {
    let env = Env::new();
    env.fake_clis();
    let _guard = KillOnDrop(&env);
    let status = env.run(&["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let status: Value = serde_json::from_slice(&status.stdout).expect("status json");
    let pid = status["pid"].as_u64().expect("pid");

    let (out, report) = env.doctor_json();
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    let daemon = check(&report, "daemon");
    assert_eq!(daemon["status"], "ok", "{daemon}");
    let summary = daemon["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with(&format!("ready · pid {pid} · abg {}", abg::version())),
        "{summary}"
    );
    let ports = check(&report, "pair.ports");
    assert_eq!(ports["status"], "ok", "{ports}");
    assert!(
        ports["summary"].as_str().unwrap_or("").contains(&format!(
            "{} control: this pair (pid {pid})",
            env.base_port + 2
        )),
        "{ports}"
    );
    assert_eq!(
        check(&report, "agents")["summary"],
        "claude not attached · codex not attached · opencode not attached"
    );
    assert_eq!(check(&report, "store.integrity")["status"], "ok");

    // Still the same daemon afterwards.
    let again: Value =
        serde_json::from_slice(&env.run(&["status", "--json"]).stdout).expect("json");
    assert_eq!(again["pid"].as_u64(), Some(pid));
}
