//! The loop governor's judgement, apart from any daemon task: agents can
//! talk forever and burn their quotas, so it counts consecutive
//! agent-to-agent messages among all the pair's agents (every stored
//! message counts, so an answer fanned out to two agents counts twice)
//! since the last human input and, at
//! `governor.max_exchanges`, pauses the automatic relay in every direction
//! until the human writes again (or `abg resume-relay`). It also damps
//! trivial ping-pong — bare acknowledgements and verbatim repeats — which
//! are stored for the transcript but never relayed.
//!
//! [`judge`] is a pure function over [`GovernorState`]; [`judge_stored`]
//! applies its verdict to the store inside the critical section that
//! stored the message (the group commit calls it), and the governor
//! component (`super`) does the rest once the store is unlocked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::daemon::error::CoreError;
use crate::store::Store;
use crate::store::types::{
    DeliveryReason, DeliveryState, Message, MessageKind, Note, PeerId, Transitioned,
};

/// Store setting key holding the persisted [`GovernorState`].
pub const SETTING_KEY: &str = "governor";
/// How the delivery detail of messages the governor holds or damps begins
/// (for people; code reads the reason).
pub const HELD_PREFIX: &str = "governor:";

/// What the governor remembers between messages (and daemon restarts).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernorState {
    /// PeerId-to-agent messages relayed since the last human message.
    pub exchanges: u32,
    /// Why the relay is paused, when it is.
    pub paused: Option<String>,
    /// Normalised text of the last relayed message of each agent to each
    /// other agent, by `from>to` (an answer fanned out to several agents
    /// is not a repeat of itself).
    #[serde(default)]
    pub last: BTreeMap<String, String>,
}

/// What to do with one new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver normally.
    Relay,
    /// Deliver normally; the relay was paused and this human message resumes it.
    Resume,
    /// Do not deliver now: the relay is paused (held until resumed).
    Hold { reason: String },
    /// This message reaches the limit: pause the relay and hold it.
    Pause { reason: String },
    /// Never deliver: trivial ping-pong.
    Damp { reason: String },
}

/// Acknowledgements that carry no new content once normalised.
const TRIVIAL: &[&str] = &[
    "ok",
    "okay",
    "k",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "got it",
    "noted",
    "ack",
    "acknowledged",
    "sounds good",
    "great",
    "perfect",
    "cool",
    "done",
    "understood",
    "roger",
    "will do",
    "agreed",
    "yes",
    "sure",
    "lgtm",
    "👍",
    "ok thanks",
    "ok thank you",
    "great thanks",
    "perfect thanks",
    "sounds good thanks",
];

