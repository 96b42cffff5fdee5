//! Migrations apply, revert and apply again on both backends.

use diesel::prelude::*;
use tokend::db::{DatabaseUrl, revert_all, revert_newest, run_pending};

use crate::fixtures::{Directory, personal};
use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

on_both_backends!(
    migrations_go_up_down_and_up_again,
    usage_is_carried_down_and_up_the_usage_migration,
    the_paging_migration_copies_each_token_creation_time,
    the_clustering_migration_keeps_every_row,
    journal_rows_written_before_the_binary_format_are_folded,
    the_journal_is_stored_uncompressed,
    the_count_indexes_come_and_go
);

const TABLES: [&str; 13] = [
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
    "usage_journal",
    "audit_events",
];

// The migrations these tests are about, by version.
const USAGE_TABLES: &str = "20261123000001";
const LIST_PAGING: &str = "20261202000001";
const CLUSTERED_CHILDREN: &str = "20261203000001";
const BINARY_JOURNAL: &str = "20261204000001";
const REVOKED_PAGE_INDEX: &str = "20261205000001";
const UNCOMPRESSED_JOURNAL: &str = "20261206000001";
const COUNT_INDEXES: &str = "20261207000001";

/// Reverts the newest migrations down to and including `version`, and returns them in the
/// order they apply: what `run_pending` must apply again. A test names the step it is about,
/// so a newer migration does not change it.
fn revert_down_to(url: &DatabaseUrl, version: &str) -> TestResult<Vec<String>> {
    let mut reverted = Vec::new();
    while reverted.last().map(String::as_str) != Some(version) {
        reverted.push(revert_newest(url)?);
    }
    reverted.reverse();
    Ok(reverted)
}

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

/// Rows of `table` about one token (the fixtures' own service tokens have usage too).
fn rows_of(app: &TestApp, table: &str, token_id: &str) -> TestResult<i64> {
    count_rows(app, &format!("{table} WHERE token_id = '{token_id}'"))
}

async fn migrations_go_up_down_and_up_again(app: TestApp) -> TestResult {
    let url = DatabaseUrl::parse(&app.database_url)?;
    for table in TABLES {
        assert_eq!(count_rows(&app, table)?, 0, "{table} exists after start-up");
    }
    assert!(run_pending(&url)?.is_empty(), "start-up applied everything");

    let reverted = revert_all(&url)?;
    assert_eq!(reverted.len(), 9, "every migration reverted");
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

#[derive(QueryableByName, Debug, PartialEq)]
struct Totals {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    usage_count: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    last_used_ip: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    last_used_at: Option<chrono::NaiveDateTime>,
}

fn usage_in(app: &TestApp, table: &str, key: &str, id: &str) -> TestResult<Vec<Totals>> {
    let mut conn = app.connection()?;
    Ok(diesel::sql_query(format!(
        "SELECT usage_count, last_used_ip, last_used_at FROM {table} WHERE {key} = '{id}'"
    ))
    .load(&mut conn)?)
}

/// The usage migration moves totals out of `tokens` and back again without losing any, and
/// keeps the daily and per-address rows it rebuilds.
async fn usage_is_carried_down_and_up_the_usage_migration(mut app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let ids = app.issue_tokens("member", 2)?;
    let (used, unused) = (&ids[0], &ids[1]);
    let state = app.state()?;
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0)
        .map(|d| d.naive_utc())
        .ok_or("timestamp")?;
    for ip in ["198.51.100.9", "203.0.113.7", "203.0.113.7"] {
        state
            .usage
            .record(&used.as_str().into(), ip.parse().ok(), at);
    }
    assert_eq!(tokend::usage::flush(&state.usage, &state.db).await?, 1);
    drop(state);
    app.stop().await?;
    let expected = Totals {
        usage_count: 3,
        last_used_ip: Some("203.0.113.7".to_owned()),
        last_used_at: Some(at),
    };
    let url = DatabaseUrl::parse(&app.database_url)?;

    let reverted = revert_down_to(&url, USAGE_TABLES)?;
    assert_eq!(usage_in(&app, "tokens", "id", used)?, [expected]);
    assert_eq!(
        usage_in(&app, "tokens", "id", unused)?,
        [Totals {
            usage_count: 0,
            last_used_ip: None,
            last_used_at: None
        }]
    );
    assert!(
        count_rows(&app, "token_usage").is_err(),
        "token_usage dropped"
    );
    assert_eq!(rows_of(&app, "token_usage_daily", used)?, 1);
    assert_eq!(rows_of(&app, "token_ips", used)?, 2);

    assert_eq!(run_pending(&url)?, reverted);
    let expected = Totals {
        usage_count: 3,
        last_used_ip: Some("203.0.113.7".to_owned()),
        last_used_at: Some(at),
    };
    assert_eq!(usage_in(&app, "token_usage", "token_id", used)?, [expected]);
    assert!(usage_in(&app, "token_usage", "token_id", unused)?.is_empty());
    assert_eq!(rows_of(&app, "token_usage_daily", used)?, 1);
    assert_eq!(rows_of(&app, "token_ips", used)?, 2);
    assert!(
        diesel::sql_query("SELECT usage_count FROM tokens")
            .execute(&mut app.connection()?)
            .is_err(),
        "the totals left tokens again"
    );
    Ok(())
}

