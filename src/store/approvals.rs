//! The approvals inbox: requests an agent put to the human (run this command,
//! change these files, …), one row each, keyed by the agent's own id for the
//! request so a replay is the same row. Only a `pending` row moves, in one
//! conditional UPDATE: the first answer wins exactly once, and a later one is
//! told which state the row is in and how and when it got there.

use rusqlite::{OptionalExtension, Row, params};

use super::error::{Result, StoreError};
use super::types::{AnsweredVia, Approval, ApprovalState, NewApproval};
use super::{Store, new_approval_id, now_ms, sql_limit};

const COLUMNS: &str = "id, peer, request_key, kind, detail, options, state, created_ms, \
     expires_ms, answered_ms, answered_by, answered_via, decision";

/// Longest accepted request key, in bytes.
const MAX_KEY_LEN: usize = 512;

/// How an answer closes a pending approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// The state it moves to (any but `pending`).
    pub to: ApprovalState,
    /// The verdict to keep (`{"decision": …, "reason": …}`).
    pub decision: Option<serde_json::Value>,
    /// Who answered (`human`), when known.
    pub by: Option<String>,
    pub via: AnsweredVia,
}

fn json_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<serde_json::Value>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

fn approval(row: &Row<'_>) -> rusqlite::Result<Approval> {
    let options = json_col(row, 5)?
        .map(serde_json::from_value::<Vec<String>>)
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
        })?;
    let text = |idx: usize| -> rusqlite::Result<String> { row.get(idx) };
    let parse = |idx: usize, e: super::types::ParseEnumError| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    };
    Ok(Approval {
        id: row.get(0)?,
        peer: text(1)?.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, Box::new(e))
        })?,
        request_key: row.get(2)?,
        kind: text(3)?.parse().map_err(|e| parse(3, e))?,
        detail: json_col(row, 4)?.unwrap_or_default(),
        options,
        state: text(6)?.parse().map_err(|e| parse(6, e))?,
        created_ms: row.get(7)?,
        expires_ms: row.get(8)?,
        answered_ms: row.get(9)?,
        answered_by: row.get(10)?,
        answered_via: row
            .get::<_, Option<String>>(11)?
            .map(|v| v.parse().map_err(|e| parse(11, e)))
            .transpose()?,
        decision: json_col(row, 12)?,
    })
}

impl Store {
    /// Store an approval request as `pending`. A request with the `(peer,
    /// request_key)` of one already stored is not written again: the stored
    /// row comes back with `false`.
    pub fn insert_approval(&mut self, new: &NewApproval) -> Result<(Approval, bool)> {
        if new.request_key.is_empty() || new.request_key.len() > MAX_KEY_LEN {
            return Err(StoreError::InvalidInput(format!(
                "an approval's request key must be 1 to {MAX_KEY_LEN} bytes"
            )));
        }
        if !self.peers.contains_key(new.peer.as_str()) {
            return Err(StoreError::InvalidInput(format!(
                "{} is not a peer of this store",
                new.peer
            )));
        }
        let detail = serde_json::to_string(&new.detail)?;
        let options = new
            .options
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let added = self
            .conn
            .prepare_cached(
                "INSERT INTO approvals (id, peer, request_key, kind, detail, options, state, \
                 created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8) \
                 ON CONFLICT (peer, request_key) DO NOTHING",
            )?
            .execute(params![
                new_approval_id(),
                new.peer.as_str(),
                new.request_key,
                new.kind.as_str(),
                detail,
                options,
                now_ms(),
                new.expires_ms
            ])?;
        let row = self
            .approval_by_key(new.peer.as_str(), &new.request_key)?
            .ok_or_else(|| StoreError::NotFound {
                what: "approval",
                key: new.request_key.clone(),
            })?;
        Ok((row, added == 1))
    }

    /// The approval `id`.
    pub fn get_approval(&self, id: &str) -> Result<Option<Approval>> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], approval)
            .optional()?)
    }

    /// The approval `peer` knows as `request_key`.
    pub fn approval_by_key(&self, peer: &str, request_key: &str) -> Result<Option<Approval>> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE peer = ?1 AND request_key = ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([peer, request_key], approval)
            .optional()?)
    }

    /// Up to `limit` approvals in `state` (every state when `None`): pending
    /// ones first, oldest first; then the others, newest first.
    pub fn list_approvals(
        &self,
        state: Option<ApprovalState>,
        limit: usize,
    ) -> Result<Vec<Approval>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM approvals WHERE ?1 IS NULL OR state = ?1 \
             ORDER BY state <> 'pending', \
             CASE WHEN state = 'pending' THEN rowid END ASC, rowid DESC LIMIT ?2"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![state.map(|s| s.as_str()), sql_limit(limit)],
                approval,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many approvals wait for an answer.
    pub fn pending_approvals(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM approvals WHERE state = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Answer the pending approval `id`: one conditional UPDATE, so of two
    /// answers racing exactly one wins. A row that is not pending any more
    /// is [`StoreError::ApprovalClosed`] (naming its state and how it was
    /// answered); an unknown id [`StoreError::NotFound`].
    pub fn resolve_approval(&mut self, id: &str, how: &Resolution) -> Result<Approval> {
        if how.to == ApprovalState::Pending {
            return Err(StoreError::InvalidInput(
                "an answer must move an approval out of pending".into(),
            ));
        }
        let decision = how
            .decision
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let sql = format!(
            "UPDATE approvals SET state = ?2, answered_ms = ?3, answered_by = ?4, \
             answered_via = ?5, decision = ?6 WHERE id = ?1 AND state = 'pending' \
             RETURNING {COLUMNS}"
        );
        let moved = self
            .conn
            .prepare_cached(&sql)?
            .query_row(
                params![
                    id,
                    how.to.as_str(),
                    now_ms(),
                    how.by,
                    how.via.as_str(),
                    decision
                ],
                approval,
            )
            .optional()?;
        match moved {
            Some(row) => Ok(row),
            None => Err(self.closed(id)?),
        }
    }

    /// A verdict abg could not hand to the agent: the approval `id`, answered
    /// as `from`, becomes `abandoned`, its decision kept with `error` beside
    /// it (nothing was allowed on anyone's behalf).
    pub fn abandon_approval(
        &mut self,
        id: &str,
        from: ApprovalState,
        error: &str,
    ) -> Result<Approval> {
        let sql = format!(
            "UPDATE approvals SET state = 'abandoned', \
             decision = json_set(COALESCE(decision, '{{}}'), '$.error', ?3) \
             WHERE id = ?1 AND state = ?2 RETURNING {COLUMNS}"
        );
        let moved = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![id, from.as_str(), error], approval)
            .optional()?;
        match moved {
            Some(row) => Ok(row),
            None => Err(self.closed(id)?),
        }
    }

    /// The error for an answer to `id` that found it not in the state it needed.
    fn closed(&self, id: &str) -> Result<StoreError> {
        Ok(match self.get_approval(id)? {
            Some(row) => StoreError::ApprovalClosed {
                id: row.id.clone(),
                state: row.state,
                how: row.answered_text(),
            },
            None => StoreError::NotFound {
                what: "approval",
                key: id.to_owned(),
            },
        })
    }
}
