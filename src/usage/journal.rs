//! The usage journal: the counts of a busy interval (many distinct tokens) appended as one
//! durable row, and folded into the usage tables every [`crate::usage::FOLD_EVERY`]. A token
//! used again and again between two folds then costs one upsert per table per fold instead
//! of one per interval, and a crash still loses at most one interval.
//!
//! Any process may fold any row: a row is deleted in the transaction that applies it (or that
//! merges it into a bigger one), so each use is counted exactly once, whoever folds it.
//!
//! Each token belongs to one of [`PARTS`] parts (by a fixed hash of its id), and a row holds
//! tokens of one part: a fold merges one part at a time, so that merging the counts of 100,000
//! tokens never holds more than a sixteenth of them in memory.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary};
use foldhash::fast::{FixedState, RandomState};

use super::recorder::{Batch, Counted, IpUse, Pending, sort_by_token};
use super::sql::{self, Bind};
use crate::db::DbConnection;

/// One token's counts as stored: id, uses, last use (µs since the epoch) and its address,
/// per address (address, uses, last seen in µs), per day (days since 0001-01-01, uses).
type Entry<Id> = (
    Id,
    i64,
    Option<i64>,
    Option<IpAddr>,
    Vec<(IpAddr, i64, i64)>,
    Vec<(i32, i64)>,
);

fn micros(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp_micros()
}

/// Parts of the journal: each is merged on its own.
pub const PARTS: i32 = 16;

/// The part of a token: the same in every process (a fixed hash).
fn part_of(token_id: &str) -> i32 {
    let parts = u64::try_from(PARTS).unwrap_or(1);
    i32::try_from(FixedState::default().hash_one(token_id) % parts).unwrap_or(0)
}

/// The leading byte of a row in the binary format ([`encode`]). Rows written before it are
/// JSON text, which starts with `[`: both are read ([`decode`]).
const BINARY: u8 = 1;

/// A batch as one row: [`BINARY`], then its entries in postcard (varints, raw strings and
/// addresses). A busy interval holds tens of thousands of tokens, and every row is written
/// once and read once or twice, so its encoding is a large share of the fold's work (and
/// PostgreSQL stores it uncompressed: compressing it cost more than it saved).
fn encode<'a>(batch: impl Iterator<Item = &'a Counted>) -> Vec<u8> {
    let entries: Vec<Entry<&str>> = batch
        .map(|(id, pending)| {
            (
                &**id,
                pending.count,
                pending.last_used_at.map(micros),
                pending.last_ip,
                pending
                    .ips
                    .iter()
                    .map(|used| (used.ip, used.count, micros(used.last_seen_at)))
                    .collect(),
                pending
                    .days
                    .iter()
                    .map(|(day, count)| (day.num_days_from_ce(), *count))
                    .collect(),
            )
        })
        .collect();
    // Strings, numbers and addresses into a vector: serializing them cannot fail.
    postcard::to_extend(&entries, vec![BINARY]).unwrap_or_default()
}

/// Why a stored row could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum Corrupt {
    /// Not the binary format [`encode`] writes.
    #[error("usage journal row is not valid: {0}")]
    Binary(#[from] postcard::Error),
    /// A row from before the binary format that is not its JSON.
    #[error("usage journal row is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// Neither format.
    #[error("usage journal row has an unknown format")]
    Format,
    /// A time or a day out of range.
    #[error("usage journal row holds a time out of range")]
    Range,
}

fn decode(body: &[u8]) -> Result<Batch, Corrupt> {
    match body.split_first() {
        Some((&BINARY, rest)) => batch(postcard::from_bytes::<Vec<Entry<&str>>>(rest)?),
        Some((b'[', _)) => batch(serde_json::from_slice::<Vec<Entry<String>>>(body)?),
        _ => Err(Corrupt::Format),
    }
}

/// The batch of decoded entries.
fn batch<Id: AsRef<str>>(entries: Vec<Entry<Id>>) -> Result<Batch, Corrupt> {
    let time = |us: i64| {
        DateTime::from_timestamp_micros(us)
            .map(|at| at.naive_utc())
            .ok_or(Corrupt::Range)
    };
    entries
        .into_iter()
        .map(|(id, count, last_used_at, last_ip, ips, days)| {
            let pending = Pending {
                count,
                last_used_at: last_used_at.map(time).transpose()?,
                last_ip,
                ips: ips
                    .into_iter()
                    .map(|(ip, count, seen)| {
                        Ok(IpUse {
                            ip,
                            count,
                            last_seen_at: time(seen)?,
                        })
                    })
                    .collect::<Result<_, Corrupt>>()?,
                days: days
                    .into_iter()
                    .map(|(day, count)| {
                        NaiveDate::from_num_days_from_ce_opt(day)
                            .map(|day| (day, count))
                            .ok_or(Corrupt::Range)
                    })
                    .collect::<Result<_, Corrupt>>()?,
            };
            Ok((Arc::from(id.as_ref()), pending))
        })
        .collect()
}

#[derive(QueryableByName)]
struct Body {
    #[diesel(sql_type = Binary)]
    body: Vec<u8>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Stores one row of `part`; returns its id.
fn insert<'a>(
    conn: &mut DbConnection,
    part: i32,
    batch: impl Iterator<Item = &'a Counted>,
) -> QueryResult<i64> {
    let body = encode(batch);
    let rows: Vec<Id> = sql::load(
        conn,
        "INSERT INTO usage_journal (part, body) VALUES ($1, $2) RETURNING id",
        &[Bind::Int(i64::from(part)), Bind::Bytes(&body)],
    )?;
    rows.first()
        .map(|row| row.id)
        .ok_or(diesel::result::Error::NotFound)
}

