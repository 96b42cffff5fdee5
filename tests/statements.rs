//! How many SQL statements one introspection of a valid token runs, which statements a list
//! and a usage flush run, counted with diesel's instrumentation (its own test binary: the
//! counter is process-wide).

#[allow(dead_code, reason = "shared with the api test binary")]
#[path = "api/fixtures.rs"]
mod fixtures;
#[allow(dead_code, reason = "shared with the api test binary")]
#[path = "api/helpers.rs"]
mod helpers;

use std::sync::Mutex;

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use serde_json::{Value, json};

use fixtures::{Directory, get_json, introspect, introspector, personal};
use helpers::{Backend, TestApp, TestResult};

static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The statements a connection prepared and kept, in order.
static CACHED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature diesel's set_default_instrumentation takes"
)]
fn counting() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::CacheQuery { sql, .. } = event {
            CACHED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(sql.to_owned());
        }
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let sql = query.to_string();
            let sql = sql
                .split("-- binds")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
            STATEMENTS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(sql);
        }
    }))
}

fn take() -> Vec<String> {
    take_from(&STATEMENTS)
}

fn take_from(events: &Mutex<Vec<String>>) -> Vec<String> {
    std::mem::take(
        &mut *events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Statements per introspection: warm (both tokens cached), cold (a token seen for the first
/// time), and a flood of unknown well-formed values.
struct Counts {
    warm: Vec<String>,
    cold: Vec<String>,
    same_unknown_20_times: Vec<String>,
    five_unknown_twice: Vec<String>,
    ten_cold_twice_at_once: Vec<String>,
    malformed: Vec<String>,
}

async fn count(backend: Backend) -> TestResult<Option<Counts>> {
    // No background usage flush while counting.
    let Some(app) = TestApp::spawn_with(backend, &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")])?
    else {
        return Ok(None);
    };
    app.listening(1).await?;
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (_, seen) = personal(&app, "member", "seen", &["acme"], &["read"]).await?;
    let (_, fresh) = personal(&app, "member", "fresh", &["acme"], &["read"]).await?;
    introspect(&app, &gateway, &json!({"token": seen})).await?;
    take();

    assert_eq!(
        introspect(&app, &gateway, &json!({"token": seen})).await?["active"],
        true
    );
    let warm = take();
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": fresh})).await?["active"],
        true
    );
    let cold = take();

    let prefixes = tokend::tokens::kind::Prefixes::default();
    let unknown =
        tokend::tokens::secret::generate(&prefixes, tokend::tokens::kind::TokenKind::Personal);
    for _ in 0..20 {
        assert_eq!(
            introspect(&app, &gateway, &json!({"token": unknown.expose()})).await?["active"],
            false
        );
    }
    let same_unknown_20_times = take();
    let distinct: Vec<_> = (0..5)
        .map(|_| tokend::tokens::secret::generate(&prefixes, tokend::tokens::kind::TokenKind::Api))
        .collect();
    for _ in 0..2 {
        for value in &distinct {
            introspect(&app, &gateway, &json!({"token": value.expose()})).await?;
        }
    }
    let five_unknown_twice = take();

    // A wrong checksum is answered before any lookup.
    let mut malformed =
        tokend::tokens::secret::generate(&prefixes, tokend::tokens::kind::TokenKind::Personal)
            .expose()
            .to_owned();
    let last = if malformed.ends_with('A') { "B" } else { "A" };
    malformed.replace_range(malformed.len() - 1.., last);
    for _ in 0..3 {
        let answer = introspect(&app, &gateway, &json!({"token": malformed})).await?;
        assert_eq!(answer["active"], false, "{answer}");
    }
    let malformed = take();

    // Concurrent misses share batch reads; each still gets its own token's answer.
    let mut tokens = Vec::new();
    for i in 0..10 {
        let (token, value) =
            personal(&app, "member", &format!("batch-{i}"), &["acme"], &["read"]).await?;
        tokens.push((token["id"].clone(), value));
    }
    take();
    let calls = tokens.iter().chain(&tokens).map(|(id, value)| {
        let app = &app;
        let gateway = &gateway;
        async move {
            let answer = introspect(app, gateway, &json!({"token": value})).await?;
            assert_eq!(answer["token_id"], *id, "{answer}");
            TestResult::Ok(())
        }
    });
    for outcome in futures_util::future::join_all(calls).await {
        outcome?;
    }
    let ten_cold_twice_at_once = take();
    Ok(Some(Counts {
        warm,
        cold,
        same_unknown_20_times,
        five_unknown_twice,
        ten_cold_twice_at_once,
        malformed,
    }))
}

fn check(backend: &str, counts: &Counts) {
    for (what, statements) in [("warm", &counts.warm), ("cold", &counts.cold)] {
        eprintln!("{backend} {what}: {} statement(s)", statements.len());
        for sql in statements {
            eprintln!("  {sql}");
        }
    }
    assert!(
        counts.warm.is_empty(),
        "{backend}: a warm introspection touched the database"
    );
    assert_eq!(
        counts.cold.len(),
        1,
        "{backend}: a cold introspection is exactly one read"
    );
    assert!(
        counts.cold[0]
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("SELECT"),
        "{backend}: {}",
        counts.cold[0]
    );
    assert_eq!(
        counts.same_unknown_20_times.len(),
        1,
        "{backend}: one read per unknown digest per TTL"
    );
    assert_eq!(
        counts.five_unknown_twice.len(),
        5,
        "{backend}: one read per distinct unknown digest"
    );
    assert!(
        counts.malformed.is_empty(),
        "{backend}: a malformed value reached the database"
    );
    let reads = counts.ten_cold_twice_at_once.len();
    eprintln!("{backend}: 20 concurrent calls for 10 cold tokens: {reads} read(s)");
    assert!(
        (1..=10).contains(&reads),
        "{backend}: concurrent misses read each token at most once, together: {reads}"
    );
}

/// One test for every count (the instrumentation is process-wide): introspection reads once
/// when cold and never when warm, the usage upserts are prepared once, a one-page list is not
/// counted.
#[actix_web::test]
async fn each_path_runs_only_the_statements_it_needs() -> TestResult {
    set_default_instrumentation(counting)?;
    if let Some(counts) = count(Backend::Sqlite).await? {
        check("sqlite", &counts);
    }
    if let Some(counts) = count(Backend::Postgres).await? {
        check("postgres", &counts);
    }
    usage_upserts_are_prepared_once().await?;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        a_list_on_one_page_is_not_counted(backend).await?;
    }
    Ok(())
}

/// The statements of `GET path` as `user`, and its body.
async fn listed(app: &TestApp, user: &str, path: &str) -> TestResult<(Vec<String>, Value)> {
    take();
    let body = get_json(app, user, path).await?;
    Ok((take(), body))
}

fn counting_statements(statements: &[String]) -> usize {
    statements
        .iter()
        .filter(|sql| sql.contains("COUNT(") || sql.contains("OFFSET"))
        .count()
}

/// A first page that holds the whole list gives its length as `total_count` without the
/// counting statements; a list longer than its page is still counted.
async fn a_list_on_one_page_is_not_counted(backend: Backend) -> TestResult {
    let Some(app) = TestApp::spawn(backend)? else {
        return Ok(());
    };
    Directory::new(&app)?.acme().await?;
    for name in ["one", "two", "three"] {
        personal(&app, "member", name, &["acme"], &["read"]).await?;
    }
    let (whole, body) = listed(&app, "member", "/v1/tokens?limit=20").await?;
    assert_eq!(body["total_count"], 3, "{body}");
    assert_eq!(counting_statements(&whole), 0, "{whole:#?}");
    let (filtered, body) = listed(&app, "member", "/v1/tokens?kind=personal&q=t").await?;
    assert_eq!(body["total_count"], 2, "{body}");
    assert_eq!(counting_statements(&filtered), 0, "{filtered:#?}");

    let (paged, body) = listed(&app, "member", "/v1/tokens?limit=2").await?;
    assert_eq!(body["total_count"], 3, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(counting_statements(&paged) > 0, "{paged:#?}");
    Ok(())
}

/// The usage flush's upserts come in a few fixed sizes, each prepared once per connection and
/// kept: on SQLite, where one connection does every write, a second flush of as many tokens
/// prepares none. 600 tokens, each with one day and one address, are written as 512, 64, 16
/// and 8 rows in each of the three usage tables.
async fn usage_upserts_are_prepared_once() -> TestResult {
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[("TOKEND_USAGE_FLUSH_INTERVAL_MS", "600000")],
    )?
    else {
        return Err("SQLite is always there".into());
    };
    Directory::new(&app)?.acme().await?;
    let ids = app.issue_tokens("member", 600)?;
    let state = app.state()?;
    let mut prepared = Vec::new();
    for _ in 0..2 {
        let at = chrono::Utc::now().naive_utc();
        for id in &ids {
            state
                .usage
                .record(&id.as_str().into(), "203.0.113.7".parse().ok(), at);
        }
        take_from(&CACHED);
        assert_eq!(tokend::usage::flush(&state.usage, &state.db).await?, 600);
        let upserts: Vec<String> = take_from(&CACHED)
            .into_iter()
            .filter(|sql| sql.starts_with("INSERT INTO token_"))
            .collect();
        prepared.push(upserts.len());
    }
    assert_eq!(prepared, [12, 0], "upserts prepared in each flush");
    Ok(())
}
