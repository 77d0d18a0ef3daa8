//! `abg send`: the human's voice in the pair — store a message for one
//! agent of the pair or all of them (one stored message each) through the
//! daemon, with the turn-running agents' delivery policy (`--on-busy`).

use std::io::Read;
use std::process::ExitCode;

use super::{Context, output};
use crate::control::client::Client;
use crate::control::protocol::PeerStatus;
use crate::control::protocol::{OnBusy, SendRequest, SendResult};
use crate::daemon::ensure;
use crate::store::types::{DeliveryModel, PeerId};
use std::collections::BTreeMap;

/// Send a message to an agent of the pair (or all of them) as the human.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Who receives it: a peer of the pair (claude, codex, …) or `all`
    /// (`both` is the older spelling of `all`).
    #[arg(long, value_name = "PEER|all")]
    pub to: String,
    /// What a turn-running agent (Codex) does with it while a turn runs
    /// (queue, steer, interrupt).
    #[arg(long, value_enum)]
    pub on_busy: Option<Busy>,
    /// The message text; `-` reads it from stdin.
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Busy {
    Queue,
    Steer,
    Interrupt,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let body = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        args.text.clone()
    };
    if body.trim().is_empty() {
        anyhow::bail!("the message is empty; pass TEXT, or `-` with text on stdin");
    }
    let pair = ctx.pair()?;
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let client = Client::for_pair(&pair)?;
    let on_busy = args.on_busy.map(|b| match b {
        Busy::Queue => OnBusy::Queue,
        Busy::Steer => OnBusy::Steer,
        Busy::Interrupt => OnBusy::Interrupt,
    });
    let sent = send_to(&client, &args.to, &body, on_busy).await?;
    if args.json {
        let results: Vec<&SendResult> = sent.iter().map(|(_, r)| r).collect();
        output::json(&results)?;
    } else {
        for (to, r) in &sent {
            output::line(format!(
                "{} → {}: {} ({})",
                r.message_id,
                to.as_str(),
                r.state,
                if r.duplicate { "duplicate" } else { "stored" }
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Store `body` from the human for each peer `to` names (a peer of the
/// pair, or `all`), `on_busy` going to the peers that run turns; each
/// recipient with its send result (its delivery state), in order.
pub async fn send_to(
    client: &Client,
    to: &str,
    body: &str,
    on_busy: Option<OnBusy>,
) -> anyhow::Result<Vec<(PeerId, SendResult)>> {
    let status = client.status().await?;
    let targets = targets(&status.peers, to)?;
    let takes_on_busy = |id: &PeerId| {
        status
            .peers
            .get(id.as_str())
            .is_some_and(|p| p.model == Some(DeliveryModel::Turn))
    };
    if on_busy.is_some() && !targets.iter().any(takes_on_busy) {
        anyhow::bail!(
            "--on-busy applies to agents that run turns (codex); drop it or send to one of them"
        );
    }
    // The copies of one fan-out share a key (the first the key, further
    // ones `#<peer>` appended), so a view can tell they are one send.
    let key =
        (targets.len() > 1).then(|| format!("cli-{}", hex::encode(rand::random::<[u8; 8]>())));
    let mut results = Vec::new();
    for (n, to) in targets.into_iter().enumerate() {
        let req = SendRequest {
            from: PeerId::HUMAN,
            to,
            body: body.to_string(),
            on_busy: on_busy.filter(|_| takes_on_busy(&to)),
            in_reply_to: None,
            idempotency_key: crate::daemon::routing::key_for(&key, n, to),
        };
        results.push((to, client.send(&req).await?));
    }
    Ok(results)
}

/// The peers `to` names among the pair's `peers` (`all`/`both`: every
/// one); an unknown name is an error listing them.
fn targets(peers: &BTreeMap<String, PeerStatus>, to: &str) -> anyhow::Result<Vec<PeerId>> {
    let to = to.trim().to_ascii_lowercase();
    let ids: Vec<PeerId> = peers.keys().filter_map(|k| k.parse().ok()).collect();
    if to == "all" || to == "both" {
        // The agents taking part: an optional agent this pair never ran
        // is left out (an older daemon does not say: everyone).
        return Ok(ids
            .into_iter()
            .filter(|id| {
                peers
                    .get(id.as_str())
                    .is_none_or(|p| p.takes_part != Some(false))
            })
            .collect());
    }
    match ids.iter().find(|p| p.as_str() == to) {
        Some(p) => Ok(vec![*p]),
        None => {
            let names: Vec<&str> = ids.iter().map(|p| p.as_str()).collect();
            anyhow::bail!(
                "--to must name a peer of this pair ({}) or all, not {to:?}",
                names.join(", ")
            )
        }
    }
}
