//! The UI's JSON handlers: login, session, history pages, events, search,
//! export and the composer. The guard has authorized every request that
//! reaches them (see [`super::auth`]).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::stream::head_cursor;
use super::view::Format;
use super::{WebError, WebState};
use crate::control::errors;
use crate::control::protocol::LoginToken;
use crate::control::protocol::web::{
    ComposeRequest, ComposeResult, EventsPage, LoginQuery, MessagesPage, PageQuery, SearchQuery,
    SearchResults, SessionInfo, StatusView, UiMessage,
};
use crate::control::protocol::{ErrorCode, SendRequest};
use crate::store::StoreError;
use crate::store::types::PeerId;

type WebResult<T> = Result<T, WebError>;

pub async fn login_token(State(w): State<WebState>) -> Json<LoginToken> {
    let (token, expires_ms) = w.ui.mint_login_token();
    Json(LoginToken {
        path: format!("/ui/login?token={token}"),
        token,
        expires_ms,
    })
}

pub async fn login(State(w): State<WebState>, Query(q): Query<LoginQuery>) -> Response {
    let auth = &w.ui;
    let Some(session) = auth.redeem(&q.token) else {
        let page = "<!doctype html><meta charset=utf-8><title>abg: login link expired</title>\
            <p>This login link is invalid, expired or already used. Run <code>abg ui</code> for a new one.</p>";
        return (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            page,
        )
            .into_response();
    };
    // A same-site navigation (not a redirect from wherever the link was
    // clicked) so the Strict cookie is sent; the token leaves the URL bar.
    let page = "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url=/ui/\">\
        <title>abg</title><p>Logged in. <a href=\"/ui/\">Open the transcript</a>.</p>";
    let mut resp = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    if let Ok(v) = HeaderValue::from_str(&auth.set_cookie(&session)) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

pub async fn session(State(w): State<WebState>, headers: HeaderMap) -> Response {
    let auth = &w.ui;
    let Some(session) = auth.session(&headers) else {
        return errors::error(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "not logged in".into(),
        );
    };
    Json(SessionInfo {
        csrf: auth.csrf_token(&session),
        pair_id: w.core.pair_id().to_string(),
        pair_name: w.core.pair().name.to_string(),
        version: crate::version(),
        max_body_bytes: w.core.max_frame_bytes(),
    })
    .into_response()
}

/// End the request's session server-side (its cookie is refused from now
/// on, in every tab) and clear it in the browser.
pub async fn logout(State(w): State<WebState>, headers: HeaderMap) -> Response {
    if let Some(session) = w.ui.session(&headers)
        && let Err(e) = w.ui.revoke(&session)
    {
        // Revoked in this daemon; the file is gone, so a restart revokes all.
        tracing::warn!("ui logout: {e}");
    }
    let mut resp = Json(serde_json::json!({"ok": true})).into_response();
    if let Ok(v) = HeaderValue::from_str(&w.ui.clear_cookie()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /v1/ui/revoke-all` (bearer, for `abg ui --revoke-all`): void every
/// UI session and unredeemed login token.
pub async fn revoke_all(State(w): State<WebState>) -> Response {
    match w.ui.revoke_all() {
        Ok(()) => Json(serde_json::json!({"ok": true})).into_response(),
        Err(e) => errors::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!(
                "every session is revoked in the running daemon, but {e}; it is removed, so the next daemon revokes them again"
            ),
        ),
    }
}

pub async fn status(State(w): State<WebState>) -> Json<StatusView> {
    Json(StatusView::of(&w.core))
}

/// A page of history: the `limit` messages before `before` (the newest
/// when absent), oldest first, with their delivery states.
pub async fn messages(
    State(w): State<WebState>,
    Query(q): Query<PageQuery>,
) -> WebResult<Json<MessagesPage>> {
    let limit = q.limit.clamp(1, 500);
    let cursor = head_cursor(&w)?;
    let messages = w.core.with_store(|s| -> Result<_, StoreError> {
        let page = s.messages_page(q.before, limit)?;
        page.into_iter()
            .map(|m| {
                let d = s.deliveries_for(&m.id)?.into_iter().next();
                Ok(UiMessage::new(m, d))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let has_more = messages.len() == limit && messages.first().is_some_and(|m| m.seq > 1);
    Ok(Json(MessagesPage {
        messages,
        cursor,
        has_more,
    }))
}

/// The newest `limit` events with seq below `before` (the newest of all
/// when absent), oldest first.
pub async fn events(
    State(w): State<WebState>,
    Query(q): Query<PageQuery>,
) -> WebResult<Json<EventsPage>> {
    let limit = q.limit.clamp(1, 500);
    let before = q.before.unwrap_or(i64::MAX);
    let events = w.core.with_store(|s| s.events_before(before, limit))?;
    Ok(Json(EventsPage { events }))
}

/// Full-text search, best match first.
pub async fn search(
    State(w): State<WebState>,
    Query(q): Query<SearchQuery>,
) -> WebResult<Json<SearchResults>> {
    let started = std::time::Instant::now();
    let limit = q.limit.clamp(1, 200);
    let found = w.core.with_store(|s| s.search(&q.q, limit))?;
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    let messages = found.into_iter().map(|m| UiMessage::new(m, None)).collect();
    Ok(Json(SearchResults { messages, took_ms }))
}

#[derive(Deserialize)]
pub struct ExportQuery {
    format: Format,
}

/// Approvals in the order they were asked (the list puts pending first).
pub fn oldest_first(
    mut rows: Vec<crate::store::types::Approval>,
) -> Vec<crate::store::types::Approval> {
    rows.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    rows
}

/// The whole transcript as a Markdown or JSONL download.
pub async fn export(
    State(w): State<WebState>,
    Query(q): Query<ExportQuery>,
) -> WebResult<Response> {
    let mut out = q.format.header(&w.core.pair().name.to_string());
    let mut after = 0;
    loop {
        let page = w.core.messages_after(after, 1000)?;
        for m in &page.messages {
            after = m.seq;
            out.push_str(&q.format.message(m)?);
        }
        if page.messages.len() < 1000 {
            break;
        }
    }
    let (approvals, _) = w.core.approvals(None, 10_000)?;
    out.push_str(&q.format.approvals(&oldest_first(approvals))?);
    let file = format!(
        "attachment; filename=\"abg-{}.{}\"",
        w.core.pair().name,
        q.format.extension()
    );
    let mut resp = ([(header::CONTENT_TYPE, q.format.content_type())], out).into_response();
    if let Ok(v) = HeaderValue::from_str(&file) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// Store the human's message for one peer, or for every peer (`all`;
/// `both` is its older name).
pub async fn send(
    State(w): State<WebState>,
    Json(req): Json<ComposeRequest>,
) -> WebResult<Json<ComposeResult>> {
    let peers = w.core.peers();
    let targets: Vec<PeerId> = match req.to.as_str() {
        // The agents taking part (not an optional one never run here).
        "all" | "both" => peers
            .iter()
            .map(|p| p.id)
            .filter(|id| w.core.takes_part(*id))
            .collect(),
        one => match peers.iter().find(|p| p.id.as_str() == one) {
            Some(p) => vec![p.id],
            None => {
                return Err(WebError::Invalid(format!(
                    "`to` must be a peer of this pair ({}) or \"all\"",
                    w.core.peer_ids_text()
                )));
            }
        },
    };
    if let Some(k) = &req.key
        && !(1..=100).contains(&k.len())
    {
        return Err(WebError::Invalid(
            "`key` must be 1 to 100 characters".into(),
        ));
    }
    let mut results = Vec::new();
    for to in targets {
        let takes_on_busy = w.core.peer(to).is_some_and(|p| p.takes_on_busy());
        let send = SendRequest {
            from: PeerId::HUMAN,
            to,
            body: req.body.clone(),
            on_busy: if takes_on_busy { req.on_busy } else { None },
            in_reply_to: None,
            idempotency_key: req.key.as_ref().map(|k| format!("ui-{k}-{}", to.as_str())),
        };
        results.push(w.core.send(send)?);
    }
    Ok(Json(ComposeResult { results }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;

    use super::*;

    fn state(dir: &std::path::Path) -> WebState {
        WebState {
            core: crate::peers::test_core(dir),
            peers: crate::daemon::peer::Peers::default(),
            ui: Arc::new(crate::web::auth::UiAuth::new(40002, "s3cret")),
            delivery_head: Arc::new(AtomicI64::new(0)),
        }
    }

    #[tokio::test]
    async fn events_page_backwards_from_before() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let w = state(tmp.path());
        let seqs: Vec<i64> = (0..7)
            .map(|i| {
                w.core
                    .record_event("test", serde_json::json!({ "i": i }))
                    .expect("event")
                    .seq
            })
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7]);
        let table: &[(Option<i64>, usize, &[i64])] = &[
            (Some(9), 5, &[3, 4, 5, 6, 7]),
            (Some(20), 5, &[3, 4, 5, 6, 7]),
            (Some(8), 5, &[3, 4, 5, 6, 7]),
            (Some(7), 5, &[2, 3, 4, 5, 6]),
            (Some(4), 5, &[1, 2, 3]),
            (Some(1), 5, &[]),
            (None, 5, &[3, 4, 5, 6, 7]),
            (None, 100, &[1, 2, 3, 4, 5, 6, 7]),
            (Some(6), 2, &[4, 5]),
        ];
        for (before, limit, want) in table {
            let q = PageQuery {
                before: *before,
                limit: *limit,
            };
            let Json(page) = events(State(w.clone()), Query(q)).await.expect("page");
            let got: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
            assert_eq!(got, *want, "before={before:?} limit={limit}");
        }
    }
}
