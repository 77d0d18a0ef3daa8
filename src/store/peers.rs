//! Who takes part in the pair, as data: the `peers` table (schema V4) names each peer
//! and its [`DeliveryModel`] (none: it only sends). The store decides a recipient's
//! delivery state machine from here, never from who the peer is. The table is read
//! once at open and kept in memory; [`Store::register_peer`] writes through.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::Store;
use super::error::{Result, StoreError};
use super::types::DeliveryModel;

/// Longest peer id, in bytes.
pub const MAX_PEER_ID: usize = 32;

/// Peers and their delivery models, as the store knows them.
pub type Peers = BTreeMap<String, Option<DeliveryModel>>;

/// Read the `peers` table.
pub(super) fn load(conn: &Connection) -> Result<Peers> {
    Ok(conn
        .prepare("SELECT id, delivery FROM peers")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Peers>>()?)
}

/// A peer id is 1 to [`MAX_PEER_ID`] bytes of `a-z`, `0-9`, `_` and `-`, starting with
/// a letter: safe to write into SQL as a literal (the queue queries do, see `queue`).
fn valid_id(id: &str) -> bool {
    id.len() <= MAX_PEER_ID
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl Store {
    /// Add `id` as a peer, or change how it takes messages (`None`: it only sends).
    /// The daemon registers its peers at boot; the four of earlier versions are there
    /// from the migration on. Durable when this returns.
    pub fn register_peer(&mut self, id: &str, model: Option<DeliveryModel>) -> Result<()> {
        if !valid_id(id) {
            return Err(StoreError::InvalidInput(format!(
                "peer id {id:?} must be 1 to {MAX_PEER_ID} characters of a-z, 0-9, _ and -, starting with a letter"
            )));
        }
        if self.peers.get(id) == Some(&model) {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT INTO peers (id, delivery) VALUES (?1, ?2) \
                 ON CONFLICT(id) DO UPDATE SET delivery = excluded.delivery",
            )?
            .execute(params![id, model])?;
        self.peers.insert(id.to_owned(), model);
        Ok(())
    }

    /// How `peer` takes messages: `None` when it only sends or is not a peer.
    pub fn delivery_model(&self, peer: &str) -> Option<DeliveryModel> {
        self.peers.get(peer).copied().flatten()
    }

    /// Every peer with its delivery model.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }
}

/// The delivery model of `peer` in `peers`, or the error for one that cannot receive.
pub(super) fn model_of(peers: &Peers, peer: &str) -> Result<DeliveryModel> {
    peers
        .get(peer)
        .copied()
        .flatten()
        .ok_or_else(|| StoreError::InvalidInput(format!("{peer} cannot receive messages")))
}
