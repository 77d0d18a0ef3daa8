//! Mutual proof between a control-plane client and the pair's daemon, so
//! the client never hands anything replayable to a process that merely
//! listens on the control port (a squatter after the daemon died).
//!
//! 1. The client sends a fresh `client_nonce` to the public
//!    `POST /v1/auth/challenge` (nothing secret on the wire).
//! 2. The daemon answers a fresh `server_nonce` and
//!    `proof = HMAC-SHA256(secret, "abg-daemon-proof\0" ‖ port ‖ cn ‖ sn)`;
//!    the client checks it (constant time) before sending anything else.
//! 3. Every request then carries
//!    `Authorization: ABG-Session <sn>.<cn>.<mac>` with
//!    `mac = HMAC-SHA256(secret, "abg-client\0" ‖ port ‖ cn ‖ sn)`. The daemon
//!    accepts it only for a server nonce it issued in this process
//!    ([`Sessions`]), so a token dies with the daemon; while the daemon
//!    lives it holds the port, so no squatter can capture a token and
//!    replay it to a live daemon.
//!
//! The proof and the mac use different labels, so neither can stand in for
//! the other. Both sides use this module; nothing here does I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// The public route of step 1.
pub const CHALLENGE_PATH: &str = "/v1/auth/challenge";
/// The scheme of the `Authorization` header of step 3.
pub const SCHEME: &str = "ABG-Session";
/// Bytes of a nonce (hex-encoded on the wire: 64 characters).
pub const NONCE_BYTES: usize = 32;
/// Server nonces kept at most; the one expiring first is evicted.
pub const MAX_SESSIONS: usize = 4096;
/// How long an issued server nonce waits for its first use.
pub const PENDING_TTL: Duration = Duration::from_secs(60);
/// How long a used session stays valid after its last use.
pub const IDLE_TTL: Duration = Duration::from_secs(12 * 3600);

const DAEMON_LABEL: &[u8] = b"abg-daemon-proof\0";
const CLIENT_LABEL: &[u8] = b"abg-client\0";

type Nonce = [u8; NONCE_BYTES];

/// Body of `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub client_nonce: String,
}

/// Answer of `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeAnswer {
    pub server_nonce: String,
    pub proof: String,
}

/// Why a handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("{what} must be {} hex characters", NONCE_BYTES * 2)]
    BadNonce { what: &'static str },
    #[error("the proof does not match this pair's secret and port")]
    BadProof,
    #[error("missing `Authorization: {SCHEME} <server_nonce>.<client_nonce>.<mac>`")]
    Missing,
    #[error("the session was not issued by this daemon or has expired (the daemon restarted?)")]
    UnknownSession,
}

/// A fresh random nonce, hex-encoded.
pub fn new_nonce() -> String {
    let bytes: Nonce = rand::random();
    hex::encode(bytes)
}

fn nonce(hexed: &str, what: &'static str) -> Result<Nonce, HandshakeError> {
    let mut out = [0u8; NONCE_BYTES];
    hex::decode_to_slice(hexed, &mut out).map_err(|_| HandshakeError::BadNonce { what })?;
    Ok(out)
}

fn mac(secret: &str, label: &[u8], port: u16, cn: &Nonce, sn: &Nonce) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this never fails.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(label);
    m.update(&port.to_be_bytes());
    m.update(cn);
    m.update(sn);
    m
}

fn verify(m: Hmac<Sha256>, tag_hex: &str) -> bool {
    match hex::decode(tag_hex) {
        Ok(tag) => m.verify_slice(&tag).is_ok(),
        Err(_) => false,
    }
}

/// The daemon's proof for a challenge (step 2).
pub fn daemon_proof(
    secret: &str,
    port: u16,
    client_nonce: &str,
    server_nonce: &str,
) -> Result<String, HandshakeError> {
    let cn = nonce(client_nonce, "client_nonce")?;
    let sn = nonce(server_nonce, "server_nonce")?;
    let tag = mac(secret, DAEMON_LABEL, port, &cn, &sn).finalize();
    Ok(hex::encode(tag.into_bytes()))
}

