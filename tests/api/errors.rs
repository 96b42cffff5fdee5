//! The error model: extractor errors, body limit, content type, unknown routes, outages.

use serde_json::json;
use tokend::auth::Permission;

use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    unreadable_bodies_are_400_problems,
    oversized_bodies_are_413,
    wrong_content_type_is_415,
    unknown_routes_are_404_problems,
    readyz_is_503_when_the_database_is_gone,
);

const ORG: &str = "/v1/directory/organizations/acme";

async fn unreadable_bodies_are_400_problems(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    for body in ["{\"name\": ", "[1, 2]", "null", "{\"name\": 5}"] {
        let response = app
            .client
            .put(app.url(ORG))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let problem = expect_problem(response, 400, "validation_failed").await?;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("JSON")),
            "{problem}"
        );
    }
    Ok(())
}

async fn oversized_bodies_are_413(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    let response = app
        .client
        .put(app.url(ORG))
        .bearer_auth(&token)
        .json(&json!({"name": "x".repeat(70 * 1024)}))
        .send()
        .await?;
    expect_problem(response, 413, "payload_too_large").await?;
    Ok(())
}

async fn wrong_content_type_is_415(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    let response = app
        .client
        .put(app.url(ORG))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{\"name\": \"Acme\"}")
        .send()
        .await?;
    expect_problem(response, 415, "unsupported_media_type").await?;
    Ok(())
}

async fn unknown_routes_are_404_problems(app: TestApp) -> TestResult {
    expect_problem(
        app.client.get(app.url("/v1/nothing-here")).send().await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(
        app.client.post(app.url("/healthz")).send().await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn readyz_is_503_when_the_database_is_gone(mut app: TestApp) -> TestResult {
    let ready = app.client.get(app.url("/readyz")).send().await?;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await?,
        json!({"status": "ready"})
    );

    let token = app.service_token("sync", &[Permission::Directory])?;
    app.break_database()?;
    expect_problem(
        app.client.get(app.url("/readyz")).send().await?,
        503,
        "unavailable",
    )
    .await?;
    let health = app.client.get(app.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200, "the process is still up");
    // Calls that need the database are 503 too, never 500.
    let response = app
        .client
        .get(app.url(ORG))
        .bearer_auth(&token)
        .send()
        .await?;
    expect_problem(response, 503, "unavailable").await?;
    Ok(())
}
