//! Routing: who gets an agent's answer, decided in one place for every
//! adapter and naming no agent. With two agents every answer goes to the
//! other one; with three or more the answer needs a recipient, and these
//! rules choose it, in order:
//!
//! 1. **An address.** The answer begins with an address: `@codex`,
//!    `@claude, @opencode`, `@all` (case-insensitive; peers separated by
//!    commas or spaces, each with `@`, or bare right after a comma),
//!    alone on the first line or followed by `:` or a space and text. It
//!    goes to those peers (`@all`: every other agent) with the address
//!    removed. A name the pair does not have is not dropped silently:
//!    the answer goes, unchanged, to the named peers it does have, or
//!    else by the rules below (as if `routing.relay` were `all`), and the
//!    sender gets an abg notice listing the peers.
//! 2. **The peer it answers**: the sender of the message that started
//!    the turn, when that is another agent.
//! 3. **A turn the human started** (or typed in the agent's own terminal):
//!    with `routing.relay = all` (the default) it goes to
//!    `routing.default_to` (default `claude`); when that is the sender
//!    itself, to every other agent (the only other one in a pair). With
//!    `routing.relay = addressed` it is not relayed, and a
//!    `routing.not_relayed` event says why.
//!
//! Never to the sender itself. Tool-style replies that name their
//! recipient (`to`) resolve it with [`reply_recipients`]. [`relay`] stores
//! a routed answer: one message per recipient, the first with the
//! caller's keys and each further one with `#<peer>` appended, so a replay
//! of the same answer stays exactly once per recipient.

use super::core::{Core, CoreError};
use crate::store::types::{Message, MessageKind, NewMessage, PeerId};

/// `to` (and `@all`) meaning every other agent of the pair.
pub const ALL: &str = "all";

/// `routing.relay`: which answers are relayed without an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relay {
    /// Answers to turns the human started go to `routing.default_to`.
    All,
    /// Only answers to another agent, or addressed ones.
    Addressed,
}

/// The parsed address at the start of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The names, lowercased, in order, without duplicates (`all` kept).
    pub names: Vec<String>,
    /// The answer without its address.
    pub rest: String,
}

/// Why an answer goes where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It began with an address naming these peers.
    Addressed,
    /// It answers the agent whose message started the turn.
    Answers,
    /// The human started the turn: `routing.default_to` (or the others).
    Default,
}

/// Where an agent's answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To `to` (never empty, never the sender), with `text` to send.
    Relay {
        to: Vec<PeerId>,
        text: String,
        why: Why,
        /// Names in the address the pair does not have (the text is then
        /// sent unchanged).
        unknown: Vec<String>,
    },
    /// Nowhere, for `reason`.
    NotRelayed { reason: String },
}

/// The effective `routing.relay`.
pub fn relay_mode(core: &Core) -> Relay {
    match core.config().settings.routing_relay.as_str() {
        "addressed" => Relay::Addressed,
        _ => Relay::All,
    }
}

/// Check `routing.default_to` against the registered `peers` (at daemon
/// start): an error names the key, the value and the peers there are.
pub fn check_default(default_to: &str, peers: &[PeerId]) -> Result<(), String> {
    if peers.iter().any(|p| p.as_str() == default_to) {
        return Ok(());
    }
    let ids: Vec<&str> = peers.iter().map(|p| p.as_str()).collect();
    Err(format!(
        "routing.default_to is {default_to:?}, which is not a peer of this pair; use one of {}",
        ids.join(", ")
    ))
}

fn is_name(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && w.len() <= crate::store::peer_id::MAX_LEN
}

/// The address at the start of `text`, if it begins with one (see the
/// module doc); `None` leaves the text to the other rules.
pub fn parse_address(text: &str) -> Option<Address> {
    let body = text.trim_start();
    let line_end = body.find('\n').unwrap_or(body.len());
    let line = &body[..line_end];
    if !line.starts_with('@') {
        return None;
    }
    let mut names: Vec<String> = Vec::new();
    let mut pos = 0;
    let mut after_comma = false;
    let bytes = line.as_bytes();
    loop {
        // Separators between names.
        let sep_start = pos;
        while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b',' | b'\r') {
            after_comma |= bytes[pos] == b',';
            pos += 1;
        }
        let at = bytes.get(pos) == Some(&b'@');
        // A name needs its `@`, except right after a comma.
        let bare_ok = after_comma && !names.is_empty();
        if !at && !bare_ok {
            pos = sep_start;
            break;
        }
        let start = pos + usize::from(at);
        let end = line[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .map_or(line.len(), |i| start + i);
        let word = &line[start..end];
        let ends_well = line[end..]
            .chars()
            .next()
            .is_none_or(|c| c.is_whitespace() || c == ',' || c == ':');
        if !is_name(word) || !ends_well {
            if names.is_empty() {
                return None;
            }
            pos = sep_start;
            break;
        }
        let name = word.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
        pos = end;
        after_comma = false;
    }
    let tail = line[pos..].trim_start_matches([' ', '\t', ',']);
    let tail = tail.strip_prefix(':').unwrap_or(tail).trim();
    let more = body[line_end..].trim_start_matches(['\r', '\n']);
    let rest = match (tail.is_empty(), more.is_empty()) {
        (true, _) => more.to_string(),
        (false, true) => tail.to_string(),
        (false, false) => format!("{tail}\n{more}"),
    };
    Some(Address { names, rest })
}

