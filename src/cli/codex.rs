//! `abg codex`: run the real Codex TUI as this pair's Codex peer.
//!
//! Ensures the pair's daemon and its Codex app-server are up, then runs
//! `codex --remote ws://127.0.0.1:<app port>` (the token in
//! `ABG_CODEX_TOKEN`) under abg's PTY supervisor, resuming the pair's
//! current thread unless `--new`. While the TUI runs, a control connection
//! with role `codex` marks Codex as attached (and re-ensures the daemon if
//! it dies); the TUI keeps working as plain Codex meanwhile. When the
//! app-server itself was replaced (it died and the daemon started a new
//! one, with a new token), the TUI cannot reconnect on its own: it is
//! launched again, resuming the pair's current thread, in the same
//! terminal. The exit code is that of the TUI the human quit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Context;
use super::attached::{self, exit_byte, live_tui};
use crate::codex::appserver::{self, Mode};
use crate::codex::launch;
use crate::codex::session::CurrentThread;
use crate::daemon::ensure;
use crate::pair::Pair;
use crate::pty::LaunchSpec;

/// Run Codex as this pair's Codex peer (starts the pair's daemon).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep Codex's normal approval prompts (no --yolo).
    #[arg(long)]
    pub safe: bool,
    /// Start a new Codex thread instead of resuming the pair's current one.
    #[arg(long)]
    pub new: bool,
    /// Arguments passed to `codex` (after `--`).
    #[arg(last = true, value_name = "CODEX_ARGS")]
    pub args: Vec<String>,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let binary = ctx.config.settings.codex_binary.clone();
    let pair = ctx.pair()?;
    let safe = args.safe || ctx.config.settings.safe;
    let url = format!("ws://127.0.0.1:{}", pair.ports.app);
    let probe = launch::plan(&binary, &url, &args.args, safe)?;
    if !probe.bridged {
        // `codex exec`, `codex login`, …: not the TUI, nothing to bridge.
        let status = tokio::process::Command::new(&binary)
            .args(&args.args)
            .status()
            .await
            .with_context(|| format!("cannot run {binary}"))?;
        return Ok(ExitCode::from(exit_byte(status.code().unwrap_or(1))));
    }
    let tui_pid = tui_pid_file(&pair);
    if let Some(pid) = live_tui(&tui_pid) {
        bail!(
            "Codex already runs for pair {} (abg codex, pid {pid}); use that terminal, or stop it first",
            pair.name
        );
    }
    let user_perms = launch::has_permission_flag(&args.args);
    let mode = if safe || user_perms {
        Mode::Safe
    } else {
        Mode::Yolo
    };
    appserver::write_mode(&pair, mode)?;
    let _ = std::fs::remove_file(pair.killed_file());
    // `codex --version` takes tens of ms: check it while the daemon and its
    // app-server come up (or answer, when warm) instead of before.
    let version = async {
        appserver::check_version(&binary)
            .await
            .map_err(anyhow::Error::from)
    };
    let server = async {
        ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
        wait_app_server(&pair, mode, Duration::from_secs(45)).await
    };
    tokio::try_join!(version, server)?;

    let mut user_args = args.args.clone();
    let has_subcommand = user_args.iter().any(|a| !a.starts_with('-'));
    // `abg codex -- resume <id>` / `fork <id>`: the thread keeps the
    // permissions it was started with, whatever `--safe` says.
    let known = std::fs::read_to_string(pair.dir.join("codex-thread.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<CurrentThread>(&t).ok());
    match explicit_resume(&user_args, known.as_ref(), mode) {
        Resume::Refused(why) => bail!(why),
        Resume::Unknown(note) => eprintln!("abg: {note}"),
        Resume::Fine => {}
    }
    if !args.new
        && !has_subcommand
        && !user_perms
        && let Some((thread, started)) = resumable_thread(&pair)
    {
        if started == Some(mode) {
            tracing::info!(thread = %thread, "resuming the pair's Codex thread");
            user_args.splice(0..0, ["resume".to_string(), thread]);
        } else {
            // A resumed thread keeps the permissions it was started with.
            let why = match started {
                Some(Mode::Safe) => "it was started with --safe",
                Some(Mode::Yolo) => "it was started without --safe",
                None => "its permission mode is unknown",
            };
            eprintln!(
                "abg: not resuming Codex thread {thread}: {why}, and a resumed thread keeps its permissions; starting a new thread"
            );
        }
    }
    // A relaunch resumes the thread the pair is on by then, with the
    // user's flags but not a subcommand of theirs (that ran once).
    let relaunch_args: Vec<String> = if has_subcommand {
        Vec::new()
    } else {
        args.args.clone()
    };
    let mut first = Some(user_args);
    let launch = || {
        let next = first.take();
        let (pair, binary, url, relaunch_args) = (&pair, &binary, &url, &relaunch_args);
        async move {
            let user_args = match next {
                Some(user_args) => user_args,
                None => {
                    wait_app_server(pair, mode, Duration::from_secs(45)).await?;
                    let mut again = relaunch_args.clone();
                    if let Some((thread, Some(started))) = resumable_thread(pair)
                        && started == mode
                    {
                        again.splice(0..0, ["resume".to_string(), thread]);
                    }
                    again
                }
            };
            let state = appserver::read_state(pair)
                .context("the pair's Codex app-server is not running")?;
            let plan = launch::plan(binary, url, &user_args, safe)?;
            let token = appserver::read_token(pair)?;
            tracing::debug!(
                "launch: {}={{token}} {} {}",
                launch::TOKEN_ENV,
                plan.program,
                super::output::shell_words(&plan.args)
            );
            let spec = LaunchSpec::new(&plan.program)
                .args(&plan.args)
                .env(launch::TOKEN_ENV, token);
            let pair = pair.clone();
            let stale = attached::until_replaced(state.pid, move || {
                appserver::read_state(&pair).map(|s| s.pid)
            });
            Ok((spec, stale))
        }
    };
    attached::run_relaunching(
        &pair,
        ctx.ready_timeout(),
        crate::codex::PEER,
        &tui_pid,
        launch,
    )
    .await
}

fn tui_pid_file(pair: &Pair) -> PathBuf {
    pair.dir.join("codex-tui.pid")
}

/// The pair's current thread and the mode it was started in, if its
/// rollout still exists.
fn resumable_thread(pair: &Pair) -> Option<(String, Option<Mode>)> {
    let text = std::fs::read_to_string(pair.dir.join("codex-thread.json")).ok()?;
    let current: CurrentThread = serde_json::from_str(&text).ok()?;
    let path = current.path?;
    std::path::Path::new(&path)
        .exists()
        .then_some((current.thread_id, current.mode))
}

/// What to make of a `resume` / `fork` the user asked Codex for.
#[derive(Debug, PartialEq, Eq)]
enum Resume {
    /// No such subcommand, or a thread started in the mode asked for.
    Fine,
    /// The pair's thread, started in the other permission mode.
    Refused(String),
    /// A thread abg knows nothing about, resumed under `--safe`.
    Unknown(String),
}

/// Check `codex resume|fork [<id>]` in `user_args` against the pair's
/// thread (`known`) and the permission `mode` asked for: resuming keeps the
/// thread's permissions (Codex refuses overrides on `--remote` resumes), so
/// `--safe` must not silently resume a thread started without it.
fn explicit_resume(user_args: &[String], known: Option<&CurrentThread>, mode: Mode) -> Resume {
    let mut words = user_args.iter().filter(|a| !a.starts_with('-'));
    let Some(sub) = words
        .next()
        .filter(|w| matches!(w.as_str(), "resume" | "fork"))
    else {
        return Resume::Fine;
    };
    let target = words.next();
    let started = known
        .filter(|k| target.is_some_and(|t| *t == k.thread_id))
        .and_then(|k| k.mode);
    let said = |m: Mode| match m {
        Mode::Safe => "with --safe",
        Mode::Yolo => "without --safe",
    };
    match (started, mode) {
        (Some(started), mode) if started != mode => Resume::Refused(format!(
            "Codex thread {} was started {}, and `codex {sub}` keeps the permissions a thread was started with; run `abg codex{}` to {sub} it as it was, or `abg codex --new` for a new thread",
            target.map_or("", String::as_str),
            said(started),
            if started == Mode::Safe { " --safe" } else { "" },
        )),
        (None, Mode::Safe) => Resume::Unknown(format!(
            "`codex {sub}` keeps the permissions {} was started with, and abg does not know them: --safe applies only if it was started with --safe",
            target.map_or_else(|| "the thread".to_string(), |t| format!("thread {t}")),
        )),
        _ => Resume::Fine,
    }
}

/// The TUI gets the app-server token: refuse unless the listener on the
/// app port is the app-server the daemon recorded (a squatter may have
/// taken the port).
fn app_server_holds_its_port(pair: &Pair) -> anyhow::Result<()> {
    let port = pair.ports.app;
    let state = appserver::read_state(pair).context(
        "the pair's Codex app-server stopped before the TUI could start; run `abg codex` again",
    )?;
    if let Err(by) = holds_its_port(&state) {
        bail!(
            "port {port} is held{}, not by the pair's Codex app-server (pid {}); abg will not give it the Codex token. Stop that process, then run `abg codex` again",
            if by.is_empty() {
                " by a process abg cannot see".to_string()
            } else {
                by
            },
            state.pid
        );
    }
    Ok(())
}

/// Whether the app-server `state` describes holds its port: the
/// app-server itself, or a process of its guard's group (Codex's own
/// children inherit the listener).
fn holds_its_port(state: &appserver::AppServerState) -> Result<(), String> {
    let by_server = crate::pair::ports::held_by(state.port, state.pid);
    match (by_server, state.guard) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(guard)) if crate::pair::ports::held_by(state.port, guard).is_ok() => Ok(()),
        (Err(by), _) => Err(by),
    }
}

