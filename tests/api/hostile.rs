//! Hostile input (DESIGN §9 "Bad input, once more"), on both backends: NUL characters in a
//! body, a path, a query or a form are 400 (PostgreSQL cannot store them; SQLite must answer
//! the same), a session that is not yet valid is 401, a non-text `X-Organization-ID` is 400,
//! and token-shaped text in a field error is masked.

use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::fixtures::{Directory, introspector, post_token, session, sign};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    nul_characters_are_400_everywhere,
    sessions_not_yet_valid_are_401,
    organization_header_must_be_text,
    token_shaped_text_is_masked_in_field_errors,
);

async fn nul_characters_are_400_everywhere(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    let directory = app.service_token("sync", &[Permission::Directory])?;
    let jwt = session("member")?;
    let bodies = [
        (
            app.client.put(app.url("/v1/directory/organizations/acme")),
            &directory,
            json!({"name": "Ac\u{0}me"}),
        ),
        (
            app.client.put(app.url("/v1/directory/users/u1")),
            &directory,
            json!({"email": "a\u{0}@example.com"}),
        ),
        (
            app.client.post(app.url("/v1/tokens")),
            &jwt,
            json!({"kind": "personal", "name": "n\u{0}", "organization_ids": ["acme"], "scopes": ["read"]}),
        ),
        (
            app.client.post(app.url("/v1/tokens")),
            &jwt,
            json!({"kind": "personal", "name": "n", "organization_ids": ["ac\u{0}me"], "scopes": ["read"]}),
        ),
    ];
    for (request, credential, body) in bodies {
        let response = request.bearer_auth(credential).json(&body).send().await?;
        expect_problem(response, 400, "validation_failed")
            .await
            .map_err(|e| format!("{body}: {e}"))?;
    }
    for (path, credential) in [
        ("/v1/tokens/a%00b", &jwt),
        ("/v1/tokens?q=a%00b", &jwt),
        ("/v1/organizations/ac%00me/tokens", &jwt),
        ("/v1/directory/users/u%001", &directory),
        ("/v1/audit-events?organization_id=%00", &jwt),
    ] {
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(credential)
            .send()
            .await?;
        expect_problem(response, 400, "validation_failed")
            .await
            .map_err(|e| format!("{path}: {e}"))?;
    }
    let gateway = introspector(&app)?;
    let json_body = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .json(&json!({"token": "x", "organization_id": "a\u{0}"}))
        .send()
        .await?;
    expect_problem(json_body, 400, "validation_failed").await?;
    let form_body = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=x&organization_id=a%00")
        .send()
        .await?;
    expect_problem(form_body, 400, "validation_failed").await?;
    Ok(())
}

async fn sessions_not_yet_valid_are_401(app: TestApp) -> TestResult {
    let now = chrono::Utc::now().timestamp();
    let claims = |nbf: i64| {
        json!({"sub": "member", "email": "member@example.test", "email_verified": true,
               "exp": now + 3600, "iat": now, "nbf": nbf})
    };
    let early = app
        .client
        .get(app.url("/v1/tokens"))
        .bearer_auth(sign(&claims(now + 600))?)
        .send()
        .await?;
    expect_problem(early, 401, "unauthenticated").await?;
    let valid = app
        .client
        .get(app.url("/v1/tokens"))
        .bearer_auth(sign(&claims(now - 60))?)
        .send()
        .await?;
    assert_eq!(valid.status(), 200);
    Ok(())
}

async fn organization_header_must_be_text(app: TestApp) -> TestResult {
    let gateway = introspector(&app)?;
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .header(
            "x-organization-id",
            reqwest::header::HeaderValue::from_bytes(b"ac\xffme")?,
        )
        .json(&json!({"token": "x"}))
        .send()
        .await?;
    expect_problem(response, 400, "validation_failed").await?;
    Ok(())
}

async fn token_shaped_text_is_masked_in_field_errors(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let secret = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X";
    let response = post_token(
        &app,
        "member",
        &json!({"kind": "personal", "name": "n", "organization_ids": ["acme"], "scopes": [secret]}),
    )
    .await?;
    let problem: Value = expect_problem(response, 422, "validation_failed").await?;
    let text = problem.to_string();
    assert!(!text.contains(&secret[5..]), "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tolp_[redacted]")),
        "{problem}"
    );
    Ok(())
}
