//! Hermetic tests of the config loader: temp dirs and an injected env.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// A temp dir with `user/config.toml` and `project/.abg/config.toml` paths.
struct Dirs {
    tmp: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("user")).unwrap();
        fs::create_dir_all(tmp.path().join("project/.abg")).unwrap();
        Dirs { tmp }
    }
    fn user(&self) -> PathBuf {
        self.tmp.path().join("user/config.toml")
    }
    fn root(&self) -> PathBuf {
        self.tmp.path().join("project")
    }
    fn project(&self) -> PathBuf {
        project_config_path(&self.root())
    }
    fn write_user(&self, text: &str) -> &Self {
        fs::write(self.user(), text).unwrap();
        self
    }
    fn write_project(&self, text: &str) -> &Self {
        fs::write(self.project(), text).unwrap();
        self
    }
    fn load(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::load(Some(&self.user()), Some(&self.root()), env)
    }
    fn load_err(&self, env: &dyn Fn(&str) -> Option<String>) -> String {
        let err = self.load(env).unwrap_err();
        self.redact(&err.to_string())
    }
    fn redact(&self, text: &str) -> String {
        text.replace(&self.tmp.path().display().to_string(), "<tmp>")
    }
}

#[test]
fn defaults_match_the_documented_values() {
    let cfg = Config::load(None, None, &no_env).unwrap();
    let s = &cfg.settings;
    assert_eq!(*s, Settings::default());
    assert_eq!(s.daemon_idle_shutdown_minutes, 30);
    assert_eq!(s.daemon_ready_timeout_ms, 10_000);
    assert_eq!(s.log_level, "info");
    assert_eq!(s.log_max_bytes, 5_242_880);
    assert_eq!(s.log_max_files, 3);
    assert_eq!(s.control_max_frame_bytes, 1_048_576);
    assert_eq!(s.ports_base, 4500);
    assert_eq!(s.codex_binary, "codex");
    assert_eq!(s.claude_binary, "claude");
    assert_eq!(s.codex_turn_stall_secs, 300);
    assert_eq!(s.claude_channel, "auto");
    assert_eq!(s.claude_doorbell_secs, 10);
    assert_eq!(s.claude_push_max_bytes, 16_384);
    assert_eq!(s.governor_max_exchanges, 20);
    assert!(s.budget_enabled);
    assert_eq!(s.budget_pause_at, 95);
    assert_eq!(s.budget_resume_below, 50);
    assert_eq!(s.budget_stale_secs, 600);
    assert!(s.approvals_relay);
    assert!(!s.safe);
    assert!(cfg.explain().iter().all(|e| e.source == "default"));
    assert_eq!(Config::default().settings, cfg.settings);
}

#[test]
fn missing_files_are_skipped() {
    let dirs = Dirs::new();
    let cfg = dirs.load(&no_env).unwrap();
    assert_eq!(cfg.settings, Settings::default());
    let nowhere = dirs.tmp.path().join("no/such/dir");
    let cfg = Config::load(Some(&nowhere.join("config.toml")), Some(&nowhere), &no_env).unwrap();
    assert_eq!(cfg.settings, Settings::default());
}

#[test]
fn later_layers_win_and_sources_are_remembered() {
    let dirs = Dirs::new();
    dirs.write_user(
        "safe = true\n\
         [daemon]\nidle_shutdown_minutes = 1\nready_timeout_ms = 2000\n\
         [log]\nlevel = \"debug\"\n",
    )
    .write_project("daemon.idle_shutdown_minutes = 2\n[log]\nlevel = \"abg=trace\"\n");
    let env = env_of(&[("ABG_LOG", "warn"), ("ABG_BASE_PORT", "5500")]);
    let cfg = dirs.load(&env).unwrap();

    let s = &cfg.settings;
    assert!(s.safe); // user
    assert_eq!(s.daemon_ready_timeout_ms, 2000); // user
    assert_eq!(s.daemon_idle_shutdown_minutes, 2); // project beats user
    assert_eq!(s.log_level, "warn"); // env beats project and user
    assert_eq!(s.ports_base, 5500); // env
    assert_eq!(s.codex_binary, "codex"); // default

    let user = format!("user:{}", dirs.user().display());
    let project = format!("project:{}", dirs.project().display());
    let sources: BTreeMap<String, String> = cfg
        .explain()
        .into_iter()
        .map(|e| (e.key, e.source))
        .collect();
    assert_eq!(sources["safe"], user);
    assert_eq!(sources["daemon.ready_timeout_ms"], user);
    assert_eq!(sources["daemon.idle_shutdown_minutes"], project);
    assert_eq!(sources["log.level"], "env:ABG_LOG");
    assert_eq!(sources["ports.base"], "env:ABG_BASE_PORT");
    assert_eq!(sources["codex.binary"], "default");

    assert_eq!(cfg.source("log.level"), Some(&Source::Env("ABG_LOG")));
    assert_eq!(
        cfg.source("daemon.idle_shutdown_minutes"),
        Some(&Source::Project(dirs.project()))
    );
    assert_eq!(cfg.value("ports.base"), Some(&Value::Int(5500)));
    assert_eq!(cfg.value("no.such.key"), None);
}

