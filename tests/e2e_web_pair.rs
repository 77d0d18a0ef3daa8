//! End-to-end: the web UI watching a real pair. `abg codex` and `abg claude`
//! run in two tmux terminals (as in `e2e_pair`), and real headless Chromium,
//! started inside the scenario's network namespace, logs in through the
//! `abg ui` link (issue 6, first acceptance bullet):
//! - a human turn typed in Codex makes Codex's scripted answer a message to
//!   Claude, shown on Codex's side, reaching `acknowledged`;
//! - Claude's scripted `mcp__abg__reply` shows on Claude's side and reaches
//!   `completed` (it became a Codex turn);
//! - a message sent from the page's composer to Codex shows as the human's,
//!   reaches `completed`, and its text reached Codex's model.
//!
//! And the approvals panel with real Codex under `--safe` (issue 17): the
//! command Codex asks to run appears in the page's panel and the tab title,
//! Approve clicked in Chromium closes Codex's overlay, the command runs
//! once and the turn completes; the inbox records it as answered on the web.
//! A second request answered in Codex's TUI first shows as answered there,
//! a late answer from the page is refused naming the TUI, and Codex saw one
//! answer.
//!
//! Saves `target/ui-pair-screenshot.png`. Skipped (one line) when Chromium,
//! chromedriver or a pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
#[path = "web_ui/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use support::abg_codex::AbgCodex;
use support::clis::Need;
use support::mock_anthropic::{self, MockAnthropic};
use support::mock_openai::{self, MockOpenAi};
use support::pair::AbgPair;
use support::safe_codex;
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

const HUMAN: &str = "human to codex: outline the parser refactor";
const CODEX_ANSWER: &str = "codex to claude: the parser refactor has three steps";
const KICKOFF_ANSWER: &str = "codex answers the abg notice, never relayed";
const CLAUDE_REPLY: &str = "claude to codex: write a failing test for step two first";
const CLAUDE_DONE: &str = "claude sent its review to codex";
const CODEX_ON_REPLY: &str = "codex to claude: the failing test for step two is written";
const UI_HUMAN: &str = "human from the web ui: please run the parser tests";
const CODEX_ON_UI: &str = "codex to claude: the parser tests pass";

/// How long the page may take to show a state the store already has.
const PAGE_WAIT: Duration = Duration::from_secs(45);

#[test]
fn web_ui_shows_a_live_pair_and_sends_to_codex() {
    let required = std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1");
    let Some((chromium, chromedriver)) = webdriver::find_browser() else {
        assert!(
            !required,
            "chromium and chromedriver are required (ABG_E2E_REQUIRED=1)"
        );
        announce("skipping e2e_web_pair: chromium/chromedriver not installed");
        return;
    };
    scenario::run("pair_web", Need::Both, move |s| {
        web_pair(s, chromium, chromedriver)
    });
}

async fn web_pair(s: Scenario, chromium: PathBuf, chromedriver: PathBuf) -> Result<()> {
    let openai = MockOpenAi::start().await?;
    let anthropic = MockAnthropic::start().await?;
    let (o, a) = (openai.log().clone(), anthropic.log().clone());
    s.diag
        .add_source("openai mock requests", move || o.summary(40));
    s.diag
        .add_source("anthropic mock requests", move || a.summary(40));
    let mut pair = AbgPair::start(&s, &openai.base_url(), &anthropic.base_url()).await?;

    // Chromium and its driver start from this (netns) thread, so they share
    // the scenario's private loopback with the daemon.
    let log = s.env.log_path("chromedriver.log");
    s.diag.add_file("chromedriver log", &log, 30);
    let driver = webdriver::Driver::spawn(&chromedriver, &log);
    let browser =
        webdriver::Session::start(driver.port, &chromium, &s.env.root.join("chromium-profile"))
            .await;
    let result = steps(&s, &openai, &anthropic, &pair, &browser).await;
    browser.quit().await;
    drop(driver);
    pair.shutdown();
    result
}

/// `[side, state, from, to]` of the transcript message whose body contains
/// `arguments[0]`, or null.
const FIND: &str = "const m = [...document.querySelectorAll('#items article.msg')] \
    .find(e => e.querySelector('.body').textContent.includes(arguments[0])); \
    return m ? [m.dataset.side, m.dataset.state, m.dataset.from, m.dataset.to, \
                m.querySelector('.state').textContent] : null;";

