//! `abg resume`: the commands that resume both sides of this pair — Claude
//! from its newest session file for this project, Codex on the pair's
//! thread — printed, or with `abg resume claude|codex` executed in place of
//! this process.
//!
//! Claude keeps sessions in `$CLAUDE_CONFIG_DIR/projects/<dir>/<uuid>.jsonl`
//! (default `~/.claude`), `<dir>` being the launch directory with every
//! character that is not an ASCII letter or digit replaced by `-` (one per
//! UTF-16 unit, as Claude's JavaScript does).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use super::{Context, output};
use crate::codex::session::CurrentThread;

/// Print the commands that resume both agents of this pair, or run one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run this side's resume command instead of printing both.
    #[arg(value_enum)]
    pub side: Option<Side>,
}

/// Which agent to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Claude,
    Codex,
}

/// Claude's project directory name for `path`.
pub fn sanitize(path: &Path) -> String {
    path.to_string_lossy()
        .chars()
        .flat_map(|c| {
            let n = if c.is_ascii_alphanumeric() {
                0
            } else {
                c.len_utf16()
            };
            std::iter::repeat_n('-', n).chain((n == 0).then_some(c))
        })
        .collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The newest `<uuid>.jsonl` (by modification time) in `dirs`.
pub fn newest_session(dirs: &[PathBuf]) -> Option<String> {
    let mut best: Option<(SystemTime, String)> = None;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(stem) = path
                .extension()
                .filter(|e| *e == "jsonl")
                .and_then(|_| path.file_stem())
                .and_then(|s| s.to_str())
                .filter(|s| is_uuid(s))
            else {
                continue;
            };
            let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
                continue;
            };
            if best.as_ref().is_none_or(|(t, _)| modified > *t) {
                best = Some((modified, stem.to_string()));
            }
        }
    }
    best.map(|(_, id)| id)
}

/// Claude's config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
fn claude_config_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    var("CLAUDE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".claude")))
}

/// Where Claude keeps this project's sessions (the root, and the current
/// directory when `abg claude` was started below the root).
fn session_dirs(config: &Path, root: &Path, cwd: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = vec![config.join("projects").join(sanitize(root))];
    if let Some(cwd) = cwd.filter(|c| *c != root) {
        dirs.push(config.join("projects").join(sanitize(cwd)));
    }
    dirs
}

/// The `abg` arguments that resume `side` (`session`: Claude's session id).
pub fn argv(pair: Option<&str>, side: Side, session: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = pair
        .map(|p| vec!["--pair".to_string(), p.to_string()])
        .unwrap_or_default();
    match side {
        Side::Claude => {
            a.push("claude".into());
            if let Some(id) = session {
                a.extend(["--".into(), "--resume".into(), id.to_string()]);
            }
        }
        Side::Codex => a.push("codex".into()),
    }
    a
}

fn shown(args: &[String]) -> String {
    format!("abg {}", super::output::shell_words(args))
}

pub async fn run(ctx: Context, pair_flag: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    let config = claude_config_dir();
    let dirs = config
        .as_deref()
        .map(|c| session_dirs(c, &ctx.root, cwd.as_deref()))
        .unwrap_or_default();
    let session = newest_session(&dirs);
    let thread = ctx
        .registry
        .find(&ctx.root, &ctx.name)?
        .and_then(|p| std::fs::read_to_string(p.dir.join("codex-thread.json")).ok())
        .and_then(|t| serde_json::from_str::<CurrentThread>(&t).ok());

    if let Some(side) = args.side {
        if side == Side::Claude && session.is_none() {
            bail!(
                "no Claude session found for this project in {}; start one with `{}`",
                dirs.first()
                    .map_or_else(|| "~/.claude/projects".into(), |d| d.display().to_string()),
                shown(&argv(pair_flag, Side::Claude, None))
            );
        }
        let exe = std::env::current_exe().context("cannot locate the abg binary")?;
        let err = std::process::Command::new(&exe)
            .args(argv(pair_flag, side, session.as_deref()))
            .exec();
        return Err(err).with_context(|| format!("cannot run {}", exe.display()));
    }

    match &session {
        Some(id) => output::line(format!("# Claude: newest session {id}"))?,
        None => output::line(format!(
            "# Claude: no session for this project yet (looked in {}); this starts a new one",
            dirs.first()
                .map_or_else(|| "?".into(), |d| d.display().to_string())
        ))?,
    }
    output::line(shown(&argv(pair_flag, Side::Claude, session.as_deref())))?;
    match &thread {
        Some(t) => output::line(format!(
            "# Codex: resumes the pair's thread {}",
            t.thread_id
        ))?,
        None => output::line("# Codex: no thread yet; this starts a new one")?,
    }
    output::line(shown(&argv(pair_flag, Side::Codex, None)))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_dirs_follow_claude() {
        assert_eq!(sanitize(Path::new("/work/my_proj.v2")), "-work-my-proj-v2");
        assert_eq!(sanitize(Path::new("/a/é/😀")), "-a-----");
        assert_eq!(sanitize(Path::new("/a/😀")).len(), "-a-".len() + 2);
    }

    #[test]
    fn newest_uuid_session_wins() {
        let tmp = tempfile::tempdir().expect("tmp");
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(&a).expect("a");
        std::fs::create_dir_all(&b).expect("b");
        let old = "11111111-2222-3333-4444-555555555555";
        let new = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        std::fs::write(a.join(format!("{old}.jsonl")), "{}").expect("old");
        std::fs::write(a.join("notes.jsonl"), "{}").expect("not a uuid");
        std::fs::write(b.join(format!("{new}.json")), "{}").expect("wrong ext");
        assert_eq!(
            newest_session(&[a.clone(), b.clone()]).as_deref(),
            Some(old)
        );
        let f = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(b.join(format!("{new}.jsonl")))
            .expect("new");
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(60))
            .expect("mtime");
        assert_eq!(newest_session(&[a, b]).as_deref(), Some(new));
        assert_eq!(newest_session(&[tmp.path().join("missing")]), None);
    }

    #[test]
    fn commands() {
        let id = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        assert_eq!(
            shown(&argv(None, Side::Claude, Some(id))),
            format!("abg claude -- --resume {id}")
        );
        assert_eq!(
            shown(&argv(Some("x"), Side::Codex, None)),
            "abg --pair x codex"
        );
        assert_eq!(shown(&argv(None, Side::Claude, None)), "abg claude");
    }

    #[test]
    fn cwd_below_root_is_searched_too() {
        let d = session_dirs(
            Path::new("/h/.claude"),
            Path::new("/p"),
            Some(Path::new("/p/sub")),
        );
        assert_eq!(
            d,
            [
                PathBuf::from("/h/.claude/projects/-p"),
                PathBuf::from("/h/.claude/projects/-p-sub")
            ]
        );
        assert_eq!(
            session_dirs(Path::new("/c"), Path::new("/p"), Some(Path::new("/p"))).len(),
            1
        );
    }
}
