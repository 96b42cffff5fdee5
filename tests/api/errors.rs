//! The error model: extractor errors, body limit, content type, unknown routes, outages.

use serde_json::json;
use tokend::auth::Permission;

use crate::fixtures::{Directory, personal, session};
use crate::helpers::{TestApp, TestResult, expect_problem, header};
use crate::on_both_backends;

on_both_backends!(
    every_body_is_read_by_the_same_rules,
    optional_bodies_may_be_left_out,
    unreadable_bodies_are_400_problems,
    unreadable_queries_are_400_problems,
    oversized_bodies_are_413,
    wrong_content_type_is_415,
    unknown_routes_are_404_and_other_methods_405,
    readyz_is_503_when_the_database_is_gone,
);

const ORG: &str = "/v1/directory/organizations/acme";

/// Every route that takes a body, with a credential it accepts: an unknown field and unreadable
/// JSON are 400 `validation_failed` on each, never ignored (`regenerate` and `revoke`, whose
/// body is optional, once answered 200 and dropped it), and a body of another type is 415.
async fn every_body_is_read_by_the_same_rules(app: TestApp) -> TestResult {
    let user = session("member")?;
    let directory = app.service_token("sync", &[Permission::Directory])?;
    let gateway = app.service_token("gateway", &[Permission::Introspect, Permission::Revoke])?;
    let token = "/v1/tokens/01a2";
    let routes = [
        ("POST", "/v1/tokens".to_owned(), &user),
        ("PATCH", token.to_owned(), &user),
        ("POST", format!("{token}/revoke"), &user),
        ("POST", format!("{token}/regenerate"), &user),
        ("POST", format!("{token}/duplicate"), &user),
        ("POST", "/v1/tokens/bulk-revoke".to_owned(), &user),
        ("POST", "/v1/tokens/bulk-delete".to_owned(), &user),
        ("PUT", ORG.to_owned(), &directory),
        ("PUT", "/v1/directory/users/u".to_owned(), &directory),
        ("PUT", format!("{ORG}/members/u"), &directory),
        ("PUT", format!("{ORG}/projects/p"), &directory),
        ("POST", "/v1/introspect".to_owned(), &gateway),
        ("POST", "/v1/revoke".to_owned(), &gateway),
    ];
    for (method, path, credential) in routes {
        let send = |body: &'static str, content_type: &'static str| {
            app.client
                .request(method.parse().unwrap_or_default(), app.url(&path))
                .bearer_auth(credential)
                .header("content-type", content_type)
                .body(body)
                .send()
        };
        for body in [r#"{"token": "x", "bogus": 1}"#, r#"{"expires_at": "#] {
            let problem = expect_problem(
                send(body, "application/json").await?,
                400,
                "validation_failed",
            )
            .await
            .map_err(|e| format!("{method} {path} {body}: {e}"))?;
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("JSON")),
                "{method} {path}: {problem}"
            );
        }
        expect_problem(
            send("{}", "text/plain").await?,
            415,
            "unsupported_media_type",
        )
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    }
    Ok(())
}

/// `revoke` and `regenerate` take an optional body: none at all is the defaults.
async fn optional_bodies_may_be_left_out(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let (token, _) = personal(&app, "member", "optional", &["acme"], &["read"]).await?;
    let url = app.url(&format!(
        "/v1/tokens/{}",
        token["id"].as_str().unwrap_or_default()
    ));
    let jwt = session("member")?;
    for action in ["regenerate", "revoke"] {
        let response = app
            .client
            .post(format!("{url}/{action}"))
            .bearer_auth(&jwt)
            .send()
            .await?;
        assert_eq!(response.status(), 200, "{action}");
    }
    Ok(())
}

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

async fn unreadable_queries_are_400_problems(app: TestApp) -> TestResult {
    let token = app.service_token("ops", &[Permission::ServiceTokens])?;
    let response = app
        .client
        .get(app.url("/v1/service-tokens?limit=1&limit=2"))
        .bearer_auth(&token)
        .send()
        .await?;
    let problem = expect_problem(response, 400, "validation_failed").await?;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("invalid query string: ")),
        "{problem}"
    );
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

/// A path no route has is 404; a path that exists with other methods is 405 with `Allow`
/// naming them (as the OpenAPI document lists them).
async fn unknown_routes_are_404_and_other_methods_405(app: TestApp) -> TestResult {
    expect_problem(
        app.client.get(app.url("/v1/nothing-here")).send().await?,
        404,
        "not_found",
    )
    .await?;
    for (method, path, allow) in [
        ("POST", "/healthz", "GET"),
        ("TRACE", "/v1/tokens/01a2", "DELETE, GET, PATCH"),
        ("DELETE", "/v1/service-tokens", "GET, POST"),
    ] {
        let response = app
            .client
            .request(method.parse()?, app.url(path))
            .send()
            .await?;
        assert_eq!(header(&response, "allow"), allow, "{method} {path}");
        expect_problem(response, 405, "method_not_allowed").await?;
    }
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
