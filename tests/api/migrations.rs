//! Migrations apply, revert and apply again on both backends.

use diesel::prelude::*;
use tokend::db::{DatabaseUrl, revert_all, run_pending};

use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

on_both_backends!(migrations_go_up_down_and_up_again);

const TABLES: [&str; 12] = [
    "organizations",
    "users",
    "memberships",
    "projects",
    "tokens",
    "token_scopes",
    "token_organizations",
    "token_projects",
    "token_usage",
    "token_usage_daily",
    "token_ips",
    "audit_events",
];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count_rows(app: &TestApp, table: &str) -> TestResult<i64> {
    let mut conn = app.connection()?;
    let row: Count =
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(&mut conn)?;
    Ok(row.n)
}

async fn migrations_go_up_down_and_up_again(app: TestApp) -> TestResult {
    let url = DatabaseUrl::parse(&app.database_url)?;
    for table in TABLES {
        assert_eq!(count_rows(&app, table)?, 0, "{table} exists after start-up");
    }
    assert!(run_pending(&url)?.is_empty(), "start-up applied everything");

    let reverted = revert_all(&url)?;
    assert_eq!(reverted.len(), 2, "both migrations reverted");
    for table in TABLES {
        assert!(
            count_rows(&app, table).is_err(),
            "{table} still exists after revert"
        );
    }

    let applied = run_pending(&url)?;
    let newest_first: Vec<_> = applied.iter().rev().cloned().collect();
    assert_eq!(
        newest_first, reverted,
        "the same migrations, applied in order"
    );
    for table in TABLES {
        assert_eq!(
            count_rows(&app, table)?,
            0,
            "{table} missing after re-apply"
        );
    }
    Ok(())
}
