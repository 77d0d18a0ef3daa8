//! Authentication of the web UI: one-time login tokens minted by the daemon
//! for `abg ui` (session-authenticated `POST /v1/ui/login-token`), swapped at
//! `/ui/login` for an HttpOnly, SameSite=Strict session cookie, and a CSRF
//! token per session that every state-changing `/ui` request must echo in
//! the [`CSRF_HEADER`] header (besides a same-origin `Origin`).
//!
//! The cookie is `v2.<generation>.<sid>.<expiry ms>.<mac>` with an
//! HMAC-SHA256 under a key derived from the pair secret, and the CSRF token
//! is another HMAC of the session id. Both survive a daemon restart, so the
//! UI reconnects by itself. Logout and `abg ui --revoke-all` revoke
//! server-side, and that survives restarts too ([`super::revocation`]);
//! rotating the pair secret revokes everything as well.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::revocation::Revocations;
pub use super::revocation::RevokeError;
use crate::clock::now_ms;
use crate::control::errors;
use crate::control::guard::PathGate;
use crate::control::protocol::ErrorCode;

/// Header carrying the session's CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-abg-csrf";
/// How long a login token can be redeemed.
pub const LOGIN_TOKEN_TTL_MS: i64 = 5 * 60 * 1000;
/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Unredeemed login tokens kept at most (oldest dropped first).
const MAX_PENDING_TOKENS: usize = 64;

/// The UI's authenticator (one per daemon, shared by the UI's handlers and
/// registered with the control guard as the [`PathGate`] of `/ui`).
pub struct UiAuth {
    key: [u8; 32],
    port: u16,
    /// Digest of each unredeemed login token → its expiry (ms).
    tokens: Mutex<HashMap<[u8; 32], i64>>,
    revocations: Revocations,
}

impl std::fmt::Debug for UiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiAuth")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// The revocation generation it was minted under.
    pub generation: String,
    pub expires_ms: i64,
}