/// The agents of the pair other than `from`, in registration order.
pub fn others(core: &Core, from: PeerId) -> Vec<PeerId> {
    core.peers()
        .iter()
        .map(|p| p.id)
        .filter(|id| *id != from && core.takes_part(*id))
        .collect()
}

/// Whom an answer from `from` goes to without an address or an agent it
/// answers: `routing.default_to`, or every other agent when that is the
/// sender itself (or not a peer).
fn default_recipients(core: &Core, from: PeerId) -> Vec<PeerId> {
    let default = core.config().settings.routing_default_to.as_str();
    match core.peers().iter().find(|p| p.id.as_str() == default) {
        Some(p) if p.id != from && p.id.is_agent() => vec![p.id],
        _ => others(core, from),
    }
}

/// The agent `answered` when it is one of this pair's other agents.
fn answered_agent(core: &Core, from: PeerId, answered: Option<PeerId>) -> Option<PeerId> {
    answered.filter(|a| *a != from && a.is_agent() && core.peer(*a).is_some())
}

/// Decide the recipients of `text`, an answer `from` gave in a turn that
/// `answered` (the sender of the message that started it, when known)
/// started. Pure apart from reading the config and the registered peers.
pub fn recipients(core: &Core, from: PeerId, answered: Option<PeerId>, text: &str) -> Route {
    let fallback = |text: String, unknown: Vec<String>, force: bool| {
        if let Some(a) = answered_agent(core, from, answered) {
            return Route::Relay {
                to: vec![a],
                text,
                why: Why::Answers,
                unknown,
            };
        }
        if relay_mode(core) == Relay::Addressed && !force {
            return Route::NotRelayed {
                reason: "routing.relay is \"addressed\" and no agent started this turn; begin the answer with @<peer> to relay it".into(),
            };
        }
        let to = default_recipients(core, from);
        if to.is_empty() {
            return Route::NotRelayed {
                reason: "the pair has no other agent".into(),
            };
        }
        Route::Relay {
            to,
            text,
            why: Why::Default,
            unknown,
        }
    };
    let Some(address) = parse_address(text) else {
        return fallback(text.to_string(), Vec::new(), false);
    };
    let mut to: Vec<PeerId> = Vec::new();
    let mut unknown = Vec::new();
    for name in &address.names {
        if name == ALL {
            to.extend(others(core, from));
        } else if let Some(p) = core
            .peers()
            .iter()
            .find(|p| p.id.as_str() == name && p.id.is_agent())
        {
            if p.id != from {
                to.push(p.id);
            }
        } else {
            unknown.push(name.clone());
        }
    }
    // An address with nothing after it: send what was written.
    let rest = if address.rest.trim().is_empty() {
        text.to_string()
    } else {
        address.rest
    };
    let mut seen = Vec::new();
    to.retain(|p| {
        let first = !seen.contains(p);
        seen.push(*p);
        first
    });
    match (to.is_empty(), unknown.is_empty()) {
        (false, true) => Route::Relay {
            to,
            text: rest,
            why: Why::Addressed,
            unknown,
        },
        (false, false) => Route::Relay {
            to,
            text: text.to_string(),
            why: Why::Addressed,
            unknown,
        },
        // Only unknown names: not dropped, routed as if unaddressed.
        (true, false) => fallback(text.to_string(), unknown, true),
        // Only itself: the address says nothing.
        (true, true) => fallback(rest, unknown, false),
    }
}

/// Whom a reply `from` sends through a tool goes to: `to` (a peer id or
/// `all`) when given; else the sender of `in_reply_to` when that is
/// another agent; else the sender of the newest message another agent
/// sent `from`; else the only other agent; else `routing.default_to` when
/// that is not `from`. An error asks for `to`, naming the peers.
pub fn reply_recipients(
    core: &Core,
    from: PeerId,
    to: Option<&str>,
    in_reply_to: Option<&str>,
) -> Result<Vec<PeerId>, CoreError> {
    let choices = || {
        let mut ids: Vec<&str> = others(core, from).iter().map(|p| p.as_str()).collect();
        ids.push(ALL);
        ids.join(", ")
    };
    if let Some(to) = to {
        let to = to.trim().trim_start_matches('@').to_ascii_lowercase();
        if to == ALL {
            let all = others(core, from);
            if all.is_empty() {
                return Err(CoreError::Invalid("the pair has no other agent".into()));
            }
            return Ok(all);
        }
        return match others(core, from).into_iter().find(|p| p.as_str() == to) {
            Some(p) => Ok(vec![p]),
            None => Err(CoreError::Invalid(format!(
                "`to` must be one of {}, not {to:?}",
                choices()
            ))),
        };
    }
    let sender_of = |m: Option<Message>| m.map(|m| m.from);
    if let Some(id) = in_reply_to {
        let answered = sender_of(core.with_store(|s| s.get_message(id))?);
        if let Some(a) = answered_agent(core, from, answered) {
            return Ok(vec![a]);
        }
    }
    let newest = sender_of(core.with_store(|s| s.latest_from_agent(from))?);
    if let Some(a) = answered_agent(core, from, newest) {
        return Ok(vec![a]);
    }
    let all = others(core, from);
    if all.len() == 1 {
        return Ok(all);
    }
    let default = core.config().settings.routing_default_to.as_str();
    if let Some(d) = all.iter().find(|p| p.as_str() == default) {
        return Ok(vec![*d]);
    }
    Err(CoreError::Invalid(format!(
        "say whom this is for: pass `to` ({})",
        choices()
    )))
}

