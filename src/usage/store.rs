//! The database side: writing batches in multi-row statements, one short transaction per 512
//! tokens (a few statements each, whatever the number of tokens used, each prepared once per
//! connection); a busy interval goes to the journal first (`journal.rs`) and is folded every
//! [`FOLD_EVERY`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::journal;
use super::recorder::{Batch, Counted, IpUse, Recorder, sort_by_token};
use super::sql::{self, Bind};
use crate::db::schema::{token_ips, tokens};
use crate::db::{self, Database, DbConnection, DbError};

/// Tokens per transaction: a full chunk is one statement per table ([`MOST_ROWS`]).
const CHUNK: usize = MOST_ROWS;

/// Multi-row statements, built for one backend.
struct Sql {
    postgres: bool,
    text: String,
    next: usize,
}

impl Sql {
    fn new(postgres: bool, head: &str) -> Self {
        Self {
            postgres,
            text: head.to_owned(),
            next: 0,
        }
    }

    /// Appends one `(…)` row with a placeholder per column (PostgreSQL casts each to its type),
    /// comma-separated after the first row.
    fn row(&mut self, casts: &[&str]) {
        if self.next > 0 {
            self.text.push_str(", ");
        }
        self.text.push('(');
        for (i, cast) in casts.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.next += 1;
            self.text.push('$');
            self.text.push_str(&self.next.to_string());
            if self.postgres {
                self.text.push_str(cast);
            }
        }
        self.text.push(')');
    }
}

/// The most rows one statement writes (4 parameters each: well under both backends' limits).
const MOST_ROWS: usize = 512;

/// How many rows each statement of an upsert of `rows` rows writes: powers of two, largest
/// first, so that every statement has one of a few texts, each prepared once per connection.
fn statement_sizes(mut rows: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let size = 1 << rows.min(MOST_ROWS).checked_ilog2()?;
        rows -= size;
        Some(size)
    })
}

/// A multi-row `INSERT … VALUES (…), (…) ON CONFLICT …` as statements of [`statement_sizes`]:
/// `binds` holds the rows one after the other, `casts` names each column's type
/// (PostgreSQL). Each statement comes with its share of `binds`; nothing to write, none.
fn upserts<'b, 'v>(
    conn: &DbConnection,
    head: &str,
    casts: &[&str],
    binds: &'b [Bind<'v>],
    on_conflict: &str,
) -> Vec<(String, &'b [Bind<'v>])> {
    let postgres = matches!(conn, DbConnection::Pg(_));
    let mut rest = binds;
    let mut statements = Vec::new();
    for rows in statement_sizes(binds.len() / casts.len()) {
        let (these, after) = rest.split_at(rows * casts.len());
        let mut sql = Sql::new(postgres, head);
        for _ in 0..rows {
            sql.row(casts);
        }
        sql.text.push_str(on_conflict);
        statements.push((sql.text, these));
        rest = after;
    }
    statements
}

