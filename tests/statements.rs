//! How many SQL statements one introspection of a valid token runs, counted with diesel's
//! instrumentation (its own test binary: the counter is process-wide).

#[allow(dead_code, reason = "shared with the api test binary")]
#[path = "api/fixtures.rs"]
mod fixtures;
#[allow(dead_code, reason = "shared with the api test binary")]
#[path = "api/helpers.rs"]
mod helpers;

use std::sync::Mutex;

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use serde_json::json;

use fixtures::{Directory, introspect, introspector, personal};
use helpers::{Backend, TestApp, TestResult};

static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature diesel's set_default_instrumentation takes"
)]
fn counting() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
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
    std::mem::take(
        &mut *STATEMENTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

async fn count_one_introspection(backend: Backend) -> TestResult<Option<Vec<String>>> {
    let Some(app) = TestApp::spawn(backend)? else {
        return Ok(None);
    };
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(&app, "member", "counted", &["acme"], &["read"]).await?;
    // Warm up: connections open, statements prepared.
    introspect(&app, &gateway, &json!({"token": value})).await?;
    take();
    let answer = introspect(&app, &gateway, &json!({"token": value})).await?;
    assert_eq!(answer["active"], true);
    Ok(Some(take()))
}

fn report(backend: &str, statements: &[String]) {
    eprintln!(
        "{backend}: {} statements for one introspection",
        statements.len()
    );
    for sql in statements {
        eprintln!("  {sql}");
    }
    let writes: Vec<&String> = statements
        .iter()
        .filter(|sql| {
            let head = sql.trim_start().to_ascii_uppercase();
            head.starts_with("INSERT") || head.starts_with("UPDATE") || head.starts_with("DELETE")
        })
        .collect();
    assert!(
        writes.is_empty(),
        "{backend}: writes on the request path: {writes:?}"
    );
}

#[actix_web::test]
async fn one_introspection_reads_and_never_writes() -> TestResult {
    set_default_instrumentation(counting)?;
    if let Some(statements) = count_one_introspection(Backend::Sqlite).await? {
        report("sqlite", &statements);
    }
    if let Some(statements) = count_one_introspection(Backend::Postgres).await? {
        report("postgres", &statements);
    }
    Ok(())
}