/// `key` for the `n`th recipient `to` of one answer: the first keeps it,
/// further ones get `#<peer>` appended.
pub fn key_for(key: &Option<String>, n: usize, to: PeerId) -> Option<String> {
    key.as_ref().map(|k| match n {
        0 => k.clone(),
        _ => format!("{k}#{}", to.as_str()),
    })
}

/// What [`relay`] did with one answer.
#[derive(Debug)]
pub struct Relayed {
    /// The stored messages, one per recipient, and whether each is new.
    pub stored: Vec<(Message, bool)>,
    /// Why nothing was stored, when nothing was.
    pub not_relayed: Option<String>,
}

/// Route `base` (an answer from `base.from`; its `to` is ignored) by
/// [`recipients`] and store it: one message per recipient (keys per
/// [`key_for`]). An answer not relayed records a `routing.not_relayed`
/// event (once per source item or key); unknown names in its address get
/// the sender one abg notice.
pub fn relay(
    core: &Core,
    answered: Option<PeerId>,
    base: NewMessage,
) -> Result<Relayed, CoreError> {
    let from = base.from;
    match recipients(core, from, answered, &base.body) {
        Route::NotRelayed { reason } => {
            let key = base
                .source_item_id
                .as_ref()
                .or(base.idempotency_key.as_ref());
            let first = match key {
                Some(k) => core.with_store(|s| {
                    s.tombstone_insert(
                        &format!("routing.not_relayed.{}.{k}", from.as_str()),
                        serde_json::json!({ "at_ms": crate::clock::now_ms() }),
                    )
                })?,
                None => true,
            };
            if first {
                core.record_event(
                    "routing.not_relayed",
                    serde_json::json!({
                        "from": from, "reason": reason, "answered": answered,
                        "turn_id": base.turn_id, "item": key, "text": base.body,
                    }),
                )?;
            }
            Ok(Relayed {
                stored: Vec::new(),
                not_relayed: Some(reason),
            })
        }
        Route::Relay {
            to,
            text,
            why,
            unknown,
        } => {
            let mut stored = Vec::with_capacity(to.len());
            for (n, peer) in to.iter().enumerate() {
                let new = NewMessage {
                    to: *peer,
                    body: text.clone(),
                    source_item_id: key_for(&base.source_item_id, n, *peer),
                    idempotency_key: key_for(&base.idempotency_key, n, *peer),
                    ..base.clone()
                };
                stored.push(core.insert(&new)?);
            }
            let fresh = stored.first().is_some_and(|(_, f)| *f);
            if fresh && !unknown.is_empty() {
                tell_unknown(core, from, &to, &unknown, &stored[0].0)?;
            }
            if fresh && to.len() > 1 {
                tracing::debug!(from = from.as_str(), ?to, ?why, "answer fanned out");
            }
            Ok(Relayed {
                stored,
                not_relayed: None,
            })
        }
    }
}

/// Tell `from` that its address named peers the pair does not have.
fn tell_unknown(
    core: &Core,
    from: PeerId,
    to: &[PeerId],
    unknown: &[String],
    first: &Message,
) -> Result<(), CoreError> {
    let names: Vec<String> = unknown.iter().map(|n| format!("@{n}")).collect();
    let went: Vec<&str> = to.iter().map(|p| p.as_str()).collect();
    let mut valid: Vec<String> = others(core, from).iter().map(|p| format!("@{p}")).collect();
    valid.push(format!("@{ALL}"));
    core.record_event(
        "routing.unknown_address",
        serde_json::json!({ "from": from, "unknown": unknown, "to": went, "message_id": first.id }),
    )?;
    core.insert(&NewMessage {
        kind: MessageKind::Notice,
        idempotency_key: Some(format!("routing-unknown-{}", first.id)),
        ..NewMessage::new(
            PeerId::ABG,
            from,
            format!(
                "abg: this pair has no {}; your message went to {} instead. Address peers with {}.",
                names.join(", "),
                went.join(", "),
                valid.join(", ")
            ),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests;