/// Runs the [`upserts`] of `binds`.
fn upsert(
    conn: &mut DbConnection,
    head: &str,
    casts: &[&str],
    binds: &[Bind<'_>],
    on_conflict: &str,
) -> QueryResult<()> {
    for (sql, these) in upserts(conn, head, casts, binds, on_conflict) {
        sql::execute(conn, &sql, these)?;
    }
    Ok(())
}

/// Counts, last use and last address of each token, in one upsert.
fn upsert_totals(conn: &mut DbConnection, chunk: &[&Counted]) -> QueryResult<()> {
    let ips: Vec<Option<String>> = chunk
        .iter()
        .map(|(_, pending)| pending.last_ip.map(|ip| ip.to_string()))
        .collect();
    let mut binds = Vec::with_capacity(chunk.len() * 4);
    for ((token_id, pending), ip) in chunk.iter().map(|e| (&e.0, &e.1)).zip(&ips) {
        if let Some(at) = pending.last_used_at {
            binds.extend([
                Bind::Text(token_id),
                Bind::Int(pending.count),
                Bind::Time(at),
                Bind::OptText(ip.as_deref()),
            ]);
        }
    }
    upsert(
        conn,
        "INSERT INTO token_usage (token_id, usage_count, last_used_at, last_used_ip) VALUES ",
        &["::text", "::bigint", "::timestamp", "::text"],
        &binds,
        " ON CONFLICT (token_id) DO UPDATE SET \
        usage_count = token_usage.usage_count + excluded.usage_count, \
        last_used_ip = CASE WHEN excluded.last_used_at >= token_usage.last_used_at \
            THEN COALESCE(excluded.last_used_ip, token_usage.last_used_ip) \
            ELSE token_usage.last_used_ip END, \
        last_used_at = CASE WHEN excluded.last_used_at >= token_usage.last_used_at \
            THEN excluded.last_used_at ELSE token_usage.last_used_at END",
    )
}

/// Daily counts, one upsert for the chunk.
fn upsert_days(conn: &mut DbConnection, chunk: &[&Counted]) -> QueryResult<()> {
    let days: Vec<(&str, String, i64)> = chunk
        .iter()
        .flat_map(|(token_id, pending)| {
            pending
                .days
                .iter()
                .map(move |(day, count)| (&**token_id, day.to_string(), *count))
        })
        .collect();
    let binds: Vec<Bind<'_>> = days
        .iter()
        .flat_map(|(token_id, day, count)| {
            [Bind::Text(token_id), Bind::Text(day), Bind::Int(*count)]
        })
        .collect();
    upsert(
        conn,
        "INSERT INTO token_usage_daily (token_id, day, count) VALUES ",
        &["::text", "::text", "::bigint"],
        &binds,
        " ON CONFLICT (token_id, day) DO UPDATE SET count = token_usage_daily.count + excluded.count",
    )
}

/// An address row as an upsert left it.
#[derive(QueryableByName)]
struct AddressCount {
    #[diesel(sql_type = Text)]
    token_id: String,
    #[diesel(sql_type = Text)]
    ip: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Per-address counts, one upsert for the chunk. Returns the tokens that gained an address row:
/// only they can have gone over [`KEPT_IPS`]. A row the upsert inserted holds the chunk's
/// count; one it updated holds more, as every stored row counts at least one use.
fn upsert_ips(conn: &mut DbConnection, chunk: &[&Counted]) -> QueryResult<Vec<String>> {
    let ips: Vec<(&str, String, &IpUse)> = chunk
        .iter()
        .flat_map(|(token_id, pending)| {
            pending
                .ips
                .iter()
                .map(move |used| (&**token_id, used.ip.to_string(), used))
        })
        .collect();
    let binds: Vec<Bind<'_>> = ips
        .iter()
        .flat_map(|(token_id, ip, used)| {
            [
                Bind::Text(token_id),
                Bind::Text(ip),
                Bind::Time(used.last_seen_at),
                Bind::Int(used.count),
            ]
        })
        .collect();
    let mut stored: Vec<AddressCount> = Vec::new();
    for (sql, these) in upserts(
        conn,
        "INSERT INTO token_ips (token_id, ip, last_seen_at, count) VALUES ",
        &["::text", "::text", "::timestamp", "::bigint"],
        &binds,
        " ON CONFLICT (token_id, ip) DO UPDATE SET count = token_ips.count + excluded.count, \
         last_seen_at = CASE WHEN excluded.last_seen_at > token_ips.last_seen_at \
         THEN excluded.last_seen_at ELSE token_ips.last_seen_at END \
         RETURNING token_id, ip, count",
    ) {
        stored.extend(sql::load::<AddressCount>(conn, &sql, these)?);
    }
    let counted: HashMap<(&str, &str), i64> = ips
        .iter()
        .map(|(token_id, ip, used)| ((*token_id, ip.as_str()), used.count))
        .collect();
    let gained: HashSet<&str> = stored
        .iter()
        .filter(|row| counted.get(&(&*row.token_id, &*row.ip)) == Some(&row.count))
        .map(|row| &*row.token_id)
        .collect();
    Ok(gained.into_iter().map(str::to_owned).collect())
}

/// Addresses kept per token (DESIGN §10: what grows is bounded): the most recent ones.
pub const KEPT_IPS: i64 = 50;

/// Drops the addresses of `ids` beyond their `KEPT_IPS` most recent, in the order of
/// `recent_ips` (latest first, then by address). One query finds the tokens over the bound
/// (usually none); each of those costs two more.
fn cap_ips(conn: &mut DbConnection, ids: &[String]) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let crowded: Vec<String> = token_ips::table
        .filter(token_ips::token_id.eq_any(ids))
        .group_by(token_ips::token_id)
        .having(diesel::dsl::count_star().gt(KEPT_IPS))
        .select(token_ips::token_id)
        .load(conn)?;
    for token_id in crowded {
        let last_kept: Option<(NaiveDateTime, String)> = token_ips::table
            .filter(token_ips::token_id.eq(&token_id))
            .order((token_ips::last_seen_at.desc(), token_ips::ip))
            .offset(KEPT_IPS - 1)
            .select((token_ips::last_seen_at, token_ips::ip))
            .first(conn)
            .optional()?;
        let Some((at, ip)) = last_kept else {
            continue;
        };
        let older = token_ips::last_seen_at
            .lt(at)
            .or(token_ips::last_seen_at.eq(at).and(token_ips::ip.gt(ip)));
        diesel::delete(
            token_ips::table
                .filter(token_ips::token_id.eq(&token_id))
                .filter(older),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Writes one chunk of a batch (call it inside a transaction). Tokens deleted since their use
/// are skipped: the chunk is written whole in a savepoint, as nearly always every token still
/// exists, and only when a foreign key refuses it are the live tokens looked up and written.
fn write(conn: &mut DbConnection, chunk: &[Counted]) -> QueryResult<()> {
    let all: Vec<&Counted> = chunk.iter().collect();
    match conn.transaction(|conn| write_rows(conn, &all)) {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        )) => {}
        done => return done,
    }
    let ids: Vec<&str> = chunk.iter().map(|(id, _)| &**id).collect();
    let live: HashSet<String> = tokens::table
        .filter(tokens::id.eq_any(&ids))
        .select(tokens::id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let present: Vec<&Counted> = chunk
        .iter()
        .filter(|(id, _)| live.contains(&**id))
        .collect();
    write_rows(conn, &present)
}

/// The totals, daily counts and addresses of tokens that exist.
fn write_rows(conn: &mut DbConnection, present: &[&Counted]) -> QueryResult<()> {
    if present.is_empty() {
        return Ok(());
    }
    upsert_totals(conn, present)?;
    upsert_days(conn, present)?;
    let gained = upsert_ips(conn, present)?;
    cap_ips(conn, &gained)
}

/// Distinct tokens in one interval from which its counts go to the journal instead of the
/// usage tables (a quiet interval is written directly: nothing to coalesce).
pub const JOURNAL_FROM: usize = 1_000;

/// How long journaled counts wait to be folded: how far behind the usage tables may be in a
/// busy time (GitLab writes `last_used_at` at most every 10 minutes). A token used every few
/// seconds is then written once per fold instead of once every few intervals: with 100,000
/// tokens in use, folding every 10 s cost the writer half as much CPU per introspection as
/// answering it.
pub const FOLD_EVERY: Duration = Duration::from_secs(30);

/// Where one interval's counts went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Written to the usage tables: this many tokens.
    Written(usize),
    /// Appended to the journal (rows of up to 512 tokens of one part), to be folded: this
    /// many tokens.
    Journaled(usize),
}

/// Writes a batch to the usage tables in chunks, one transaction each (taking turns with the
/// other writers: SQLite has one writer at a time, so a large batch never holds token writes
/// up for long). On failure the chunks not yet written go back to the recorder.
async fn write_batch(
    recorder: &Recorder,
    db: &Database,
    mut batch: Batch,
) -> Result<usize, DbError> {
    sort_by_token(&mut batch);
    let tokens = batch.len();
    // Split once (each entry moves once, however large the batch).
    let mut entries = batch.into_iter().peekable();
    let mut chunks = Vec::with_capacity(tokens.div_ceil(CHUNK));
    while entries.peek().is_some() {
        chunks.push(entries.by_ref().take(CHUNK).collect::<Vec<_>>());
    }
    let mut chunks = chunks.into_iter();
    while let Some(chunk) = chunks.next() {
        if let Err((error, mut unwritten)) = in_transaction(db, chunk, write).await {
            unwritten.extend(chunks.flatten());
            recorder.restore(unwritten);
            return Err(error);
        }
    }
    Ok(tokens)
}

/// What is done with a batch in one transaction: written, or journaled.
type BatchWork = fn(&mut DbConnection, &[Counted]) -> QueryResult<()>;

/// Runs `work` on `batch` in a transaction of its own; on failure the batch comes back with
/// the error, to go back to the recorder.
async fn in_transaction(
    db: &Database,
    batch: Batch,
    work: BatchWork,
) -> Result<(), (DbError, Batch)> {
    let shared = Arc::new(batch);
    let given = Arc::clone(&shared);
    let result = db::transaction(db, move |conn| Ok::<_, DbError>(work(conn, &given)?)).await;
    result.map_err(|error| {
        let batch = Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
        (error, batch)
    })
}

/// Records a flush's duration and logs it.
fn flushed(started: Instant, what: Flushed) {
    metrics::counter!("tokend_usage_flush_batches_total").increment(1);
    metrics::histogram!("tokend_usage_flush_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    tracing::debug!(
        ?what,
        elapsed_ms = started.elapsed().as_millis(),
        "usage flushed"
    );
}

/// One interval's counts: a busy interval (at least [`JOURNAL_FROM`] tokens) is appended to the
/// journal in one transaction, a quiet one written to the usage tables. On failure the counts go
/// back to the recorder for the next try. `None` when nothing was counted.
pub async fn flush_interval(
    recorder: &Recorder,
    db: &Database,
) -> Result<Option<Flushed>, DbError> {
    let batch = recorder.take();
    if batch.is_empty() {
        return Ok(None);
    }
    let started = Instant::now();
    let what = if batch.len() >= JOURNAL_FROM {
        let tokens = batch.len();
        if let Err((error, unwritten)) =
            in_transaction(db, batch, |conn, batch| journal::append(conn, batch, CHUNK)).await
        {
            recorder.restore(unwritten);
            return Err(error);
        }
        Flushed::Journaled(tokens)
    } else {
        Flushed::Written(write_batch(recorder, db, batch).await?)
    };
    flushed(started, what);
    Ok(Some(what))
}

/// Tokens per merged journal row: a write transaction takes one row of each part, so that it
/// still writes about [`CHUNK`] tokens.
const FOLDED_ROW: usize = CHUNK / journal::PARTS.unsigned_abs() as usize;

/// Folds the journal into the usage tables. First each part in turn (every row of it, this
/// process's and any other's) is merged per token into rows of [`FOLDED_ROW`] tokens in token
/// order, in one transaction per part. Then each write transaction takes the rows at the same
/// relative place of every part and writes and deletes them: parts are even random samples of
/// the tokens, so those rows hold neighbouring token ids, and the transaction rewrites a few
/// pages of each usage table instead of one page per token. Returns the number of tokens
/// written. Whatever fails stays in the journal for the next fold.
pub async fn fold(db: &Database) -> Result<usize, DbError> {
    let mut parts = Vec::new();
    for part in 0..journal::PARTS {
        parts.push(
            db::transaction(db, move |conn| {
                Ok::<_, DbError>(journal::coalesce(conn, part, FOLDED_ROW)?)
            })
            .await?,
        );
    }
    let mut tokens = 0;
    for rows in aligned(&parts) {
        tokens += db::transaction(db, move |conn| {
            let mut batch = Batch::new();
            for id in rows {
                batch.extend(journal::take(conn, id)?.unwrap_or_default());
            }
            sort_by_token(&mut batch);
            write(conn, &batch)?;
            Ok::<_, DbError>(batch.len())
        })
        .await?;
    }
    Ok(tokens)
}

/// Groups the merged rows of every part (each in token order) by relative place: there are as
/// many groups as the longest part has rows, and each row goes to the group at the middle of
/// the stretch of its part that it holds.
fn aligned(parts: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let count = parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut groups = vec![Vec::new(); count];
    for rows in parts {
        for (place, &id) in rows.iter().enumerate() {
            let middle = (2 * place + 1) * count / (2 * rows.len());
            if let Some(group) = groups.get_mut(middle) {
                group.push(id);
            }
        }
    }
    groups
}

/// Writes everything counted so far, and folds the journal, so that the usage tables hold
/// every use (at shutdown, and in tests). On failure the counts not yet written go back for the
/// next try. Returns the number of tokens written.
pub async fn flush(recorder: &Recorder, db: &Database) -> Result<usize, DbError> {
    let batch = recorder.take();
    let mut tokens = 0;
    if !batch.is_empty() {
        let started = Instant::now();
        tokens = write_batch(recorder, db, batch).await?;
        flushed(started, Flushed::Written(tokens));
    }
    Ok(tokens + fold(db).await?)
}

/// Flushes every `interval` until `stopped` is set, folding the journal [`FOLD_EVERY`] after
/// its first unfolded row. It first folds what a process stopped without its final flush left
/// in the journal.
pub async fn run_flusher(
    recorder: &Recorder,
    db: &Database,
    interval: Duration,
    stopped: Arc<AtomicBool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    // Due at once: the journal may hold what a process stopped without its final flush left.
    let mut fold_due = Some(Instant::now());
    while !stopped.load(Ordering::Relaxed) {
        if fold_due.is_some_and(|due| due <= Instant::now()) {
            match fold(db).await {
                Ok(_) => fold_due = None,
                Err(error) => tracing::warn!(%error, "usage fold failed; the journal keeps it"),
            }
        }
        ticker.tick().await;
        match flush_interval(recorder, db).await {
            Ok(Some(Flushed::Journaled(_))) => {
                fold_due.get_or_insert_with(|| Instant::now() + FOLD_EVERY);
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "usage flush failed; counts kept for the next try");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_and_cast_for_postgres_only() {
        let mut pg = Sql::new(true, "V ");
        pg.row(&["::text", "::bigint"]);
        pg.row(&["::text", "::bigint"]);
        assert_eq!(pg.text, "V ($1::text, $2::bigint), ($3::text, $4::bigint)");
        let mut lite = Sql::new(false, "V ");
        lite.row(&["::text", "::bigint"]);
        lite.row(&["::text", "::bigint"]);
        assert_eq!(lite.text, "V ($1, $2), ($3, $4)");
    }

    #[test]
    fn upserts_come_in_a_few_sizes() {
        let sizes = |rows| statement_sizes(rows).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(500), [256, 128, 64, 32, 16, 4]);
        assert_eq!(sizes(512), [512]);
        assert_eq!(sizes(1100), [512, 512, 64, 8, 4]);
    }

    #[test]
    fn a_fold_groups_the_rows_at_the_same_place_of_every_part() {
        let parts = vec![vec![10, 11, 12, 13], vec![20, 21], vec![], vec![30, 31, 32]];
        let groups = aligned(&parts);
        assert_eq!(
            groups,
            vec![vec![10, 30], vec![11, 20], vec![12, 31], vec![13, 21, 32]]
        );
        let mut every: Vec<i64> = groups.concat();
        every.sort_unstable();
        assert_eq!(every, parts.concat(), "each row exactly once");
    }
}
