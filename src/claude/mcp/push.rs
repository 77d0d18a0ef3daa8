//! Building `notifications/claude/channel` pushes: identifier-only meta keys
//! (Claude silently drops keys outside `^[a-zA-Z_][a-zA-Z0-9_]*$`), string
//! values, and bodies over the cap written to a private file in the pair's
//! state dir and pushed as a short notice with the path in meta (never in
//! the content, which a peer could forge).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::control::protocol::PeerMessage;

/// The channel notification method.
pub const CHANNEL_METHOD: &str = "notifications/claude/channel";

/// Whether Claude keeps `key` as a tag attribute.
pub fn valid_meta_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Meta from `pairs`, dropping (and logging) invalid keys.
pub fn meta(pairs: &[(&str, Option<&str>)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        let Some(v) = v else { continue };
        if valid_meta_key(k) {
            out.insert((*k).to_string(), Value::String((*v).to_string()));
        } else {
            tracing::warn!(
                key = k,
                "dropping a channel meta key Claude would drop silently"
            );
        }
    }
    out
}

/// Where oversized bodies go.
pub fn inbox_dir(pair_dir: &Path) -> PathBuf {
    pair_dir.join("inbox")
}

fn write_private(dir: &Path, name: &str, body: &str) -> Result<PathBuf, crate::paths::PathsError> {
    crate::paths::ensure_private_dir(dir)?;
    let path = dir.join(name);
    crate::paths::write_private_file(&path, body.as_bytes())?;
    Ok(path)
}

/// The notification params for `m`; bodies over `max_bytes` go to a file
/// under `pair_dir` (when given).
pub fn params(m: &PeerMessage, max_bytes: usize, pair_dir: Option<&Path>) -> Value {
    let from = m.from.as_str();
    let mut pairs: Vec<(&str, Option<&str>)> = vec![
        ("from", Some(from)),
        ("msg_id", Some(&m.id)),
        ("thread_id", m.thread_id.as_deref()),
        ("turn_id", m.turn_id.as_deref()),
        ("in_reply_to", m.in_reply_to.as_deref()),
    ];
    if m.body.len() <= max_bytes {
        return json!({"content": m.body, "meta": meta(&pairs)});
    }
    let size = m.body.len().to_string();
    let file = pair_dir.and_then(|d| {
        write_private(&inbox_dir(d), &format!("{}.txt", m.id), &m.body)
            .map_err(|e| tracing::warn!("cannot write an oversized message to a file: {e}"))
            .ok()
    });
    let content = match &file {
        Some(_) => format!(
            "Message from Codex too large to push ({size} bytes). Read the file named in this tag's file_path attribute, or call get_messages."
        ),
        None => {
            let cut = (0..=max_bytes)
                .rev()
                .find(|i| m.body.is_char_boundary(*i))
                .unwrap_or(0);
            format!(
                "{}… [truncated at {max_bytes} of {size} bytes; call get_messages for the full text]",
                &m.body[..cut]
            )
        }
    };
    let path = file.map(|p| p.display().to_string());
    pairs.push(("file_path", path.as_deref()));
    pairs.push(("size_bytes", Some(&size)));
    json!({"content": content, "meta": meta(&pairs)})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> PeerMessage {
        PeerMessage {
            id: "m_00000000000000aa".into(),
            from: crate::codex::PEER,
            body: body.into(),
            created_ms: 0,
            thread_id: Some("th_1".into()),
            turn_id: None,
            in_reply_to: None,
        }
    }

    #[test]
    fn meta_keys_are_identifiers() {
        for ok in ["from", "msg_id", "_x", "a1"] {
            assert!(valid_meta_key(ok), "{ok}");
        }
        for bad in ["", "msg-id", "1a", "a.b", "é", "a b"] {
            assert!(!valid_meta_key(bad), "{bad}");
        }
        let m = meta(&[
            ("msg-id", Some("x")),
            ("msg_id", Some("y")),
            ("turn_id", None),
        ]);
        assert_eq!(Value::Object(m), json!({"msg_id": "y"}));
    }

    #[test]
    fn small_bodies_are_pushed_whole_with_meta() {
        let p = params(&msg("hello"), 100, None);
        assert_eq!(p["content"], "hello");
        assert_eq!(
            p["meta"],
            json!({"from": "codex", "msg_id": "m_00000000000000aa", "thread_id": "th_1"})
        );
    }

    #[test]
    fn oversized_bodies_go_to_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let body = "é".repeat(200);
        let p = params(&msg(&body), 100, Some(dir.path()));
        let path = p["meta"]["file_path"].as_str().expect("file_path");
        assert_eq!(std::fs::read_to_string(path).expect("read"), body);
        let mode = std::fs::metadata(path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!p["content"].as_str().unwrap_or("").contains(path));
        assert_eq!(p["meta"]["size_bytes"], "400");
        let cut = params(&msg(&body), 101, None);
        assert!(
            cut["content"]
                .as_str()
                .unwrap_or("")
                .contains("truncated at 101")
        );
    }
}