/// Wait until the daemon's app-server runs in `mode`, answers, and is the
/// one its state file describes (alive, holding its port): right after a
/// restart the new server may answer before the daemon has recorded it.
async fn wait_app_server(pair: &Pair, mode: Mode, within: Duration) -> anyhow::Result<()> {
    let end = Instant::now() + within;
    loop {
        if let Some(state) = appserver::read_state(pair)
            && state.mode == mode
            && appserver::ready(pair.ports.app).await
        {
            match holds_its_port(&state) {
                Ok(()) => return Ok(()),
                // The recorded server is alive and someone else holds its
                // port: a squatter, said at once. A recorded server that is
                // gone is being replaced: wait for the new record.
                Err(_)
                    if state.start_time.is_some()
                        && crate::daemon::pidfile::process_start_time(state.pid)
                            == state.start_time =>
                {
                    app_server_holds_its_port(pair)?;
                }
                Err(_) => {}
            }
        }
        if Instant::now() >= end {
            // Answering but not the recorded server: name who holds the port.
            if appserver::ready(pair.ports.app).await {
                app_server_holds_its_port(pair)?;
            }
            bail!(
                "the pair's Codex app-server did not become ready within {within:?}; see {}",
                pair.log_dir().join("codex-app-server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::daemon::pidfile;

    fn pid_file(dir: &std::path::Path, pid: u32) -> PathBuf {
        let path = dir.join("codex-tui.pid");
        let start = pidfile::process_start_time(pid).expect("start time");
        std::fs::write(&path, format!("{pid} {start}\n")).expect("write");
        path
    }

    fn words(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_string()).collect()
    }

    fn thread(id: &str, mode: Option<Mode>) -> CurrentThread {
        CurrentThread {
            thread_id: id.into(),
            path: None,
            mode,
        }
    }

    #[test]
    fn explicit_resume_keeps_safe_honest() {
        let yolo = thread("th1", Some(Mode::Yolo));
        let safe = thread("th1", Some(Mode::Safe));
        // No subcommand, or another one: nothing to check.
        assert_eq!(
            explicit_resume(&words(&[]), Some(&yolo), Mode::Safe),
            Resume::Fine
        );
        assert_eq!(
            explicit_resume(&words(&["--model", "x"]), Some(&yolo), Mode::Safe),
            Resume::Fine
        );
        // The pair's thread in the other mode is refused, naming the fix.
        for (sub, known, mode, fix) in [
            ("resume", &yolo, Mode::Safe, "`abg codex` to resume"),
            ("fork", &safe, Mode::Yolo, "`abg codex --safe` to fork"),
        ] {
            let Resume::Refused(why) = explicit_resume(&words(&[sub, "th1"]), Some(known), mode)
            else {
                panic!("{sub} in the other mode was not refused");
            };
            assert!(
                why.contains("th1") && why.contains(fix) && why.contains("--new"),
                "{why}"
            );
        }
        // Same mode: fine.
        assert_eq!(
            explicit_resume(&words(&["resume", "th1"]), Some(&safe), Mode::Safe),
            Resume::Fine
        );
        // A thread abg does not know, under --safe: a note, not a refusal.
        for args in [&["resume", "other"][..], &["resume", "--last"], &["fork"]] {
            assert!(
                matches!(explicit_resume(&words(args), Some(&yolo), Mode::Safe), Resume::Unknown(n) if n.contains("--safe")),
                "{args:?}"
            );
        }
        // Without --safe an unknown thread can only be safer than asked.
        assert_eq!(
            explicit_resume(&words(&["resume", "other"]), None, Mode::Yolo),
            Resume::Fine
        );
    }

    #[test]
    fn a_running_tui_counts_and_an_unreaped_one_does_not() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut live = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let path = pid_file(dir.path(), live.id());
        assert_eq!(live_tui(&path), Some(live.id()));
        // Killed but not waited for: a zombie with the same start time.
        live.kill().expect("kill");
        let end = Instant::now() + Duration::from_secs(10);
        while !pidfile::is_zombie(live.id()) {
            assert!(Instant::now() < end, "the child never became a zombie");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(live_tui(&path), None);
        live.wait().expect("reap");
        assert_eq!(live_tui(&path), None);
    }
}