/// The paging migration gives every existing authorization its token's creation time, and
/// survives going down and up again.
async fn the_paging_migration_copies_each_token_creation_time(mut app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    for name in ["one", "two", "three"] {
        personal(&app, "member", name, &["acme"], &["read"]).await?;
    }
    app.stop().await?;
    let url = DatabaseUrl::parse(&app.database_url)?;
    revert_down_to(&url, LIST_PAGING)?;
    assert!(
        count_rows(&app, "token_organizations WHERE token_created_at IS NULL").is_err(),
        "the column is gone after the revert"
    );
    run_pending(&url)?;
    let copied = "token_organizations t JOIN tokens ON tokens.id = t.token_id \
         WHERE t.token_created_at = tokens.created_at";
    assert_eq!(count_rows(&app, copied)?, 3);
    assert_eq!(count_rows(&app, "token_organizations")?, 3);
    Ok(())
}

/// The clustering migration (SQLite: the narrow tables a cold introspection reads, rebuilt
/// WITHOUT ROWID) keeps every scope, project, authorization (with its SSO time) and membership,
/// down and up again.
async fn the_clustering_migration_keeps_every_row(mut app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    for name in ["one", "two", "three"] {
        personal(&app, "member", name, &["acme"], &["read", "write"]).await?;
    }
    app.stop().await?;
    let mut conn = app.connection()?;
    diesel::sql_query("UPDATE token_organizations SET sso_authorized_at = created_at")
        .execute(&mut conn)?;
    diesel::sql_query(
        "INSERT INTO token_projects (token_id, project_id) SELECT id, 'web' FROM tokens \
         WHERE name IN ('one', 'two')",
    )
    .execute(&mut conn)?;
    drop(conn);
    let url = DatabaseUrl::parse(&app.database_url)?;
    let counted = [
        "token_scopes WHERE scope IN ('read', 'write')",
        "token_projects",
        "token_organizations",
        "token_organizations WHERE sso_authorized_at IS NOT NULL",
        "memberships",
    ];
    let before = counted
        .iter()
        .map(|table| count_rows(&app, table))
        .collect::<TestResult<Vec<_>>>()?;
    assert_eq!(
        before[..4],
        [6, 2, 3, 3],
        "scopes, projects, authorizations, SSO times"
    );
    assert!(before[4] > 0, "memberships");

    let reverted = revert_down_to(&url, CLUSTERED_CHILDREN)?;
    for (table, n) in counted.iter().zip(&before) {
        assert_eq!(count_rows(&app, table)?, *n, "{table} after the revert");
    }
    assert_eq!(run_pending(&url)?, reverted);
    for (table, n) in counted.iter().zip(&before) {
        assert_eq!(count_rows(&app, table)?, *n, "{table} after the re-apply");
    }
    if app.database_url.starts_with("sqlite") {
        for table in [
            "token_scopes",
            "token_projects",
            "token_organizations",
            "memberships",
        ] {
            assert!(
                count_rows(&app, &format!("{table} WHERE rowid > 0")).is_err(),
                "{table} still has a rowid"
            );
        }
    }
    Ok(())
}

