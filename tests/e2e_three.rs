//! End-to-end: issue 18's three-way acceptance with all three real, pinned
//! agents in ONE pair: `abg codex`, `abg claude` and `abg opencode` in three
//! terminals of one project, one daemon ([`support::trio::AbgTrio`]), each
//! model replaced by its mock (Responses, Messages, Chat Completions).
//!
//! - `three_way_addressed`: (a) Codex's final answer begins with an
//!   `@opencode` line: OpenCode gets it (address removed) as a `[from
//!   Codex] …` prompt, answers, and the answer reaches Codex's model once
//!   as a `[from OpenCode] …` turn and never Claude's; (b) Claude calls
//!   `reply` with `to: "opencode"`: OpenCode gets it, answers, and the
//!   answer reaches Claude's model once in a `<channel … from="opencode">`
//!   block and never Codex's. The store holds each message once, with the
//!   right `from` and `to`.
//! - `three_way_loop_is_paused_by_the_governor`: with
//!   `governor.max_exchanges = 4` the agents answer each other in a circle
//!   (Codex `@opencode`, OpenCode `@claude`, Claude `reply to: "codex"`, …)
//!   until the governor pauses the relay: 4 agent-to-agent messages
//!   relayed, the 5th held, a pause notice to each of the three, nothing
//!   moving; a human message (`abg send`) resumes it, the held message
//!   reaches its recipient's model once, and the circle runs on until the
//!   governor pauses it again.
//!
//! Every mock answers by the text it is shown (`respond_with`), not by
//! arrival order, so notices (kickoff, OpenCode joining, pauses) arriving
//! in any order get the mocks' echo replies and never shift the script.
//! Peer prompts are keyed by their start (`[from Claude] …`): the kickoff
//! notices quote that framing in their text.
//! Skipped (one line) when a pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use support::clis::Need;
use support::governor::{cli_json, events, is_held, poll};
use support::mock_anthropic::{self, MockAnthropic};
use support::mock_chat::{self, ChatStep, MockChat};
use support::mock_openai::{self, MockOpenAi, last_user_text};
use support::scenario::{self, Scenario};
use support::trio::{
    AGENTS, AbgTrio, anywhere, claude_got, claude_new_channels, codex_turns_with,
    is_agent_to_agent, shape, stored_once, stored_with,
};
use support::{WAIT, announce};

const HUMAN_A: &str = "human to codex: ask opencode about the lexer";
const CODEX_TO_OC: &str = "codex to opencode: does the lexer handle tabs?";
const OC_TO_CODEX: &str = "opencode to codex: tabs are handled since step one";
const HUMAN_B: &str = "human to claude: ask opencode about the parser";
const CLAUDE_TO_OC: &str = "claude to opencode: is the parser recursive descent?";
const OC_TO_CLAUDE: &str = "opencode to claude: yes, recursive descent with precedence";

/// The three mocks.
struct Mocks {
    openai: MockOpenAi,
    anthropic: MockAnthropic,
    chat: MockChat,
}

impl Mocks {
    async fn start(s: &Scenario) -> Result<Self> {
        let m = Self {
            openai: MockOpenAi::start().await?,
            anthropic: MockAnthropic::start().await?,
            chat: MockChat::start().await?,
        };
        let (o, a, c) = (
            m.openai.log().clone(),
            m.anthropic.log().clone(),
            m.chat.log().clone(),
        );
        s.diag
            .add_source("openai mock requests", move || o.summary(40));
        s.diag
            .add_source("anthropic mock requests", move || a.summary(40));
        s.diag
            .add_source("chat mock requests", move || c.summary(40));
        Ok(m)
    }

    async fn trio(&self, s: &Scenario, limit: Option<u32>) -> Result<AbgTrio> {
        AbgTrio::start(
            s,
            &self.openai.base_url(),
            &self.anthropic.base_url(),
            &self.chat.base_url(),
            limit,
        )
        .await
    }
}

