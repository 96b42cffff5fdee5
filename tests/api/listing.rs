//! Listing: keyset pagination both ways, stable under inserts, every filter alone and combined.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fixtures::{Directory, create_token, personal, revoke_token, session};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    pages_forwards_and_backwards_without_gaps,
    filters_alone_and_combined,
    bad_parameters_are_4xx,
    total_count_stops_at_the_cap
);

on_both_backends!(
    settings = &[("TOKEND_DATABASE_POOL_SIZE", "1")];
    lists_are_counted_without_a_spare_connection
);

async fn page(app: &TestApp, user: &str, query: &str) -> TestResult<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/tokens?{query}")))
        .bearer_auth(session(user)?)
        .send()
        .await?;
    assert_eq!(response.status(), 200, "{query}");
    Ok(response.json().await?)
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn expected(range: impl DoubleEndedIterator<Item = usize>) -> Vec<String> {
    range.rev().map(|i| format!("t{i:02}")).collect()
}

/// A list longer than its page is counted on a spare connection beside the page when the
/// pool has one idle (PostgreSQL). With a pool of one it never has: the count then comes after
/// the page, on the same connection, and nothing waits for a second one (the test's database
/// timeout is 1 s, so waiting would answer 503).
async fn lists_are_counted_without_a_spare_connection(app: TestApp) -> TestResult {
    pages_forwards_and_backwards_without_gaps(app).await
}

async fn pages_forwards_and_backwards_without_gaps(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    for i in 0..25 {
        personal(&app, "member", &format!("t{i:02}"), &["acme"], &["read"]).await?;
    }
    let first = page(&app, "member", "limit=10").await?;
    assert_eq!(names(&first), expected(15..25));
    assert_eq!(first["total_count"], 25);
    assert_eq!(
        (
            first["page_info"]["has_next_page"].as_bool(),
            first["page_info"]["has_previous_page"].as_bool()
        ),
        (Some(true), Some(false))
    );

    // A token created between pages shifts nothing.
    personal(&app, "member", "late", &["acme"], &["read"]).await?;
    let cursor = first["page_info"]["end_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let second = page(&app, "member", &format!("limit=10&after={cursor}")).await?;
    assert_eq!(names(&second), expected(5..15));
    assert_eq!(second["total_count"], 26);
    assert_eq!(
        (
            second["page_info"]["has_next_page"].as_bool(),
            second["page_info"]["has_previous_page"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let cursor = second["page_info"]["end_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let third = page(&app, "member", &format!("limit=10&after={cursor}")).await?;
    assert_eq!(names(&third), expected(0..5));
    assert_eq!(third["page_info"]["has_next_page"], false);

    // Backwards from the last page.
    let cursor = third["page_info"]["start_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let back = page(&app, "member", &format!("limit=10&before={cursor}")).await?;
    assert_eq!(names(&back), expected(5..15));
    assert_eq!(
        (
            back["page_info"]["has_next_page"].as_bool(),
            back["page_info"]["has_previous_page"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let cursor = back["page_info"]["start_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let front = page(&app, "member", &format!("limit=10&before={cursor}")).await?;
    assert_eq!(names(&front), expected(15..25));
    assert_eq!(
        front["page_info"]["has_previous_page"], true,
        "the late token is newer"
    );
    let cursor = front["page_info"]["start_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let newest = page(&app, "member", &format!("limit=10&before={cursor}")).await?;
    assert_eq!(names(&newest), ["late"]);
    assert_eq!(newest["page_info"]["has_previous_page"], false);

    let mut all: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|p| names(p))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 25, "no duplicates or gaps");
    Ok(())
}

async fn filters_alone_and_combined(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    personal(&app, "member", "Deploy Bot", &["acme"], &["write:projects"]).await?;
    personal(&app, "member", "reader", &["acme", "gamma"], &["read"]).await?;
    let (revoked, _) = personal(
        &app,
        "member",
        "old deploy",
        &["gamma"],
        &["write:projects"],
    )
    .await?;
    revoke_token(&app, "member", &revoked).await?;
    let (expired, _) = personal(&app, "member", "expired", &["acme"], &["read"]).await?;
    {
        use tokend::db::schema::tokens;
        let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::hours(1);
        diesel::update(tokens::table.find(expired["id"].as_str().unwrap_or_default()))
            .set(tokens::expires_at.eq(Some(past)))
            .execute(&mut app.connection()?)?;
    }
    create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "agent", "organization_id": "gamma", "scopes": ["read"]}),
    )
    .await?;
    personal(
        &app,
        "viewer",
        "someone else's deploy",
        &["acme"],
        &["read"],
    )
    .await?;

    let sorted = |page: &Value| {
        let mut n = names(page);
        n.sort();
        n
    };
    let cases: [(&str, &[&str]); 11] = [
        ("kind=agent", &["agent"]),
        (
            "kind=personal",
            &["Deploy Bot", "expired", "old deploy", "reader"],
        ),
        ("organization_id=gamma", &["agent", "old deploy", "reader"]),
        ("status=revoked", &["old deploy"]),
        ("status=expired", &["expired"]),
        ("status=active", &["Deploy Bot", "agent", "reader"]),
        ("q=DEPLOY", &["Deploy Bot", "old deploy"]),
        ("scope=write:projects", &["Deploy Bot", "old deploy"]),
        ("q=deploy&status=active", &["Deploy Bot"]),
        (
            "organization_id=gamma&kind=personal&scope=read",
            &["reader"],
        ),
        ("q=%25", &[]),
    ];
    for (query, want) in cases {
        let result = page(&app, "member", query).await?;
        assert_eq!(sorted(&result), want, "{query}");
        assert_eq!(result["total_count"], want.len(), "{query}");
    }
    Ok(())
}

async fn bad_parameters_are_4xx(app: TestApp) -> TestResult {
    for (query, status) in [
        ("after=not-a-cursor", 400),
        ("before=%21%21", 400),
        ("limit=0", 422),
        ("limit=101", 422),
        ("limit=ten", 400),
        ("status=lost", 422),
        ("kind=service", 422),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/v1/tokens?{query}")))
            .bearer_auth(session("u")?)
            .send()
            .await?;
        expect_problem(response, status, "validation_failed").await?;
    }
    Ok(())
}

/// `total_count` counts up to 10,000: one more token says 10,000, and a filter that leaves
/// fewer counts them exactly.
async fn total_count_stops_at_the_cap(app: TestApp) -> TestResult {
    // Issued before any request: a client connection idle for longer than the server's
    // keep-alive (5 s) while they are written could be closed just as it is reused.
    app.issue_tokens("member", 10_001)?;
    Directory::new(&app)?.acme().await?;
    let all = page(&app, "member", "limit=1").await?;
    assert_eq!(all["total_count"], 10_000, "{}", all["page_info"]);
    assert_eq!(names(&all), ["bulk-10000"]);
    let some = page(&app, "member", "limit=1&q=bulk-999").await?;
    assert_eq!(
        some["total_count"], 11,
        "bulk-999 and bulk-9990 to bulk-9999"
    );
    Ok(())
}
