//! Usage tracking: counted in memory, written in batches, flushed at shutdown.

use serde_json::json;

use crate::fixtures::{
    Directory, fetch_token, introspect, introspector, metric, personal, session, usage,
    usage_once_counted,
};
use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

mod periodic {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "100")]; introspections_are_counted_per_ip_and_day);
}

mod at_shutdown {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")]; a_graceful_shutdown_flushes_pending_counts);
}

mod bounded_addresses {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "100")]; sixty_addresses_keep_the_latest_fifty);
}

mod journal {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")];
        a_busy_interval_is_journaled_and_folded_exactly,
        a_process_stopped_before_its_fold_loses_no_use
    );
}

mod large_batches {
    use super::*;
    on_both_backends!(
        a_flush_writes_every_chunk_and_puts_back_only_what_failed,
        tokens_deleted_before_the_flush_are_skipped
    );
}

async fn introspections_are_counted_per_ip_and_day(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "used", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    for ip in [
        "203.0.113.7",
        "203.0.113.7",
        "203.0.113.7",
        "198.51.100.9",
        "198.51.100.9",
    ] {
        assert_eq!(
            introspect(&app, &gateway, &json!({"token": value, "client_ip": ip})).await?["active"],
            true
        );
    }
    // Inactive answers are not uses.
    introspect(
        &app,
        &gateway,
        &json!({"token": value, "organization_id": "nowhere"}),
    )
    .await?;

    let seen = usage_once_counted(&app, &id, 5).await?;
    assert_eq!(seen["usage_count"], 5, "{seen}");
    assert!(metric(&app, "tokend_usage_flush_batches_total").await? >= 1.0);
    assert!(metric(&app, "tokend_usage_flush_duration_seconds_count").await? >= 1.0);
    assert_eq!(seen["last_used_ip"], "198.51.100.9");
    assert!(seen["last_used_at"].is_string());
    let ips: Vec<(String, i64)> = seen["recent_ips"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["ip"].as_str().unwrap_or_default().to_owned(),
                        e["count"].as_i64().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ips,
        [
            ("198.51.100.9".to_owned(), 2),
            ("203.0.113.7".to_owned(), 3)
        ]
    );
    assert!(
        seen["recent_ips"]
            .as_array()
            .is_some_and(|l| l.iter().all(|e| e["last_seen_at"].is_string()))
    );
    let daily = seen["daily"].as_array().cloned().unwrap_or_default();
    assert_eq!(daily.len(), 90);
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        daily
            .last()
            .map(|d| (d["date"].clone(), d["count"].clone())),
        Some((json!(today), json!(5)))
    );
    assert!(daily[..89].iter().all(|d| d["count"] == 0));

    let resource = fetch_token(&app, "member", &token).await?;
    assert_eq!(
        (
            resource["usage_count"].clone(),
            resource["last_used_at"].clone()
        ),
        (seen["usage_count"].clone(), seen["last_used_at"].clone())
    );
    let foreign = app
        .client
        .get(app.url(&format!("/v1/tokens/{id}/usage")))
        .bearer_auth(session("viewer")?)
        .send()
        .await?;
    assert_eq!(foreign.status(), 404);
    Ok(())
}

async fn a_graceful_shutdown_flushes_pending_counts(mut app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "used", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    for _ in 0..3 {
        introspect(&app, &gateway, &json!({"token": value})).await?;
    }
    let me = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(me.status(), 200);
    assert_eq!(
        usage(&app, &id).await?["usage_count"],
        0,
        "nothing is written before a flush"
    );

    app.restart_with(&[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")])
        .await?;
    let flushed = usage(&app, &id).await?;
    assert_eq!(flushed["usage_count"], 4, "{flushed}");
    assert_eq!(flushed["recent_ips"][0]["ip"], "127.0.0.1");
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Written {
    #[diesel(sql_type = diesel::sql_types::Text)]
    token_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    usage_count: i64,
}

/// Usage totals written for `ids` (the fixtures' own service tokens are counted too).
fn written(app: &TestApp, ids: &[String]) -> TestResult<Vec<(String, i64)>> {
    let rows: Vec<Written> = diesel::RunQueryDsl::load(
        diesel::sql_query("SELECT token_id, usage_count FROM token_usage ORDER BY token_id"),
        &mut app.connection()?,
    )?;
    Ok(rows
        .into_iter()
        .filter(|r| ids.contains(&r.token_id))
        .map(|r| (r.token_id, r.usage_count))
        .collect())
}

/// Rows of `table` about the tokens of `owner`.
fn rows_of(app: &TestApp, table: &str, owner: &str) -> TestResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE token_id IN \
             (SELECT id FROM tokens WHERE owner_id = '{owner}')"
        )),
        &mut app.connection()?,
    )?;
    Ok(row.n)
}