/// Journal rows are JSON text before the binary-journal migration: it keeps them, and a fold
/// after it counts them; going down again keeps a JSON row and drops a binary one (the version
/// before cannot read it).
async fn journal_rows_written_before_the_binary_format_are_folded(mut app: TestApp) -> TestResult {
    use chrono::Datelike;
    use diesel::sql_types::Text;

    Directory::new(&app)?.acme().await?;
    let ids = app.issue_tokens("member", 1)?;
    app.stop().await?;
    let url = DatabaseUrl::parse(&app.database_url)?;
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0)
        .map(|d| d.naive_utc())
        .ok_or("timestamp")?;
    let row = format!(
        r#"[["{}", 2, {us}, "203.0.113.7", [["203.0.113.7", 2, {us}]], [[{day}, 2]]]]"#,
        ids[0],
        us = at.and_utc().timestamp_micros(),
        day = at.date().num_days_from_ce(),
    );

    let reverted = revert_down_to(&url, BINARY_JOURNAL)?;
    diesel::sql_query("INSERT INTO usage_journal (part, body) VALUES (0, $1)")
        .bind::<Text, _>(&row)
        .execute(&mut app.connection()?)?;
    assert_eq!(run_pending(&url)?, reverted);
    assert_eq!(
        revert_down_to(&url, REVOKED_PAGE_INDEX)?,
        reverted[1..],
        "every step above the binary format"
    );
    assert_eq!(count_rows(&app, "usage_journal")?, 1);
    diesel::sql_query("INSERT INTO usage_journal (part, body) VALUES (1, $1)")
        .bind::<diesel::sql_types::Binary, _>(&[1_u8, 0][..])
        .execute(&mut app.connection()?)?;
    assert_eq!(revert_newest(&url)?, BINARY_JOURNAL, "down again");
    assert_eq!(
        count_rows(&app, "usage_journal")?,
        1,
        "the JSON row kept, the binary one dropped"
    );
    assert_eq!(count_rows(&app, "usage_journal WHERE part = 0")?, 1);
    run_pending(&url)?;

    let state = app.state()?;
    assert_eq!(tokend::usage::fold(&state.db).await?, 1);
    assert_eq!(count_rows(&app, "usage_journal")?, 0);
    assert_eq!(
        usage_in(&app, "token_usage", "token_id", &ids[0])?,
        [Totals {
            usage_count: 2,
            last_used_ip: Some("203.0.113.7".to_owned()),
            last_used_at: Some(at),
        }]
    );
    assert_eq!(rows_of(&app, "token_usage_daily", &ids[0])?, 1);
    assert_eq!(rows_of(&app, "token_ips", &ids[0])?, 1);
    Ok(())
}

/// PostgreSQL keeps journal rows uncompressed (`STORAGE EXTERNAL`: compressing them cost CPU for
/// little room), and going down restores its default; on SQLite the step changes nothing.
async fn the_journal_is_stored_uncompressed(mut app: TestApp) -> TestResult {
    app.stop().await?;
    let url = DatabaseUrl::parse(&app.database_url)?;
    let body = "pg_attribute WHERE attrelid = 'usage_journal'::regclass AND attname = 'body'";
    let stored = |app: &TestApp, storage: char| {
        count_rows(app, &format!("{body} AND attstorage = '{storage}'"))
    };
    let postgres = app.database_url.starts_with("postgres");
    if postgres {
        assert_eq!(stored(&app, 'e')?, 1, "uncompressed after start-up");
    }
    let reverted = revert_down_to(&url, UNCOMPRESSED_JOURNAL)?;
    if postgres {
        assert_eq!(stored(&app, 'x')?, 1, "compressed again after the revert");
    }
    assert_eq!(run_pending(&url)?, reverted);
    if postgres {
        assert_eq!(stored(&app, 'e')?, 1, "uncompressed after the re-apply");
    }
    Ok(())
}

/// PostgreSQL gains an index for counting an owner's tokens and one for counting an
/// organization's authorizations (B-tree deduplication keeps each a few pages per owner), and
/// going down drops them; on SQLite the step changes nothing.
async fn the_count_indexes_come_and_go(mut app: TestApp) -> TestResult {
    app.stop().await?;
    let url = DatabaseUrl::parse(&app.database_url)?;
    let indexes = "pg_indexes WHERE indexname IN \
        ('tokens_owner_count_idx', 'token_organizations_count_idx')";
    let postgres = app.database_url.starts_with("postgres");
    if postgres {
        assert_eq!(count_rows(&app, indexes)?, 2, "both after start-up");
    }
    let reverted = revert_down_to(&url, COUNT_INDEXES)?;
    if postgres {
        assert_eq!(count_rows(&app, indexes)?, 0, "gone after the revert");
    }
    assert_eq!(run_pending(&url)?, reverted);
    if postgres {
        assert_eq!(count_rows(&app, indexes)?, 2, "both after the re-apply");
    }
    Ok(())
}
