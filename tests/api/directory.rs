//! Directory sync: idempotent PUT, GET, DELETE, validation and service permissions.

use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    organization_lifecycle,
    user_and_membership_lifecycle,
    project_lifecycle,
    deleting_an_organization_removes_its_members_and_projects,
    invalid_fields_are_422_with_each_field,
    callers_without_service_permission_are_rejected,
    directory_changes_are_audited,
);

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?)
}

async fn get(app: &TestApp, token: &str, path: &str) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await?)
}

async fn delete(app: &TestApp, token: &str, path: &str) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await?)
}

async fn organization_lifecycle(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    let path = "/v1/directory/organizations/acme";
    let desired =
        json!({"name": "Acme", "api_tokens_enabled": true, "max_token_lifetime_days": 90});

    let created = put(&app, &token, path, desired.clone()).await?;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], path);
    let created: Value = created.json().await?;
    assert_eq!(created["id"], "acme");
    assert_eq!(created["name"], "Acme");
    assert_eq!(created["api_tokens_enabled"], true);
    assert_eq!(created["sso_enforced"], false);
    assert_eq!(created["require_expiry"], false);
    assert_eq!(created["max_token_lifetime_days"], 90);

    // The same PUT again changes nothing.
    let again = put(&app, &token, path, desired).await?;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await?;
    assert_eq!(again, created);

    // A replacement: omitted flags become false, null clears the lifetime.
    let replaced = put(
        &app,
        &token,
        path,
        json!({"name": "Acme Corp", "sso_enforced": true}),
    )
    .await?;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await?;
    assert_eq!(replaced["name"], "Acme Corp");
    assert_eq!(replaced["sso_enforced"], true);
    assert_eq!(replaced["api_tokens_enabled"], false);
    assert_eq!(replaced["max_token_lifetime_days"], Value::Null);
    assert_eq!(replaced["created_at"], created["created_at"]);

    let fetched: Value = get(&app, &token, path).await?.json().await?;
    assert_eq!(fetched, replaced);

    assert_eq!(delete(&app, &token, path).await?.status(), 204);
    expect_problem(get(&app, &token, path).await?, 404, "not_found").await?;
    // Deleting again is fine (idempotent).
    assert_eq!(delete(&app, &token, path).await?.status(), 204);
    Ok(())
}

async fn user_and_membership_lifecycle(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme",
        json!({"name": "Acme"}),
    )
    .await?;

    let member = "/v1/directory/organizations/acme/members/u1";
    // The user must exist first.
    expect_problem(
        put(&app, &token, member, json!({"role": "admin"})).await?,
        404,
        "not_found",
    )
    .await?;

    let user = put(
        &app,
        &token,
        "/v1/directory/users/u1",
        json!({"email": "ada@example.com", "email_verified": true}),
    )
    .await?;
    assert_eq!(user.status(), 201);
    let user: Value = user.json().await?;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["disabled"], false);
    let disabled = put(
        &app,
        &token,
        "/v1/directory/users/u1",
        json!({"email": "ada@example.com", "disabled": true}),
    )
    .await?;
    assert_eq!(disabled.status(), 200);
    assert_eq!(disabled.json::<Value>().await?["disabled"], true);

    let created = put(&app, &token, member, json!({"role": "admin"})).await?;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await?;
    assert_eq!(
        (
            created["organization_id"].as_str(),
            created["user_id"].as_str(),
            created["role"].as_str()
        ),
        (Some("acme"), Some("u1"), Some("admin"))
    );
    let demoted = put(&app, &token, member, json!({"role": "viewer"})).await?;
    assert_eq!(demoted.status(), 200);
    assert_eq!(
        get(&app, &token, member).await?.json::<Value>().await?["role"],
        "viewer"
    );

    assert_eq!(delete(&app, &token, member).await?.status(), 204);
    expect_problem(get(&app, &token, member).await?, 404, "not_found").await?;
    assert_eq!(
        delete(&app, &token, "/v1/directory/users/u1")
            .await?
            .status(),
        204
    );
    expect_problem(
        get(&app, &token, "/v1/directory/users/u1").await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(
        get(&app, &token, "/v1/directory/users/ghost").await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn project_lifecycle(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme",
        json!({"name": "Acme"}),
    )
    .await?;
    let project = "/v1/directory/organizations/acme/projects/billing";
    let created = put(&app, &token, project, json!({"name": "Billing"})).await?;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], project);
    assert_eq!(
        put(&app, &token, project, json!({"name": "Billing"}))
            .await?
            .status(),
        200
    );
    let fetched: Value = get(&app, &token, project).await?.json().await?;
    assert_eq!(
        (
            fetched["organization_id"].as_str(),
            fetched["id"].as_str(),
            fetched["name"].as_str()
        ),
        (Some("acme"), Some("billing"), Some("Billing"))
    );
    expect_problem(
        put(
            &app,
            &token,
            "/v1/directory/organizations/nope/projects/p",
            json!({"name": "P"}),
        )
        .await?,
        404,
        "not_found",
    )
    .await?;

    assert_eq!(delete(&app, &token, project).await?.status(), 204);
    expect_problem(get(&app, &token, project).await?, 404, "not_found").await?;
    Ok(())
}