/// Makes the database refuse the usage row of `token_id` (a fault in the middle of a flush).
fn refuse_usage_of(app: &TestApp, token_id: &str) -> TestResult {
    let mut conn = app.connection()?;
    let sql = match conn {
        tokend::db::DbConnection::Sqlite(_) => format!(
            "CREATE TRIGGER refuse_usage BEFORE INSERT ON token_usage \
             WHEN NEW.token_id = '{token_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        ),
        tokend::db::DbConnection::Pg(_) => format!(
            "CREATE FUNCTION refuse_usage() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.token_id = '{token_id}' THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_usage BEFORE INSERT ON token_usage \
             FOR EACH ROW EXECUTE FUNCTION refuse_usage();"
        ),
    };
    diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql)?;
    Ok(())
}

fn accept_usage(app: &TestApp) -> TestResult {
    let mut conn = app.connection()?;
    let sql = match conn {
        tokend::db::DbConnection::Sqlite(_) => "DROP TRIGGER refuse_usage;",
        tokend::db::DbConnection::Pg(_) => {
            "DROP TRIGGER refuse_usage ON token_usage; DROP FUNCTION refuse_usage();"
        }
    };
    diesel::connection::SimpleConnection::batch_execute(&mut conn, sql)?;
    Ok(())
}

/// 1,203 tokens make three chunks (512, 512, 179). A failure in the second chunk keeps the first
/// written and puts the second and third back; the next flush writes those once, and the first
/// chunk is not counted twice.
async fn a_flush_writes_every_chunk_and_puts_back_only_what_failed(app: TestApp) -> TestResult {
    let ids = member_tokens(&app, 1203).await?;
    let state = app.state()?;
    record_uses(&state.usage, &ids, 2)?;

    refuse_usage_of(&app, &ids[700])?;
    assert!(
        tokend::usage::flush(&state.usage, &state.db).await.is_err(),
        "the second chunk fails"
    );
    let first_chunk: Vec<(String, i64)> = ids[..512].iter().map(|id| (id.clone(), 2)).collect();
    assert!(
        written(&app, &ids)? == first_chunk,
        "only the first chunk is written"
    );

    accept_usage(&app)?;
    assert_eq!(
        tokend::usage::flush(&state.usage, &state.db).await?,
        691,
        "the next flush retries the two chunks put back"
    );
    let all: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), 2)).collect();
    assert!(
        written(&app, &ids)? == all,
        "every token once, none counted twice"
    );
    assert_eq!(rows_of(&app, "token_usage_daily", "member")?, 1203);
    assert_eq!(rows_of(&app, "token_ips", "member")?, 1203);
    assert_eq!(
        tokend::usage::flush(&state.usage, &state.db).await?,
        0,
        "nothing left over"
    );
    Ok(())
}

/// DESIGN §10: a token keeps its 50 most recent addresses, however many it is used from.
async fn sixty_addresses_keep_the_latest_fifty(app: TestApp) -> TestResult {
    use diesel::prelude::*;
    use tokend::db::schema::token_ips;

    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "roaming", &["acme"], &["read"]).await?;
    let id = token["id"].as_str().unwrap_or_default().to_owned();
    for n in 1..=60 {
        let ip = format!("203.0.113.{n}");
        let answer = introspect(&app, &gateway, &json!({"token": value, "client_ip": ip})).await?;
        assert_eq!(answer["active"], true);
    }
    let seen = usage_once_counted(&app, &id, 60).await?;
    assert_eq!(seen["usage_count"], 60, "{seen}");
    let mut conn = app.connection()?;
    let kept: Vec<String> = token_ips::table
        .filter(token_ips::token_id.eq(&id))
        .select(token_ips::ip)
        .load(&mut conn)?;
    assert_eq!(kept.len(), 50, "{kept:?}");
    for n in 1..=10 {
        let dropped = format!("203.0.113.{n}");
        assert!(!kept.contains(&dropped), "{dropped} is among the oldest");
    }
    assert_eq!(seen["recent_ips"][0]["ip"], "203.0.113.60");

    // Later flushes: five new addresses push out the five least recently seen; the two oldest,
    // used again, are recent now and stay.
    for n in [58, 59, 60, 61, 62, 63, 64, 65, 11, 12] {
        let ip = format!("203.0.113.{n}");
        let answer = introspect(&app, &gateway, &json!({"token": value, "client_ip": ip})).await?;
        assert_eq!(answer["active"], true);
    }
    let seen = usage_once_counted(&app, &id, 70).await?;
    assert_eq!(seen["usage_count"], 70, "{seen}");
    let mut kept: Vec<String> = token_ips::table
        .filter(token_ips::token_id.eq(&id))
        .select(token_ips::ip)
        .load(&mut conn)?;
    kept.sort_by_key(|ip| ip.rsplit('.').next().and_then(|n| n.parse::<u8>().ok()));
    let expected: Vec<String> = [11, 12]
        .into_iter()
        .chain(18..=65)
        .map(|n| format!("203.0.113.{n}"))
        .collect();
    assert_eq!(kept, expected);
    assert_eq!(seen["recent_ips"][0]["ip"], "203.0.113.12", "{seen}");
    Ok(())
}

