//! Request guards of the control plane: the Host check against DNS
//! rebinding, the Origin check that keeps browsers of other sites out, and
//! the session check ([`super::handshake`]: a session opened by proving
//! the pair secret both ways; the secret itself is never on the wire).
//! Every route passes through them; only the content-free `/healthz` and
//! the challenge that opens a session skip the session, and the paths a
//! registered [`PathGate`] covers (the web UI's `/ui`, authenticated by its
//! session cookie) are authorized by that gate instead. Without a gate every
//! such path needs a session like any other (fail closed).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::error;
use super::handshake::{self, ChallengeRequest, HandshakeError, Sessions};
use super::protocol::{ErrorCode, PROTOCOL_HEADER, PROTOCOL_VERSION};

/// Authorization of a set of paths by their own credential instead of a
/// control session (the web UI's cookie). The guard still checks Host,
/// Origin and `Sec-Fetch-Site` before asking the gate.
pub trait PathGate: Send + Sync + std::fmt::Debug {
    /// Whether this gate, not a control session, authorizes `path`.
    fn covers(&self, path: &str) -> bool;
    /// Authorize a request to a covered path; the error is the answer.
    fn authorize(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(), Box<Response>>;
}

/// What the guard checks against.
#[derive(Debug)]
pub struct Guard {
    port: u16,
    sessions: Sessions,
    gate: Option<Arc<dyn PathGate>>,
}

impl Guard {
    pub fn new(port: u16, secret: &str) -> Self {
        Self {
            port,
            sessions: Sessions::new(port, secret),
            gate: None,
        }
    }

    /// Let `gate` authorize the paths it covers.
    pub fn with_gate(mut self, gate: Arc<dyn PathGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// `POST /v1/auth/challenge`: issue a server nonce and prove this
    /// daemon knows the pair secret ([`handshake`]).
    pub fn challenge(&self, body: &[u8]) -> Response {
        let answer = serde_json::from_slice::<ChallengeRequest>(body)
            .map_err(|e| e.to_string())
            .and_then(|req| self.sessions.challenge(&req).map_err(|e| e.to_string()));
        match answer {
            Ok(a) => axum::Json(a).into_response(),
            Err(e) => error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArgument,
                format!(
                    "body must be {{\"client_nonce\":\"<{} hex characters>\"}}: {e}",
                    handshake::NONCE_BYTES * 2
                ),
            ),
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        let allowed = ["127.0.0.1", "localhost", "[::1]"];
        allowed
            .iter()
            .any(|h| host.eq_ignore_ascii_case(&format!("{h}:{}", self.port)))
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let allowed = ["127.0.0.1", "localhost", "[::1]"];
        allowed
            .iter()
            .any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}:{}", self.port)))
    }

    /// Check Host, Origin and (unless `public`) the session.
    pub fn check(&self, headers: &HeaderMap, public: bool) -> Result<(), Box<Response>> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !self.host_ok(host) {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!(
                    "Host {host:?} is not this daemon; connect to 127.0.0.1:{}",
                    self.port
                ),
            )));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origin_ok(origin) {
                return Err(Box::new(error(
                    StatusCode::FORBIDDEN,
                    ErrorCode::Forbidden,
                    format!("requests from origin {origin:?} are not allowed"),
                )));
            }
        }
        if headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
        {
            return Err(Box::new(error(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "cross-site requests are not allowed".into(),
            )));
        }
        if public {
            return Ok(());
        }
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(e) = self.sessions.check(auth) {
            let why = match e {
                HandshakeError::UnknownSession => "unknown or expired session",
                _ => "missing or malformed session",
            };
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                format!(
                    "{why}: {e}; open one proved by the pair secret with `POST {}` (abg's own clients do this)",
                    handshake::CHALLENGE_PATH
                ),
            );
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(handshake::SCHEME),
            );
            return Err(Box::new(resp));
        }
        if let Some(v) = headers.get(PROTOCOL_HEADER) {
            let ok = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .is_some_and(|p| p == PROTOCOL_VERSION);
            if !ok {
                return Err(Box::new(error(
                    StatusCode::CONFLICT,
                    ErrorCode::ProtocolMismatch,
                    format!(
                        "client speaks control protocol {:?}, this daemon speaks {PROTOCOL_VERSION}; run `abg kill` and retry so a matching daemon starts",
                        v.to_str().unwrap_or("?")
                    ),
                )));
            }
        }
        Ok(())
    }
}

/// axum middleware applying [`Guard::check`] to every request.
pub async fn middleware(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if let Some(gate) = guard.gate.as_ref().filter(|g| g.covers(path)) {
        // Host/Origin as everywhere, then the gate's own check (the UI's
        // cookie and CSRF token).
        let checked = guard
            .check(req.headers(), true)
            .and_then(|()| gate.authorize(req.method(), path, req.headers()));
        return match checked {
            Ok(()) => next.run(req).await,
            Err(resp) => *resp,
        };
    }
    let public = path == "/healthz" || path == handshake::CHALLENGE_PATH;
    match guard.check(req.headers(), public) {
        Ok(()) => next.run(req).await,
        Err(resp) => *resp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn guard_table() {
        let g = Guard::new(4502, "s3cret");
        let ok = |h: &HeaderMap, public| g.check(h, public).is_ok();
        let status = |h: &HeaderMap| g.check(h, false).err().map(|r| r.status().as_u16());
        let cn = handshake::new_nonce();
        let answer = g
            .sessions
            .challenge(&ChallengeRequest {
                client_nonce: cn.clone(),
            })
            .expect("challenge");
        let auth = handshake::verify_daemon("s3cret", 4502, &cn, &answer).expect("proof");
        let auth = auth.as_str();
        assert_eq!(
            status(&headers(&[
                ("host", "127.0.0.1:4502"),
                ("authorization", "Bearer s3cret")
            ])),
            Some(401),
            "the bare secret is no longer accepted"
        );
        assert!(ok(
            &headers(&[("host", "127.0.0.1:4502"), ("authorization", auth)]),
            false
        ));
        assert!(ok(&headers(&[("host", "localhost:4502")]), true));
        assert_eq!(status(&headers(&[("host", "127.0.0.1:4502")])), Some(401));
        assert_eq!(
            status(&headers(&[
                ("host", "127.0.0.1:4502"),
                ("authorization", "Bearer no")
            ])),
            Some(401)
        );
        assert_eq!(
            status(&headers(&[
                ("host", "evil.example:4502"),
                ("authorization", auth)
            ])),
            Some(403)
        );
        assert_eq!(
            status(&headers(&[
                ("host", "127.0.0.1:4502"),
                ("origin", "http://evil.example"),
                ("authorization", auth)
            ])),
            Some(403)
        );
        assert!(ok(
            &headers(&[
                ("host", "127.0.0.1:4502"),
                ("origin", "http://127.0.0.1:4502"),
                ("authorization", auth)
            ]),
            false
        ));
        assert_eq!(
            status(&headers(&[
                ("host", "127.0.0.1:4502"),
                ("authorization", auth),
                (PROTOCOL_HEADER, "99")
            ])),
            Some(409)
        );
    }
}
