//! Request guards of the control plane: the Host check against DNS
//! rebinding, the Origin check that keeps browsers of other sites out, and
//! the session check ([`super::handshake`]: a session opened by proving
//! the pair secret both ways; the secret itself is never on the wire).
//! Every route passes through them; only the content-free `/healthz` and
//! the challenge that opens a session skip the session, and the web UI's
//! `/ui` paths authenticate with its session cookie instead
//! ([`crate::web::auth`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::handshake::{self, ChallengeRequest, HandshakeError, Sessions};
use super::protocol::{ErrorBody, ErrorCode, PROTOCOL_HEADER, PROTOCOL_VERSION};

/// What the guard checks against.
#[derive(Debug)]
pub struct Guard {
    port: u16,
    sessions: Sessions,
    ui: crate::web::auth::UiAuth,
}

impl Guard {
    pub fn new(port: u16, secret: &str) -> Self {
        Self {
            port,
            sessions: Sessions::new(port, secret),
            ui: crate::web::auth::UiAuth::new(port, secret),
        }
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

    /// Keep the web UI's session revocations in `file` (see
    /// [`crate::web::auth::UiAuth::persisted_in`]).
    pub fn with_ui_sessions(mut self, file: std::path::PathBuf) -> Self {
        self.ui = self.ui.persisted_in(file);
        self
    }

    /// The web UI's login tokens and session cookies.
    pub fn ui(&self) -> &crate::web::auth::UiAuth {
        &self.ui
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

/// A JSON error response.
pub fn error(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (
        status,
        axum::Json(ErrorBody {
            error: code,
            message,
        }),
    )
        .into_response()
}

/// axum middleware applying [`Guard::check`] to every request.
pub async fn middleware(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if crate::web::is_ui_path(path) {
        // Host/Origin as everywhere, then the UI's cookie (and CSRF) check.
        let checked = guard
            .check(req.headers(), true)
            .and_then(|()| guard.ui.authorize(req.method(), path, req.headers()));
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
