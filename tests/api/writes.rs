//! SQLite's writer commits the transactions queued behind one another as one group, each in a
//! savepoint: one that fails leaves the others of its group committed, and its own writes
//! are gone.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use tokend::db::schema::organizations;
use tokend::db::{self, DbError};

use crate::helpers::{Backend, TestApp, TestResult};

/// Adds organization `id` and fails afterwards when `fail` is set.
fn add_then_maybe_fail(conn: &mut db::DbConnection, id: &str, fail: bool) -> Result<(), DbError> {
    diesel::sql_query(
        "INSERT INTO organizations (id, name, created_at, updated_at) \
         VALUES (?, 'Group', '2026-12-01 00:00:00', '2026-12-01 00:00:00')",
    )
    .bind::<diesel::sql_types::Text, _>(id)
    .execute(conn)?;
    if fail {
        return Err(DbError::Unavailable(format!("{id} fails on purpose")));
    }
    Ok(())
}

#[actix_web::test]
async fn a_failing_transaction_leaves_the_rest_of_its_group_committed() -> TestResult {
    let Some(app) = TestApp::spawn_with(Backend::Sqlite, &[])? else {
        return Ok(());
    };
    let state = app.state()?;
    // Held from outside: the first transaction waits for it in `BEGIN`, the others queue
    // behind it and are committed together once it is released.
    let mut outside = app.connection()?;
    outside.batch_execute("BEGIN IMMEDIATE")?;
    let writes: Vec<_> = (0..6)
        .map(|i| {
            let state = state.clone();
            actix_web::rt::spawn(async move {
                db::transaction(&state.db, move |conn| {
                    add_then_maybe_fail(conn, &format!("g{i}"), i % 2 == 1)
                })
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    outside.batch_execute("ROLLBACK")?;
    for (i, write) in writes.into_iter().enumerate() {
        let result = write.await?;
        assert_eq!(result.is_ok(), i % 2 == 0, "g{i}: {result:?}");
    }
    let stored: Vec<String> = organizations::table
        .filter(organizations::name.eq("Group"))
        .order(organizations::id)
        .select(organizations::id)
        .load(&mut app.connection()?)?;
    assert_eq!(stored, ["g0", "g2", "g4"]);
    Ok(())
}