#[test]
fn three_way_addressed() {
    scenario::run("three_way_addressed", Need::All, addressed);
}

async fn addressed(s: Scenario) -> Result<()> {
    let m = Mocks::start(&s).await?;
    m.openai.respond_with(|body| {
        let last = last_user_text(body)?;
        if last.contains(HUMAN_A) {
            Some(mock_openai::Step::text(format!("@opencode\n{CODEX_TO_OC}")).chunks(2))
        } else if last.starts_with("[from OpenCode]") {
            // A bare acknowledgement: stored, never relayed (no ping-pong).
            Some(mock_openai::Step::text("thanks"))
        } else {
            None
        }
    });
    m.anthropic.respond_with(|body| {
        claude_new_channels(body)
            .iter()
            .any(|(_, c)| c.contains(HUMAN_B))
            .then(|| {
                mock_anthropic::Step::tool_use(
                    "mcp__abg__reply",
                    json!({ "to": "opencode", "text": CLAUDE_TO_OC }),
                )
            })
    });
    m.chat.respond_with(|body| {
        let last = mock_chat::last_user_text(body)?;
        if last.contains(&format!("[from Codex] {CODEX_TO_OC}")) {
            Some(ChatStep::text(OC_TO_CODEX))
        } else if last.contains(&format!("[from Claude] {CLAUDE_TO_OC}")) {
            Some(ChatStep::text(OC_TO_CLAUDE))
        } else {
            None
        }
    });
    run_trio(&s, &m, "addressed", None, addressed_steps).await
}

/// Starts the trio (with the governor's `limit`), runs `steps`, adds the
/// store to a failure's report, and prints how long the trio took to start
/// and the scenario to run.
async fn run_trio(
    s: &Scenario,
    m: &Mocks,
    label: &str,
    limit: Option<u32>,
    steps: impl AsyncFnOnce(&Mocks, &AbgTrio) -> Result<()>,
) -> Result<()> {
    let t_start = Instant::now();
    let trio = m.trio(s, limit).await?;
    let t_ready = t_start.elapsed();
    let result = match steps(m, &trio).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let store = trio.pair.messages().await.unwrap_or_default();
            Err(s.diag.with_report(format!("{e:#}\nstore: {store:#?}")))
        }
    };
    announce(&format!(
        "e2e three: {label}: trio ready in {:.2} s, scenario {:.2} s",
        t_ready.as_secs_f64(),
        t_start.elapsed().as_secs_f64()
    ));
    drop(trio);
    result
}

