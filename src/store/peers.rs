//! Who takes part in the pair, as data: the `peers` table (schema V4) names each peer
//! and its [`DeliveryModel`] (none: it only sends). The store decides a recipient's
//! delivery state machine from here, never from who the peer is. The table is read
//! once at open and kept in memory; [`Store::register_peer`] writes through.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use super::Store;
use super::error::{Result, StoreError};
use super::types::{DeliveryModel, PeerId};

/// Peers and their delivery models, as the store knows them.
pub type Peers = BTreeMap<String, Option<DeliveryModel>>;

/// Read the `peers` table.
pub(super) fn load(conn: &Connection) -> Result<Peers> {
    Ok(conn
        .prepare("SELECT id, delivery FROM peers")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Peers>>()?)
}

impl Store {
    /// Add `id` as a peer, or change how it takes messages (`None`: it only sends).
    /// The daemon registers its peers at boot; the four of earlier versions are there
    /// from the migration on. Durable when this returns.
    /// The id's syntax ([`PeerId`]: a-z, 0-9 and '-') makes it safe to write
    /// into SQL as a literal, which the queue queries do (see `queue`).
    pub fn register_peer(&mut self, peer: PeerId, model: Option<DeliveryModel>) -> Result<()> {
        let id = peer.as_str();
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