/// Polls the page until the message with `text` shows `side` and `state`.
async fn wait_shown(b: &webdriver::Session, text: &str, side: &str, state: &str) -> Result<Value> {
    let end = Instant::now() + PAGE_WAIT;
    loop {
        let last = b.js(FIND, json!([text])).await;
        if last[0] == side && last[1] == state && last[4] == state {
            return Ok(last);
        }
        if Instant::now() >= end {
            bail!("the page never showed {text:?} on side {side} as {state}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn steps(
    s: &Scenario,
    openai: &MockOpenAi,
    anthropic: &MockAnthropic,
    pair: &AbgPair,
    b: &webdriver::Session,
) -> Result<()> {
    let started = Instant::now();
    // Claude's kickoff must be answered before its steps are queued.
    pair.wait_message("Claude's kickoff acknowledged", WAIT, |v| {
        v["from"] == "abg" && v["to"] == "claude" && v["state"] == "acknowledged"
    })
    .await?;

    // Log in through the real `abg ui` link.
    let out = pair.run_cli(&["ui"])?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    ensure!(
        url.starts_with("http://127.0.0.1:") && url.contains("/ui/login?token="),
        "abg ui printed no login link: {url:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.goto(&url).await;
    b.wait_js(
        "the page to load",
        PAGE_WAIT,
        "return document.body && document.body.dataset.ready === 'true'",
        json!([]),
    )
    .await;
    b.wait_js(
        "the stream to connect",
        PAGE_WAIT,
        "return document.getElementById('st-conn').dataset.state === 'live'",
        json!([]),
    )
    .await;
    let t_login = started.elapsed();

    // The scripted exchange (see e2e_pair): Claude replies with the tool,
    // Codex answers the human turn, its kickoff turn, Claude's reply.
    anthropic.push(mock_anthropic::Step::tool_use(
        "mcp__abg__reply",
        json!({ "text": CLAUDE_REPLY }),
    ));
    anthropic.push(mock_anthropic::Step::text(CLAUDE_DONE));
    for text in [CODEX_ANSWER, KICKOFF_ANSWER, CODEX_ON_REPLY] {
        openai.push(mock_openai::Step::text(text).chunks(2));
    }
    pair.codex.type_text(HUMAN).await?;
    let t_enter = Instant::now();

    // Codex → Claude, on Codex's side, acknowledged by Claude.
    let shown = wait_shown(b, CODEX_ANSWER, "right", "acknowledged").await?;
    ensure!(
        shown[2] == "codex" && shown[3] == "claude",
        "Codex's answer shown as {shown}"
    );
    let t_ack = t_enter.elapsed();
    // Claude → Codex, on Claude's side, completed as a Codex turn.
    let shown = wait_shown(b, CLAUDE_REPLY, "left", "completed").await?;
    ensure!(
        shown[2] == "claude" && shown[3] == "codex",
        "Claude's reply shown as {shown}"
    );
    let t_reply = t_enter.elapsed();
    openai
        .wait_for_user_text(&format!("[from Claude] {CLAUDE_REPLY}"), WAIT)
        .await?;
    pair.codex.wait_for(CODEX_ON_REPLY, WAIT).await?;
    pair.claude.wait_for(CLAUDE_DONE, WAIT).await?;
    // Codex's kickoff turn is over too, so the next Codex step is the UI's.
    pair.wait_message("Codex's kickoff turn completed", WAIT, |v| {
        v["from"] == "abg" && v["to"] == "codex" && v["state"] == "completed"
    })
    .await?;
    wait_shown(b, CODEX_ON_REPLY, "right", "acknowledged").await?;

    // The composer: a human message to Codex becomes a Codex turn.
    openai.push(mock_openai::Step::text(CODEX_ON_UI).chunks(2));
    let to = b
        .js("return document.getElementById('to').value", json!([]))
        .await;
    ensure!(
        to == "codex",
        "the composer is addressed to {to}, not codex"
    );
    b.type_into("#body", UI_HUMAN).await;
    b.click("#send").await;
    let t_send = Instant::now();
    let shown = wait_shown(b, UI_HUMAN, "human", "completed").await?;
    ensure!(
        shown[2] == "human" && shown[3] == "codex",
        "the composer's message shown as {shown}"
    );
    let t_ui = t_send.elapsed();
    let seen = openai
        .wait_for_user_text(UI_HUMAN, WAIT)
        .await
        .context("the composer's text never reached Codex's model")?;
    ensure!(
        mock_openai::last_user_text(&seen.body).is_some_and(|t| t.contains(UI_HUMAN)),
        "Codex's turn is not the composer's message"
    );
    pair.codex.wait_for(CODEX_ON_UI, WAIT).await?;
    wait_shown(b, CODEX_ON_UI, "right", "acknowledged").await?;

    // Every stored message shows once, in order.
    let ids = "return [...document.querySelectorAll('#items article.msg')].map(e => e.dataset.id)";
    let shown: Vec<String> = serde_json::from_value(b.js(ids, json!([])).await)?;
    let stored: Vec<String> = pair
        .messages()
        .await?
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    ensure!(
        shown == stored,
        "{}",
        s.diag
            .with_report(format!("page shows {shown:?}, store has {stored:?}"))
    );
    ensure!(
        !stored.is_empty() && !b.js(FIND, json!([KICKOFF_ANSWER])).await.is_array(),
        "Codex's answer to the kickoff notice is on the page"
    );

    // A screenshot, scrolled to the bottom.
    b.js(
        "const t = document.getElementById('transcript'); t.scrollTop = t.scrollHeight; return 0",
        json!([]),
    )
    .await;
    let png = b.screenshot().await;
    ensure!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shot = target.join("ui-pair-screenshot.png");
    std::fs::write(&shot, &png).with_context(|| format!("writing {}", shot.display()))?;
    announce(&format!(
        "e2e web pair: login {:.2} s, human→acknowledged on page {:.2} s, reply completed {:.2} s, \
         composer→completed {:.2} s; screenshot {}",
        t_login.as_secs_f64(),
        t_ack.as_secs_f64(),
        t_reply.as_secs_f64(),
        t_ui.as_secs_f64(),
        shot.display()
    ));
    Ok(())
}

#[test]
fn web_ui_approves_a_safe_codex_command() {
    let required = std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1");
    let Some((chromium, chromedriver)) = webdriver::find_browser() else {
        assert!(
            !required,
            "chromium and chromedriver are required (ABG_E2E_REQUIRED=1)"
        );
        announce("skipping e2e_web_pair approvals: chromium/chromedriver not installed");
        return;
    };
    scenario::run("web_safe_codex", Need::Codex, move |s| {
        web_approve(s, chromium, chromedriver)
    });
}

async fn web_approve(s: Scenario, chromium: PathBuf, chromedriver: PathBuf) -> Result<()> {
    let mock = safe_codex::setup(&s).await?;
    let abg = AbgCodex::start(&s, &["--safe"]).await?;
    let log = s.env.log_path("chromedriver.log");
    s.diag.add_file("chromedriver log", &log, 30);
    let driver = webdriver::Driver::spawn(&chromedriver, &log);
    let browser =
        webdriver::Session::start(driver.port, &chromium, &s.env.root.join("chromium-profile"))
            .await;
    let result = approve_steps(&s, &mock, &abg, &browser).await;
    browser.quit().await;
    drop(driver);
    abg.shutdown().await?;
    result
}

async fn approve_steps(
    s: &Scenario,
    mock: &MockOpenAi,
    abg: &AbgCodex,
    b: &webdriver::Session,
) -> Result<()> {
    let out = abg.run_cli(&s.env.workdir, &["ui"])?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    ensure!(
        url.contains("/ui/login?token="),
        "abg ui printed no login link: {url:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.goto(&url).await;
    b.wait_js(
        "the stream to connect",
        PAGE_WAIT,
        "return document.body.dataset.ready === 'true' && \
         document.getElementById('st-conn').dataset.state === 'live'",
        json!([]),
    )
    .await;

    // Codex asks to run a command: its overlay in the TUI, a row in the page.
    let turn = safe_codex::Turn::new(s, "web");
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    abg.tui
        .wait_until("Codex's approval prompt", WAIT, |sc| {
            sc.contains(safe_codex::CODEX_APPROVAL) && sc.contains(&turn.rel)
        })
        .await?;
    let row = "const r = [...document.querySelectorAll('#ap-list article.ap')] \
        .find(e => e.dataset.state === 'pending' && \
                   e.querySelector('.ap-cmd') && e.querySelector('.ap-cmd').textContent.includes(arguments[0])); \
        return r ? [r.dataset.id, r.querySelector('.ap-who').textContent, document.title, \
                    [...r.querySelectorAll('button[data-decision]')].map(b => b.dataset.decision)] : null;";
    let end = Instant::now() + PAGE_WAIT;
    let shown = loop {
        let v = b.js(row, json!([turn.rel])).await;
        if v.is_array() {
            break v;
        }
        ensure!(
            Instant::now() < end,
            "{}",
            s.diag
                .with_report("the approval never showed in the web panel")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = shown[0].as_str().unwrap_or_default().to_string();
    ensure!(
        shown[1] == "Codex"
            && shown[2]
                .as_str()
                .is_some_and(|t| t.starts_with("(1) abg — "))
            && shown[3]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "approve")),
        "the panel shows {shown}"
    );
    ensure!(
        !turn.path.exists(),
        "{} exists before anyone answered",
        turn.rel
    );

    // Approve in the page: the overlay closes, the command runs once.
    b.click(&format!("#ap-{id} .ap-approve")).await;
    abg.tui
        .wait_until("the approval prompt closed", WAIT, |sc| {
            !sc.contains(safe_codex::CODEX_APPROVAL)
        })
        .await?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    safe_codex::wait_file(&turn.path, WAIT).await?;
    let outputs = safe_codex::outputs(mock, &turn.rel);
    ensure!(
        outputs.len() == 2 && outputs[1].contains("Process exited with code 0"),
        "the approved command did not run once, cleanly: {outputs:#?}"
    );
    b.wait_js(
        "the row to say it was approved here",
        PAGE_WAIT,
        "const e = document.getElementById('ap-' + arguments[0]); \
         return !e || e.querySelector('.ap-note').textContent === 'approved in the web UI'",
        json!([id]),
    )
    .await;
    b.wait_js(
        "the title without a count",
        PAGE_WAIT,
        "return !document.title.startsWith('(')",
        json!([]),
    )
    .await;
    let out = abg.run_cli(&s.env.workdir, &["approvals", "--json", "--all"])?;
    let all: Value = serde_json::from_slice(&out.stdout)?;
    let entry = all["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id.as_str()))
        .cloned()
        .unwrap_or_default();
    ensure!(
        entry["state"] == "approved" && entry["answered_via"] == "web",
        "inbox entry after the web answer: {entry:#}"
    );

    // Answered in Codex's TUI first: the page learns it from the stream,
    // and a late answer from the page (what a click that raced the stream
    // sends) is refused, naming the TUI; Codex saw exactly one answer.
    let late = safe_codex::Turn::new(s, "webtui");
    late.push_script(mock);
    abg.tui.type_text(&late.human).await?;
    abg.tui
        .wait_until("Codex's second approval prompt", WAIT, |sc| {
            sc.contains(safe_codex::CODEX_APPROVAL) && sc.contains(&late.rel)
        })
        .await?;
    let end = Instant::now() + PAGE_WAIT;
    let id = loop {
        let v = b.js(row, json!([late.rel])).await;
        if let Some(id) = v.get(0).and_then(Value::as_str) {
            break id.to_string();
        }
        ensure!(
            Instant::now() < end,
            "{}",
            s.diag
                .with_report("the second approval never showed in the web panel")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let start = Instant::now();
    loop {
        abg.tui.press("y")?;
        let gone = abg
            .tui
            .wait_until("the TUI's answer", Duration::from_secs(1), |sc| {
                !sc.contains(safe_codex::CODEX_APPROVAL)
            })
            .await;
        if gone.is_ok() {
            break;
        }
        ensure!(start.elapsed() < WAIT, "the TUI never took the answer");
    }
    abg.tui.wait_for(&late.done, WAIT).await?;
    safe_codex::wait_file(&late.path, WAIT).await?;
    b.wait_js(
        "the row to say it was answered in the TUI",
        PAGE_WAIT,
        "const e = document.getElementById('ap-' + arguments[0]); \
         return !e || (e.dataset.state === 'answered_elsewhere' && \
                       e.querySelector('.ap-note').textContent === 'answered in the TUI')",
        json!([id]),
    )
    .await;
    b.js(
        "window.__late = null; \
         fetch('/ui/api/session', {credentials: 'same-origin'}).then(r => r.json()) \
           .then(s => fetch('/ui/api/approvals/' + arguments[0], {method: 'POST', credentials: 'same-origin', \
                 headers: {'x-abg-csrf': s.csrf, 'content-type': 'application/json'}, \
                 body: JSON.stringify({decision: 'approve'})})) \
           .then(r => r.text().then(t => { window.__late = [r.status, t]; }), \
                 e => { window.__late = [0, String(e)]; }); \
         return true;",
        json!([id]),
    )
    .await;
    b.wait_js(
        "the late answer's reply",
        PAGE_WAIT,
        "return window.__late !== null",
        json!([]),
    )
    .await;
    let reply = b.js("return window.__late", json!([])).await;
    ensure!(
        reply[0] == 409
            && reply[1]
                .as_str()
                .is_some_and(|t| t.contains("answered_elsewhere via tui")),
        "a late answer from the page after the TUI's: {reply}"
    );
    let outputs = safe_codex::outputs(mock, &late.rel);
    ensure!(
        outputs.len() == 2 && outputs[1].contains("Process exited with code 0"),
        "Codex saw one answer, from its TUI: {outputs:#?}"
    );
    Ok(())
}