#[test]
fn explain_serializes_key_value_source() {
    let env = env_of(&[("ABG_SAFE", "yes")]);
    let cfg = Config::load(None, None, &env).unwrap();
    let json = serde_json::to_value(cfg.explain()).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), KEYS.len());
    assert_eq!(
        entries[0],
        serde_json::json!({"key": "daemon.idle_shutdown_minutes", "value": 30, "source": "default"})
    );
    let safe = entries.iter().find(|e| e["key"] == "safe").unwrap();
    assert_eq!(
        safe,
        &serde_json::json!({"key": "safe", "value": true, "source": "env:ABG_SAFE"})
    );
    let level = entries.iter().find(|e| e["key"] == "log.level").unwrap();
    assert_eq!(level["value"], "info");
}

#[test]
fn unknown_keys_and_tables_are_errors_with_suggestions() {
    let dirs = Dirs::new();
    dirs.write_project("[daemon]\nidle_shutdown = 5\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: unknown key \"daemon.idle_shutdown\" \
         (did you mean \"daemon.idle_shutdown_minutes\"?)"
    );

    dirs.write_project("[deamon]\nidle_shutdown_minutes = 5\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: unknown table \"deamon\" (did you mean \"daemon\"?)"
    );

    dirs.write_project("[budget]\nenable = false\n");
    assert!(
        dirs.load_err(&no_env)
            .ends_with("unknown key \"budget.enable\" (did you mean \"budget.enabled\"?)")
    );

    dirs.write_project("idle_shutdown_minutes = 5\n");
    assert!(
        dirs.load_err(&no_env)
            .ends_with("(did you mean \"daemon.idle_shutdown_minutes\"?)")
    );

    dirs.write_project("flavour = \"vanilla\"\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: unknown key \"flavour\""
    );

    // A quoted key containing a dot is not the dotted key.
    dirs.write_project("\"daemon.idle_shutdown_minutes\" = 5\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: unknown key \"'daemon.idle_shutdown_minutes'\" \
         (did you mean \"daemon.idle_shutdown_minutes\"?)"
    );
}

#[test]
fn wrong_types_name_file_key_and_expected_type() {
    let dirs = Dirs::new();
    dirs.write_project("[daemon]\nidle_shutdown_minutes = \"soon\"\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: key \"daemon.idle_shutdown_minutes\": \
         expected an integer from 0 to 10080, found string \"soon\""
    );

    dirs.write_user("safe = \"yes\"\n");
    dirs.write_project("");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/user/config.toml: key \"safe\": expected a boolean (true or false), \
         found string \"yes\""
    );

    dirs.write_user("daemon = 5\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/user/config.toml: key \"daemon\": expected a table, found integer 5"
    );

    dirs.write_user("[daemon.idle_shutdown_minutes]\n");
    assert!(dirs.load_err(&no_env).ends_with("found a table"));

    dirs.write_user("codex.binary = \"\"\n");
    assert!(
        dirs.load_err(&no_env)
            .ends_with("key \"codex.binary\": expected a non-empty string, found an empty string")
    );

    dirs.write_user("ports.base = 4500.0\n");
    assert!(dirs.load_err(&no_env).ends_with("found float 4500"));
}

