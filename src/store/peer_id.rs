//! Who talks, as data: a peer's id (`claude`, `codex`, a third agent's) or
//! one of the two voices that only send (`human`, `abg`). Messages,
//! deliveries, attachments and wake-ups refer to peers by this id; which
//! ids a pair has is what its composition root registers (and the store's
//! `peers` table records), not a Rust enum.
//!
//! An id is a short lowercase word, so it is `Copy` and compares as cheaply
//! as the enum it replaced: each distinct id is interned once per process
//! (ids are checked before they are interned, and their number is capped,
//! so a client cannot grow the table without bound).

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest peer id.
pub const MAX_LEN: usize = 24;
/// Most distinct ids one process interns.
const MAX_INTERNED: usize = 1024;

/// A participant's id. Build with [`PeerId::from_static`] (constants) or
/// parse (`"claude".parse()`); both check the syntax.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(&'static str);

/// Why a text is not a peer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdError {
    #[error(
        "{0:?} is not a peer id: use 1 to {MAX_LEN} characters of a-z, 0-9 and '-', starting with a letter"
    )]
    Syntax(String),
    #[error("too many distinct peer ids in one process (at most {MAX_INTERNED})")]
    TooMany,
}

/// Whether `s` is a well-formed id (usable in `const` context).
const fn well_formed(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > MAX_LEN || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

fn interned() -> &'static Mutex<HashSet<&'static str>> {
    static TABLE: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashSet::new()))
}

impl PeerId {
    /// The human at the keyboard (sends only).
    pub const HUMAN: PeerId = PeerId::from_static("human");
    /// abg itself: notices (sends only).
    pub const ABG: PeerId = PeerId::from_static("abg");

    /// An id known at compile time; a malformed one fails the build.
    pub const fn from_static(id: &'static str) -> PeerId {
        assert!(well_formed(id), "malformed peer id");
        PeerId(id)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Whether this is an agent (a peer messages can be addressed to),
    /// rather than the human or abg, which only send.
    pub fn is_agent(self) -> bool {
        self != PeerId::HUMAN && self != PeerId::ABG
    }
}

impl FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !well_formed(s) {
            return Err(PeerIdError::Syntax(s.chars().take(40).collect()));
        }
        let mut table = interned().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = table.get(s) {
            return Ok(PeerId(known));
        }
        if table.len() >= MAX_INTERNED {
            return Err(PeerIdError::TooMany);
        }
        let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
        table.insert(leaked);
        Ok(PeerId(leaked))
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for PeerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for PeerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_intern_and_compare() {
        let a: PeerId = "opencode".parse().expect("id");
        let b: PeerId = "opencode".parse().expect("id");
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "interned once");
        assert_eq!(PeerId::from_static("opencode"), a);
        assert!(a.is_agent());
        assert!(!PeerId::HUMAN.is_agent() && !PeerId::ABG.is_agent());
        for bad in [
            "",
            "Claude",
            "1x",
            "a b",
            "é",
            "x".repeat(25).as_str(),
            "a\u{1b}",
        ] {
            assert!(bad.parse::<PeerId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_is_the_plain_string_and_rejects_garbage() {
        let id: PeerId = serde_json::from_str("\"codex\"").expect("de");
        assert_eq!(serde_json::to_string(&id).expect("ser"), "\"codex\"");
        let err = serde_json::from_str::<PeerId>("\"Not An Id\"").expect_err("bad");
        assert!(err.to_string().contains("not a peer id"), "{err}");
    }
}
