//! Self-tests of the e2e harness that need no real CLI: the two mock model
//! servers' scripting rules, the tmux driver, and the stray-process check.
//!
//! Why it exists: the real-CLI scenarios trust these pieces; when one of them
//! regresses, this fails in a second with a precise message instead of a
//! 30-second timeout inside a scenario. Runs on every `cargo test`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use support::diag::{Diagnostics, REPORT_MARKER};
use support::env::vars;
use support::mock_anthropic::{self, MockAnthropic};
use support::mock_openai::{self, MockOpenAi, rate_limit_headers};
use support::procs;
use support::tui::Tui;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("building an HTTP client")
}

async fn post(url: &str, body: &Value) -> Result<(u16, reqwest::header::HeaderMap, String)> {
    let resp = http().post(url).json(body).send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    Ok((status, headers, resp.text().await?))
}

fn responses_body(user: &str) -> Value {
    json!({"model": "gpt-5.5", "stream": true, "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context/>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": user}]}
    ]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_mock_follows_its_script_and_skips_title_requests() -> Result<()> {
    let mock = MockOpenAi::start().await?;
    let url = format!("{}/responses", mock.base_url());
    mock.push(
        mock_openai::Step::text("scripted answer")
            .chunks(3)
            .headers(rate_limit_headers(42.5, 10.0)),
    );
    mock.push(mock_openai::Step::exec_command("echo hi"));
    mock.push(mock_openai::Step::http_error(429));

    let title = json!({"input": [], "text": {"format": {"type": "json_schema",
        "schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}});
    let (_, _, body) = post(&url, &title).await?;
    assert!(
        body.contains(r#"{\"title\":\"Mock title\"}"#),
        "title reply: {body}"
    );
    assert_eq!(mock.pending_steps(), 3, "the title request consumed a step");

    let (status, headers, body) = post(&url, &responses_body("hi")).await?;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-codex-primary-used-percent"], "42.5");
    assert_eq!(
        body.matches("response.output_text.delta").count(),
        6,
        "3 deltas: {body}"
    );
    assert!(body.contains(r#""text":"scripted answer""#), "{body}");
    assert!(body.contains("event: response.completed"), "{body}");

    let (_, _, body) = post(&url, &responses_body("run it")).await?;
    assert!(body.contains(r#""name":"exec_command""#), "{body}");
    assert!(
        body.contains(r#""arguments":"{\"cmd\":\"echo hi\"}""#),
        "arguments must be a JSON string: {body}"
    );

    let (status, _, _) = post(&url, &responses_body("fail")).await?;
    assert_eq!(status, 429);

    let (_, _, body) = post(&url, &responses_body("echo me")).await?;
    assert!(
        body.contains(r#""text":"mock reply 4: echo me""#),
        "echo default: {body}"
    );

    let req = mock
        .wait_for_user_text("echo me", Duration::from_secs(1))
        .await?;
    assert_eq!(
        mock_openai::user_texts(&req.body),
        ["<environment_context/>", "echo me"]
    );
    assert_eq!(mock.requests().len(), 5);
    let missing = mock
        .wait_for_user_text("never sent", Duration::from_millis(200))
        .await;
    let err = format!(
        "{:#}",
        missing.expect_err("waiting for a request never sent")
    );
    assert!(
        err.contains("requests received") && err.contains("title-request"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_mock_follows_its_script_and_answers_side_requests() -> Result<()> {
    let mock = MockAnthropic::start().await?;
    let base = mock.base_url();
    mock.push(mock_anthropic::Step::tool_use(
        "mcp__bridge__reply",
        json!({"text": "pong"}),
    ));
    mock.push(mock_anthropic::Step::text("plain json"));

    let head = http().head(format!("{base}/")).send().await?;
    assert_eq!(head.status().as_u16(), 200);
    let (_, _, body) = post(&format!("{base}/v1/messages/count_tokens"), &json!({})).await?;
    assert_eq!(
        serde_json::from_str::<Value>(&body)?,
        json!({"input_tokens": 100})
    );

    let no_tools =
        json!({"stream": true, "tools": [], "messages": [{"role": "user", "content": "side"}]});
    let (_, _, body) = post(&format!("{base}/v1/messages?beta=true"), &no_tools).await?;
    assert!(body.contains(mock_anthropic::CANNED_REPLY), "{body}");
    assert_eq!(
        mock.pending_steps(),
        2,
        "a tool-less request consumed a step"
    );

    let turn = |stream: bool| {
        json!({"stream": stream, "tools": [{"name": "Bash"}], "messages": [
            {"role": "system", "content": "# MCP Server Instructions"},
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder/>"},
                                         {"type": "text", "text": "<channel source=\"bridge\">\nhi\n</channel>"}]}
        ]})
    };
    let (status, _, body) = post(&format!("{base}/v1/messages?beta=true"), &turn(true)).await?;
    assert_eq!(status, 200);
    assert!(body.contains(r#""name":"mcp__bridge__reply""#), "{body}");
    assert!(
        body.contains(r#""partial_json":"{\"text\":\"pong\"}""#),
        "{body}"
    );
    assert!(body.contains(r#""stop_reason":"tool_use""#), "{body}");

    let (_, _, body) = post(&format!("{base}/v1/messages"), &turn(false)).await?;
    let msg: Value = serde_json::from_str(&body)?;
    assert_eq!(msg["content"][0]["text"], "plain json");

    let last = mock.requests().pop().expect("requests were recorded");
    assert_eq!(
        mock_anthropic::last_user_text_blocks(&last.body)
            .last()
            .map(String::as_str),
        Some("<channel source=\"bridge\">\nhi\n</channel>")
    );
    assert_eq!(last.query, None);
    assert_eq!(mock.requests()[2].query.as_deref(), Some("beta=true"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_processes_are_reported_and_killed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().canonicalize()?;
    // A grandchild that escapes its parent and would outlive the test.
    let status = std::process::Command::new("/bin/sh")
        .args(["-c", "sleep 30 >/dev/null 2>&1 &"])
        .env("ABG_E2E_MARKER", &root)
        .status()?;
    assert!(status.success());
    // `sh` has exited, but its child may still be inside execve, when
    // /proc shows neither its cmdline nor its environment: wait until the
    // sleep is visible, or the check below would pass on an empty scan.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !procs::referencing(&root)
        .iter()
        .any(|p| p.cmdline.contains("sleep 30"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the background sleep never appeared in /proc"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = procs::assert_no_strays(&root, Duration::from_millis(300))
        .await
        .expect_err("the orphaned sleep must be reported");
    assert!(format!("{err:#}").contains("sleep 30"), "{err:#}");
    procs::assert_no_strays(&root, Duration::from_secs(5)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_driver_types_waits_and_reports() -> Result<()> {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        support::announce("skipping the tmux driver self-test: tmux is not installed");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let root = dir.path().canonicalize()?;
    let diag = Diagnostics::default();
    let env = vars(&[
        ("HOME", &root.to_string_lossy()),
        ("TERM", "xterm-256color"),
    ]);
    let mut tui = Tui::start("cat", &root, &root, "/bin/cat".as_ref(), &[], &env, &diag)?;
    tui.type_text("typed through tmux").await?;
    // The terminal echoes the line, then cat prints it again.
    tui.wait_until("the echoed line twice", Duration::from_secs(10), |s| {
        s.matches("typed through tmux").count() >= 2
    })
    .await?;
    let err = tui
        .wait_for("text that never appears", Duration::from_millis(300))
        .await
        .expect_err("waiting for absent text must time out");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(REPORT_MARKER) && msg.contains("-------- screen cat --------"),
        "{msg}"
    );
    assert!(
        msg.contains("typed through tmux"),
        "the report must show the screen: {msg}"
    );
    tui.stop();
    procs::assert_no_strays(&root, Duration::from_secs(5)).await?;
    Ok(())
}
