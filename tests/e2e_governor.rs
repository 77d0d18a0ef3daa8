//! End-to-end: the loop governor with the real agents (issue 6, "Loop
//! governor", third acceptance bullet). `abg codex` and `abg claude` run as
//! a full pair with `governor.max_exchanges = 4`; both mocks are scripted so
//! each agent always answers the other: Codex ends every turn with distinct
//! text (relayed to Claude), and Claude answers every message it is shown
//! with a `mcp__abg__reply` carrying distinct text, then ends its turn with
//! text (a request-driven mock, [`support::governor::ReactiveClaude`], so a
//! message arriving mid-turn is answered too). A human turn
//! typed in Codex starts the exchange. Asserted:
//! - the relay stops at the limit: 4 agent-to-agent messages relayed, the
//!   5th held, no more peer text reaches either model for a settle period;
//! - the daemon recorded `governor_paused`, `abg status --json` shows
//!   `relay_paused`, and `abg log --json` shows abg's notice to each agent;
//! - a human message (`abg send --to codex`) resumes the relay: the held
//!   messages reach the other model, and the exchange runs to the limit
//!   again (4 more relayed, then a second pause);
//! - nothing is lost: every agent-to-agent message is either held or its
//!   text reached the other model; none is failed (damped).
//!
//! Skipped (one line) when a pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use support::clis::Need;
use support::governor::{
    ReactiveClaude, agent_to_agent, claude_new_channel, claude_saw, claude_text, cli_json,
    codex_saw, events, is_held, log_jsonl, poll, write_limit,
};
use support::mock_openai::{self, MockOpenAi, last_user_text};
use support::pair::AbgPair;
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

/// The exchange limit under test.
const LIMIT: usize = 4;
/// How long nothing may move once the relay is paused.
const SETTLE: Duration = Duration::from_secs(6);
/// Deadline for a whole run of exchanges up to the limit.
const RUN: Duration = Duration::from_secs(120);
/// Scripted Codex answers: far more than two runs to the limit need.
const STEPS: usize = 40;

const KICKOFF_CLAUDE: &str = "You are paired with Codex";
const PAUSE_NOTICE: &str = "abg paused the automatic relay";
const HUMAN_START: &str = "human to codex: review the parser refactor with claude";
const HUMAN_RESUME: &str = "human to codex: carry on with claude, one more round";

fn codex_text(k: usize) -> String {
    format!("codex turn {k}: proposal {k} for the parser refactor")
}

#[test]
fn governor_pauses_at_the_limit_and_a_human_resumes() {
    scenario::run("pair_governor", Need::Both, governor);
}

struct Mocks {
    openai: MockOpenAi,
    anthropic: ReactiveClaude,
}

async fn governor(s: Scenario) -> Result<()> {
    write_limit(&s, u32::try_from(LIMIT)?)?;
    let openai = MockOpenAi::start().await?;
    let anthropic = ReactiveClaude::start().await?;
    let (o, a) = (openai.log().clone(), anthropic.log().clone());
    s.diag
        .add_source("openai mock requests", move || o.summary(60));
    s.diag
        .add_source("anthropic mock requests", move || a.summary(60));
    let m = Mocks { openai, anthropic };
    let mut pair = AbgPair::start(&s, &m.openai.base_url(), &m.anthropic.base_url()).await?;
    let dir = pair.pair_dir.clone();
    s.diag.add_source("abg store (governor view)", move || {
        let ev = |k: &str| {
            events(&dir, k).map_or_else(|e| e.to_string(), |v| format!("{:#}", Value::Array(v)))
        };
        format!(
            "governor_paused: {}\ngovernor_resumed: {}",
            ev("governor_paused"),
            ev("governor_resumed")
        )
    });
    let result = steps(&s, &m, &pair).await;
    let result = match result {
        Ok(()) => Ok(()),
        // The store as the daemon saw it, next to the harness report.
        Err(e) => {
            let store = pair.messages().await.unwrap_or_default();
            Err(s.diag.with_report(format!("{e:#}\nstore: {store:#?}")))
        }
    };
    pair.shutdown();
    result
}