impl UiAuth {
    /// An authenticator for the daemon on `port` with the pair `secret`.
    pub fn new(port: u16, secret: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"abg-ui-session-key\0");
        h.update(secret.as_bytes());
        Self {
            key: h.finalize().into(),
            port,
            tokens: Mutex::new(HashMap::new()),
            revocations: Revocations::default(),
        }
    }

    /// Keep revocations in `file` (see [`Revocations::persisted_in`]).
    pub fn persisted_in(mut self, file: PathBuf) -> Self {
        self.revocations = Revocations::persisted_in(file);
        self
    }

    /// Log `session` out: its cookie is refused from now on.
    pub fn revoke(&self, session: &Session) -> Result<(), RevokeError> {
        self.revocations.revoke(&session.id, session.expires_ms)
    }

    /// Void every session and every unredeemed login token.
    pub fn revoke_all(&self) -> Result<(), RevokeError> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.revocations.revoke_all()
    }

    /// Whether `session` is still valid (not expired, logged out or revoked).
    pub fn is_live(&self, session: &Session) -> bool {
        session.expires_ms > now_ms() && self.revocations.allows(&session.generation, &session.id)
    }

    /// The session cookie's name (cookies ignore ports, so it names ours).
    pub fn cookie_name(&self) -> String {
        format!("abg_ui_{}", self.port)
    }

    /// Mint a one-time login token; returns it and its expiry.
    pub fn mint_login_token(&self) -> (String, i64) {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let expires = now_ms() + LOGIN_TOKEN_TTL_MS;
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        tokens.retain(|_, exp| *exp > now);
        while tokens.len() >= MAX_PENDING_TOKENS {
            let Some(oldest) = tokens.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k) else {
                break;
            };
            tokens.remove(&oldest);
        }
        tokens.insert(sha256(token.as_bytes()), expires);
        (token, expires)
    }

    /// Redeem a login token (once): a new session on success.
    pub fn redeem(&self, token: &str) -> Option<Session> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let expires = tokens.remove(&sha256(token.as_bytes()))?;
        if expires <= now_ms() {
            return None;
        }
        Some(Session {
            id: hex::encode(rand::random::<[u8; 16]>()),
            generation: self.revocations.generation(),
            expires_ms: now_ms() + SESSION_TTL_MS,
        })
    }

    /// The cookie value for `session`.
    pub fn cookie_value(&self, session: &Session) -> String {
        let payload = format!(
            "v2.{}.{}.{}",
            session.generation, session.id, session.expires_ms
        );
        let mac = hex::encode(self.mac(&format!("session|{payload}")));
        format!("{payload}.{mac}")
    }

    /// The `Set-Cookie` header value that starts `session`.
    pub fn set_cookie(&self, session: &Session) -> String {
        let max_age = (session.expires_ms - now_ms()).max(0) / 1000;
        format!(
            "{}={}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}",
            self.cookie_name(),
            self.cookie_value(session)
        )
    }

    /// The `Set-Cookie` header value that ends the session in the browser.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0",
            self.cookie_name()
        )
    }

    /// Verify a cookie value: authentic, unexpired and not revoked.
    pub fn verify(&self, value: &str) -> Option<Session> {
        let (payload, mac) = value.rsplit_once('.')?;
        let mut parts = payload.split('.');
        let (Some("v2"), Some(generation), Some(id), Some(exp), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let want = self.mac(&format!("session|{payload}"));
        let got = hex::decode(mac).ok()?;
        if !ct_eq(&want, &got) {
            return None;
        }
        let session = Session {
            id: id.to_string(),
            generation: generation.to_string(),
            expires_ms: exp.parse().ok()?,
        };
        self.is_live(&session).then_some(session)
    }

    /// The session named by the request's cookie, if valid.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, v)| self.verify(v))
    }

    /// The CSRF token of `session`.
    pub fn csrf_token(&self, session: &Session) -> String {
        hex::encode(self.mac(&format!("csrf|{}", session.id)))
    }

    /// Authorize a `/ui` request (Host and Origin were checked already):
    /// `/ui/login` is open (its token is the credential); everything else
    /// needs a valid session cookie (401), and state-changing methods also
    /// a same-origin request with the session's CSRF token (403).
    pub fn authorize(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Box<Response>> {
        if path == "/ui/login" && method == Method::GET {
            return Ok(());
        }
        let Some(session) = self.session(headers) else {
            return Err(Box::new(errors::error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "not logged in: run `abg ui` and open the link it prints".into(),
            )));
        };
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let same_origin = headers.contains_key(header::ORIGIN)
            || headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("same-origin"));
        let csrf = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let want = self.csrf_token(&session);
        if !same_origin || !ct_eq(want.as_bytes(), csrf.as_bytes()) {
            return Err(Box::new(errors::error(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "cross-site request refused: state-changing UI requests need the page's CSRF token and a same-origin Origin".into(),
            )));
        }
        Ok(())
    }

    fn mac(&self, message: &str) -> [u8; 32] {
        hmac_sha256(&self.key, message.as_bytes())
    }
}

impl PathGate for UiAuth {
    fn covers(&self, path: &str) -> bool {
        super::is_ui_path(path)
    }

