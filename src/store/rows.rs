//! The seam between SQL rows and the types of `types.rs`: column lists, row mappers and
//! the `ToSql`/`FromSql` impls of the store's enums (their string forms).

use std::str::FromStr;

use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, Type, ValueRef};

use super::types::{
    Delivery, DeliveryLogEntry, DeliveryModel, DeliveryReason, DeliveryState, Event, Message,
    MessageKind, OnBusy, PeerId, Tombstone,
};

macro_rules! sql_enum {
    ($ty:ty) => {
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                <$ty>::from_str(s).map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

sql_enum!(PeerId);
sql_enum!(DeliveryState);
sql_enum!(OnBusy);
sql_enum!(MessageKind);
sql_enum!(DeliveryModel);

impl ToSql for DeliveryReason {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

/// A `reason` column: a name this build does not know reads as no reason (the column
/// has no CHECK, so a newer reason needs no table rebuild).
fn reason_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<DeliveryReason>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| DeliveryReason::from_str(t).ok()),
        _ => None,
    })
}

/// Parse a JSON text column, reporting failures as a column conversion error.
fn json_column(row: &Row<'_>, idx: usize) -> rusqlite::Result<serde_json::Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

/// Read a non-negative count column (`attempts`, `COUNT(*)`) as an unsigned integer.
fn count_column<T: TryFrom<i64>>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let v: i64 = row.get(idx)?;
    T::try_from(v).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, v))
}

/// Columns of `messages`, in the order [`message`] reads them (qualified by `m.`).
pub const MESSAGE_COLUMNS: &str = "m.seq, m.id, m.from_agent, m.to_agent, m.body, m.kind, \
     m.created_ms, m.thread_id, m.turn_id, m.source_item_id, m.in_reply_to, \
     m.idempotency_key, m.on_busy, m.meta";

/// Number of columns in [`MESSAGE_COLUMNS`]; a joined delivery follows at this offset.
pub const MESSAGE_COLUMN_COUNT: usize = 14;

pub fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        seq: row.get(0)?,
        id: row.get(1)?,
        from: row.get(2)?,
        to: row.get(3)?,
        body: row.get(4)?,
        kind: row.get(5)?,
        created_ms: row.get(6)?,
        thread_id: row.get(7)?,
        turn_id: row.get(8)?,
        source_item_id: row.get(9)?,
        in_reply_to: row.get(10)?,
        idempotency_key: row.get(11)?,
        on_busy: row.get(12)?,
        meta: json_column(row, 13)?,
    })
}

/// Columns of `deliveries`, in the order [`delivery`] reads them (qualified by `d.`).
pub const DELIVERY_COLUMNS: &str =
    "d.message_id, d.recipient, d.state, d.detail, d.turn_id, d.attempts, d.updated_ms, d.reason";

/// Read a delivery whose columns start at `at`.
pub fn delivery_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        message_id: row.get(at)?,
        recipient: row.get(at + 1)?,
        state: row.get(at + 2)?,
        reason: reason_column(row, at + 7)?,
        detail: row.get(at + 3)?,
        turn_id: row.get(at + 4)?,
        attempts: count_column(row, at + 5)?,
        updated_ms: row.get(at + 6)?,
    })
}

pub fn delivery(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    delivery_at(row, 0)
}

pub const LOG_COLUMNS: &str = "seq, message_id, recipient, state, detail, ts_ms, reason";

pub fn log_entry(row: &Row<'_>) -> rusqlite::Result<DeliveryLogEntry> {
    Ok(DeliveryLogEntry {
        seq: row.get(0)?,
        message_id: row.get(1)?,
        recipient: row.get(2)?,
        state: row.get(3)?,
        reason: reason_column(row, 6)?,
        detail: row.get(4)?,
        ts_ms: row.get(5)?,
    })
}

pub fn event(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        ts_ms: row.get(1)?,
        kind: row.get(2)?,
        data: json_column(row, 3)?,
    })
}

pub fn tombstone(row: &Row<'_>) -> rusqlite::Result<Tombstone> {
    Ok(Tombstone {
        key: row.get(0)?,
        created_ms: row.get(1)?,
        data: json_column(row, 2)?,
    })
}

/// A `(recipient, state, count)` row of a `GROUP BY` over deliveries.
pub fn state_count(row: &Row<'_>) -> rusqlite::Result<(PeerId, DeliveryState, u64)> {
    Ok((row.get(0)?, row.get(1)?, count_column(row, 2)?))
}

/// A single `COUNT(*)` value.
pub fn count(row: &Row<'_>) -> rusqlite::Result<u64> {
    count_column(row, 0)
}