/// The client's check of step 2: the answer proves knowledge of `secret`
/// for this `port` and this client's own `client_nonce`. On success it
/// returns the session header value to send from now on.
pub fn verify_daemon(
    secret: &str,
    port: u16,
    client_nonce: &str,
    answer: &ChallengeAnswer,
) -> Result<String, HandshakeError> {
    let cn = nonce(client_nonce, "client_nonce")?;
    let sn = nonce(&answer.server_nonce, "server_nonce")?;
    if !verify(mac(secret, DAEMON_LABEL, port, &cn, &sn), &answer.proof) {
        return Err(HandshakeError::BadProof);
    }
    let tag = mac(secret, CLIENT_LABEL, port, &cn, &sn)
        .finalize()
        .into_bytes();
    Ok(format!(
        "{SCHEME} {}.{client_nonce}.{}",
        answer.server_nonce,
        hex::encode(tag)
    ))
}

#[derive(Debug)]
struct Entry {
    client_nonce: Nonce,
    expires: Instant,
}

/// The daemon's side: the server nonces it issued (in memory only, so
/// every session dies with the process), bounded and expiring.
#[derive(Debug)]
pub struct Sessions {
    secret: String,
    port: u16,
    capacity: usize,
    pending_ttl: Duration,
    idle_ttl: Duration,
    issued: Mutex<HashMap<Nonce, Entry>>,
}

impl Sessions {
    pub fn new(port: u16, secret: &str) -> Self {
        Self::with_limits(port, secret, MAX_SESSIONS, PENDING_TTL, IDLE_TTL)
    }