    fn authorize(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Box<Response>> {
        UiAuth::authorize(self, method, path, headers)
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// HMAC-SHA256 (RFC 2104) with a key of at most one block.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let mut inner = Sha256::new();
    inner.update(pad(0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Constant-time equality (length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn hmac_matches_rfc4231_style_vector() {
        // RFC 4231 test case 2 uses a short key; ours pads the same way.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let mac = hmac_sha256(&key, b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn login_tokens_are_one_time() {
        let a = UiAuth::new(4502, "s3cret");
        let (token, _) = a.mint_login_token();
        assert!(a.redeem("nope").is_none());
        let s = a.redeem(&token).expect("first use");
        assert!(a.redeem(&token).is_none(), "second use refused");
        assert_eq!(a.verify(&a.cookie_value(&s)), Some(s));
    }

    #[test]
    fn cookies_are_bound_to_the_secret_and_untamperable() {
        let a = UiAuth::new(4502, "s3cret");
        let b = UiAuth::new(4502, "other");
        let (token, _) = a.mint_login_token();
        let s = Session {
            id: "00ff".into(),
            ..a.redeem(&token).expect("session")
        };
        let v = a.cookie_value(&s);
        assert_eq!(a.verify(&v), Some(s.clone()));
        assert!(b.verify(&v).is_none());
        assert!(a.verify(&v.replace("00ff", "00fe")).is_none());
        assert!(a.verify("garbage").is_none());
        let old = Session {
            expires_ms: now_ms() - 1,
            ..s
        };
        assert!(a.verify(&a.cookie_value(&old)).is_none(), "expired");
    }

    fn login(a: &UiAuth) -> (Session, String) {
        let (token, _) = a.mint_login_token();
        let s = a.redeem(&token).expect("session");
        let cookie = a.cookie_value(&s);
        (s, cookie)
    }

    #[test]
    fn logout_and_revoke_all_hold_across_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ui-sessions.json");
        let a = UiAuth::new(4502, "s3cret").persisted_in(file.clone());
        let (s1, c1) = login(&a);
        let (_, c2) = login(&a);
        a.revoke(&s1).expect("logout");
        assert!(a.verify(&c1).is_none(), "logged out");
        assert!(a.verify(&c2).is_some(), "another session is untouched");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&file).expect("file").permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        // A restarted daemon (same secret) still refuses the logged-out one.
        let b = UiAuth::new(4502, "s3cret").persisted_in(file.clone());
        assert!(b.verify(&c1).is_none(), "logout survives a restart");
        assert!(b.verify(&c2).is_some());

        let (pending, _) = b.mint_login_token();
        b.revoke_all().expect("revoke all");
        assert!(b.verify(&c2).is_none(), "revoked");
        assert!(b.redeem(&pending).is_none(), "unredeemed tokens too");
        let (_, c3) = login(&b);
        assert!(b.verify(&c3).is_some(), "a fresh login works");
        let c = UiAuth::new(4502, "s3cret").persisted_in(file.clone());
        assert!(c.verify(&c2).is_none(), "revoke-all survives a restart");
        assert!(c.verify(&c3).is_some());

        // An unusable file voids every session (fail closed).
        std::fs::write(&file, "garbage").expect("write");
        let d = UiAuth::new(4502, "s3cret").persisted_in(file);
        assert!(d.verify(&c3).is_none());
    }

    #[test]
    fn authorize_table() {
        let a = UiAuth::new(4502, "s3cret");
        let (token, _) = a.mint_login_token();
        let s = a.redeem(&token).expect("session");
        let cookie = format!("other=1; {}={}", a.cookie_name(), a.cookie_value(&s));
        let csrf = a.csrf_token(&s);
        let origin = "http://127.0.0.1:4502".to_string();
        let code = |m: Method, path: &str, h: HeaderMap| {
            a.authorize(&m, path, &h)
                .err()
                .map_or(200, |r| r.status().as_u16())
        };
        assert_eq!(code(Method::GET, "/ui/login", headers(&[])), 200);
        assert_eq!(code(Method::GET, "/ui/", headers(&[])), 401);
        assert_eq!(code(Method::POST, "/ui/api/send", headers(&[])), 401);
        assert_eq!(
            code(Method::GET, "/ui/", headers(&[("cookie", cookie.clone())])),
            200
        );
        assert_eq!(
            code(
                Method::POST,
                "/ui/api/send",
                headers(&[("cookie", cookie.clone()), ("origin", origin.clone())])
            ),
            403,
            "no CSRF token"
        );
        assert_eq!(
            code(
                Method::POST,
                "/ui/api/send",
                headers(&[("cookie", cookie.clone()), (CSRF_HEADER, csrf.clone())])
            ),
            403,
            "no Origin"
        );
        assert_eq!(
            code(
                Method::POST,
                "/ui/api/send",
                headers(&[("cookie", cookie), (CSRF_HEADER, csrf), ("origin", origin)])
            ),
            200
        );
    }
}