async fn deleting_an_organization_removes_its_members_and_projects(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme",
        json!({"name": "Acme"}),
    )
    .await?;
    put(
        &app,
        &token,
        "/v1/directory/users/u1",
        json!({"email": "u1@example.com"}),
    )
    .await?;
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme/members/u1",
        json!({"role": "member"}),
    )
    .await?;
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme/projects/p1",
        json!({"name": "P1"}),
    )
    .await?;

    assert_eq!(
        delete(&app, &token, "/v1/directory/organizations/acme")
            .await?
            .status(),
        204
    );
    // Re-creating the organization does not bring them back.
    put(
        &app,
        &token,
        "/v1/directory/organizations/acme",
        json!({"name": "Acme"}),
    )
    .await?;
    expect_problem(
        get(&app, &token, "/v1/directory/organizations/acme/members/u1").await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(
        get(&app, &token, "/v1/directory/organizations/acme/projects/p1").await?,
        404,
        "not_found",
    )
    .await?;
    // The user is not deleted with the organization.
    assert_eq!(
        get(&app, &token, "/v1/directory/users/u1").await?.status(),
        200
    );
    Ok(())
}

async fn invalid_fields_are_422_with_each_field(app: TestApp) -> TestResult {
    let token = app.service_token("sync", &[Permission::Directory])?;
    let cases: [(&str, Value, &[&str]); 7] = [
        ("/v1/directory/organizations/acme", json!({}), &["name"]),
        (
            "/v1/directory/organizations/bad%20id",
            json!({"name": ""}),
            &["id", "name"],
        ),
        (
            "/v1/directory/organizations/acme",
            json!({"name": "A", "max_token_lifetime_days": 0}),
            &["max_token_lifetime_days"],
        ),
        (
            "/v1/directory/users/u1",
            json!({"email": "not-an-email"}),
            &["email"],
        ),
        ("/v1/directory/users/u1", json!({}), &["email"]),
        (
            "/v1/directory/organizations/acme/members/u1",
            json!({"role": "root"}),
            &["role"],
        ),
        (
            "/v1/directory/organizations/acme/projects/p1",
            json!({"name": "x".repeat(201)}),
            &["name"],
        ),
    ];
    for (path, body, fields) in cases {
        let problem = expect_problem(
            put(&app, &token, path, body).await?,
            422,
            "validation_failed",
        )
        .await?;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(named, fields, "{path}: {problem}");
    }
    // Unknown fields and wrong types are unreadable bodies: 400.
    expect_problem(
        put(
            &app,
            &token,
            "/v1/directory/organizations/acme",
            json!({"name": "A", "nmae": "B"}),
        )
        .await?,
        400,
        "validation_failed",
    )
    .await?;
    expect_problem(
        put(
            &app,
            &token,
            "/v1/directory/organizations/acme",
            json!({"name": "A", "sso_enforced": "yes"}),
        )
        .await?,
        400,
        "validation_failed",
    )
    .await?;
    // Nothing was stored.
    expect_problem(
        get(&app, &token, "/v1/directory/organizations/acme").await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn callers_without_service_permission_are_rejected(app: TestApp) -> TestResult {
    let path = "/v1/directory/organizations/acme";
    let body = json!({"name": "Acme"});
    let no_auth = app.client.put(app.url(path)).json(&body).send().await?;
    assert_eq!(no_auth.headers()["www-authenticate"], "Bearer");
    expect_problem(no_auth, 401, "unauthenticated").await?;

    let auditor = app.service_token("auditor", &[Permission::Audit, Permission::Introspect])?;
    let mut flipped = auditor.clone().into_bytes();
    flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped)?;
    for credential in ["garbage", "tols_short", flipped.as_str(), "a.b.c"] {
        expect_problem(
            put(&app, credential, path, body.clone()).await?,
            401,
            "unauthenticated",
        )
        .await?;
    }
    // A well-formed value with a valid checksum that no token has: 401 too.
    let stranger = tokend::tokens::secret::generate(
        &tokend::tokens::kind::Prefixes::default(),
        tokend::tokens::kind::TokenKind::Service,
    );
    expect_problem(
        put(&app, stranger.expose(), path, body.clone()).await?,
        401,
        "unauthenticated",
    )
    .await?;

    let problem = expect_problem(
        put(&app, &auditor, path, body.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("directory"))
    );
    expect_problem(get(&app, &auditor, path).await?, 403, "forbidden").await?;
    expect_problem(delete(&app, &auditor, path).await?, 403, "forbidden").await?;
    Ok(())
}

async fn directory_changes_are_audited(app: TestApp) -> TestResult {
    use diesel::prelude::*;
    use tokend::db::schema::audit_events::dsl as ae;

    let token = app.service_token("sync", &[Permission::Directory])?;
    let path = "/v1/directory/organizations/acme";
    let created = put(&app, &token, path, json!({"name": "Acme"})).await?;
    let request_id = created.headers()["x-request-id"].to_str()?.to_owned();
    put(&app, &token, path, json!({"name": "Acme"})).await?;
    put(&app, &token, path, json!({"name": "Acme 2"})).await?;
    delete(&app, &token, path).await?;
    delete(&app, &token, path).await?;

    let mut conn = app.connection()?;
    let rows: Vec<(String, String, String, Option<String>, String)> = ae::audit_events
        .filter(ae::event_type.like("directory.%"))
        .order(ae::id)
        .select((
            ae::event_type,
            ae::actor_type,
            ae::actor_id,
            ae::organization_id,
            ae::request_id,
        ))
        .load(&mut conn)?;
    let types: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        types,
        [
            "directory.organization_created",
            "directory.organization_updated",
            "directory.organization_deleted"
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.1 == "service" && r.3.as_deref() == Some("acme"))
    );
    assert_eq!(rows[0].4, request_id);
    Ok(())
}
