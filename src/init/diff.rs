//! A minimal unified diff for `abg init --dry-run`.
//!
//! `abg init` changes one contiguous region per file (its marker section,
//! or an appended one), so a single hunk spanning everything between the
//! common prefix and the common suffix is both correct and minimal enough;
//! no diff library is needed. Output follows `diff -u`: `---`/`+++`
//! headers (`/dev/null` for a new file), one `@@` hunk with up to three
//! lines of context, and `\ No newline at end of file` where it applies.

const CONTEXT: usize = 3;

/// The unified diff turning `old` (`None`: no file) into `new`; empty when
/// they are equal. `name` labels both sides (`a/<name>`, `b/<name>`).
pub fn unified(name: &str, old: Option<&str>, new: &str) -> String {
    if old == Some(new) {
        return String::new();
    }
    let a: Vec<&str> = old.unwrap_or("").split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    let before = prefix.min(CONTEXT);
    let after = suffix.min(CONTEXT);
    let first = prefix - before;
    let a_len = a.len() - prefix - suffix + before + after;
    let b_len = b.len() - prefix - suffix + before + after;

    let mut out = String::new();
    match old {
        Some(_) => out.push_str(&format!("--- a/{name}\n")),
        None => out.push_str("--- /dev/null\n"),
    }
    out.push_str(&format!("+++ b/{name}\n"));
    out.push_str(&format!(
        "@@ -{} +{} @@\n",
        range(first, a_len),
        range(first, b_len)
    ));
    for line in &a[first..prefix] {
        push(&mut out, ' ', line);
    }
    for line in &a[prefix..a.len() - suffix] {
        push(&mut out, '-', line);
    }
    for line in &b[prefix..b.len() - suffix] {
        push(&mut out, '+', line);
    }
    for line in &a[a.len() - suffix..a.len() - suffix + after] {
        push(&mut out, ' ', line);
    }
    out
}

/// `start,len` with 1-based start; an empty range names the line before it.
fn range(first: usize, len: usize) -> String {
    if len == 0 {
        format!("{first},0")
    } else {
        format!("{},{len}", first + 1)
    }
}

fn push(out: &mut String, tag: char, line: &str) {
    out.push(tag);
    let text = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l));
    match text {
        Some(text) => {
            out.push_str(text);
            out.push('\n');
        }
        None => {
            out.push_str(line);
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(unified("f", Some("a\n"), "a\n"), "");
    }

    #[test]
    fn new_file() {
        assert_eq!(
            unified("CLAUDE.md", None, "x\ny\n"),
            "--- /dev/null\n+++ b/CLAUDE.md\n@@ -0,0 +1,2 @@\n+x\n+y\n"
        );
    }

    #[test]
    fn replaced_middle_has_three_lines_of_context() {
        let old = "1\n2\n3\n4\nold\n5\n6\n7\n8\n";
        let new = "1\n2\n3\n4\nnew\nnewer\n5\n6\n7\n8\n";
        assert_eq!(
            unified("f", Some(old), new),
            "--- a/f\n+++ b/f\n@@ -2,7 +2,8 @@\n 2\n 3\n 4\n-old\n+new\n+newer\n 5\n 6\n 7\n"
        );
    }

    #[test]
    fn append_to_file_without_final_newline() {
        assert_eq!(
            unified("f", Some("a\nb"), "a\nb\n\nc\n"),
            "--- a/f\n+++ b/f\n@@ -1,2 +1,4 @@\n a\n-b\n\\ No newline at end of file\n+b\n+\n+c\n"
        );
    }

    #[test]
    fn pure_insertion_at_end() {
        assert_eq!(
            unified("f", Some("a\n"), "a\nb\n"),
            "--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n a\n+b\n"
        );
    }

    #[test]
    fn crlf_lines_are_shown_without_carriage_returns() {
        let d = unified("f", Some("a\r\n"), "a\r\nb\r\n");
        assert!(!d.contains('\r'), "{d:?}");
        assert!(d.ends_with(" a\n+b\n"), "{d:?}");
    }
}