/// A token deleted between its use and the flush has nothing to count against: the flush
/// writes the others of its chunk and succeeds.
async fn tokens_deleted_before_the_flush_are_skipped(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let mut ids = app.issue_tokens("member", 3)?;
    ids.sort();
    let state = app.state()?;
    let at = chrono::Utc::now().naive_utc();
    for id in &ids {
        state
            .usage
            .record(&id.as_str().into(), "198.51.100.4".parse().ok(), at);
    }
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("DELETE FROM tokens WHERE id = '{}'", ids[1])),
        &mut app.connection()?,
    )?;
    assert_eq!(tokend::usage::flush(&state.usage, &state.db).await?, 3);
    let kept = [ids[0].clone(), ids[2].clone()];
    assert_eq!(
        written(&app, &ids)?,
        kept.iter().map(|id| (id.clone(), 1)).collect::<Vec<_>>()
    );
    assert_eq!(rows_of(&app, "token_ips", "member")?, 2);
    assert_eq!(
        tokend::usage::flush(&state.usage, &state.db).await?,
        0,
        "nothing put back"
    );
    Ok(())
}

/// Rows waiting in the usage journal.
fn journal_rows(app: &TestApp) -> TestResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT COUNT(*) AS n FROM usage_journal"),
        &mut app.connection()?,
    )?;
    Ok(row.n)
}

/// Issues `count` tokens of the member; returns their ids, sorted.
async fn member_tokens(app: &TestApp, count: usize) -> TestResult<Vec<String>> {
    Directory::new(app)?.acme().await?;
    let mut ids = app.issue_tokens("member", count)?;
    ids.sort();
    Ok(ids)
}

/// Records `uses` uses of each token, each from an address of its own, now.
fn record_uses(usage: &tokend::usage::Recorder, ids: &[String], uses: usize) -> TestResult {
    let at = chrono::Utc::now().naive_utc();
    for (i, id) in ids.iter().enumerate() {
        let ip = std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a02_0000 + u32::try_from(i)?));
        for _ in 0..uses {
            usage.record(&id.as_str().into(), Some(ip), at);
        }
    }
    Ok(())
}

/// An interval with at least `JOURNAL_FROM` distinct tokens is appended to the journal (a row
/// per part of the tokens) and leaves the usage tables alone; a fold merges the rows and writes every token
/// once, with every use counted, and empties the journal. A quiet interval is written directly.
async fn a_busy_interval_is_journaled_and_folded_exactly(app: TestApp) -> TestResult {
    use tokend::usage::{Flushed, flush_interval, fold};
    let ids = member_tokens(&app, 1203).await?;
    assert!(ids.len() >= tokend::usage::JOURNAL_FROM);
    let state = app.state()?;
    record_uses(&state.usage, &ids, 2)?;

    assert_eq!(
        flush_interval(&state.usage, &state.db).await?,
        Some(Flushed::Journaled(1203))
    );
    assert_eq!(
        journal_rows(&app)?,
        16,
        "a row per part: 16 parts of about 75 tokens"
    );
    assert!(written(&app, &ids)?.is_empty(), "nothing folded yet");
    record_uses(&state.usage, &ids, 1)?;
    assert_eq!(
        flush_interval(&state.usage, &state.db).await?,
        Some(Flushed::Journaled(1203))
    );
    assert_eq!(journal_rows(&app)?, 32);

    assert_eq!(fold(&state.db).await?, 1203, "each token written once");
    let all: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), 3)).collect();
    assert!(written(&app, &ids)? == all, "every use counted once");
    assert_eq!(rows_of(&app, "token_usage_daily", "member")?, 1203);
    assert_eq!(rows_of(&app, "token_ips", "member")?, 1203);
    assert_eq!(journal_rows(&app)?, 0);
    let detail = usage(&app, &ids[600]).await?;
    assert_eq!(detail["usage_count"], 3, "{detail}");
    assert_eq!(detail["recent_ips"][0]["count"], 3, "{detail}");
    assert_eq!(detail["daily"][89]["count"], 3, "{detail}");
    assert_eq!(fold(&state.db).await?, 0, "nothing folded twice");

    record_uses(&state.usage, &ids[..3], 1)?;
    assert_eq!(
        flush_interval(&state.usage, &state.db).await?,
        Some(Flushed::Written(3))
    );
    assert_eq!(journal_rows(&app)?, 0);
    assert_eq!(written(&app, &ids[..3])?[0].1, 4);
    assert_eq!(flush_interval(&state.usage, &state.db).await?, None);
    Ok(())
}

/// DESIGN §7: journaled counts are durable. A process that journals an interval and never folds
/// it (as if killed) loses nothing: the next process to start folds the journal.
async fn a_process_stopped_before_its_fold_loses_no_use(app: TestApp) -> TestResult {
    let ids = member_tokens(&app, 1100).await?;
    let state = app.state()?;
    record_uses(&state.usage, &ids, 2)?;
    assert_eq!(
        tokend::usage::flush_interval(&state.usage, &state.db).await?,
        Some(tokend::usage::Flushed::Journaled(1100))
    );
    assert!(written(&app, &ids)?.is_empty());

    let _next = app.second_instance(&[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")])?;
    let all: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), 2)).collect();
    let mut folded = false;
    for _ in 0..100 {
        if written(&app, &ids)? == all && journal_rows(&app)? == 0 {
            folded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(folded, "the next process folds the journal when it starts");
    Ok(())
}
