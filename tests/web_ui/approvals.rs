//! The approvals panel in headless Chromium, against an in-process daemon
//! with a fake peer whose requests the test records through the core's
//! port: a request appears at the top of the page and in the tab title,
//! hostile text in its command and diff stays inert characters, Approve
//! reaches the agent exactly once (as given through the web) and the row
//! closes; an entry answered behind the page's back refuses a late click
//! inline with the server's reason; one answered in the agent's TUI turns
//! "answered in the TUI" live; an unknown kind is read-only; the title is
//! restored and the panel hides once nothing is left. Saves
//! `target/ui-approvals.png`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abg::config::Config;
use abg::control::protocol::approvals::Decision;
use abg::store::Resolution;
use abg::store::types::{AnsweredVia, ApprovalKind, ApprovalState};
use serde_json::{Value, json};

use crate::fake_approver::{FAKE, FakeApprover, ask};
use crate::open_page;
use crate::{in_process, webdriver};

/// A command with markup, a window-title escape, a clear-screen and a
/// right-to-left override in it.
const HOSTILE_CMD: &str = "echo <img src=x onerror=\"window.__pwned='cmd'\"> \u{1b}]0;pwned\u{7} \u{1b}[2J \u{202e}txt.exe";
const HOSTILE_DIFF: &str = "--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n keep\n-old <script>window.__pwned='diff'</script>\n+new <img src=x onerror=\"window.__pwned='diff'\"> \u{1b}[31mred\u{2066}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_panel_in_headless_chromium() {
    let required = std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1");
    let Some((chromium, chromedriver)) = webdriver::find_browser() else {
        assert!(
            !required,
            "chromium and chromedriver are required (ABG_E2E_REQUIRED=1)"
        );
        println!("skipping the approvals panel: chromium/chromedriver not installed");
        return;
    };
    let fake = Arc::new(FakeApprover::default());
    let d = in_process::start(fake.as_peer(), Config::default()).await;
    let (_driver, b, _tmp) = open_page(&d, &chromium, &chromedriver).await;
    let t = Duration::from_secs(20);
    let title = "return document.title";
    assert_eq!(b.js(title, json!([])).await, json!("abg — main"));
    let hidden = "return document.getElementById('approvals').hidden";
    assert_eq!(b.js(hidden, json!([])).await, json!(true));
    assert_eq!(
        b.js("return Notification.permission", json!([])).await,
        json!("default"),
        "the page never asks for notifications on load"
    );
    b.wait_js(
        "the stream to connect",
        t,
        "return document.getElementById('st-conn').dataset.state === 'live'",
        json!([]),
    )
    .await;

    // Two requests arrive live.
    let cmd = ask(
        &d.core,
        "k-cmd",
        ApprovalKind::Command,
        json!({"command": HOSTILE_CMD, "cwd": "/srv/<b>x</b>", "reason": "needs <svg onload=\"window.__pwned='why'\">"}),
        Some(&["approve", "approve_for_session", "deny"]),
    );
    let file = ask(
        &d.core,
        "k-file",
        ApprovalKind::FileChange,
        json!({"files": ["notes.txt"], "diff": HOSTILE_DIFF}),
        Some(&["approve", "deny"]),
    );
    let row = "return !!document.getElementById('ap-' + arguments[0])";
    for id in [&cmd, &file] {
        b.wait_js("a pending approval's row", t, row, json!([id]))
            .await;
    }
    b.wait_js(
        "the pending count in the title",
        t,
        "return document.title === '(2) abg — main'",
        json!([]),
    )
    .await;
    assert_eq!(b.js(hidden, json!([])).await, json!(false));
    let buttons = "return [...document.querySelectorAll('#ap-' + arguments[0] + ' .ap-actions button')]\
        .map(b => b.dataset.decision)";
    assert_eq!(
        b.js(buttons, json!([cmd])).await,
        json!(["approve", "approve_for_session", "deny"])
    );
    assert_eq!(
        b.js(buttons, json!([file])).await,
        json!(["approve", "deny"]),
        "no Approve for session where the request does not offer it"
    );

    // Hostile text stays characters: nothing executes, nothing hides.
    b.click(&format!("#ap-{file} .ap-detail summary")).await;
    let inert = "const p = document.getElementById('approvals'); \
        const bad = p.querySelectorAll('script, img, svg, iframe, [onerror], [onload]').length; \
        const cmd = document.querySelector('#ap-' + arguments[0] + ' .ap-cmd').textContent; \
        const diff = document.querySelector('#ap-' + arguments[1] + ' .ap-diff'); \
        const text = p.textContent; \
        return { pwned: typeof window.__pwned, bad, \
                 cmd: cmd.includes('<img src=x onerror=') && cmd.includes('^[]0;pwned^G') && cmd.includes('^[[2J') && cmd.includes('<U+202E>txt.exe'), \
                 raw: /[\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]/.test(text), \
                 cwd: text.includes('in /srv/<b>x</b>'), why: text.includes('<svg onload='), \
                 open: diff.offsetHeight > 0, \
                 add: [...diff.querySelectorAll('.dl.add')].map(e => e.textContent), \
                 del: [...diff.querySelectorAll('.dl.del')].map(e => e.textContent), \
                 files: diff.querySelectorAll('.dl.file').length, hunks: diff.querySelectorAll('.dl.hunk').length };";
    let r = b.js(inert, json!([cmd, file])).await;
    assert_eq!(
        r,
        json!({"pwned": "undefined", "bad": 0, "cmd": true, "raw": false, "cwd": true, "why": true, "open": true,
               "add": ["+new <img src=x onerror=\"window.__pwned='diff'\"> ^[[31mred<U+2066>\n"],
               "del": ["-old <script>window.__pwned='diff'</script>\n"],
               "files": 2, "hunks": 1}),
        "approval text must render inert"
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shot = target.join("ui-approvals.png");
    std::fs::write(&shot, b.screenshot().await).expect("screenshot");
    println!("screenshot: {}", shot.display());

    // Approve: the fake's agent gets it exactly once, as given on the web.
    b.click(&format!("#ap-{cmd} .ap-approve")).await;
    let end = Instant::now() + t;
    while fake.got().is_empty() {
        assert!(Instant::now() < end, "the verdict reached the agent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = "const e = document.getElementById('ap-' + arguments[0]); \
        return e ? [e.dataset.state, e.querySelector('.ap-note').textContent, e.querySelectorAll('button[data-decision]').length] : null";
    b.wait_js(
        "the row to say how it was answered",
        t,
        "const e = document.getElementById('ap-' + arguments[0]); return !!e && e.dataset.state === 'approved'",
        json!([cmd]),
    )
    .await;
    assert_eq!(
        b.js(state, json!([cmd])).await,
        json!(["approved", "approved in the web UI", 0])
    );
    assert_eq!(b.js(title, json!([])).await, json!("(1) abg — main"));
    b.wait_js(
        "the answered row to close",
        t,
        "return !document.getElementById('ap-' + arguments[0])",
        json!([cmd]),
    )
    .await;
    let got = fake.got();
    assert_eq!(got.len(), 1, "exactly once");
    assert_eq!(got[0].0, cmd);
    assert_eq!(got[0].1.decision, Decision::Approve);
    assert_eq!(got[0].1.via, AnsweredVia::Web);
    assert_eq!(
        d.core.approval(&cmd).expect("row").answered_via,
        Some(AnsweredVia::Web)
    );

    // Answered in the TUI behind the page's back (the stream has not told
    // it yet): a late click is refused inline with the server's reason.
    d.core
        .with_store(|s| {
            s.resolve_approval(
                &file,
                &Resolution {
                    to: ApprovalState::AnsweredElsewhere,
                    decision: None,
                    by: None,
                    via: AnsweredVia::Tui,
                },
            )
        })
        .expect("answered elsewhere");
    b.click(&format!("#ap-{file} .ap-approve")).await;
    b.wait_js(
        "the refusal",
        t,
        "const e = document.getElementById('ap-' + arguments[0]); \
         return !!e && e.dataset.refused === '409' && e.dataset.state === 'answered_elsewhere'",
        json!([file]),
    )
    .await;
    let note: String = serde_json::from_value(
        b.js(
            "return document.querySelector('#ap-' + arguments[0] + ' .ap-note.refused').textContent",
            json!([file]),
        )
        .await,
    )
    .expect("note");
    assert!(
        note.starts_with("Refused: ")
            && note.contains("answered_elsewhere via tui")
            && note.ends_with("it was answered in the TUI."),
        "{note}"
    );
    assert_eq!(fake.got().len(), 1, "the late click reached no agent");
    b.wait_js(
        "the title restored",
        t,
        "return document.title === 'abg — main'",
        json!([]),
    )
    .await;

    // Answered in the TUI with the page watching: the row says so live.
    // An unknown kind is shown read-only.
    let tui = ask(
        &d.core,
        "k-tui",
        ApprovalKind::Command,
        json!({"command": "make"}),
        None,
    );
    let odd = ask(
        &d.core,
        "k-odd",
        ApprovalKind::Unknown,
        json!({"method": "item/new/thing", "whatever": [1, 2]}),
        Some(&["approve", "deny"]),
    );
    for id in [&tui, &odd] {
        b.wait_js("a pending approval's row", t, row, json!([id]))
            .await;
    }
    assert_eq!(b.js(buttons, json!([odd])).await, json!([]));
    let readonly =
        "return document.querySelector('#ap-' + arguments[0] + ' .ap-readonly').textContent";
    assert_eq!(
        b.js(readonly, json!([odd])).await,
        json!("Answer this in Fake’s own terminal (the TUI).")
    );
    assert_eq!(b.js(title, json!([])).await, json!("(2) abg — main"));
    d.core
        .approval_answered_elsewhere(FAKE, "k-tui", AnsweredVia::Tui)
        .expect("moved")
        .expect("was pending");
    b.wait_js(
        "the row answered in the TUI",
        t,
        "const e = document.getElementById('ap-' + arguments[0]); \
         return !!e && e.querySelector('.ap-note').textContent === 'answered in the TUI'",
        json!([tui]),
    )
    .await;
    d.core
        .approval_answered_elsewhere(FAKE, "k-odd", AnsweredVia::Agent)
        .expect("moved")
        .expect("was pending");
    b.wait_js(
        "the panel to hide once empty",
        Duration::from_secs(30),
        "return document.getElementById('approvals').hidden && document.title === 'abg — main'",
        json!([]),
    )
    .await;
    assert_eq!(fake.got().len(), 1);
    let _: Value = b.js("return 0", json!([])).await;
    b.quit().await;
}
