//! Product output on stdout, and the formatting it shares (durations,
//! arguments quoted as a shell reads them). A reader that went away
//! (`abg pair | head`) is not an error: writes report [`BrokenPipe`],
//! which `main` maps to 0.

use std::io::Write;

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
    line(serde_json::to_string_pretty(value)?)
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