async fn steps(s: &Scenario, m: &Mocks, pair: &AbgPair) -> Result<()> {
    // Claude's kickoff turn is answered with text; Claude answers with the
    // reply tool only once it has been acknowledged.
    m.anthropic
        .log()
        .wait_since(0, "Claude's kickoff", WAIT, |r| {
            r.body.to_string().contains(KICKOFF_CLAUDE)
        })
        .await?;
    pair.wait_message("Claude's kickoff acknowledged", WAIT, |v| {
        v["from"] == "abg" && v["to"] == "claude" && v["state"] == "acknowledged"
    })
    .await?;
    for k in 1..=STEPS {
        m.openai
            .push(mock_openai::Step::text(codex_text(k)).chunks(2));
    }
    m.anthropic.arm();

    // The human starts the exchange in Codex's terminal.
    let t0 = Instant::now();
    let marks = (m.anthropic.log().len(), m.openai.log().len());
    pair.codex.type_text(HUMAN_START).await?;
    m.openai.wait_for_user_text(HUMAN_START, WAIT).await?;

    // First run: the relay stops at the limit.
    let first = wait_pause(pair, 1).await?;
    let t_pause1 = t0.elapsed();
    let held1 = check_paused(s, m, pair, 0, marks, &first).await?;
    let log = log_jsonl(pair)?;
    for to in ["claude", "codex"] {
        ensure!(
            log.iter().any(|v| v["from"] == "abg"
                && v["to"] == to
                && v["body"].as_str().is_some_and(|b| b.contains(PAUSE_NOTICE))),
            "abg log --json shows no pause notice to {to}: {log:#?}"
        );
    }

    // A human message resumes the relay.
    let t1 = Instant::now();
    let marks = (m.anthropic.log().len(), m.openai.log().len());
    let sent = cli_json(pair, &["send", "--to", "codex", "--json", HUMAN_RESUME])?;
    let human_seq = sent[0]["seq"].as_i64().context("abg send --json: no seq")?;
    let resumed = poll("a governor_resumed event", WAIT, async || {
        Ok(events(&pair.pair_dir, "governor_resumed")?.pop())
    })
    .await?;
    ensure!(
        resumed["data"]["released"].as_u64() == Some(held1.len() as u64),
        "governor_resumed released {} messages, {} were held: {resumed:#}",
        resumed["data"]["released"],
        held1.len()
    );
    // Every held message now reaches the other model.
    for h in &held1 {
        let body = h["body"].as_str().unwrap_or_default().to_string();
        let to_claude = h["to"] == "claude";
        poll(
            &format!("the held message {body:?} to reach {}", h["to"]),
            RUN,
            async || {
                let seen = if to_claude {
                    claude_saw(&m.anthropic.requests(), &body)
                } else {
                    codex_saw(&m.openai.requests(), &body)
                };
                Ok(seen.then_some(()))
            },
        )
        .await?;
    }

    // Second run: up to the limit again, counted from the human message.
    let second = wait_pause(pair, 2).await?;
    let t_pause2 = t1.elapsed();
    check_paused(s, m, pair, human_seq, marks, &second).await?;
    let notices = log_jsonl(pair)?
        .iter()
        .filter(|v| v["from"] == "abg")
        .filter(|v| v["body"].as_str().is_some_and(|b| b.contains(PAUSE_NOTICE)))
        .count();
    ensure!(
        notices == 4,
        "{notices} pause notices in abg log, want 2 per pause"
    );
    announce(&format!(
        "e2e governor: limit {LIMIT}: first pause {:.2} s after the human turn, \
         second pause {:.2} s after the human message, {} held at the first pause",
        t_pause1.as_secs_f64(),
        t_pause2.as_secs_f64(),
        held1.len()
    ));
    Ok(())
}

/// Waits until the daemon has recorded `n` `governor_paused` events; the
/// `n`th.
async fn wait_pause(pair: &AbgPair, n: usize) -> Result<Value> {
    poll(&format!("governor_paused event #{n}"), RUN, async || {
        Ok(events(&pair.pair_dir, "governor_paused")?
            .into_iter()
            .nth(n - 1))
    })
    .await
}

