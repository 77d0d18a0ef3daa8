//! Product output on stdout, and the formatting it shares (durations,
//! arguments quoted as a shell reads them). A reader that went away
//! (`abg pair | head`) is not an error: writes report [`BrokenPipe`],
//! which `main` maps to 0. Text that carries what agents wrote goes through
//! [`shown`] or [`agent_line`], so a terminal shows its control characters
//! instead of executing them ([`crate::terminal_text`]); JSON through
//! [`json`] has every control character escaped.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

use crate::terminal_text;

/// stdout was closed by its reader.
#[derive(Debug, thiserror::Error)]
#[error("broken pipe")]
pub struct BrokenPipe;

/// Write `text` (plus a newline) to stdout.
pub fn line(text: impl AsRef<str>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let r = writeln!(out, "{}", text.as_ref()).and_then(|()| out.flush());
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(BrokenPipe.into()),
        Err(e) => Err(e.into()),
    }
}

/// Pretty-print `value` as JSON on stdout.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    line(json_text(value, true)?)
}

/// `value` as JSON (one line unless `pretty`) with DEL and C1 controls
/// escaped too (serde_json escapes only C0), so no control character of an
/// agent's text is ever written raw.
pub fn json_text(value: &impl serde::Serialize, pretty: bool) -> serde_json::Result<String> {
    let text = if pretty {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    Ok(terminal_text::json_visible(text))
}

/// Whether stdout is a terminal (text is then made visible, not raw).
pub fn is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// `text` as it may be printed: with control characters made visible when
/// stdout is a terminal and `raw` is not asked for, else unchanged.
pub fn shown(text: &str, raw: bool) -> Cow<'_, str> {
    if raw || !is_terminal() {
        Cow::Borrowed(text)
    } else {
        terminal_text::visible(text)
    }
}

/// Write `text` that may carry agent text as a line: see [`shown`].
pub fn agent_line(text: impl AsRef<str>, raw: bool) -> anyhow::Result<()> {
    line(shown(text.as_ref(), raw))
}

/// Arguments quoted for display the way a POSIX shell reads them back
/// (`shlex`); a word no shell can carry (a NUL byte) is shown escaped.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| match shlex::try_quote(a) {
            Ok(q) => q.into_owned(),
            Err(_) => format!("{a:?}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// "1h 02m", "3m 04s", "12s" for a duration in milliseconds.
pub fn human_duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::human_duration(12_400), "12s");
        assert_eq!(super::human_duration(184_000), "3m 04s");
        assert_eq!(super::human_duration(3_720_000), "1h 02m");
        assert_eq!(super::human_duration(-5), "0s");
    }

    #[test]
    fn shell_words_read_back_as_the_same_arguments() {
        let args: Vec<String> = ["claude", "--resume", "a b", "it's", "", "$HOME", "x=y", "é"]
            .map(String::from)
            .into();
        let shown = super::shell_words(&args);
        assert!(shown.starts_with("claude --resume 'a b' "), "{shown}");
        assert_eq!(shlex::split(&shown), Some(args));
    }
}
