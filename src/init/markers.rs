//! The marker-section upsert: put abg's text between `<!-- abg:start -->`
//! and `<!-- abg:end -->` in a Markdown file, pure and idempotent.
//!
//! Rules: a file without markers gets the section appended (after a blank
//! line); a file with one well-formed section gets it replaced in place;
//! every byte outside the marker lines is kept as it was. Marker lines are
//! recognised only on a line of their own and outside fenced code blocks,
//! so documentation that quotes them is left alone. Anything else — a start
//! without an end, an end without a start, two sections — is an error that
//! says how to fix the file; abg never guesses. The section follows the
//! file's line endings (CRLF files stay CRLF).

use thiserror::Error;

/// The line that opens abg's section.
pub const START: &str = "<!-- abg:start -->";
/// The line that closes abg's section.
pub const END: &str = "<!-- abg:end -->";

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The file did not exist: it holds only the section.
    Created,
    /// The file had no section: it was appended.
    Appended,
    /// The section was replaced in place.
    Updated,
    /// The section was already up to date.
    Unchanged,
}

impl Change {
    /// Whether the file's bytes change.
    pub fn writes(self) -> bool {
        self != Change::Unchanged
    }
}

/// The new file text and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    pub text: String,
    pub change: Change,
}

/// Marker layouts abg refuses to guess about (lines are 1-based).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MarkerError {
    #[error(
        "line {line} opens abg's section (`{START}`) but no `{END}` follows; add `{END}` on its own line where abg's section ends (or delete the start line), then run `abg init` again"
    )]
    Unclosed { line: usize },
    #[error(
        "line {line} has `{END}` without a `{START}` before it; delete that line (or add `{START}` where abg's section begins), then run `abg init` again"
    )]
    Unopened { line: usize },
    #[error(
        "lines {first} and {second} both open an abg section (`{START}`); keep one `{START}` … `{END}` pair, delete the other, then run `abg init` again"
    )]
    Duplicate { first: usize, second: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Start,
    End,
}

/// Insert or replace abg's section (`body`, LF line endings, no markers)
/// in `existing` (`None`: the file does not exist).
pub fn upsert(existing: Option<&str>, body: &str) -> Result<Upserted, MarkerError> {
    let Some(old) = existing else {
        return Ok(Upserted {
            text: block(body, "\n", "\n"),
            change: Change::Created,
        });
    };
    let eol = if old.contains("\r\n") { "\r\n" } else { "\n" };
    let lines: Vec<&str> = old.split_inclusive('\n').collect();
    let text = match find_section(&lines)? {
        Some((start, end)) => {
            let end_terminator = terminator(lines[end]);
            let mut text: String = lines[..start].concat();
            text.push_str(&block(body, eol, end_terminator));
            text.push_str(&lines[end + 1..].concat());
            text
        }
        None => {
            let mut text = old.to_string();
            if !text.is_empty() {
                if !text.ends_with('\n') {
                    text.push_str(eol);
                }
                if !text.ends_with(&format!("{eol}{eol}")) && text != eol {
                    text.push_str(eol);
                }
            }
            text.push_str(&block(body, eol, eol));
            let change = Change::Appended;
            return Ok(Upserted { text, change });
        }
    };
    let change = if text == old {
        Change::Unchanged
    } else {
        Change::Updated
    };
    Ok(Upserted { text, change })
}

/// The marked block: start line, body, end line (ended by `last`).
fn block(body: &str, eol: &str, last: &str) -> String {
    let mut body = body.replace("\r\n", "\n");
    if !body.ends_with('\n') {
        body.push('\n');
    }
    if eol != "\n" {
        body = body.replace('\n', eol);
    }
    format!("{START}{eol}{body}{END}{last}")
}

fn terminator(line: &str) -> &str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

fn marker(line: &str) -> Option<Marker> {
    match line.trim() {
        START => Some(Marker::Start),
        END => Some(Marker::End),
        _ => None,
    }
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Indexes of the start and end marker lines, if there is one section.
fn find_section(lines: &[&str]) -> Result<Option<(usize, usize)>, MarkerError> {
    let mut in_fence = false;
    let mut open: Option<usize> = None;
    let mut found: Option<(usize, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        if is_fence(line) {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        match marker(line) {
            Some(Marker::Start) => {
                if let Some(first) = open.or(found.map(|(s, _)| s)) {
                    return Err(MarkerError::Duplicate {
                        first: first + 1,
                        second: i + 1,
                    });
                }
                open = Some(i);
            }
            Some(Marker::End) => match open.take() {
                Some(start) => found = Some((start, i)),
                None => return Err(MarkerError::Unopened { line: i + 1 }),
            },
            None => {}
        }
    }
    match open {
        Some(start) => Err(MarkerError::Unclosed { line: start + 1 }),
        None => Ok(found),
    }
}

#[cfg(test)]
mod tests;