    /// [`Sessions::new`] with explicit bounds (tests).
    pub fn with_limits(
        port: u16,
        secret: &str,
        capacity: usize,
        pending_ttl: Duration,
        idle_ttl: Duration,
    ) -> Self {
        Self {
            secret: secret.to_string(),
            port,
            capacity: capacity.max(1),
            pending_ttl,
            idle_ttl,
            issued: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Nonce, Entry>> {
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answer a challenge (step 2): issue a server nonce and prove.
    pub fn challenge(&self, req: &ChallengeRequest) -> Result<ChallengeAnswer, HandshakeError> {
        let cn = nonce(&req.client_nonce, "client_nonce")?;
        let sn: Nonce = rand::random();
        let now = Instant::now();
        {
            let mut issued = self.lock();
            issued.retain(|_, e| e.expires > now);
            if issued.len() >= self.capacity
                && let Some(oldest) = issued
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| *k)
            {
                issued.remove(&oldest);
            }
            issued.insert(
                sn,
                Entry {
                    client_nonce: cn,
                    expires: now + self.pending_ttl,
                },
            );
        }
        let server_nonce = hex::encode(sn);
        let proof = daemon_proof(&self.secret, self.port, &req.client_nonce, &server_nonce)?;
        Ok(ChallengeAnswer {
            server_nonce,
            proof,
        })
    }

    /// Check an `Authorization` header value (step 3).
    pub fn check(&self, authorization: Option<&str>) -> Result<(), HandshakeError> {
        let token = authorization
            .and_then(|v| v.trim().strip_prefix(SCHEME))
            .and_then(|v| v.strip_prefix(' '))
            .ok_or(HandshakeError::Missing)?;
        let mut parts = token.trim().split('.');
        let (Some(sn), Some(cn), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(HandshakeError::Missing);
        };
        let sn = nonce(sn, "server_nonce")?;
        let cn = nonce(cn, "client_nonce")?;
        if !verify(mac(&self.secret, CLIENT_LABEL, self.port, &cn, &sn), tag) {
            return Err(HandshakeError::UnknownSession);
        }
        let now = Instant::now();
        let mut issued = self.lock();
        match issued.get_mut(&sn) {
            Some(e) if e.expires > now && e.client_nonce == cn => {
                e.expires = now + self.idle_ttl;
                Ok(())
            }
            _ => Err(HandshakeError::UnknownSession),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn open(s: &Sessions, secret: &str, port: u16) -> Result<String, HandshakeError> {
        let cn = new_nonce();
        let answer = s.challenge(&ChallengeRequest {
            client_nonce: cn.clone(),
        })?;
        verify_daemon(secret, port, &cn, &answer)
    }

    #[test]
    fn a_daemon_with_the_secret_proves_itself_and_its_session_works() {
        let s = Sessions::new(4502, SECRET);
        let header = open(&s, SECRET, 4502).expect("proof");
        assert!(header.starts_with("ABG-Session "), "{header}");
        assert!(!header.contains(SECRET));
        assert_eq!(s.check(Some(&header)), Ok(()));
        assert_eq!(s.check(Some(&header)), Ok(()), "a session is reusable");
    }

    #[test]
    fn wrong_secret_or_port_fails_the_proof() {
        let other = Sessions::new(4502, "another secret");
        assert_eq!(open(&other, SECRET, 4502), Err(HandshakeError::BadProof));
        let moved = Sessions::new(4512, SECRET);
        assert_eq!(open(&moved, SECRET, 4502), Err(HandshakeError::BadProof));
        // A squatter that answers anything at all fails too.
        let cn = new_nonce();
        let fake = ChallengeAnswer {
            server_nonce: new_nonce(),
            proof: "00".repeat(32),
        };
        assert_eq!(
            verify_daemon(SECRET, 4502, &cn, &fake),
            Err(HandshakeError::BadProof)
        );
        let garbage = ChallengeAnswer {
            server_nonce: "zz".into(),
            proof: String::new(),
        };
        assert!(verify_daemon(SECRET, 4502, &cn, &garbage).is_err());
    }

    #[test]
    fn a_replayed_proof_does_not_answer_a_new_challenge() {
        let s = Sessions::new(4502, SECRET);
        let first = new_nonce();
        let answer = s
            .challenge(&ChallengeRequest {
                client_nonce: first.clone(),
            })
            .expect("challenge");
        assert!(verify_daemon(SECRET, 4502, &first, &answer).is_ok());
        // A squatter replaying a recorded answer to a fresh client nonce.
        assert_eq!(
            verify_daemon(SECRET, 4502, &new_nonce(), &answer),
            Err(HandshakeError::BadProof)
        );
    }

    #[test]
    fn sessions_are_bound_to_the_issuing_daemon() {
        let old = Sessions::new(4502, SECRET);
        let header = open(&old, SECRET, 4502).expect("proof");
        // Replayed to a restarted daemon (same secret and port): unknown.
        let restarted = Sessions::new(4502, SECRET);
        assert_eq!(
            restarted.check(Some(&header)),
            Err(HandshakeError::UnknownSession)
        );
        // Another port's daemon with the same secret: the mac is wrong.
        let other_port = Sessions::new(4512, SECRET);
        let on_other = open(&other_port, SECRET, 4512).expect("proof");
        assert_eq!(
            old.check(Some(&on_other)),
            Err(HandshakeError::UnknownSession)
        );
        // A tampered mac, or a token with another client nonce, fails.
        let (head, _) = header.rsplit_once('.').expect("mac");
        let tampered = format!("{head}.{}", "ab".repeat(32));
        assert_eq!(
            old.check(Some(&tampered)),
            Err(HandshakeError::UnknownSession)
        );
        let sn = header
            .trim_start_matches("ABG-Session ")
            .split('.')
            .next()
            .expect("sn");
        let cn = new_nonce();
        let forged = verify_daemon(
            SECRET,
            4502,
            &cn,
            &ChallengeAnswer {
                server_nonce: sn.to_string(),
                proof: daemon_proof(SECRET, 4502, &cn, sn).expect("proof"),
            },
        )
        .expect("forged with the secret");
        assert_eq!(
            old.check(Some(&forged)),
            Err(HandshakeError::UnknownSession),
            "a server nonce is bound to the client nonce it was issued for"
        );
        // No header, a bearer secret, or garbage: refused.
        assert_eq!(old.check(None), Err(HandshakeError::Missing));
        assert_eq!(
            old.check(Some(&format!("Bearer {SECRET}"))),
            Err(HandshakeError::Missing)
        );
        assert!(old.check(Some("ABG-Session a.b.c")).is_err());
    }

    #[test]
    fn nonces_expire_and_are_bounded() {
        let s = Sessions::with_limits(4502, SECRET, 2, Duration::from_millis(50), IDLE_TTL);
        let unused = open(&s, SECRET, 4502).expect("proof");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(
            s.check(Some(&unused)),
            Err(HandshakeError::UnknownSession),
            "an unused nonce expires"
        );
        let kept = open(&s, SECRET, 4502).expect("proof");
        assert_eq!(s.check(Some(&kept)), Ok(()), "first use extends it");
        let a = open(&s, SECRET, 4502).expect("proof");
        let b = open(&s, SECRET, 4502).expect("proof");
        assert_eq!(s.lock().len(), 2, "bounded");
        assert_eq!(
            s.check(Some(&kept)),
            Ok(()),
            "pending ones are evicted first"
        );
        assert_eq!(s.check(Some(&a)), Err(HandshakeError::UnknownSession));
        assert_eq!(s.check(Some(&b)), Ok(()));
    }
}