/// Lowercase, drop punctuation, fold whitespace.
pub fn normalise(body: &str) -> String {
    body.chars()
        .map(|c| {
            if c.is_alphanumeric() || c.is_whitespace() {
                c.to_lowercase().next().unwrap_or(c)
            } else if !c.is_ascii() && c != '\u{fe0f}' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Judge a freshly stored message. `limit` is `None` when the governor is off.
pub fn judge(
    state: &mut GovernorState,
    limit: Option<u32>,
    from: PeerId,
    to: PeerId,
    kind: MessageKind,
    body: &str,
) -> Verdict {
    if kind == MessageKind::Notice || from == PeerId::ABG {
        return Verdict::Relay;
    }
    if from == PeerId::HUMAN {
        state.exchanges = 0;
        state.last.clear();
        return if state.paused.take().is_some() {
            Verdict::Resume
        } else {
            Verdict::Relay
        };
    }
    let agent_to_agent = from != to && from.is_agent() && to.is_agent();
    if !agent_to_agent {
        return Verdict::Relay;
    }
    if let Some(reason) = &state.paused {
        return Verdict::Hold {
            reason: reason.clone(),
        };
    }
    let norm = normalise(body);
    if TRIVIAL.contains(&norm.as_str()) {
        return Verdict::Damp {
            reason: format!("a bare acknowledgement ({norm:?}) is not relayed"),
        };
    }
    let lane = format!("{}>{}", from.as_str(), to.as_str());
    if state.last.get(&lane) == Some(&norm) {
        return Verdict::Damp {
            reason: "a verbatim repeat of the previous message is not relayed".into(),
        };
    }
    if let Some(limit) = limit
        && state.exchanges >= limit
    {
        let reason = format!(
            "{limit} agent-to-agent messages in a row without human input; the relay resumes when you write to any agent (or run `abg resume-relay`)"
        );
        state.paused = Some(reason.clone());
        return Verdict::Pause { reason };
    }
    state.last.insert(lane, norm);
    state.exchanges += 1;
    Verdict::Relay
}

/// A verdict on a freshly stored message, with the delivery change that
/// [`judge_stored`] already made for it.
#[derive(Debug)]
pub struct Judged {
    pub verdict: Verdict,
    pub limit: Option<u32>,
    pub changed: Option<Transitioned>,
}

impl Judged {
    /// The delivery state the verdict put the message in (held, damped),
    /// if it moved it from its initial state.
    pub fn moved_to(&self) -> Option<crate::store::types::DeliveryState> {
        self.changed
            .as_ref()
            .filter(|t| t.changed)
            .map(|t| t.delivery.state)
    }
}

/// Judge a freshly stored `message` and, when it is held or damped, put
/// its delivery in that state, all in the store critical section that
/// inserted it (`s` is the locked store): no delivery worker may see the
/// message deliverable in between, and a resume running meanwhile cannot
/// miss a message judged "hold" but not marked yet (it would stay held
/// with the relay running). [`follow_up`] does the rest once unlocked.
pub fn judge_stored(
    s: &mut Store,
    limit: Option<u32>,
    message: &Message,
) -> Result<Judged, CoreError> {
    let mut cache = StateCache::default();
    let judged = judge_cached(s, limit, message, &mut cache)?;
    cache.flush(s)?;
    Ok(judged)
}

/// The governor's state as one transaction sees it: read once, written
/// once at the end ([`StateCache::flush`]) however many messages the
/// transaction judges (a group commit judges up to one per sender).
#[derive(Debug, Default)]
pub struct StateCache {
    state: Option<GovernorState>,
    dirty: bool,
}

impl StateCache {
    /// Write the state back if any judgement changed it (before commit).
    pub fn flush(&mut self, s: &mut Store) -> Result<(), CoreError> {
        if let (true, Some(state)) = (self.dirty, &self.state) {
            s.set_setting(SETTING_KEY, state)?;
            self.dirty = false;
        }
        Ok(())
    }
}

/// [`judge_stored`] with the state kept in `cache` (flush it before the
/// transaction commits).
pub fn judge_cached(
    s: &mut Store,
    limit: Option<u32>,
    message: &Message,
    cache: &mut StateCache,
) -> Result<Judged, CoreError> {
    let state = match &mut cache.state {
        Some(state) => state,
        None => cache
            .state
            .insert(s.get_setting(SETTING_KEY)?.unwrap_or_default()),
    };
    let before = state.clone();
    let verdict = judge(
        state,
        limit,
        message.from,
        message.to,
        message.kind,
        &message.body,
    );
    cache.dirty |= *state != before;
    let mark = match &verdict {
        Verdict::Hold { reason } | Verdict::Pause { reason } => Some((
            DeliveryState::Held,
            DeliveryReason::GovernorHold,
            reason.clone(),
        )),
        Verdict::Damp { reason } => Some((
            DeliveryState::Failed,
            DeliveryReason::GovernorDamped,
            format!("not relayed: {reason}"),
        )),
        Verdict::Relay | Verdict::Resume => None,
    };
    let changed = match mark {
        Some((to, why, text)) => Some(s.transition(
            &message.id,
            message.to,
            to,
            Note::new(why, &format!("{HELD_PREFIX} {text}")),
            None,
        )?),
        None => None,
    };
    Ok(Judged {
        verdict,
        limit,
        changed,
    })
}

/// Whether the relay is paused, and why (read from the store).
pub fn paused(s: &mut Store) -> Option<String> {
    s.get_setting::<GovernorState>(SETTING_KEY)
        .ok()
        .flatten()
        .and_then(|st| st.paused)
}

#[cfg(test)]
mod tests {
    use super::*;
    const CLAUDE: PeerId = PeerId::from_static("claude");
    const CODEX: PeerId = PeerId::from_static("codex");
    const HUMAN: PeerId = PeerId::HUMAN;
    const ABG: PeerId = PeerId::ABG;
    use MessageKind::{Chat, Notice};

    fn run(limit: u32, msgs: &[(PeerId, PeerId, MessageKind, &str)]) -> Vec<&'static str> {
        let mut st = GovernorState::default();
        msgs.iter()
            .map(
                |(f, t, k, b)| match judge(&mut st, Some(limit), *f, *t, *k, b) {
                    Verdict::Relay => "relay",
                    Verdict::Resume => "resume",
                    Verdict::Hold { .. } => "hold",
                    Verdict::Pause { .. } => "pause",
                    Verdict::Damp { .. } => "damp",
                },
            )
            .collect()
    }

    #[test]
    fn pauses_at_the_limit_and_human_resumes() {
        let got = run(
            2,
            &[
                (CLAUDE, CODEX, Chat, "please review a"),
                (CODEX, CLAUDE, Chat, "reviewed a, found b"),
                (CLAUDE, CODEX, Chat, "fix b"),
                (CODEX, CLAUDE, Chat, "fixed b"),
                (ABG, CLAUDE, Notice, "relay paused"),
                (HUMAN, CODEX, Chat, "carry on"),
                (CODEX, CLAUDE, Chat, "carrying on"),
            ],
        );
        assert_eq!(
            got,
            [
                "relay", "relay", "pause", "hold", "relay", "resume", "relay"
            ]
        );
    }

    #[test]
    fn trivial_acks_and_repeats_are_damped_and_not_counted() {
        let got = run(
            3,
            &[
                (CLAUDE, CODEX, Chat, "Thanks!"),
                (CODEX, CLAUDE, Chat, "  OK.  "),
                (CLAUDE, CODEX, Chat, "run the tests"),
                (CLAUDE, CODEX, Chat, "Run the tests."),
                (CODEX, CLAUDE, Chat, "👍"),
                (CODEX, CLAUDE, Chat, "tests pass"),
            ],
        );
        assert_eq!(got, ["damp", "damp", "relay", "damp", "damp", "relay"]);
    }

    #[test]
    fn a_fanned_out_answer_is_no_repeat_but_each_copy_counts() {
        let third = PeerId::from_static("third");
        let got = run(
            3,
            &[
                (CODEX, CLAUDE, Chat, "ship it"),
                (CODEX, third, Chat, "ship it"),
                (CODEX, third, Chat, "ship it"),
                (third, CLAUDE, Chat, "shipped"),
                (CLAUDE, CODEX, Chat, "thanks, next: docs"),
            ],
        );
        assert_eq!(got, ["relay", "relay", "damp", "relay", "pause"]);
    }

    #[test]
    fn notices_and_human_messages_never_count() {
        let mut st = GovernorState::default();
        for _ in 0..10 {
            assert_eq!(
                judge(&mut st, Some(1), ABG, CODEX, Notice, "n"),
                Verdict::Relay
            );
            assert_eq!(
                judge(&mut st, Some(1), HUMAN, CLAUDE, Chat, "h"),
                Verdict::Relay
            );
        }
        assert_eq!(st.exchanges, 0);
    }

    #[test]
    fn off_when_no_limit() {
        let mut st = GovernorState::default();
        for i in 0..100 {
            let body = format!("step {i}");
            assert_eq!(
                judge(&mut st, None, CLAUDE, CODEX, Chat, &body),
                Verdict::Relay
            );
        }
    }

    #[test]
    fn normalise_folds_case_punctuation_space() {
        assert_eq!(normalise("  Got   it!! "), "got it");
        assert_eq!(normalise("LGTM."), "lgtm");
    }
}