/// Appends a batch as rows of one part each and at most `per_row` tokens (small rows keep the
/// memory of writing and folding them small).
pub fn append(conn: &mut DbConnection, batch: &[Counted], per_row: usize) -> QueryResult<()> {
    let mut parts: Vec<Vec<&Counted>> = (0..PARTS).map(|_| Vec::new()).collect();
    for entry in batch {
        if let Some(part) = usize::try_from(part_of(&entry.0))
            .ok()
            .and_then(|i| parts.get_mut(i))
        {
            part.push(entry);
        }
    }
    for (part, entries) in (0..PARTS).zip(&parts) {
        for rows in entries.chunks(per_row.max(1)) {
            insert(conn, part, rows.iter().copied())?;
        }
    }
    Ok(())
}

/// A row's batch; a row that cannot be read is logged and dropped (nothing else writes them:
/// it would take a hand in the database), so that it does not stop every fold after it.
fn batch_of(row: &Body) -> Option<Batch> {
    match decode(&row.body) {
        Ok(batch) => Some(batch),
        Err(error) => {
            tracing::error!(%error, "a usage journal row was dropped");
            None
        }
    }
}

/// The ids of the rows of `part`, oldest first.
fn rows_of(conn: &mut DbConnection, part: i32) -> QueryResult<Vec<i64>> {
    let rows: Vec<Id> = sql::load(
        conn,
        "SELECT id FROM usage_journal WHERE part = $1 ORDER BY id",
        &[Bind::Int(i64::from(part))],
    )?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Deletes every row of `part`, one at a time, and writes their counts back merged per token,
/// sorted by token id, as rows of at most `per_row` tokens (call it inside a transaction).
/// Returns the new rows' ids in token order, to be applied with [`take`] (the store's fold
/// applies the rows at the same place of every part together). The part's rows are listed
/// once and then taken by id: finding the oldest row again after each delete walked past the
/// rows already deleted in the transaction, which made a part's merge quadratic.
pub fn coalesce(conn: &mut DbConnection, part: i32, per_row: usize) -> QueryResult<Vec<i64>> {
    let mut merged: HashMap<Arc<str>, Pending, RandomState> = HashMap::default();
    for id in rows_of(conn, part)? {
        for (id, pending) in take(conn, id)?.unwrap_or_default() {
            merged.entry(id).or_default().merge(pending);
        }
    }
    let mut all: Batch = merged.into_iter().collect();
    sort_by_token(&mut all);
    all.chunks(per_row.max(1))
        .map(|rows| insert(conn, part, rows.iter()))
        .collect()
}

/// Deletes row `id` and returns its batch; `None` when another process took it first.
pub fn take(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Batch>> {
    let rows: Vec<Body> = sql::load(
        conn,
        "DELETE FROM usage_journal WHERE id = $1 RETURNING body",
        &[Bind::Int(id)],
    )?;
    Ok(rows.first().and_then(batch_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, micros: u32) -> NaiveDateTime {
        DateTime::from_timestamp(1_800_000_000 + seconds, micros * 1000)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    }

    #[test]
    fn a_batch_reads_back_as_it_was_written() {
        let v4: IpAddr = [203, 0, 113, 7].into();
        let v6: IpAddr = "2001:db8::1".parse().unwrap_or(v4);
        let busy = Pending {
            count: 7,
            last_used_at: Some(at(90_000, 123_456)),
            last_ip: Some(v6),
            ips: [
                IpUse {
                    ip: v4,
                    count: 3,
                    last_seen_at: at(10, 1),
                },
                IpUse {
                    ip: v6,
                    count: 4,
                    last_seen_at: at(90_000, 123_456),
                },
            ]
            .into_iter()
            .collect(),
            days: [(at(10, 0).date(), 3), (at(90_000, 0).date(), 4)]
                .into_iter()
                .collect(),
        };
        let quiet = Pending {
            count: 1,
            last_used_at: Some(at(5, 0)),
            ..Pending::default()
        };
        let batch = vec![("a".into(), busy), ("b\"\\".into(), quiet)];
        let row = encode(batch.iter());
        assert_eq!(row.first(), Some(&BINARY));
        assert_eq!(decode(&row).ok(), Some(batch));
    }

    #[test]
    fn a_row_from_before_the_binary_format_reads_back() {
        let json = br#"[["a\"b", 3, 1800000000000001, "2001:db8::1",
            [["203.0.113.7", 1, 1800000000000000], ["2001:db8::1", 2, 1800000000000001]],
            [[657343, 3]]]]"#;
        let batch = decode(json).unwrap_or_default();
        assert_eq!(batch.len(), 1);
        let (id, pending) = &batch[0];
        assert_eq!(&**id, "a\"b");
        assert_eq!(pending.count, 3);
        assert_eq!(pending.last_used_at, Some(at(0, 1)));
        assert_eq!(pending.last_ip, "2001:db8::1".parse().ok());
        assert_eq!(pending.ips.len(), 2);
        assert_eq!(
            pending.days.iter().next(),
            Some(&(
                NaiveDate::from_num_days_from_ce_opt(657_343).unwrap_or_default(),
                3
            ))
        );
        assert_eq!(
            encode(batch.iter()).first(),
            Some(&BINARY),
            "written back binary"
        );
    }

    #[test]
    fn a_damaged_row_is_refused() {
        assert!(matches!(decode(b"[1, 2]"), Err(Corrupt::Json(_))));
        assert!(matches!(
            decode(br#"[["a", 1, null, null, [], [[2147483647, 1]]]]"#),
            Err(Corrupt::Range)
        ));
        assert!(matches!(decode(&[BINARY, 3, 1]), Err(Corrupt::Binary(_))));
        assert!(matches!(decode(b"{}"), Err(Corrupt::Format)));
        assert!(matches!(decode(b""), Err(Corrupt::Format)));
    }
}
