//! The web UI's approvals routes over real HTTP against an in-process
//! daemon with a fake peer: both need the browser session (a control
//! session or the pair secret is not one), an answer needs the CSRF header
//! and a same-origin `Origin`, a bad decision is a 400 naming the valid
//! ones, an unknown id a 404, a late answer a 409 saying how the request was
//! answered; an answer from the page reaches the agent once and is
//! recorded as given through the web.

use std::sync::Arc;

use abg::config::Config;
use abg::control::protocol::approvals::Decision;
use abg::store::types::{AnsweredVia, ApprovalKind, ApprovalState};
use serde_json::{Value, json};

use crate::in_process;

#[path = "../web_ui/fake_approver.rs"]
mod fake_approver;
use fake_approver::{FakeApprover, ask, login_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_approvals_routes_need_the_session_and_answer_as_web() {
    let fake = Arc::new(FakeApprover::default());
    let d = in_process::start(fake.as_peer(), Config::default()).await;
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", d.port);
    let origin = url("");
    let id = ask(
        &d.core,
        "k1",
        ApprovalKind::Command,
        json!({"command": "touch x", "cwd": "/tmp", "reason": "probe"}),
        Some(&["approve", "approve_for_session", "deny"]),
    );
    let body = json!({"decision": "approve"}).to_string();

    // No browser session: refused, whatever else the request carries.
    let control = abg::control::client::open_session(&http, d.port, &d.secret)
        .await
        .expect("control session");
    for auth in [
        None,
        Some(control.clone()),
        Some(format!("Bearer {}", d.secret)),
    ] {
        let mut get = http.get(url("/ui/api/approvals"));
        let mut post = http
            .post(url(&format!("/ui/api/approvals/{id}")))
            .header("origin", &origin)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(a) = &auth {
            get = get.header("authorization", a);
            post = post.header("authorization", a);
        }
        assert_eq!(get.send().await.unwrap().status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            post.send().await.unwrap().status().as_u16(),
            401,
            "{auth:?}"
        );
    }

    // Log in like a browser.
    let resp = http
        .get(login_url(&http, d.port, &d.secret).await)
        .send()
        .await
        .expect("login");
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_string();
    let session: Value = http
        .get(url("/ui/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = session["csrf"].as_str().expect("csrf").to_string();

    let list: Value = http
        .get(url("/ui/api/approvals"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pending"], 1, "{list}");
    assert_eq!(list["approvals"][0]["id"], id.as_str());
    assert_eq!(list["approvals"][0]["detail"]["command"], "touch x");
    assert!(list["now_ms"].as_i64().unwrap() > 0);

    let post = |path: String, body: String, csrf: Option<&str>| {
        let mut r = http
            .post(url(&path))
            .header("cookie", &cookie)
            .header("origin", &origin)
            .header("content-type", "application/json")
            .body(body);
        if let Some(c) = csrf {
            r = r.header("x-abg-csrf", c);
        }
        async move {
            let resp = r.send().await.expect("post");
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            (status, v)
        }
    };
    let answer = format!("/ui/api/approvals/{id}");

    // The cookie alone does not make an answer: the CSRF token is needed.
    let (status, _) = post(answer.clone(), body.clone(), None).await;
    assert_eq!(status, 403);
    let (status, _) = post(answer.clone(), body.clone(), Some("forged")).await;
    assert_eq!(status, 403);

    // A bad decision names the valid ones; nothing moves.
    let (status, v) = post(
        answer.clone(),
        json!({"decision": "yes"}).to_string(),
        Some(&csrf),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let msg = v["message"].as_str().unwrap_or("");
    for valid in ["approve", "approve_for_session", "deny"] {
        assert!(msg.contains(valid), "{msg}");
    }
    let (status, v) = post(answer.clone(), "not json".into(), Some(&csrf)).await;
    assert_eq!(status, 400, "{v}");

    // An unknown id is a 404.
    let (status, v) = post("/ui/api/approvals/a_nope".into(), body.clone(), Some(&csrf)).await;
    assert_eq!(status, 404, "{v}");
    assert!(fake.got().is_empty());

    // The answer: handed to the agent once, recorded as given on the web.
    let (status, v) = post(
        answer.clone(),
        json!({"decision": "approve_for_session"}).to_string(),
        Some(&csrf),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["approval"]["state"], "approved");
    assert_eq!(v["approval"]["answered_via"], "web");
    let got = fake.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, id);
    assert_eq!(got[0].1.decision, Decision::ApproveForSession);
    assert_eq!(got[0].1.via, AnsweredVia::Web);
    let row = d.core.approval(&id).expect("row");
    assert_eq!(row.state, ApprovalState::Approved);
    assert_eq!(row.answered_via, Some(AnsweredVia::Web));

    // A late answer is refused saying how it was answered.
    let (status, v) = post(answer.clone(), body.clone(), Some(&csrf)).await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("approved via web"),
        "{v}"
    );
    assert_eq!(fake.got().len(), 1, "exactly once");

    // The list now has it among the answered.
    let list: Value = http
        .get(url("/ui/api/approvals?answered=5"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["pending"], 0, "{list}");
    assert_eq!(list["approvals"][0]["state"], "approved", "{list}");
    let (status, _) = {
        let r = http
            .get(url("/ui/api/approvals?bogus=1"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 400);
}
