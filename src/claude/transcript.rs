//! Evidence that Claude saw a message: its id in Claude's session
//! transcript (the JSONL file hooks name in `transcript_path`). A pushed
//! `<channel … msg_id="m_…">` block, a Stop-hook reason and a
//! `get_messages` result all carry the id, so finding it means the message
//! was in the model's context. Lines recording Claude's input queue
//! (`queue-operation`, written when a push arrives, before the model sees
//! it) are not evidence and are skipped.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Only the transcript's tail is searched (recent turns).
const TAIL_BYTES: u64 = 8 * 1024 * 1024;

/// Which of `ids` occur in the transcript at `path` (none if unreadable).
pub fn ids_in(path: &Path, ids: &[String]) -> HashSet<String> {
    if ids.is_empty() {
        return HashSet::new();
    }
    let Ok(text) = read_tail(path) else {
        return HashSet::new();
    };
    let mut found = HashSet::new();
    for line in text.lines().filter(|l| !l.contains("\"queue-operation\"")) {
        for id in ids {
            if !id.is_empty() && line.contains(id.as_str()) {
                found.insert(id.clone());
            }
        }
    }
    found
}

fn read_tail(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > TAIL_BYTES {
        f.seek(SeekFrom::Start(len - TAIL_BYTES))?;
    }
    let mut bytes = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_in_the_tail() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("t.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"message":{"content":"<channel source=\"abg\" msg_id=\"m_01\">hi</channel>"}}"#,
                "\n",
                r#"{"type":"queue-operation","content":"msg_id=\"m_02\""}"#
            ),
        )
        .expect("write");
        let found = ids_in(&p, &["m_01".into(), "m_02".into()]);
        assert_eq!(found, ["m_01".to_string()].into());
        assert!(ids_in(&dir.path().join("missing"), &["m_01".into()]).is_empty());
    }
}
