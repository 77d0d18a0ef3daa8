//! Server-side revocation of web UI sessions, so a logout or
//! `abg ui --revoke-all` holds even though session cookies are otherwise
//! stateless (an HMAC the daemon can verify after a restart, see
//! [`super::auth`]). Logged-out session ids are remembered until their
//! expiry; revoking all draws a new generation that every earlier cookie
//! lacks. The state persists in the pair's 0600 `ui-sessions.json`; a
//! missing, unreadable or malformed file starts a new generation (fail
//! closed), and a failed write removes the file for the same reason.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;

/// Logged-out sessions remembered at most; past that, logout revokes all.
const MAX_REVOKED: usize = 1024;

/// Why a revocation could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("cannot record the revocation: {0}")]
    Write(#[from] crate::paths::PathsError),
    #[error("cannot encode the session list: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The state, as stored in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// Sessions minted under another generation are void.
    generation: String,
    /// Logged-out session ids → their expiry (ms), forgotten after it.
    revoked: BTreeMap<String, i64>,
}

impl State {
    fn fresh() -> Self {
        Self {
            generation: hex::encode(rand::random::<[u8; 8]>()),
            revoked: BTreeMap::new(),
        }
    }

    fn load(file: &std::path::Path) -> Result<Self, String> {
        let bytes = crate::paths::read_private_file(file, crate::paths::FILE_CAP)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > crate::paths::FILE_CAP {
            return Err(format!("over {} bytes", crate::paths::FILE_CAP));
        }
        let state: State = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if state.generation.len() != 16 || hex::decode(&state.generation).is_err() {
            return Err(format!("bad generation {:?}", state.generation));
        }
        Ok(state)
    }
}

/// The revocations of one daemon's UI sessions.
#[derive(Debug)]
pub struct Revocations {
    state: Mutex<State>,
    /// Where the state persists (`None`: in memory only).
    file: Option<PathBuf>,
}

impl Default for Revocations {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::fresh()),
            file: None,
        }
    }
}

impl Revocations {
    /// Revocations kept in `file`, starting from what it holds.
    pub fn persisted_in(file: PathBuf) -> Self {
        let state = State::load(&file).unwrap_or_else(|e| {
            if file.exists() {
                tracing::warn!(
                    "ui sessions file unusable ({e}); every earlier UI session is revoked"
                );
            }
            State::fresh()
        });
        let this = Self {
            state: Mutex::new(state),
            file: Some(file),
        };
        if let Err(e) = this.save(&mut this.lock()) {
            tracing::warn!("{e}");
        }
        this
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generation new sessions are minted under.
    pub fn generation(&self) -> String {
        self.lock().generation.clone()
    }

    /// Whether the session `id` of `generation` is not revoked.
    pub fn allows(&self, generation: &str, id: &str) -> bool {
        let s = self.lock();
        s.generation == generation && !s.revoked.contains_key(id)
    }

    /// Revoke the session `id` (until `expires_ms`, when it dies anyway).
    pub fn revoke(&self, id: &str, expires_ms: i64) -> Result<(), RevokeError> {
        let mut s = self.lock();
        s.revoked.insert(id.to_owned(), expires_ms);
        if s.revoked.len() > MAX_REVOKED {
            *s = State::fresh();
        }
        self.save(&mut s)
    }

    /// Revoke every session minted so far.
    pub fn revoke_all(&self) -> Result<(), RevokeError> {
        let mut s = self.lock();
        *s = State::fresh();
        self.save(&mut s)
    }

    /// Forget expired revocations and write the state to the file; when
    /// that fails remove the file, so the next daemon starts a new
    /// generation rather than reviving a revoked session.
    fn save(&self, s: &mut State) -> Result<(), RevokeError> {
        let now = now_ms();
        s.revoked.retain(|_, exp| *exp > now);
        let Some(file) = &self.file else {
            return Ok(());
        };
        let written = serde_json::to_vec_pretty(&*s)
            .map_err(RevokeError::from)
            .and_then(|text| Ok(crate::paths::write_private_file(file, &text)?));
        if written.is_err() {
            let _ = std::fs::remove_file(file);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_logouts_revoke_everything() {
        let r = Revocations::default();
        let g = r.generation();
        for i in 0..MAX_REVOKED {
            r.revoke(&format!("s{i}"), now_ms() + 60_000)
                .expect("revoke");
        }
        assert!(r.allows(&g, "other"));
        r.revoke("last", now_ms() + 60_000).expect("revoke");
        assert!(!r.allows(&g, "other"), "a new generation");
    }
}
