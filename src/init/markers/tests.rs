//! Table tests of the marker upsert.

use super::*;

const BODY: &str = "## abg\n\nhello\n";
const BLOCK: &str = "<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n";

fn up(existing: Option<&str>) -> Upserted {
    upsert(existing, BODY).expect("upsert")
}

#[test]
fn table_of_layouts() {
    let cases: &[(&str, Option<&str>, &str, Change)] = &[
        ("no file", None, BLOCK, Change::Created),
        ("empty file", Some(""), BLOCK, Change::Appended),
        (
            "content without newline",
            Some("# Project"),
            "# Project\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n",
            Change::Appended,
        ),
        (
            "content with newline",
            Some("# Project\n"),
            "# Project\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n",
            Change::Appended,
        ),
        (
            "content with blank line",
            Some("# Project\n\n"),
            "# Project\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n",
            Change::Appended,
        ),
        (
            "old section between content",
            Some("before\n<!-- abg:start -->\nold\n<!-- abg:end -->\nafter\n"),
            "before\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\nafter\n",
            Change::Updated,
        ),
        (
            "section at end without newline",
            Some("before\n<!-- abg:start -->\nold\n<!-- abg:end -->"),
            "before\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->",
            Change::Updated,
        ),
        (
            "indented markers",
            Some("x\n  <!-- abg:start -->  \nold\n\t<!-- abg:end -->\ny"),
            "x\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\ny",
            Change::Updated,
        ),
        (
            "up to date",
            Some("a\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\nb\n"),
            "a\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\nb\n",
            Change::Unchanged,
        ),
        (
            "markers quoted in a code fence are not markers",
            Some("```\n<!-- abg:start -->\n```\n"),
            "```\n<!-- abg:start -->\n```\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n",
            Change::Appended,
        ),
        (
            "inline mention is not a marker",
            Some("use `<!-- abg:start -->` lines\n"),
            "use `<!-- abg:start -->` lines\n\n<!-- abg:start -->\n## abg\n\nhello\n<!-- abg:end -->\n",
            Change::Appended,
        ),
    ];
    for (name, existing, want, change) in cases {
        let got = up(*existing);
        assert_eq!(got.text, *want, "{name}");
        assert_eq!(got.change, *change, "{name}");
        // Re-running on the result never changes it again.
        let again = up(Some(&got.text));
        assert_eq!(again.text, got.text, "{name}: idempotent");
        assert_eq!(again.change, Change::Unchanged, "{name}: idempotent");
    }
}

#[test]
fn text_outside_the_markers_is_kept_byte_for_byte() {
    let before = "# Title\r\n\ttabs  and trailing spaces   \n\n";
    let after = "\n\nlast line, no newline";
    let old = format!("{before}<!-- abg:start -->\nstale\n<!-- abg:end -->\n{after}");
    let new = up(Some(&old)).text;
    assert!(new.starts_with(before), "{new:?}");
    assert!(
        new.ends_with(&format!("<!-- abg:end -->\n{after}")),
        "{new:?}"
    );
}

#[test]
fn malformed_markers_are_errors_with_a_fix() {
    let cases: &[(&str, &str, MarkerError)] = &[
        (
            "start without end",
            "a\n<!-- abg:start -->\nb\n",
            MarkerError::Unclosed { line: 2 },
        ),
        (
            "end without start",
            "a\nb\n<!-- abg:end -->\n",
            MarkerError::Unopened { line: 3 },
        ),
        (
            "end before start",
            "<!-- abg:end -->\n<!-- abg:start -->\n",
            MarkerError::Unopened { line: 1 },
        ),
        (
            "two sections",
            "<!-- abg:start -->\n<!-- abg:end -->\nx\n<!-- abg:start -->\n<!-- abg:end -->\n",
            MarkerError::Duplicate {
                first: 1,
                second: 4,
            },
        ),
        (
            "nested start",
            "<!-- abg:start -->\n<!-- abg:start -->\n<!-- abg:end -->\n",
            MarkerError::Duplicate {
                first: 1,
                second: 2,
            },
        ),
        (
            "second end",
            "<!-- abg:start -->\n<!-- abg:end -->\n<!-- abg:end -->\n",
            MarkerError::Unopened { line: 3 },
        ),
    ];
    for (name, text, want) in cases {
        let err = upsert(Some(text), BODY).expect_err(name);
        assert_eq!(&err, want, "{name}");
        let msg = err.to_string();
        assert!(msg.contains("run `abg init` again"), "{name}: {msg}");
    }
}

#[test]
fn crlf_files_stay_crlf() {
    let old = "# Title\r\n\r\nnotes\r\n";
    let got = up(Some(old));
    assert_eq!(
        got.text,
        "# Title\r\n\r\nnotes\r\n\r\n<!-- abg:start -->\r\n## abg\r\n\r\nhello\r\n<!-- abg:end -->\r\n"
    );
    assert!(!got.text.replace("\r\n", "").contains('\n'), "no bare LF");
    let again = up(Some(&got.text));
    assert_eq!(again.change, Change::Unchanged);
    let stale = "x\r\n<!-- abg:start -->\r\nold\r\n<!-- abg:end -->\r\ny\r\n";
    let got = up(Some(stale));
    assert_eq!(
        got.text,
        "x\r\n<!-- abg:start -->\r\n## abg\r\n\r\nhello\r\n<!-- abg:end -->\r\ny\r\n"
    );
    assert_eq!(got.change, Change::Updated);
}

#[test]
fn body_without_final_newline_or_with_crlf_is_normalised() {
    let a = upsert(None, "x").expect("upsert").text;
    let b = upsert(None, "x\r\n").expect("upsert").text;
    assert_eq!(a, "<!-- abg:start -->\nx\n<!-- abg:end -->\n");
    assert_eq!(a, b);
}
