//! Raw statements on either backend with typed binds: the usage flush's multi-row upserts and
//! the journal's `… RETURNING` statements, which diesel's query builder does not express.
//! Placeholders are `$1, $2, …`, numbered in the order they appear (each `$` and digits takes
//! the next bind; no statement here has a `$` of its own), and each becomes the backend's own
//! (`?` on SQLite). Unlike `sql_query`, a statement is prepared once per connection and
//! kept: the same text is the same statement (the upserts come in a few fixed sizes).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{BigInt, Binary, HasSqlType, Nullable, Text, Timestamp, Untyped};
use diesel::sqlite::Sqlite;

use crate::db::{self, DbConnection};

/// One typed bind value.
pub enum Bind<'a> {
    /// Text.
    Text(&'a str),
    /// Text or `NULL`.
    OptText(Option<&'a str>),
    /// A 64-bit integer.
    Int(i64),
    /// A timestamp.
    Time(NaiveDateTime),
    /// Bytes (a BLOB, or `bytea`).
    Bytes(&'a [u8]),
}

/// A statement and its binds, in the order of its placeholders.
struct Raw<'q> {
    sql: &'q str,
    binds: &'q [Bind<'q>],
}

db::kept_prepared!(Raw, Untyped);

impl<DB> QueryFragment<DB> for Raw<'_>
where
    DB: Backend
        + HasSqlType<Text>
        + HasSqlType<BigInt>
        + HasSqlType<Timestamp>
        + HasSqlType<Binary>,
    str: diesel::serialize::ToSql<Text, DB>,
    for<'x> Option<&'x str>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    [u8]: diesel::serialize::ToSql<Binary, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut binds = self.binds.iter();
        let mut rest = self.sql;
        while let Some(at) = rest.find('$') {
            let (text, placeholder) = rest.split_at(at);
            out.push_sql(text);
            let digits = placeholder[1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                out.push_sql("$");
            } else {
                let bind = binds.next().ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError("more placeholders than binds".into())
                })?;
                match bind {
                    Bind::Text(v) => out.push_bind_param::<Text, str>(v)?,
                    Bind::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                    Bind::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
                    Bind::Time(v) => out.push_bind_param::<Timestamp, NaiveDateTime>(v)?,
                    Bind::Bytes(v) => out.push_bind_param::<Binary, [u8]>(v)?,
                }
            }
            rest = &placeholder[1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// Runs a statement; returns the rows it changed.
pub fn execute(conn: &mut DbConnection, sql: &str, binds: &[Bind<'_>]) -> QueryResult<usize> {
    let raw = Raw { sql, binds };
    match conn {
        DbConnection::Sqlite(conn) => raw.execute(conn),
        DbConnection::Pg(conn) => raw.execute(conn),
    }
}

/// Runs a statement and reads the rows it returns.
pub fn load<T>(conn: &mut DbConnection, sql: &str, binds: &[Bind<'_>]) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    let raw = Raw { sql, binds };
    match conn {
        DbConnection::Sqlite(conn) => raw.load(conn),
        DbConnection::Pg(conn) => raw.load(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_each_backends_own() {
        let binds = [Bind::Int(3), Bind::Bytes(b"x")];
        let sql = "INSERT INTO usage_journal (part, body) VALUES ($1, $2) RETURNING id";
        let raw = Raw { sql, binds: &binds };
        assert_eq!(
            diesel::debug_query::<Sqlite, _>(&raw).to_string(),
            "INSERT INTO usage_journal (part, body) VALUES (?, ?) RETURNING id -- binds: [3, [120]]"
        );
        assert_eq!(
            diesel::debug_query::<Pg, _>(&raw).to_string(),
            "INSERT INTO usage_journal (part, body) VALUES ($1, $2) RETURNING id -- binds: [3, [120]]"
        );
    }
}
