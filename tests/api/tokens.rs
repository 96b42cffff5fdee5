//! Token management and the rules of DESIGN §4, each with its status code and `code`.

use diesel::prelude::*;
use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::fixtures::{
    Directory, create_token, fetch_token, get_json, personal, post_token, revoke_token, session,
    session_with,
};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    create_returns_the_resource_and_the_value_once,
    creating_needs_a_verified_email,
    api_tokens_need_admin_and_enabled_organizations,
    organizations_per_kind,
    agent_tokens_default_to_ninety_days,
    scopes_must_be_in_the_catalog_and_presets_expand,
    scopes_may_not_exceed_the_role,
    expiry_rules,
    names_are_1_to_100_and_unique_per_owner,
    others_get_404_for_every_route,
    tokens_cannot_manage_tokens,
    patch_applies_the_rules,
    revoke_and_delete,
    scope_catalog_lists_scopes_and_presets,
    project_restrictions_must_name_existing_projects,
    changes_are_audited_with_actor_and_request_id,
    expiry_is_kept_to_the_microsecond_on_both_backends,
);

/// A client's `expires_at` with nanoseconds is stored and answered to the microsecond, as every
/// other time (SQLite would otherwise keep the nanoseconds and PostgreSQL drop them), on create,
/// on PATCH and on regenerate.
async fn expiry_is_kept_to_the_microsecond_on_both_backends(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let (token, _) = create_token(
        &app,
        "member",
        &json!({"kind": "personal", "name": "nanos", "organization_ids": ["acme"],
                "scopes": ["read"], "expires_at": "2030-01-01T00:00:00.123456789Z"}),
    )
    .await?;
    assert_eq!(token["expires_at"], "2030-01-01T00:00:00.123456Z");
    let url = app.url(&format!(
        "/v1/tokens/{}",
        token["id"].as_str().unwrap_or_default()
    ));
    let jwt = session("member")?;
    let patched: Value = app
        .client
        .patch(&url)
        .bearer_auth(&jwt)
        .json(&json!({"expires_at": "2031-01-01T00:00:00.000000999Z"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(patched["expires_at"], "2031-01-01T00:00:00Z");
    let regenerated: Value = app
        .client
        .post(format!("{url}/regenerate"))
        .bearer_auth(&jwt)
        .json(&json!({"expires_at": "2032-01-01T00:00:00.5000001Z"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(regenerated["expires_at"], "2032-01-01T00:00:00.500Z");
    Ok(())
}

/// type, actor type, actor id, organization, request id, client IP of an audit event.
type AuditRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

fn personal_body(name: &str, scopes: &[&str]) -> Value {
    json!({"kind": "personal", "name": name, "organization_ids": ["acme"], "scopes": scopes})
}

async fn setup(app: &TestApp) -> TestResult<Directory<'_>> {
    let dir = Directory::new(app)?;
    dir.acme().await?;
    Ok(dir)
}

async fn create_returns_the_resource_and_the_value_once(app: TestApp) -> TestResult {
    setup(&app).await?;
    let response = post_token(&app, "member", &json!({"kind": "personal", "name": "CI", "description": "deploys", "organization_ids": ["acme"], "scopes": ["read", "write:projects"]})).await?;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str()?.to_owned();
    let created: Value = response.json().await?;
    let value = created["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        location,
        format!("/v1/tokens/{}", created["id"].as_str().unwrap_or_default())
    );
    assert_eq!(value.len(), 43);
    assert!(value.starts_with("tolp_"));
    assert_eq!(created["hint"], value[..9]);
    for field in [
        "id",
        "kind",
        "name",
        "description",
        "hint",
        "scopes",
        "organization_ids",
        "project_ids",
        "owner",
        "sso_authorizations",
        "is_active",
        "status",
        "expires_at",
        "created_at",
        "updated_at",
        "revoked_at",
        "revoked_by",
        "revoked_reason",
        "last_used_at",
        "usage_count",
        "token",
    ] {
        assert!(created.get(field).is_some(), "missing {field}");
    }
    assert_eq!(created["kind"], "personal");
    assert_eq!(created["scopes"], json!(["read", "write:projects"]));
    assert_eq!(created["owner"], json!({"type": "user", "id": "member"}));
    assert_eq!(
        (created["status"].as_str(), created["is_active"].as_bool()),
        (Some("active"), Some(true))
    );
    assert_eq!(created["usage_count"], 0);

    let fetched = get_json(&app, "member", &location).await?;
    assert!(fetched.get("token").is_none());
    let mut expected = created.clone();
    if let Some(map) = expected.as_object_mut() {
        map.remove("token");
    }
    assert_eq!(fetched, expected);
    let list = app
        .client
        .get(app.url("/v1/tokens"))
        .bearer_auth(session("member")?)
        .send()
        .await?
        .text()
        .await?;
    assert!(
        !list.contains(&value) && !list.contains(&value[5..]),
        "the value appears only in the create response"
    );
    let page: Value = serde_json::from_str(&list)?;
    assert_eq!(page["items"][0]["id"], created["id"]);
    assert_eq!(page["total_count"], 1);
    Ok(())
}

async fn creating_needs_a_verified_email(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    dir.user("unverified", false, false).await?;
    dir.member("acme", "unverified", "member").await?;
    let jwt = session_with("unverified", &json!({"email_verified": false}))?;
    let response = app
        .client
        .post(app.url("/v1/tokens"))
        .bearer_auth(&jwt)
        .json(&personal_body("x", &["read"]))
        .send()
        .await?;
    expect_problem(response, 403, "email_not_verified").await?;
    // Verified by the directory is enough.
    dir.user("unverified", true, false).await?;
    let response = app
        .client
        .post(app.url("/v1/tokens"))
        .bearer_auth(&jwt)
        .json(&personal_body("x", &["read"]))
        .send()
        .await?;
    assert_eq!(response.status(), 201);
    Ok(())
}

async fn api_tokens_need_admin_and_enabled_organizations(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    let body =
        json!({"kind": "api", "name": "backend", "organization_id": "acme", "scopes": ["admin"]});
    expect_problem(post_token(&app, "member", &body).await?, 403, "forbidden").await?;
    expect_problem(post_token(&app, "stranger", &body).await?, 403, "forbidden").await?;
    let (created, value) = create_token(&app, "admin", &body).await?;
    assert!(value.starts_with("tola_"));
    assert_eq!(
        created["owner"],
        json!({"type": "organization", "id": "acme"})
    );
    assert_eq!(created["organization_ids"], json!(["acme"]));
    // The owner sees it too; a member does not.
    let id = created["id"].as_str().unwrap_or_default();
    assert_eq!(
        app.client
            .get(app.url(&format!("/v1/tokens/{id}")))
            .bearer_auth(session("owner")?)
            .send()
            .await?
            .status(),
        200
    );
    expect_problem(
        app.client
            .get(app.url(&format!("/v1/tokens/{id}")))
            .bearer_auth(session("member")?)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;

    dir.org("acme", json!({"name": "Acme", "api_tokens_enabled": false}))
        .await?;
    let body =
        json!({"kind": "api", "name": "backend-2", "organization_id": "acme", "scopes": ["read"]});
    expect_problem(
        post_token(&app, "owner", &body).await?,
        403,
        "api_tokens_disabled",
    )
    .await?;
    Ok(())
}

async fn organizations_per_kind(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    dir.org("other", json!({})).await?;
    let cases = [
        (
            json!({"kind": "personal", "name": "a", "scopes": ["read"]}),
            "organization_ids",
        ),
        (
            json!({"kind": "personal", "name": "a", "scopes": ["read"], "organization_ids": []}),
            "organization_ids",
        ),
        (
            json!({"kind": "personal", "name": "a", "scopes": ["read"], "organization_ids": ["other"]}),
            "organization_ids",
        ),
        (
            json!({"kind": "personal", "name": "a", "scopes": ["read"], "organization_ids": ["acme", "nowhere"]}),
            "organization_ids",
        ),
        (
            json!({"kind": "agent", "name": "a", "scopes": ["read"], "organization_ids": ["acme", "other"]}),
            "organization_id",
        ),
        (
            json!({"kind": "agent", "name": "a", "scopes": ["read"]}),
            "organization_id",
        ),
        (
            json!({"kind": "service", "name": "a", "scopes": ["read"], "organization_id": "acme"}),
            "kind",
        ),
    ];
    for (body, field) in cases {
        let problem = expect_problem(
            post_token(&app, "member", &body).await?,
            422,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let (created, _) = personal(&app, "member", "ok", &["acme"], &["read"]).await?;
    assert_eq!(created["organization_ids"], json!(["acme"]));
    Ok(())
}

async fn agent_tokens_default_to_ninety_days(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    let (created, value) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "claude", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    assert!(value.starts_with("tolg_"));
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap_or_default())?;
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((2159..=2160).contains(&hours), "{hours}");
    // An explicit expiry wins; the organization's maximum clamps the default.
    dir.org(
        "acme",
        json!({"name": "Acme", "api_tokens_enabled": true, "max_token_lifetime_days": 30}),
    )
    .await?;
    let (clamped, _) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "cursor", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    let expires =
        chrono::DateTime::parse_from_rfc3339(clamped["expires_at"].as_str().unwrap_or_default())?;
    assert!((expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days() <= 30);
    Ok(())
}

async fn scopes_must_be_in_the_catalog_and_presets_expand(app: TestApp) -> TestResult {
    setup(&app).await?;
    for (scopes, field) in [
        (json!(["read", "fly:rockets"]), "scopes[1]"),
        (json!(["read:spaceships"]), "scopes[0]"),
        (json!([]), "scopes"),
    ] {
        let body = json!({"kind": "personal", "name": "a", "organization_ids": ["acme"], "scopes": scopes});
        let problem = expect_problem(
            post_token(&app, "member", &body).await?,
            422,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let (created, _) = create_token(&app, "member", &json!({"kind": "personal", "name": "r", "organization_ids": ["acme"], "preset": "reporting"})).await?;
    assert_eq!(
        created["scopes"],
        json!(["read:audit", "read:billing", "read:projects"])
    );
    let problem = expect_problem(post_token(&app, "member", &json!({"kind": "personal", "name": "p", "organization_ids": ["acme"], "preset": "everything"})).await?, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "preset");
    let both = json!({"kind": "personal", "name": "p", "organization_ids": ["acme"], "preset": "read-only", "scopes": ["read"]});
    expect_problem(
        post_token(&app, "member", &both).await?,
        422,
        "validation_failed",
    )
    .await?;
    Ok(())
}

async fn scopes_may_not_exceed_the_role(app: TestApp) -> TestResult {
    setup(&app).await?;
    for (user, scopes) in [
        ("viewer", json!(["write:projects"])),
        ("member", json!(["admin"])),
        ("viewer", json!(["read", "write"])),
    ] {
        let body = json!({"kind": "personal", "name": "x", "organization_ids": ["acme"], "scopes": scopes});
        expect_problem(
            post_token(&app, user, &body).await?,
            422,
            "policy_violation",
        )
        .await?;
    }
    personal(&app, "viewer", "ok", &["acme"], &["read"]).await?;
    personal(&app, "admin", "ok", &["acme"], &["admin"]).await?;
    Ok(())
}

async fn expiry_rules(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    let in_days = |days: i64| (chrono::Utc::now() + chrono::TimeDelta::days(days)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::TimeDelta::seconds(5)).to_rfc3339();
    let with_expiry = |name: &str, expires: Value| json!({"kind": "personal", "name": name, "organization_ids": ["acme"], "scopes": ["read"], "expires_at": expires});

    let problem = expect_problem(
        post_token(&app, "member", &with_expiry("a", json!(past))).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "expires_at");
    expect_problem(
        post_token(&app, "member", &with_expiry("a", json!("tomorrow"))).await?,
        400,
        "validation_failed",
    )
    .await?;
    let (never, _) = create_token(&app, "member", &with_expiry("never", Value::Null)).await?;
    assert_eq!(never["expires_at"], Value::Null);

    dir.org(
        "acme",
        json!({"name": "Acme", "require_expiry": true, "max_token_lifetime_days": 30}),
    )
    .await?;
    expect_problem(
        post_token(&app, "member", &with_expiry("b", Value::Null)).await?,
        422,
        "policy_violation",
    )
    .await?;
    expect_problem(
        post_token(&app, "member", &personal_body("b", &["read"])).await?,
        422,
        "policy_violation",
    )
    .await?;
    expect_problem(
        post_token(&app, "member", &with_expiry("b", json!(in_days(31)))).await?,
        422,
        "policy_violation",
    )
    .await?;
    create_token(&app, "member", &with_expiry("b", json!(in_days(29)))).await?;
    Ok(())
}

async fn names_are_1_to_100_and_unique_per_owner(app: TestApp) -> TestResult {
    setup(&app).await?;
    for name in [json!(""), json!("   "), json!("x".repeat(101)), Value::Null] {
        let body = json!({"kind": "personal", "name": name, "organization_ids": ["acme"], "scopes": ["read"]});
        let problem = expect_problem(
            post_token(&app, "member", &body).await?,
            422,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], "name");
    }
    let (first, _) = personal(&app, "member", &"n".repeat(100), &["acme"], &["read"]).await?;
    expect_problem(
        post_token(&app, "member", &personal_body(&"n".repeat(100), &["read"])).await?,
        409,
        "name_taken",
    )
    .await?;
    // Agent tokens share the user's namespace; another user may reuse the name.
    let agent = json!({"kind": "agent", "name": "n".repeat(100), "organization_id": "acme", "scopes": ["read"]});
    expect_problem(post_token(&app, "member", &agent).await?, 409, "name_taken").await?;
    personal(&app, "viewer", &"n".repeat(100), &["acme"], &["read"]).await?;
    // A revoked token frees its name.
    revoke_token(&app, "member", &first).await?;
    personal(&app, "member", &"n".repeat(100), &["acme"], &["read"]).await?;
    Ok(())
}

async fn others_get_404_for_every_route(app: TestApp) -> TestResult {
    setup(&app).await?;
    let (mine, _) = personal(&app, "member", "mine", &["acme"], &["read"]).await?;
    let id = mine["id"].as_str().unwrap_or_default();
    // Another member, an org admin (PATs are not theirs) and a stranger.
    for other in ["viewer", "admin", "stranger"] {
        let jwt = session(other)?;
        let url = app.url(&format!("/v1/tokens/{id}"));
        expect_problem(
            app.client.get(&url).bearer_auth(&jwt).send().await?,
            404,
            "not_found",
        )
        .await?;
        expect_problem(
            app.client
                .patch(&url)
                .bearer_auth(&jwt)
                .json(&json!({"name": "stolen"}))
                .send()
                .await?,
            404,
            "not_found",
        )
        .await?;
        expect_problem(
            app.client
                .post(format!("{url}/revoke"))
                .bearer_auth(&jwt)
                .send()
                .await?,
            404,
            "not_found",
        )
        .await?;
        expect_problem(
            app.client.delete(&url).bearer_auth(&jwt).send().await?,
            404,
            "not_found",
        )
        .await?;
    }
    let unknown = app.url("/v1/tokens/00000000-0000-7000-8000-000000000000");
    expect_problem(
        app.client
            .get(&unknown)
            .bearer_auth(session("member")?)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;
    let still = fetch_token(&app, "member", &mine).await?;
    assert_eq!(
        (still["name"].as_str(), still["status"].as_str()),
        (Some("mine"), Some("active"))
    );
    let listed = get_json(&app, "viewer", "/v1/tokens").await?;
    assert_eq!(listed["total_count"], 0);
    Ok(())
}

async fn tokens_cannot_manage_tokens(app: TestApp) -> TestResult {
    setup(&app).await?;
    let (mine, value) = personal(&app, "member", "mine", &["acme"], &["read"]).await?;
    let id = mine["id"].as_str().unwrap_or_default();
    let service = app.service_token("svc", &[Permission::ServiceTokens, Permission::Introspect])?;
    let routes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::POST,
            "/v1/tokens".into(),
            Some(personal_body("x", &["read"])),
        ),
        (reqwest::Method::GET, "/v1/tokens".into(), None),
        (reqwest::Method::GET, format!("/v1/tokens/{id}"), None),
        (
            reqwest::Method::PATCH,
            format!("/v1/tokens/{id}"),
            Some(json!({"name": "y"})),
        ),
        (reqwest::Method::DELETE, format!("/v1/tokens/{id}"), None),
        (
            reqwest::Method::POST,
            format!("/v1/tokens/{id}/revoke"),
            Some(json!({})),
        ),
        (reqwest::Method::GET, "/v1/scopes".into(), None),
    ];
    for (method, path, body) in routes {
        let request = |credential: &str| {
            let mut builder = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(credential);
            if let Some(body) = &body {
                builder = builder.json(body);
            }
            builder.send()
        };
        expect_problem(request(&value).await?, 403, "token_cannot_manage_tokens").await?;
        expect_problem(request(&service).await?, 403, "forbidden").await?;
        let unknown = tokend::tokens::secret::generate(
            &tokend::tokens::kind::Prefixes::default(),
            tokend::tokens::kind::TokenKind::Personal,
        );
        expect_problem(request(unknown.expose()).await?, 401, "unauthenticated").await?;
    }
    let still = fetch_token(&app, "member", &mine).await?;
    assert_eq!(
        (still["name"].as_str(), still["status"].as_str()),
        (Some("mine"), Some("active"))
    );
    Ok(())
}

async fn patch_applies_the_rules(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    let (token, _) = personal(&app, "member", "old", &["acme"], &["read"]).await?;
    personal(&app, "member", "taken", &["acme"], &["read"]).await?;
    let url = app.url(&format!(
        "/v1/tokens/{}",
        token["id"].as_str().unwrap_or_default()
    ));
    let patch = |body: Value| {
        app.client
            .patch(&url)
            .bearer_auth(session("member").unwrap_or_default())
            .json(&body)
            .send()
    };

    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(10))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let updated = patch(json!({"name": "new", "description": "d", "scopes": ["write:projects", "read"], "expires_at": expires})).await?;
    assert_eq!(updated.status(), 200);
    let updated: Value = updated.json().await?;
    assert_eq!(
        (updated["name"].as_str(), updated["description"].as_str()),
        (Some("new"), Some("d"))
    );
    assert_eq!(updated["scopes"], json!(["read", "write:projects"]));
    assert_eq!(updated["expires_at"], expires);
    assert_eq!(updated["created_at"], token["created_at"]);
    let cleared: Value = patch(json!({"description": null})).await?.json().await?;
    assert_eq!(
        (cleared["description"].clone(), cleared["name"].as_str()),
        (Value::Null, Some("new"))
    );

    expect_problem(patch(json!({"name": "taken"})).await?, 409, "name_taken").await?;
    expect_problem(
        patch(json!({"scopes": ["admin"]})).await?,
        422,
        "policy_violation",
    )
    .await?;
    expect_problem(
        patch(json!({"scopes": ["fly"]})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        patch(json!({"expires_at": "2001-01-01T00:00:00Z"})).await?,
        422,
        "validation_failed",
    )
    .await?;
    expect_problem(
        patch(json!({"owner": "me"})).await?,
        400,
        "validation_failed",
    )
    .await?;
    dir.org("acme", json!({"name": "Acme", "require_expiry": true}))
        .await?;
    expect_problem(
        patch(json!({"expires_at": null})).await?,
        422,
        "policy_violation",
    )
    .await?;
    Ok(())
}

async fn revoke_and_delete(app: TestApp) -> TestResult {
    setup(&app).await?;
    let (token, _) = personal(&app, "member", "t", &["acme"], &["read"]).await?;
    let url = app.url(&format!(
        "/v1/tokens/{}",
        token["id"].as_str().unwrap_or_default()
    ));
    let jwt = session("member")?;
    let revoked = app
        .client
        .post(format!("{url}/revoke"))
        .bearer_auth(&jwt)
        .json(&json!({"reason": "leaked"}))
        .send()
        .await?;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await?;
    assert_eq!(
        (revoked["status"].as_str(), revoked["is_active"].as_bool()),
        (Some("revoked"), Some(false))
    );
    assert_eq!(
        (
            revoked["revoked_by"].as_str(),
            revoked["revoked_reason"].as_str()
        ),
        (Some("member"), Some("leaked"))
    );
    assert!(revoked["revoked_at"].is_string());
    // Again: unchanged. A revoked token cannot be patched.
    let again: Value = app
        .client
        .post(format!("{url}/revoke"))
        .bearer_auth(&jwt)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(again["revoked_at"], revoked["revoked_at"]);
    expect_problem(
        app.client
            .patch(&url)
            .bearer_auth(&jwt)
            .json(&json!({"name": "x"}))
            .send()
            .await?,
        409,
        "conflict",
    )
    .await?;
    let long = json!({"reason": "r".repeat(501)});
    expect_problem(
        app.client
            .post(format!("{url}/revoke"))
            .bearer_auth(&jwt)
            .json(&long)
            .send()
            .await?,
        422,
        "validation_failed",
    )
    .await?;

    let deleted = app.client.delete(&url).bearer_auth(&jwt).send().await?;
    assert_eq!(deleted.status(), 204);
    expect_problem(
        app.client.get(&url).bearer_auth(&jwt).send().await?,
        404,
        "not_found",
    )
    .await?;
    expect_problem(
        app.client.delete(&url).bearer_auth(&jwt).send().await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn scope_catalog_lists_scopes_and_presets(app: TestApp) -> TestResult {
    let catalog = get_json(&app, "anyone", "/v1/scopes").await?;
    let names: Vec<&str> = catalog["scopes"]
        .as_array()
        .map(|s| s.iter().filter_map(|e| e["name"].as_str()).collect())
        .unwrap_or_default();
    for scope in ["read", "write", "admin", "read:projects", "admin:billing"] {
        assert!(names.contains(&scope), "{scope}");
    }
    assert!(
        catalog["scopes"]
            .as_array()
            .is_some_and(|s| s.iter().all(|e| e["description"].is_string()))
    );
    let presets: Vec<&str> = catalog["presets"]
        .as_array()
        .map(|p| p.iter().filter_map(|e| e["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(presets, ["read-only", "reporting", "ide-plugins"]);
    assert_eq!(
        catalog["presets"][0],
        json!({"id": "read-only", "name": "Read-only", "scopes": ["read"]})
    );
    expect_problem(
        app.client.get(app.url("/v1/scopes")).send().await?,
        401,
        "unauthenticated",
    )
    .await?;
    Ok(())
}

async fn project_restrictions_must_name_existing_projects(app: TestApp) -> TestResult {
    let dir = setup(&app).await?;
    dir.project("acme", "billing").await?;
    let body = |projects: Value| json!({"kind": "personal", "name": "p", "organization_ids": ["acme"], "scopes": ["read"], "project_ids": projects});
    let problem = expect_problem(
        post_token(&app, "member", &body(json!(["nope"]))).await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "project_ids");
    let (created, _) = create_token(&app, "member", &body(json!(["billing", "billing"]))).await?;
    assert_eq!(created["project_ids"], json!(["billing"]));
    Ok(())
}

async fn changes_are_audited_with_actor_and_request_id(app: TestApp) -> TestResult {
    use tokend::db::schema::audit_events::dsl as ae;
    setup(&app).await?;
    let jwt = session("member")?;
    let response = post_token(&app, "member", &personal_body("audited", &["read"])).await?;
    let request_id = response.headers()["x-request-id"].to_str()?.to_owned();
    let created: Value = response.json().await?;
    let value = created["token"].as_str().unwrap_or_default().to_owned();
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let url = app.url(&format!("/v1/tokens/{id}"));
    app.client
        .patch(&url)
        .bearer_auth(&jwt)
        .json(&json!({"name": "renamed"}))
        .send()
        .await?;
    app.client
        .post(format!("{url}/revoke"))
        .bearer_auth(&jwt)
        .send()
        .await?;
    app.client
        .post(format!("{url}/revoke"))
        .bearer_auth(&jwt)
        .send()
        .await?;
    app.client.delete(&url).bearer_auth(&jwt).send().await?;

    let rows: Vec<AuditRow> = ae::audit_events
        .filter(ae::token_id.eq(&id))
        .order(ae::id)
        .select((
            ae::event_type,
            ae::actor_type,
            ae::actor_id,
            ae::organization_id,
            ae::request_id,
            ae::client_ip,
        ))
        .load(&mut app.connection()?)?;
    let types: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        types,
        [
            "token.created",
            "token.updated",
            "token.revoked",
            "token.deleted"
        ]
    );
    for row in &rows {
        assert_eq!(
            (
                row.1.as_str(),
                row.2.as_str(),
                row.3.as_deref(),
                row.5.as_deref()
            ),
            ("user", "member", Some("acme"), Some("127.0.0.1"))
        );
        assert!(!row.4.is_empty());
    }
    assert_eq!(rows[0].4, request_id);
    let details: Vec<Option<String>> = ae::audit_events
        .select(ae::detail)
        .load(&mut app.connection()?)?;
    assert!(
        details.iter().flatten().all(|d| !d.contains(&value[5..])),
        "no token value in audit events"
    );
    Ok(())
}
