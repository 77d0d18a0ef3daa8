//! The registry of every configuration key abg knows (type and range,
//! default, environment variable, help) and the typed [`Settings`] it fills.
//! One table drives validation, `abg status --json`, and the commented
//! template `abg init` writes, so they can never disagree.

use std::borrow::Cow;
use std::fmt;

pub use super::settings::Settings;

/// The type (and range) a key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// `true`/`false` (environment: also 1/0, yes/no, on/off).
    Bool,
    /// A non-empty string.
    Str,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
}

impl Kind {
    /// What the key expects, phrased for "expected …" in error messages.
    pub fn expected(&self) -> String {
        match self {
            Kind::Int { min, max } => format!("an integer from {min} to {max}"),
            Kind::Bool => "a boolean (true or false)".to_owned(),
            Kind::Str => "a non-empty string".to_owned(),
            Kind::Enum(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }
}

/// A validated configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(Cow<'static, str>),
}

impl Value {
    /// The value as JSON, for `abg status --json`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
        }
    }
}

/// Formats the value as a TOML literal (`30`, `true`, `"info"`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{}", toml::Value::String(s.to_string())),
        }
    }
}

/// Extra validation of a string value; `Err` explains what is wrong with it.
type Check = fn(&str) -> Result<(), String>;

/// Writes a validated value into its [`Settings`] field. The variant always
/// matches the key's [`Kind`]: the constructors below pair them.
#[derive(Debug, Clone, Copy)]
enum Setter {
    Int(fn(&mut Settings, i64)),
    Bool(fn(&mut Settings, bool)),
    Str(fn(&mut Settings, &str)),
}

/// One known configuration key.
#[derive(Debug, Clone)]
pub struct KeyDef {
    /// Dotted key as written in TOML, e.g. `daemon.idle_shutdown_minutes`.
    pub key: &'static str,
    pub kind: Kind,
    pub default: Value,
    /// The environment variable that overrides it.
    pub env: &'static str,
    /// One line of help, used in the commented template.
    pub help: &'static str,
    /// For strings: what "expected …" says when `check` refuses a value.
    pub(super) check_expected: &'static str,
    pub(super) check: Option<Check>,
    set: Setter,
}

impl KeyDef {
    /// The table part of the key (`daemon` for `daemon.idle_shutdown_minutes`),
    /// `None` for top-level keys.
    pub fn table(&self) -> Option<&'static str> {
        self.key.rsplit_once('.').map(|(t, _)| t)
    }

    /// The last segment of the key.
    pub fn leaf(&self) -> &'static str {
        self.key.rsplit_once('.').map_or(self.key, |(_, l)| l)
    }

    /// Stores `value` into `settings`. A value of the wrong variant cannot
    /// come out of validation and is ignored.
    pub(super) fn apply(&self, settings: &mut Settings, value: &Value) {
        match (self.set, value) {
            (Setter::Int(f), Value::Int(i)) => f(settings, *i),
            (Setter::Bool(f), Value::Bool(b)) => f(settings, *b),
            (Setter::Str(f), Value::Str(s)) => f(settings, s),
            _ => {}
        }
    }
}

const fn int(
    key: &'static str,
    env: &'static str,
    (min, max): (i64, i64),
    default: i64,
    help: &'static str,
    set: fn(&mut Settings, i64),
) -> KeyDef {
    KeyDef {
        key,
        kind: Kind::Int { min, max },
        default: Value::Int(default),
        env,
        help,
        check_expected: "",
        check: None,
        set: Setter::Int(set),
    }
}

const fn boolean(
    key: &'static str,
    env: &'static str,
    default: bool,
    help: &'static str,
    set: fn(&mut Settings, bool),
) -> KeyDef {
    KeyDef {
        key,
        kind: Kind::Bool,
        default: Value::Bool(default),
        env,
        help,
        check_expected: "",
        check: None,
        set: Setter::Bool(set),
    }
}

const fn string(
    key: &'static str,
    env: &'static str,
    default: &'static str,
    help: &'static str,
    set: fn(&mut Settings, &str),
) -> KeyDef {
    KeyDef {
        key,
        kind: Kind::Str,
        default: Value::Str(Cow::Borrowed(default)),
        env,
        help,
        check_expected: "",
        check: None,
        set: Setter::Str(set),
    }
}

const fn checked_string(
    key: &'static str,
    env: &'static str,
    default: &'static str,
    help: &'static str,
    (check_expected, check): (&'static str, Check),
    set: fn(&mut Settings, &str),
) -> KeyDef {
    KeyDef {
        key,
        kind: Kind::Str,
        default: Value::Str(Cow::Borrowed(default)),
        env,
        help,
        check_expected,
        check: Some(check),
        set: Setter::Str(set),
    }
}

const fn choice(
    key: &'static str,
    env: &'static str,
    choices: &'static [&'static str],
    default: &'static str,
    help: &'static str,
    set: fn(&mut Settings, &str),
) -> KeyDef {
    KeyDef {
        key,
        kind: Kind::Enum(choices),
        default: Value::Str(Cow::Borrowed(default)),
        env,
        help,
        check_expected: "",
        check: None,
        set: Setter::Str(set),
    }
}