/// Checks a pause whose run of exchanges started after message `since`
/// (a seq) and after the requests `marks` (Claude's, Codex's mock log
/// lengths then): exactly [`LIMIT`] agent-to-agent messages relayed, the next one
/// the event names held, both notices stored, status and transcript show
/// it, and nothing moves for [`SETTLE`]. Returns the held agent-to-agent
/// messages.
async fn check_paused(
    s: &Scenario,
    m: &Mocks,
    pair: &AbgPair,
    since: i64,
    marks: (usize, usize),
    event: &Value,
) -> Result<Vec<Value>> {
    ensure!(
        event["data"]["limit"].as_u64() == Some(LIMIT as u64),
        "governor_paused names another limit: {event:#}"
    );
    // Both agents get the notice (Codex as an `[abg notice]` turn), after
    // the requests they had seen when the run started.
    m.anthropic
        .log()
        .wait_since(marks.0, "the pause notice in Claude's channel", WAIT, |r| {
            claude_new_channel(r, "abg", PAUSE_NOTICE)
        })
        .await?;
    let notice = format!("[abg notice] {PAUSE_NOTICE}");
    m.openai
        .log()
        .wait_since(marks.1, "the pause notice as a Codex turn", WAIT, |r| {
            r.path == "/v1/responses"
                && last_user_text(&r.body).is_some_and(|t| t.starts_with(&notice))
        })
        .await?;
    // Nothing moves any more: the same store, the same model inputs.
    tokio::time::sleep(SETTLE / 2).await;
    let before = snapshot(m, pair).await?;
    tokio::time::sleep(SETTLE).await;
    let after = snapshot(m, pair).await?;
    ensure!(
        before == after,
        "the relay moved while paused:\nbefore: {before:#?}\nafter: {after:#?}"
    );

    let msgs = pair.messages().await?;
    let run: Vec<Value> = agent_to_agent(&msgs)
        .into_iter()
        .filter(|v| v["seq"].as_i64().unwrap_or(0) > since)
        .collect();
    let relayed: Vec<&Value> = run.iter().take_while(|v| !is_held(v)).collect();
    ensure!(
        relayed.len() == LIMIT,
        "{} agent-to-agent messages relayed before the pause, want {LIMIT}: {run:#?}",
        relayed.len()
    );
    ensure!(
        run.iter().skip(LIMIT).all(is_held),
        "a message after the limit was not held: {run:#?}"
    );
    let trigger = run.get(LIMIT).context("no message reached the limit")?;
    ensure!(
        trigger["id"] == event["data"]["message_id"],
        "the pause names {}, the first held message is {}",
        event["data"]["message_id"],
        trigger["id"]
    );
    check_nothing_lost(m, &msgs)?;

    let status = cli_json(pair, &["status", "--json"])?;
    let why = status["relay_paused"].as_str().unwrap_or_default();
    ensure!(
        why.contains(&format!("{LIMIT} agent-to-agent messages")),
        "abg status --json shows no relay pause: {status:#}"
    );
    for to in ["claude", "codex"] {
        ensure!(
            msgs.iter()
                .filter(|v| v["seq"].as_i64().unwrap_or(0) > since)
                .any(|v| v["from"] == "abg"
                    && v["to"] == to
                    && v["body"].as_str().is_some_and(|b| b.contains(PAUSE_NOTICE))),
            "{}",
            s.diag
                .with_report(format!("no pause notice stored for {to}"))
        );
    }
    Ok(run.into_iter().skip(LIMIT).collect())
}

/// Every agent-to-agent message is held (and reached no model) or reached
/// the other agent's model; none was failed (damped or lost).
fn check_nothing_lost(m: &Mocks, msgs: &[Value]) -> Result<()> {
    let (claude_reqs, codex_reqs) = (m.anthropic.requests(), m.openai.requests());
    for v in agent_to_agent(msgs) {
        let body = v["body"].as_str().unwrap_or_default();
        let seen = if v["to"] == "claude" {
            claude_saw(&claude_reqs, body)
        } else {
            codex_saw(&codex_reqs, body)
        };
        ensure!(
            v["state"] != "failed",
            "an agent-to-agent message failed (damped or lost): {v:#}"
        );
        ensure!(
            is_held(&v) != seen,
            "{} message {body:?} is {} and {} its recipient's model",
            if is_held(&v) { "a held" } else { "a relayed" },
            v["state"],
            if seen { "reached" } else { "never reached" }
        );
    }
    Ok(())
}

/// What the relay has moved so far: each stored agent-to-agent message and
/// whether it is held, and the scripted peer texts each model has seen.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    messages: Vec<(String, bool)>,
    claude_saw: Vec<usize>,
    codex_saw: Vec<usize>,
}

async fn snapshot(m: &Mocks, pair: &AbgPair) -> Result<Snapshot> {
    let msgs = pair.messages().await?;
    let (claude_reqs, codex_reqs) = (m.anthropic.requests(), m.openai.requests());
    Ok(Snapshot {
        messages: agent_to_agent(&msgs)
            .iter()
            .map(|v| {
                (
                    v["body"].as_str().unwrap_or_default().to_string(),
                    is_held(v),
                )
            })
            .collect(),
        claude_saw: (1..=STEPS)
            .filter(|k| claude_saw(&claude_reqs, &codex_text(*k)))
            .collect(),
        codex_saw: (1..=m.anthropic.replies())
            .filter(|k| codex_saw(&codex_reqs, &claude_text(*k)))
            .collect(),
    })
}
