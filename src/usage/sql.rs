//! Raw statements on either backend with typed binds: the usage flush's multi-row upserts and
//! the journal's `… RETURNING` statements, which diesel's query builder does not express.
//! Placeholders are `$1, $2, …` (PostgreSQL's, and a name SQLite binds by position) or `?`
//! on SQLite alone.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Binary, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::db::DbConnection;

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

fn bind_all<'a, DB>(
    mut query: BoxedSqlQuery<'a, DB, SqlQuery>,
    binds: &[Bind<'a>],
) -> BoxedSqlQuery<'a, DB, SqlQuery>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Timestamp>
        + diesel::sql_types::HasSqlType<Binary>,
    &'a str: diesel::serialize::ToSql<Text, DB>,
    Option<&'a str>: diesel::serialize::ToSql<Nullable<Text>, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    &'a [u8]: diesel::serialize::ToSql<Binary, DB>,
{
    for bind in binds {
        query = match bind {
            Bind::Text(v) => query.bind::<Text, _>(*v),
            Bind::OptText(v) => query.bind::<Nullable<Text>, _>(*v),
            Bind::Int(v) => query.bind::<BigInt, _>(*v),
            Bind::Time(v) => query.bind::<Timestamp, _>(*v),
            Bind::Bytes(v) => query.bind::<Binary, _>(*v),
        };
    }
    query
}

/// Runs a statement; returns the rows it changed.
pub fn execute(conn: &mut DbConnection, sql: &str, binds: &[Bind<'_>]) -> QueryResult<usize> {
    match conn {
        DbConnection::Sqlite(conn) => {
            bind_all(diesel::sql_query(sql).into_boxed(), binds).execute(conn)
        }
        DbConnection::Pg(conn) => {
            bind_all(diesel::sql_query(sql).into_boxed(), binds).execute(conn)
        }
    }
}

/// Runs a statement and reads the rows it returns.
pub fn load<T>(conn: &mut DbConnection, sql: &str, binds: &[Bind<'_>]) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        DbConnection::Sqlite(conn) => {
            bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn)
        }
        DbConnection::Pg(conn) => bind_all(diesel::sql_query(sql).into_boxed(), binds).load(conn),
    }
}