async fn addressed_steps(m: &Mocks, trio: &AbgTrio) -> Result<()> {
    let pair = &trio.pair;
    // (a) Codex addresses OpenCode in its final answer.
    pair.codex.type_text(HUMAN_A).await?;
    let framed = format!("[from Codex] {CODEX_TO_OC}");
    let to_oc = m.chat.wait_for_user_text(&framed, WAIT).await?;
    let last = mock_chat::last_user_text(&to_oc.body).unwrap_or_default();
    ensure!(
        last == framed,
        "OpenCode's prompt is not exactly the framed answer, address removed: {last:?}"
    );
    let framed = format!("[from OpenCode] {OC_TO_CODEX}");
    let to_codex = m.openai.wait_for_user_text(&framed, WAIT).await?;
    ensure!(
        last_user_text(&to_codex.body).as_deref() == Some(framed.as_str()),
        "Codex's new turn is not exactly the framed answer: {:?}",
        last_user_text(&to_codex.body)
    );

    // (b) Claude replies to OpenCode with the reply tool's `to`.
    let out = pair.run_cli(&["send", "--to", "claude", HUMAN_B])?;
    ensure!(
        out.status.success(),
        "abg send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    m.chat
        .wait_for_user_text(&format!("[from Claude] {CLAUDE_TO_OC}"), WAIT)
        .await?;
    m.anthropic
        .log()
        .wait_since(0, "OpenCode's answer in Claude's channel", WAIT, |r| {
            claude_new_channels(&r.body)
                .iter()
                .any(|(f, c)| f == "opencode" && c.contains(OC_TO_CLAUDE))
        })
        .await?;
    pair.wait_message("OpenCode's answer to Claude delivered", WAIT, |v| {
        v["from"] == "opencode" && v["body"] == OC_TO_CLAUDE && v["state"] != "queued"
    })
    .await?;

    // Nothing more arrives: each message once, to its one recipient.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let n = codex_turns_with(&m.openai.requests(), OC_TO_CODEX);
    ensure!(n == 1, "OpenCode's answer reached Codex in {n} turns");
    let n = claude_got(&m.anthropic.requests(), "opencode", OC_TO_CLAUDE);
    ensure!(n == 1, "OpenCode's answer reached Claude {n} times");
    let claude = m.anthropic.requests();
    let codex = m.openai.requests();
    for (needle, who, reqs) in [
        (CODEX_TO_OC, "Claude", &claude),
        (OC_TO_CODEX, "Claude", &claude),
        (CLAUDE_TO_OC, "Codex", &codex),
        (OC_TO_CLAUDE, "Codex", &codex),
    ] {
        ensure!(!anywhere(reqs, needle), "{needle:?} reached {who}'s model");
    }
    for needle in [
        format!("[from Codex] {CODEX_TO_OC}"),
        format!("[from Claude] {CLAUDE_TO_OC}"),
    ] {
        let n = m.chat.turns_with(&needle).len();
        ensure!(n == 1, "{needle:?} ran {n} OpenCode turns");
    }
    let msgs = pair.messages().await?;
    stored_once(&msgs, CODEX_TO_OC, "codex", "opencode")?;
    stored_once(&msgs, OC_TO_CODEX, "opencode", "codex")?;
    stored_once(&msgs, CLAUDE_TO_OC, "claude", "opencode")?;
    stored_once(&msgs, OC_TO_CLAUDE, "opencode", "claude")?;
    for needle in [CODEX_TO_OC, OC_TO_CODEX, CLAUDE_TO_OC, OC_TO_CLAUDE] {
        let m = stored_with(&msgs, needle)[0];
        ensure!(
            m["state"] == "completed" || m["state"] == "acknowledged",
            "{needle:?} was not delivered: {m:#}"
        );
    }
    Ok(())
}

/// The exchange limit under test.
const LIMIT: usize = 4;
/// How long nothing may move once the relay is paused.
const SETTLE: Duration = Duration::from_secs(4);
const PAUSE_NOTICE: &str = "abg paused the automatic relay";
const HUMAN_START: &str = "human to codex: start the round with opencode and claude";
const HUMAN_RESUME: &str = "human to codex: carry on, one more round";

#[test]
fn three_way_loop_is_paused_by_the_governor() {
    scenario::run("three_way_governor", Need::All, governor);
}

async fn governor(s: Scenario) -> Result<()> {
    let m = Mocks::start(&s).await?;
    // The circle: Codex → OpenCode → Claude → Codex → …, each text distinct.
    let k = Arc::new(AtomicUsize::new(0));
    let kc = k.clone();
    m.openai.respond_with(move |body| {
        let last = last_user_text(body)?;
        (last.contains(HUMAN_START)
            || last.contains(HUMAN_RESUME)
            || last.starts_with("[from Claude]"))
        .then(|| {
            let n = kc.fetch_add(1, Ordering::SeqCst) + 1;
            mock_openai::Step::text(format!("@opencode\ncodex loop {n}: next idea")).chunks(2)
        })
    });
    let ko = k.clone();
    m.chat.respond_with(move |body| {
        let last = mock_chat::last_user_text(body)?;
        last.starts_with("[from Codex]").then(|| {
            let n = ko.fetch_add(1, Ordering::SeqCst) + 1;
            ChatStep::text(format!("@claude\nopencode loop {n}: a review point"))
        })
    });
    let ka = k;
    m.anthropic.respond_with(move |body| {
        claude_new_channels(body)
            .iter()
            .any(|(f, _)| f == "opencode")
            .then(|| {
                let n = ka.fetch_add(1, Ordering::SeqCst) + 1;
                let text = format!("claude loop {n}: a test to add");
                mock_anthropic::Step::tool_use(
                    "mcp__abg__reply",
                    json!({ "to": "codex", "text": text }),
                )
            })
    });
    run_trio(
        &s,
        &m,
        "governor",
        Some(u32::try_from(LIMIT)?),
        governor_steps,
    )
    .await
}

async fn governor_steps(m: &Mocks, trio: &AbgTrio) -> Result<()> {
    let pair = &trio.pair;
    // Whatever the notices before the round did, the run counts from here.
    let since = pair
        .messages()
        .await?
        .iter()
        .filter_map(|v| v["seq"].as_i64())
        .max()
        .unwrap_or(0);
    let marks = (
        m.anthropic.log().len(),
        m.openai.log().len(),
        m.chat.log().len(),
    );
    pair.codex.type_text(HUMAN_START).await?;
    let paused = poll(
        "a governor_paused event",
        Duration::from_secs(90),
        async || Ok(events(&pair.pair_dir, "governor_paused")?.pop()),
    )
    .await?;
    ensure!(
        paused["data"]["limit"].as_u64() == Some(LIMIT as u64),
        "governor_paused names another limit: {paused:#}"
    );
    // Each of the three gets the notice in its model.
    m.anthropic
        .log()
        .wait_since(marks.0, "the pause notice in Claude's channel", WAIT, |r| {
            claude_new_channels(&r.body)
                .iter()
                .any(|(f, c)| f == "abg" && c.contains(PAUSE_NOTICE))
        })
        .await?;
    m.openai
        .log()
        .wait_since(marks.1, "the pause notice as a Codex turn", WAIT, |r| {
            r.path == "/v1/responses"
                && last_user_text(&r.body)
                    .is_some_and(|t| t.starts_with("[abg notice]") && t.contains(PAUSE_NOTICE))
        })
        .await?;
    m.chat
        .log()
        .wait_since(
            marks.2,
            "the pause notice as an OpenCode prompt",
            WAIT,
            |r| {
                r.body.get("tools").is_some()
                    && mock_chat::last_user_text(&r.body).is_some_and(|t| t.contains(PAUSE_NOTICE))
            },
        )
        .await?;
    // Nothing moves while paused.
    let before = shape(&run_since(pair, since).await?);
    let reqs_before = (
        m.anthropic.log().len(),
        m.openai.log().len(),
        m.chat.log().len(),
    );
    tokio::time::sleep(SETTLE).await;
    let run = run_since(pair, since).await?;
    ensure!(
        before == shape(&run),
        "the relay moved while paused:\nbefore: {before:#?}\nafter: {run:#?}"
    );
    let reqs_after = (
        m.anthropic.log().len(),
        m.openai.log().len(),
        m.chat.log().len(),
    );
    ensure!(
        reqs_before == reqs_after,
        "a model was asked while paused: {reqs_before:?} → {reqs_after:?}"
    );

    let relayed: Vec<&Value> = run.iter().take_while(|v| !is_held(v)).collect();
    ensure!(
        relayed.len() == LIMIT,
        "{} agent-to-agent messages relayed before the pause, want {LIMIT}: {run:#?}",
        relayed.len()
    );
    let lanes: Vec<(String, String)> = relayed
        .iter()
        .map(|v| {
            (
                v["from"].as_str().unwrap_or("").into(),
                v["to"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("codex", "opencode"),
        ("opencode", "claude"),
        ("claude", "codex"),
        ("codex", "opencode"),
    ]
    .iter()
    .map(|(a, b)| ((*a).into(), (*b).into()))
    .collect();
    ensure!(
        lanes == want,
        "the relayed messages went {lanes:?}, want the circle {want:?}"
    );
    let held: Vec<Value> = run.iter().skip(LIMIT).cloned().collect();
    ensure!(
        held.iter().all(is_held),
        "a message after the limit was not held: {run:#?}"
    );
    let trigger = held.first().context("no message reached the limit")?;
    ensure!(
        trigger["id"] == paused["data"]["message_id"]
            && trigger["from"] == "opencode"
            && trigger["to"] == "claude",
        "the pause names {}, the first held message is {trigger:#}",
        paused["data"]["message_id"]
    );
    let trigger_body = trigger["body"].as_str().unwrap_or_default().to_string();
    ensure!(
        claude_got(&m.anthropic.requests(), "opencode", &trigger_body) == 0,
        "the held message reached Claude while paused"
    );
    let msgs = pair.messages().await?;
    for to in AGENTS {
        let n = msgs
            .iter()
            .filter(|v| v["seq"].as_i64().unwrap_or(0) > since)
            .filter(|v| v["from"] == "abg" && v["to"] == to)
            .filter(|v| v["body"].as_str().is_some_and(|b| b.contains(PAUSE_NOTICE)))
            .count();
        ensure!(n == 1, "{n} pause notices stored for {to}");
    }
    let status = cli_json(pair, &["status", "--json"])?;
    ensure!(
        status["relay_paused"]
            .as_str()
            .is_some_and(|w| w.contains(&format!("{LIMIT} agent-to-agent messages"))),
        "abg status --json shows no relay pause: {status:#}"
    );

    // A human message resumes the relay; the held message reaches Claude.
    let t_resume = Instant::now();
    let sent = cli_json(pair, &["send", "--to", "codex", "--json", HUMAN_RESUME])?;
    ensure!(
        sent[0]["seq"].as_i64().is_some(),
        "abg send --json: {sent:#}"
    );
    let resumed = poll("a governor_resumed event", WAIT, async || {
        Ok(events(&pair.pair_dir, "governor_resumed")?.pop())
    })
    .await?;
    ensure!(
        resumed["data"]["released"].as_u64() == Some(held.len() as u64),
        "governor_resumed released {}, {} were held: {resumed:#}",
        resumed["data"]["released"],
        held.len()
    );
    poll(
        "the held message to reach Claude's model",
        WAIT,
        async || {
            Ok((claude_got(&m.anthropic.requests(), "opencode", &trigger_body) > 0).then_some(()))
        },
    )
    .await?;
    let id = trigger["id"].as_str().unwrap_or_default().to_string();
    pair.wait_message("the held message delivered", WAIT, |v| {
        v["id"] == id.as_str() && !is_held(v)
    })
    .await?;
    // The human's message reached Codex as a turn of its own.
    m.openai
        .wait_for_user_text(&format!("[from the human, via abg] {HUMAN_RESUME}"), WAIT)
        .await?;
    let n = claude_got(&m.anthropic.requests(), "opencode", &trigger_body);
    ensure!(n == 1, "the held message reached Claude {n} times");
    // The circle runs on, and the governor stops it again.
    let second = poll(
        "governor_paused event #2",
        Duration::from_secs(60),
        async || {
            Ok(events(&pair.pair_dir, "governor_paused")?
                .into_iter()
                .nth(1))
        },
    )
    .await?;
    let msgs = pair.messages().await?;
    let id2 = second["data"]["message_id"].as_str().unwrap_or_default();
    ensure!(
        msgs.iter()
            .any(|v| v["id"] == id2 && is_held(v) && is_agent_to_agent(v)),
        "the second pause names no held agent-to-agent message: {second:#}"
    );
    announce(&format!(
        "e2e three: governor: limit {LIMIT}, paused with {} held, held message delivered {:.2} s after the human message",
        held.len(),
        t_resume.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// The agent-to-agent messages stored after `since` (a seq), in order.
async fn run_since(pair: &support::pair::AbgPair, since: i64) -> Result<Vec<Value>> {
    Ok(pair
        .messages()
        .await?
        .into_iter()
        .filter(|v| v["seq"].as_i64().unwrap_or(0) > since)
        .filter(is_agent_to_agent)
        .collect())
}
