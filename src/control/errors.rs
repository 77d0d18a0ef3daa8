//! Every error the control plane and the web API answer is the documented
//! JSON [`ErrorBody`]: this module holds its builder ([`error`]), the one mapping of [`CoreError`]
//! to status and [`ErrorCode`], the fallback for unknown routes, and the
//! outermost middleware that turns whatever else answers an error as text
//! or with an empty body (axum's extractor rejections: 400, 413, 415, 422;
//! 405 for a known path; WebSocket upgrade refusals) into that JSON, naming
//! the limit, the field or the allowed methods.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::protocol::{ErrorBody, ErrorCode};
use crate::daemon::core::CoreError;

/// Bytes of a text error body read to reword it (axum's are one line).
const MAX_TEXT: usize = 16 * 1024;

/// A JSON error response: the documented [`ErrorBody`] with `status`.
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

/// A page query read, or the 400 answer naming the shape it must have
/// (`shape`, e.g. `?after=<seq>&limit=<1..1000>`); the query's `limit`
/// must be from 1 to 1000.
pub fn page_query<Q>(
    q: Result<axum::extract::Query<Q>, axum::extract::rejection::QueryRejection>,
    shape: &str,
    limit: impl Fn(&Q) -> u32,
) -> Result<Q, Box<Response>> {
    let bad = |message: String| error(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, message);
    let Ok(axum::extract::Query(q)) = q else {
        return Err(Box::new(bad(format!("query must be {shape}"))));
    };
    if !(1..=1000).contains(&limit(&q)) {
        return Err(Box::new(bad("limit must be from 1 to 1000".into())));
    }
    Ok(q)
}

/// A [`CoreError`] as a JSON error response.
pub fn core_error(e: CoreError) -> Response {
    let (status, code) = e.status();
    error(status, code, e.to_string())
}

/// The request body cap, for the message of a 413.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// `control.max_frame_bytes`.
    pub max_frame_bytes: usize,
    /// What the router accepts: the above plus room for the JSON around it.
    pub body_bytes: usize,
}

/// Fallback of the router: a path no route serves.
pub async fn not_found(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidArgument,
        format!(
            "no such endpoint: {method} {} (the daemon serves /healthz, /v1/… and the web UI under /ui/)",
            uri.path()
        ),
    )
}

/// Middleware making every non-JSON error answer JSON. HTML pages meant
/// for a browser (the expired-login page) are left alone.
pub async fn json_errors(State(limit): State<BodyLimit>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error())
        || has_type(resp.headers(), "application/json")
        || has_type(resp.headers(), "text/html")
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, message) = reword(status, &method, &path, &parts.headers, &text, limit);
    let json = error(status, code, message);
    let (json_parts, json_body) = json.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, Body::new(json_body))
}

fn has_type(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with(mime))
}

/// The code and message of a non-JSON error answer with body `text`.
fn reword(
    status: StatusCode,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    text: &str,
    limit: BodyLimit,
) -> (ErrorCode, String) {
    let what = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text.to_owned()
    };
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::TooLarge,
            format!(
                "request body is over the limit of {} bytes (control.max_frame_bytes = {} plus {} for the JSON around it); send less, or raise control.max_frame_bytes in the config",
                limit.body_bytes,
                limit.max_frame_bytes,
                limit.body_bytes.saturating_sub(limit.max_frame_bytes)
            ),
        ),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .unwrap_or("another method");
            (
                ErrorCode::InvalidArgument,
                format!("{path} does not accept {method}; use {allowed}"),
            )
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            (ErrorCode::BadFrame, format!("{what} ({method} {path})"))
        }
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthorized, what),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, what),
        s if s.is_server_error() => (ErrorCode::Internal, what),
        _ => (
            ErrorCode::InvalidArgument,
            format!("{what} ({method} {path})"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewording_names_the_limit_and_the_methods() {
        let limit = BodyLimit {
            max_frame_bytes: 1024,
            body_bytes: 5120,
        };
        let h = HeaderMap::new();
        let (code, m) = reword(
            StatusCode::PAYLOAD_TOO_LARGE,
            &Method::POST,
            "/v1/messages",
            &h,
            "Failed to buffer the request body",
            limit,
        );
        assert_eq!(code, ErrorCode::TooLarge);
        assert!(
            m.contains("5120 bytes") && m.contains("control.max_frame_bytes"),
            "{m}"
        );
        let mut h = HeaderMap::new();
        h.insert(header::ALLOW, "GET,HEAD".parse().expect("value"));
        let (_, m) = reword(
            StatusCode::METHOD_NOT_ALLOWED,
            &Method::DELETE,
            "/v1/status",
            &h,
            "",
            limit,
        );
        assert_eq!(m, "/v1/status does not accept DELETE; use GET,HEAD");
    }
}