/// Integer conversion for setters: validation already keeps every value
/// inside its key's range, and every range fits its field's type (a test
/// checks both ends), so the fallback is unreachable.
fn narrow<T: TryFrom<i64> + Default>(v: i64) -> T {
    T::try_from(v).unwrap_or_default()
}

fn check_peer_id(s: &str) -> Result<(), String> {
    s.parse::<crate::store::types::PeerId>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn check_log_filter(s: &str) -> Result<(), String> {
    log_filter(s).map(|_| ()).map_err(|e| e.to_string())
}

/// The tracing filter for `directives` (`log.level`, `RUST_LOG`,
/// `ABG_LOG`). Each comma-separated directive is trimmed first:
/// tracing-subscriber 0.3 parses a directive with surrounding whitespace
/// at shifted offsets and panics when one falls inside a character
/// (`"\u{a0}-[[~dd[]=…"`, found by `fuzz/config_file`).
pub fn log_filter(
    directives: &str,
) -> Result<tracing_subscriber::EnvFilter, tracing_subscriber::filter::ParseError> {
    let trimmed: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    tracing_subscriber::EnvFilter::builder().parse(trimmed.join(","))
}

/// Every key abg reads, in the order `abg status --json` lists them.
pub static KEYS: &[KeyDef] = &[
    int(
        "daemon.idle_shutdown_minutes",
        "ABG_DAEMON_IDLE_SHUTDOWN_MINUTES",
        (0, 10_080),
        30,
        "Minutes the daemon stays up with no agent attached before it exits; 0 = never.",
        |s, v| s.daemon_idle_shutdown_minutes = narrow(v),
    ),
    int(
        "daemon.orphan_grace_secs",
        "ABG_DAEMON_ORPHAN_GRACE_SECS",
        (1, 86_400),
        120,
        "Seconds the pair's Codex app-server keeps running with no daemon and no client (TUI) connected before its guard stops it.",
        |s, v| s.daemon_orphan_grace_secs = narrow(v),
    ),
    int(
        "daemon.ready_timeout_ms",
        "ABG_DAEMON_READY_TIMEOUT_MS",
        (100, 120_000),
        10_000,
        "Milliseconds abg waits for a freshly spawned daemon to answer before giving up.",
        |s, v| s.daemon_ready_timeout_ms = narrow(v),
    ),
    checked_string(
        "log.level",
        "ABG_LOG",
        "info",
        "Daemon log filter: a tracing EnvFilter directive such as \"info\" or \"abg=debug\".",
        (
            "a tracing filter directive such as \"info\" or \"abg=debug\"",
            check_log_filter,
        ),
        |s, v| s.log_level = v.to_owned(),
    ),
    int(
        "log.max_bytes",
        "ABG_LOG_MAX_BYTES",
        (65_536, 1_073_741_824),
        5_242_880,
        "Size in bytes at which the daemon's log file is rotated.",
        |s, v| s.log_max_bytes = narrow(v),
    ),
    int(
        "log.max_files",
        "ABG_LOG_MAX_FILES",
        (1, 50),
        3,
        "Number of rotated log files kept.",
        |s, v| s.log_max_files = narrow(v),
    ),
    int(
        "control.max_frame_bytes",
        "ABG_CONTROL_MAX_FRAME_BYTES",
        (1024, 67_108_864),
        1_048_576,
        "Largest control-plane request body or WebSocket frame accepted, in bytes.",
        |s, v| s.control_max_frame_bytes = narrow(v),
    ),
    int(
        "control.max_connections",
        "ABG_CONTROL_MAX_CONNECTIONS",
        (8, 65_536),
        256,
        "Most connections the control port holds at once (lowered to fit the open-file limit); at the cap the oldest idle one is closed for a newcomer.",
        |s, v| s.control_max_connections = narrow(v),
    ),
    int(
        "control.header_timeout_ms",
        "ABG_CONTROL_HEADER_TIMEOUT_MS",
        (100, 600_000),
        10_000,
        "Milliseconds a control-port connection may take to send a complete request header, from its opening or its previous answer; then it is closed.",
        |s, v| s.control_header_timeout_ms = narrow(v),
    ),
    int(
        "ports.base",
        "ABG_BASE_PORT",
        (1024, 65_000),
        4500,
        "Base port: pair slot N uses base + 10*N (+0 Codex app-server, +1 OpenCode server, +2 control plane and web UI).",
        |s, v| s.ports_base = narrow(v),
    ),
    string(
        "codex.binary",
        "ABG_CODEX_BINARY",
        "codex",
        "The Codex executable: a name looked up on PATH, or a path.",
        |s, v| s.codex_binary = v.to_owned(),
    ),
    string(
        "claude.binary",
        "ABG_CLAUDE_BINARY",
        "claude",
        "The Claude Code executable: a name looked up on PATH, or a path.",
        |s, v| s.claude_binary = v.to_owned(),
    ),
    string(
        "opencode.binary",
        "ABG_OPENCODE_BINARY",
        "opencode",
        "The OpenCode executable (optional third peer): a name looked up on PATH, or a path.",
        |s, v| s.opencode_binary = v.to_owned(),
    ),
    int(
        "codex.turn_stall_secs",
        "ABG_CODEX_TURN_STALL_SECS",
        (10, 86_400),
        300,
        "Seconds a Codex turn may stay silent before it is shown as stalled (never as completed).",
        |s, v| s.codex_turn_stall_secs = narrow(v),
    ),
    choice(
        "claude.channel",
        "ABG_CLAUDE_CHANNEL",
        &["auto", "generated", "plugin"],
        "auto",
        "How `abg claude` loads abg into Claude Code: \"generated\" (its own --mcp-config and hooks), \"plugin\" (the installed abg@abg plugin), or \"auto\" (the plugin when it is installed and enabled, else generated).",
        |s, v| s.claude_channel = v.to_owned(),
    ),
    int(
        "claude.doorbell_secs",
        "ABG_CLAUDE_DOORBELL_SECS",
        (1, 3600),
        10,
        "Seconds a message pushed to an idle Claude may stay unacknowledged before abg types a reminder into its prompt.",
        |s, v| s.claude_doorbell_secs = narrow(v),
    ),
    int(
        "claude.push_max_bytes",
        "ABG_CLAUDE_PUSH_MAX_BYTES",
        (256, 1_048_576),
        16_384,
        "Largest message pushed to Claude in one channel notification, in bytes.",
        |s, v| s.claude_push_max_bytes = narrow(v),
    ),
    int(
        "governor.max_exchanges",
        "ABG_GOVERNOR_MAX_EXCHANGES",
        (0, 10_000),
        20,
        "Consecutive agent-to-agent exchanges without human input before relay pauses; 0 = no limit.",
        |s, v| s.governor_max_exchanges = narrow(v),
    ),
    boolean(
        "budget.enabled",
        "ABG_BUDGET_ENABLED",
        true,
        "Pause and resume relay according to the agents' quota usage.",
        |s, v| s.budget_enabled = v,
    ),
    int(
        "budget.pause_at",
        "ABG_BUDGET_PAUSE_AT",
        (1, 100),
        95,
        "Pause relay to an agent when one of its quota windows reaches this used percentage.",
        |s, v| s.budget_pause_at = narrow(v),
    ),
    int(
        "budget.resume_below",
        "ABG_BUDGET_RESUME_BELOW",
        (0, 99),
        50,
        "Resume relay when usage falls below this percentage or the window resets; must be less than pause_at.",
        |s, v| s.budget_resume_below = narrow(v),
    ),
    int(
        "budget.stale_secs",
        "ABG_BUDGET_STALE_SECS",
        (10, 86_400),
        600,
        "Quota readings older than this many seconds are shown as stale and never drive decisions.",
        |s, v| s.budget_stale_secs = narrow(v),
    ),
    boolean(
        "approvals.relay",
        "ABG_APPROVALS_RELAY",
        true,
        "Collect the agents' approval requests in one inbox (`abg approvals`, the web UI); false leaves each agent's own terminal as the only place to answer them.",
        |s, v| s.approvals_relay = v,
    ),
    checked_string(
        "routing.default_to",
        "ABG_ROUTING_DEFAULT_TO",
        "claude",
        "The agent that gets an agent's answer to a turn the human started when it addresses nobody (with routing.relay = \"all\"); must be a peer of the pair.",
        (
            "a peer id (a-z, 0-9 and '-', starting with a letter, at most 24 characters)",
            check_peer_id,
        ),
        |s, v| s.routing_default_to = v.to_owned(),
    ),
    choice(
        "routing.relay",
        "ABG_ROUTING_RELAY",
        &["all", "addressed"],
        "all",
        "Which agent answers are relayed: \"all\" (an answer to a turn the human started goes to routing.default_to) or \"addressed\" (only answers to another agent, or with a leading @peer line).",
        |s, v| s.routing_relay = v.to_owned(),
    ),
    boolean(
        "safe",
        "ABG_SAFE",
        false,
        "Keep the agents' permission prompts, as if --safe were always passed.",
        |s, v| s.safe = v,
    ),
];

/// Looks a dotted key up in [`KEYS`].
pub fn find_key(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.key == key)
}

/// Key pairs `(lower, upper)` whose values must satisfy `lower < upper`.
pub(super) static LESS_THAN: &[(&str, &str)] = &[("budget.resume_below", "budget.pause_at")];

impl Settings {
    /// Builds settings from one value per entry of [`KEYS`], in that order.
    pub(super) fn from_values<'a>(values: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut settings = Settings::blank();
        for (def, value) in KEYS.iter().zip(values) {
            def.apply(&mut settings, value);
        }
        settings
    }
}

/// The built-in defaults.
impl Default for Settings {
    fn default() -> Self {
        Settings::from_values(KEYS.iter().map(|d| &d.default))
    }
}