#[test]
fn out_of_range_values_are_errors() {
    let dirs = Dirs::new();
    dirs.write_project("[ports]\nbase = 80\n");
    assert_eq!(
        dirs.load_err(&no_env),
        "<tmp>/project/.abg/config.toml: key \"ports.base\": \
         expected an integer from 1024 to 65000, found integer 80"
    );
    // Both ends are inclusive.
    dirs.write_project("[ports]\nbase = 65000\n[log]\nmax_files = 1\n");
    let cfg = dirs.load(&no_env).unwrap();
    assert_eq!(cfg.settings.ports_base, 65000);
    assert_eq!(cfg.settings.log_max_files, 1);
}

#[test]
fn log_level_must_be_a_filter_directive() {
    let dirs = Dirs::new();
    dirs.write_project("log.level = \"abg=loud\"\n");
    let err = dirs.load_err(&no_env);
    assert!(
        err.starts_with(
            "<tmp>/project/.abg/config.toml: key \"log.level\": expected a tracing filter \
             directive such as \"info\" or \"abg=debug\", found string \"abg=loud\" ("
        ),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let dirs = Dirs::new();
    dirs.write_user("[daemon]\nidle_shutdown_minutes = 5\nready_timeout_ms = = 3\n");
    let err = dirs.load(&no_env).unwrap_err();
    match &err {
        ConfigError::Syntax { path, line, .. } => {
            assert_eq!(path, &dirs.user());
            assert_eq!(*line, 3);
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(
        dirs.redact(&err.to_string())
            .starts_with("<tmp>/user/config.toml:3:"),
        "{err}"
    );

    dirs.write_user("a = 1\na = 2\n");
    let err = dirs.load_err(&no_env);
    assert!(err.starts_with("<tmp>/user/config.toml:2:"), "{err}");
}

#[test]
fn line_column_counts_characters() {
    assert_eq!(line_column("abc", 0), (1, 1));
    assert_eq!(line_column("ab\ncd", 3), (2, 1));
    assert_eq!(line_column("ab\ncd", 4), (2, 2));
    assert_eq!(line_column("é = x", 3), (1, 3));
    assert_eq!(line_column("é", 1), (1, 1)); // mid-character offset
    assert_eq!(line_column("ab", 99), (1, 3));
}

#[test]
fn unreadable_files_are_errors() {
    let dirs = Dirs::new();
    // A directory where the file should be cannot be read, even by root.
    fs::create_dir(dirs.user()).unwrap();
    let err = dirs.load_err(&no_env);
    assert!(
        err.starts_with("<tmp>/user/config.toml: cannot read config file: "),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn permission_denied_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dirs = Dirs::new();
    dirs.write_project("safe = true\n");
    fs::set_permissions(dirs.project(), fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(dirs.project()).is_ok() {
        return; // running as root: permissions are not enforced
    }
    let err = dirs.load_err(&no_env);
    assert!(
        err.starts_with("<tmp>/project/.abg/config.toml: cannot read config file: "),
        "{err}"
    );
}

#[test]
fn the_approvals_relay_can_be_turned_off_from_the_environment() {
    let env = env_of(&[("ABG_APPROVALS_RELAY", "off")]);
    let cfg = Config::load(None, None, &env).unwrap();
    assert!(!cfg.settings.approvals_relay);
    assert_eq!(
        cfg.source("approvals.relay"),
        Some(&Source::Env("ABG_APPROVALS_RELAY"))
    );
}

#[test]
fn routing_keys_default_and_come_from_the_environment() {
    let d = Config::default();
    assert_eq!(d.settings.routing_default_to, "claude");
    assert_eq!(d.settings.routing_relay, "all");
    let env = env_of(&[
        ("ABG_ROUTING_DEFAULT_TO", "codex"),
        ("ABG_ROUTING_RELAY", "addressed"),
    ]);
    let cfg = Config::load(None, None, &env).unwrap();
    assert_eq!(cfg.settings.routing_default_to, "codex");
    assert_eq!(cfg.settings.routing_relay, "addressed");
    assert_eq!(
        cfg.source("routing.relay"),
        Some(&Source::Env("ABG_ROUTING_RELAY"))
    );
    for (var, value, want) in [
        ("ABG_ROUTING_RELAY", "some", "one of \"all\", \"addressed\""),
        ("ABG_ROUTING_DEFAULT_TO", "Not A Peer", "a peer id"),
    ] {
        let err = Config::load(None, None, &env_of(&[(var, value)]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(var) && err.contains(want), "{err}");
    }
}

#[test]
fn bad_env_values_name_the_variable() {
    let env = env_of(&[("ABG_BASE_PORT", "abc")]);
    let err = Config::load(None, None, &env).unwrap_err().to_string();
    assert_eq!(
        err,
        "environment variable ABG_BASE_PORT: key \"ports.base\": \
         expected an integer from 1024 to 65000, found \"abc\""
    );

    let env = env_of(&[("ABG_BUDGET_ENABLED", "maybe")]);
    let err = Config::load(None, None, &env).unwrap_err().to_string();
    assert_eq!(
        err,
        "environment variable ABG_BUDGET_ENABLED: key \"budget.enabled\": \
         expected a boolean (1/0, true/false, yes/no, on/off), found \"maybe\""
    );

    let env = env_of(&[("ABG_LOG_MAX_FILES", "0")]);
    let err = Config::load(None, None, &env).unwrap_err().to_string();
    assert!(
        err.starts_with("environment variable ABG_LOG_MAX_FILES: "),
        "{err}"
    );
}

#[test]
fn env_values_parse_per_type() {
    for (raw, want) in [
        ("1", true),
        ("true", true),
        ("YES", true),
        (" on ", true),
        ("0", false),
        ("False", false),
        ("no", false),
        ("off", false),
    ] {
        let env = env_of(&[("ABG_SAFE", raw)]);
        let cfg = Config::load(None, None, &env).unwrap();
        assert_eq!(cfg.settings.safe, want, "ABG_SAFE={raw:?}");
    }
    let env = env_of(&[
        ("ABG_DAEMON_IDLE_SHUTDOWN_MINUTES", " 0 "),
        ("ABG_CODEX_BINARY", "/opt/codex/bin/codex"),
        ("ABG_CLAUDE_BINARY", ""), // empty = unset
    ]);
    let cfg = Config::load(None, None, &env).unwrap();
    assert_eq!(cfg.settings.daemon_idle_shutdown_minutes, 0);
    assert_eq!(cfg.settings.daemon_idle_shutdown(), None);
    assert_eq!(cfg.settings.codex_binary, "/opt/codex/bin/codex");
    assert_eq!(cfg.settings.claude_binary, "claude");
    assert_eq!(cfg.source("claude.binary"), Some(&Source::Default));
}

#[test]
fn unrelated_abg_variables_are_ignored() {
    let garbage = [
        ("ABG_STATE_DIR", "/x"),
        ("ABG_CONFIG_DIR", "/y"),
        ("ABG_PAIR", "not a pair!"),
        ("ABG_E2E_CODEX", "???"),
        ("ABG_DAEMON", "what"),
        ("ABG_IDLE_SHUTDOWN_MINUTES", "soon"),
        ("ABG_LOG_LEVEL", "abg=loud"),
    ];
    let inner = env_of(&garbage);
    let asked = RefCell::new(Vec::new());
    let env = |name: &str| {
        asked.borrow_mut().push(name.to_owned());
        inner(name)
    };
    let cfg = Config::load(None, None, &env).unwrap();
    assert_eq!(cfg.settings, Settings::default());
    let wanted: Vec<String> = KEYS.iter().map(|d| d.env.to_owned()).collect();
    assert_eq!(
        *asked.borrow(),
        wanted,
        "only the registry's variables are read"
    );
}

#[test]
fn resume_below_must_be_less_than_pause_at() {
    let dirs = Dirs::new();
    dirs.write_project("[budget]\nresume_below = 60\n");
    let env = env_of(&[("ABG_BUDGET_PAUSE_AT", "60")]);
    assert_eq!(
        dirs.load_err(&env),
        "key \"budget.resume_below\" (60, from project:<tmp>/project/.abg/config.toml) \
         must be less than key \"budget.pause_at\" (60, from env:ABG_BUDGET_PAUSE_AT)"
    );
    let env = env_of(&[("ABG_BUDGET_PAUSE_AT", "61")]);
    let cfg = dirs.load(&env).unwrap();
    assert_eq!(
        (
            cfg.settings.budget_resume_below,
            cfg.settings.budget_pause_at
        ),
        (60, 61)
    );
}

#[test]
fn all_problems_are_reported_together() {
    let dirs = Dirs::new();
    dirs.write_user("saf = true\n");
    dirs.write_project("ports.base = 1\n");
    let env = env_of(&[("ABG_SAFE", "perhaps")]);
    let err = dirs.load(&env).unwrap_err();
    assert_eq!(err.errors().len(), 3);
    assert_eq!(err.to_string().lines().count(), 3);
}

#[test]
fn every_key_reaches_its_settings_field_at_both_ends() {
    for def in KEYS {
        let field = def.key.replace('.', "_");
        let samples: Vec<Value> = match def.kind {
            Kind::Int { min, max } => vec![Value::Int(min), Value::Int(max)],
            Kind::Bool => vec![Value::Bool(false), Value::Bool(true)],
            Kind::Str | Kind::Enum(_) => vec![Value::Str("x-test".into())],
        };
        for sample in samples {
            let mut settings = Settings::default();
            def.apply(&mut settings, &sample);
            let json = serde_json::to_value(&settings).unwrap();
            assert_eq!(
                json[&field],
                sample.to_json(),
                "{} -> Settings.{field}",
                def.key
            );
        }
    }
    // And Settings has no field the registry does not fill.
    let json = serde_json::to_value(Settings::default()).unwrap();
    assert_eq!(json.as_object().unwrap().len(), KEYS.len());
}

#[test]
fn registry_is_consistent() {
    let mut keys: Vec<&str> = KEYS.iter().map(|d| d.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), KEYS.len(), "duplicate keys");
    let mut envs: Vec<&str> = KEYS.iter().map(|d| d.env).collect();
    envs.sort_unstable();
    envs.dedup();
    assert_eq!(envs.len(), KEYS.len(), "duplicate env vars");
    for def in KEYS {
        assert!(def.env.starts_with("ABG_"), "{}", def.key);
        assert!(!is_table(def.key), "{} is both a key and a table", def.key);
        assert!(!def.help.is_empty(), "{}", def.key);
        // Defaults pass their own validation.
        let raw: toml::Value = match &def.default {
            Value::Int(i) => toml::Value::Integer(*i),
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Str(s) => toml::Value::String(s.to_string()),
        };
        assert_eq!(
            file_value(def, &raw),
            Ok(def.default.clone()),
            "{}",
            def.key
        );
    }
    let err = Config::default();
    assert_eq!(err.explain().len(), KEYS.len());
}

#[test]
fn enum_keys_accept_only_their_choices() {
    let mut def = find_key("codex.binary").unwrap().clone();
    def.kind = Kind::Enum(&["queue", "steer"]);
    assert_eq!(
        file_value(&def, &toml::Value::String("steer".into())),
        Ok(Value::Str("steer".into()))
    );
    assert_eq!(
        file_value(&def, &toml::Value::String("shove".into())),
        Err((
            "one of \"queue\", \"steer\"".to_owned(),
            "string \"shove\"".to_owned()
        ))
    );
    assert_eq!(
        parse_env_value(&def, "shove").unwrap_err().1,
        "\"shove\"".to_owned()
    );
}

#[test]
fn claude_channel_is_a_choice() {
    let def = find_key("claude.channel").unwrap();
    for ok in ["auto", "generated", "plugin"] {
        assert_eq!(
            file_value(def, &toml::Value::String(ok.into())),
            Ok(Value::Str(ok.to_owned().into()))
        );
    }
    let err = parse_env(def, "server").unwrap_err().to_string();
    assert!(err.contains("ABG_CLAUDE_CHANNEL"), "{err}");
    assert!(
        err.contains("one of \"auto\", \"generated\", \"plugin\""),
        "{err}"
    );
}

#[test]
fn commented_defaults_load_as_defaults_and_uncomment_to_defaults() {
    let text = commented_defaults();
    let dirs = Dirs::new();

    // As written, nothing is set.
    dirs.write_project(&text);
    let cfg = dirs.load(&no_env).unwrap();
    assert!(cfg.explain().iter().all(|e| e.source == "default"));

    // Uncommented, every key is set, to its default.
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(uncommented, text);
    dirs.write_project(&uncommented);
    let cfg = dirs.load(&no_env).unwrap();
    assert_eq!(cfg.settings, Settings::default());
    let project = format!("project:{}", dirs.project().display());
    for entry in cfg.explain() {
        assert_eq!(
            entry.source, project,
            "{} is not in the template",
            entry.key
        );
    }
    for def in KEYS {
        assert!(text.contains(def.help), "{}", def.key);
        assert!(text.contains(def.env), "{}", def.key);
    }
}

#[test]
fn commented_defaults_snapshot() {
    insta::assert_snapshot!(commented_defaults());
}

#[test]
fn suggestions() {
    use super::suggest::{closest, osa_distance};
    assert_eq!(osa_distance("daemon", "deamon"), 1);
    assert_eq!(osa_distance("", "abc"), 3);
    assert_eq!(osa_distance("kitten", "sitting"), 3);
    let keys = || KEYS.iter().map(|d| d.key);
    assert_eq!(closest("log.levle", keys()), Some("log.level"));
    assert_eq!(closest("LOG.LEVEL", keys()), Some("log.level"));
    assert_eq!(closest("ports.bass", keys()), Some("ports.base"));
    assert_eq!(closest("codex.bin", keys()), Some("codex.binary"));
    assert_eq!(closest("binary", keys()), Some("codex.binary"));
    assert_eq!(closest("zzz", keys()), None);
    assert_eq!(closest("telemetry.endpoint", keys()), None);
    assert_eq!(closest("budgt", table_names()), Some("budget"));
}

#[test]
fn user_config_path_honours_abg_config_dir() {
    let env = env_of(&[("ABG_CONFIG_DIR", "/etc/abg-test")]);
    assert_eq!(
        user_config_path_with(&env),
        Some(Path::new("/etc/abg-test/config.toml").to_owned())
    );
    let env = env_of(&[("ABG_CONFIG_DIR", "")]);
    if let Some(path) = user_config_path_with(&env) {
        assert!(path.ends_with("config.toml"));
        assert_ne!(path, Path::new("config.toml"));
    }
}

#[test]
fn error_messages_snapshot() {
    let dirs = Dirs::new();
    let mut out = String::new();
    let mut case = |title: &str, user: &str, project: &str, env: &[(&str, &str)]| {
        dirs.write_user(user).write_project(project);
        let env = env_of(env);
        out.push_str(&format!("## {title}\n{}\n\n", dirs.load_err(&env)));
    };
    case(
        "many problems at once",
        "[daemon]\nidle_shutdown = 5\nready_timeout_ms = \"soon\"\n[deamon]\nx = 1\n",
        "[ports]\nbase = 80\n[budget]\nenable = true\n[log]\nlevel = \"abg=loud\"\n",
        &[("ABG_SAFE", "perhaps"), ("ABG_CLAUDE_DOORBELL_SECS", "-1")],
    );
    case(
        "wrong type",
        "",
        "[daemon]\nidle_shutdown_minutes = \"soon\"\n",
        &[],
    );
    case(
        "syntax error",
        "[daemon]\nidle_shutdown_minutes = 5\nready_timeout_ms = = 3\n",
        "",
        &[],
    );
    case(
        "unterminated string",
        "",
        "[codex]\nbinary = \"codex\n",
        &[],
    );
    case(
        "not one of the choices",
        "",
        "[claude]\nchannel = \"server\"\n",
        &[],
    );
    case(
        "cross-key",
        "[budget]\npause_at = 40\n",
        "",
        &[("ABG_BUDGET_RESUME_BELOW", "45")],
    );
    insta::assert_snapshot!(out);
}

/// Found by `fuzz/config_file`: a log filter with leading Unicode
/// whitespace made tracing-subscriber slice inside a character and panic
/// while abg validated `ABG_LOG`; it is now a clear error, and directives
/// with spaces around them keep working.
#[test]
fn log_filters_with_odd_whitespace_are_errors_not_panics() {
    let crash = "\u{a0}-[[~dd[]=\u{1}\0\0\0\0\0\0h'1";
    let err = Config::load(None, None, &env_of(&[("ABG_LOG", crash)]))
        .expect_err("not a filter")
        .to_string();
    assert!(err.contains("ABG_LOG"), "{err}");
    let text = format!("[log]\nlevel = {}\n", toml::Value::String(crash.into()));
    let err = Config::from_project_text(Path::new("/p/.abg/config.toml"), &text)
        .expect_err("not a filter")
        .to_string();
    assert!(err.contains("log.level"), "{err}");
    let cfg = Config::load(None, None, &env_of(&[("ABG_LOG", " info , abg=debug")]))
        .expect("spaces around directives");
    assert_eq!(cfg.settings.log_level, " info , abg=debug");
    assert!(super::log_filter("\u{a0}abg=debug").is_ok());
}
