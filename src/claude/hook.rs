//! `abg hook <event>`: the Claude Code hooks `abg claude` installs. Each
//! reads the hook JSON on stdin, reports it to the pair's daemon (busy/idle,
//! what Claude has seen) and prints what the daemon decided: for Stop, a
//! block with the unacknowledged messages as the reason (delivery path 2);
//! for the others, facts as `additionalContext`. It FAILS OPEN: any error
//! (no pair, daemon down, bad input, timeout) prints nothing and exits 0.

use std::time::Duration;

use serde_json::{Value, json};

use super::protocol::{ClaudeAnswer, ClaudeRequest, HookReply, HookReport};
use super::wsclient::ControlLink;
use crate::control::protocol::Role;

/// The hook events abg handles, as Claude names them.
pub const EVENTS: [&str; 4] = ["SessionStart", "UserPromptSubmit", "Stop", "PostToolUse"];

/// Claude's event name for a CLI spelling (`stop`, `session-start`, `SessionStart`, …).
pub fn canonical_event(arg: &str) -> Option<&'static str> {
    let squashed: String = arg
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    EVENTS
        .into_iter()
        .find(|e| e.to_ascii_lowercase() == squashed)
}

/// The report for `event` from the hook's stdin JSON.
pub fn report(event: &str, input: &Value) -> HookReport {
    let s = |k: &str| input[k].as_str().map(str::to_string);
    HookReport {
        event: event.to_string(),
        session_id: s("session_id"),
        transcript_path: s("transcript_path"),
        stop_hook_active: input["stop_hook_active"].as_bool().unwrap_or(false),
        tool_name: s("tool_name"),
        prompt_ids: input["prompt"].as_str().map(msg_ids).unwrap_or_default(),
        human_prompt: event == "UserPromptSubmit"
            && input["prompt"].as_str().is_some_and(|p| {
                msg_ids(p).is_empty()
                    && !p.contains("<channel ")
                    && !p
                        .trim_end()
                        .ends_with(crate::claude::policy::DOORBELL_SUFFIX)
            }),
    }
}

/// The `msg_id="m_…"` values in `text` (channel tags, Stop-hook reasons).
pub fn msg_ids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("msg_id=\"").skip(1) {
        let id: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if part[id.len()..].starts_with('"') && !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// What the hook prints on stdout for `reply` (None: nothing).
pub fn render(event: &str, reply: &HookReply) -> Option<String> {
    if event == "Stop" {
        return reply
            .block_reason
            .as_ref()
            .map(|r| json!({"decision": "block", "reason": r}).to_string());
    }
    reply.additional_context.as_ref().map(|c| {
        json!({"hookSpecificOutput": {"hookEventName": event, "additionalContext": c}}).to_string()
    })
}

/// The report for `event` from the hook's raw stdin (not JSON: as if empty).
pub fn report_from_stdin(event: &str, stdin: &str) -> HookReport {
    let input: Value = serde_json::from_str(stdin).unwrap_or(Value::Null);
    report(event, &input)
}

/// Ask the daemon; `None` on any failure (fail open).
pub async fn ask(event: &str, stdin: &str, opts: &super::mcp::Options) -> Option<String> {
    let report = report_from_stdin(event, stdin);
    let (pair, _) = super::mcp::resolve(opts).ok()?;
    let secret = pair.secret().ok()?;
    let work = async {
        let (link, _rx) = ControlLink::connect(pair.ports.control, &secret, Role::Cli)
            .await
            .ok()?;
        let answer = link
            .claude(ClaudeRequest::Hook { report }, Duration::from_secs(5))
            .await
            .ok()?;
        match answer {
            ClaudeAnswer::Hook { reply, .. } => render(event, &reply),
            _ => None,
        }
    };
    tokio::time::timeout(Duration::from_secs(8), work)
        .await
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_typed_prompts_count_as_human() {
        let typed = serde_json::json!({"prompt": "please look at the parser"});
        assert!(report("UserPromptSubmit", &typed).human_prompt);
        let bell = serde_json::json!({"prompt": "2 new messages from Codex; call get_messages"});
        assert!(!report("UserPromptSubmit", &bell).human_prompt);
        let push =
            serde_json::json!({"prompt": "<channel source=\"abg\" msg_id=\"m_1\">x</channel>"});
        assert!(!report("UserPromptSubmit", &push).human_prompt);
        assert!(!report("Stop", &typed).human_prompt);
    }

    #[test]
    fn events_are_recognised() {
        for (arg, want) in [
            ("stop", Some("Stop")),
            ("Stop", Some("Stop")),
            ("session-start", Some("SessionStart")),
            ("user_prompt_submit", Some("UserPromptSubmit")),
            ("PostToolUse", Some("PostToolUse")),
            ("PreToolUse", None),
        ] {
            assert_eq!(canonical_event(arg), want, "{arg}");
        }
    }

    #[test]
    fn outputs_follow_the_hook_contract() {
        let block = HookReply {
            block_reason: Some("2 unread".into()),
            additional_context: None,
        };
        assert_eq!(
            render("Stop", &block).as_deref(),
            Some(r#"{"decision":"block","reason":"2 unread"}"#)
        );
        assert_eq!(render("Stop", &HookReply::default()), None);
        let ctx = HookReply {
            block_reason: None,
            additional_context: Some("abg: 1 unread".into()),
        };
        let out: Value =
            serde_json::from_str(&render("SessionStart", &ctx).expect("out")).expect("json");
        assert_eq!(out["hookSpecificOutput"]["hookEventName"], "SessionStart");
        let r = report(
            "Stop",
            &json!({"stop_hook_active": true, "transcript_path": "/t"}),
        );
        assert!(r.stop_hook_active);
        assert_eq!(r.transcript_path.as_deref(), Some("/t"));
        assert!(!report("Stop", &Value::Null).stop_hook_active);
        let p =
            json!({"prompt": "<channel source=\"abg\" msg_id=\"m_01\">x</channel> msg_id=\"bad"});
        assert_eq!(report("UserPromptSubmit", &p).prompt_ids, ["m_01"]);
    }
}
