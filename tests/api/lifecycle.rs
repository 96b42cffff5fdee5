//! Lifecycle: regenerate, duplicate, bulk operations, organization and SSO authorization, and
//! admin oversight.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::fixtures::{
    Directory, create_token, fetch_token, get_json, introspect, introspector, personal, session,
    session_with,
};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    regenerate_replaces_the_value_and_keeps_the_rest,
    regenerate_renews_expired_tokens_and_refuses_revoked_ones,
    duplicate_copies_the_settings_with_a_new_value,
    bulk_operations_report_per_id_and_touch_nothing_foreign,
    personal_tokens_gain_and_lose_organizations,
    sso_authorization_opens_an_enforcing_organization,
    admins_oversee_their_organization,
);

fn id_of(token: &Value) -> String {
    token["id"].as_str().unwrap_or_default().to_owned()
}

async fn post(
    app: &TestApp,
    user: &str,
    path: &str,
    body: &Value,
) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .post(app.url(path))
        .bearer_auth(session(user)?)
        .json(body)
        .send()
        .await?)
}

async fn regenerate_replaces_the_value_and_keeps_the_rest(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (token, old) =
        personal(&app, "member", "ci", &["acme"], &["read", "write:projects"]).await?;
    let id = id_of(&token);
    let response = post(
        &app,
        "member",
        &format!("/v1/tokens/{id}/regenerate"),
        &json!({}),
    )
    .await?;
    assert_eq!(response.status(), 200);
    let regenerated: Value = response.json().await?;
    let new = regenerated["token"].as_str().unwrap_or_default().to_owned();
    assert!(new.starts_with("tolp_") && new != old);
    assert_eq!(regenerated["hint"], new[..9]);
    for field in [
        "id",
        "name",
        "scopes",
        "organization_ids",
        "project_ids",
        "owner",
        "created_at",
        "expires_at",
        "kind",
    ] {
        assert_eq!(regenerated[field], token[field], "{field}");
    }
    let old_answer = introspect(&app, &gateway, &json!({"token": old})).await?;
    assert!(
        old_answer == json!({"active": false, "reason": "unknown"})
            || old_answer == json!({"active": false, "reason": "revoked"}),
        "{old_answer}"
    );
    let new_answer = introspect(&app, &gateway, &json!({"token": new})).await?;
    assert_eq!(
        (
            new_answer["active"].as_bool(),
            new_answer["token_id"].as_str()
        ),
        (Some(true), Some(id.as_str()))
    );
    Ok(())
}

async fn regenerate_renews_expired_tokens_and_refuses_revoked_ones(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let in_days = |days: i64| (chrono::Utc::now() + chrono::TimeDelta::days(days)).to_rfc3339();
    let (token, _) = create_token(&app, "member", &json!({"kind": "personal", "name": "old", "organization_ids": ["acme"], "scopes": ["read"], "expires_at": in_days(7)})).await?;
    let id = id_of(&token);
    {
        use tokend::db::schema::tokens;
        // Created eight days ago with a seven-day lifetime: expired yesterday.
        let now = chrono::Utc::now().naive_utc();
        diesel::update(tokens::table.find(&id))
            .set((
                tokens::created_at.eq(now - chrono::TimeDelta::days(8)),
                tokens::expires_at.eq(Some(now - chrono::TimeDelta::days(1))),
            ))
            .execute(&mut app.connection()?)?;
    }
    let path = format!("/v1/tokens/{id}/regenerate");
    expect_problem(
        post(
            &app,
            "member",
            &path,
            &json!({"expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await?,
        422,
        "validation_failed",
    )
    .await?;
    let renewed: Value = post(&app, "member", &path, &json!({}))
        .await?
        .json()
        .await?;
    assert_eq!(renewed["status"], "active");
    let expires =
        chrono::DateTime::parse_from_rfc3339(renewed["expires_at"].as_str().unwrap_or_default())?;
    assert!(expires.with_timezone(&chrono::Utc) > chrono::Utc::now() + chrono::TimeDelta::days(6));
    let value = renewed["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?["active"],
        true
    );
    let explicit: Value = post(&app, "member", &path, &json!({"expires_at": in_days(1)}))
        .await?
        .json()
        .await?;
    assert!(explicit["expires_at"].as_str() < renewed["expires_at"].as_str());

    post(
        &app,
        "member",
        &format!("/v1/tokens/{id}/revoke"),
        &json!({}),
    )
    .await?;
    expect_problem(
        post(&app, "member", &path, &json!({})).await?,
        409,
        "conflict",
    )
    .await?;
    expect_problem(
        post(&app, "viewer", &path, &json!({})).await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn duplicate_copies_the_settings_with_a_new_value(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.project("acme", "web").await?;
    let gateway = introspector(&app)?;
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30)).to_rfc3339();
    let (source, source_value) = create_token(&app, "member", &json!({"kind": "personal", "name": "src", "description": "d", "organization_ids": ["acme"], "scopes": ["read", "write:projects"], "project_ids": ["web"], "expires_at": expires})).await?;
    let response = post(
        &app,
        "member",
        &format!("/v1/tokens/{}/duplicate", id_of(&source)),
        &json!({"name": "copy"}),
    )
    .await?;
    assert_eq!(response.status(), 201);
    let copy: Value = response.json().await?;
    assert_ne!(copy["id"], source["id"]);
    assert_eq!(copy["name"], "copy");
    for field in [
        "kind",
        "description",
        "scopes",
        "organization_ids",
        "project_ids",
        "owner",
    ] {
        assert_eq!(copy[field], source[field], "{field}");
    }
    let copied =
        chrono::DateTime::parse_from_rfc3339(copy["expires_at"].as_str().unwrap_or_default())?;
    assert!((copied.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days() >= 29);
    let copy_value = copy["token"].as_str().unwrap_or_default().to_owned();
    for value in [&source_value, &copy_value] {
        assert_eq!(
            introspect(&app, &gateway, &json!({"token": value})).await?["active"],
            true
        );
    }
    expect_problem(
        post(
            &app,
            "member",
            &format!("/v1/tokens/{}/duplicate", id_of(&source)),
            &json!({"name": "copy"}),
        )
        .await?,
        409,
        "name_taken",
    )
    .await?;
    expect_problem(
        post(
            &app,
            "viewer",
            &format!("/v1/tokens/{}/duplicate", id_of(&source)),
            &json!({"name": "mine"}),
        )
        .await?,
        404,
        "not_found",
    )
    .await?;
    Ok(())
}

async fn bulk_operations_report_per_id_and_touch_nothing_foreign(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let (a, _) = personal(&app, "member", "a", &["acme"], &["read"]).await?;
    let (b, _) = personal(&app, "member", "b", &["acme"], &["read"]).await?;
    let (c, _) = personal(&app, "member", "c", &["acme"], &["read"]).await?;
    let (foreign, _) = personal(&app, "viewer", "f", &["acme"], &["read"]).await?;
    post(
        &app,
        "member",
        &format!("/v1/tokens/{}/revoke", id_of(&b)),
        &json!({}),
    )
    .await?;

    let ids = json!([id_of(&a), id_of(&b), id_of(&foreign), "no-such-token"]);
    let response = post(
        &app,
        "member",
        "/v1/tokens/bulk-revoke",
        &json!({"ids": ids, "reason": "offboarding"}),
    )
    .await?;
    assert_eq!(response.status(), 200);
    let results: Value = response.json().await?;
    assert_eq!(
        results,
        json!({"results": [
            {"id": id_of(&a), "result": "revoked"},
            {"id": id_of(&b), "result": "already_revoked"},
            {"id": id_of(&foreign), "result": "not_found"},
            {"id": "no-such-token", "result": "not_found"},
        ]})
    );
    let foreign_now = fetch_token(&app, "viewer", &foreign).await?;
    assert_eq!(foreign_now["status"], "active");
    let a_now = fetch_token(&app, "member", &a).await?;
    assert_eq!(a_now["revoked_reason"], "offboarding");

    let deleted: Value = post(
        &app,
        "member",
        "/v1/tokens/bulk-delete",
        &json!({"ids": [id_of(&c), id_of(&foreign), "nope"]}),
    )
    .await?
    .json()
    .await?;
    assert_eq!(
        deleted,
        json!({"results": [
            {"id": id_of(&c), "result": "deleted"},
            {"id": id_of(&foreign), "result": "not_found"},
            {"id": "nope", "result": "not_found"},
        ]})
    );
    assert_eq!(
        app.client
            .get(app.url(&format!("/v1/tokens/{}", id_of(&foreign))))
            .bearer_auth(session("viewer")?)
            .send()
            .await?
            .status(),
        200
    );

    let too_many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    for path in ["/v1/tokens/bulk-revoke", "/v1/tokens/bulk-delete"] {
        let problem = expect_problem(
            post(&app, "member", path, &json!({"ids": too_many})).await?,
            422,
            "validation_failed",
        )
        .await?;
        assert_eq!(problem["errors"][0]["field"], "ids");
        expect_problem(
            post(&app, "member", path, &json!({"ids": []})).await?,
            422,
            "validation_failed",
        )
        .await?;
    }
    Ok(())
}

async fn personal_tokens_gain_and_lose_organizations(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    dir.org("delta", json!({})).await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "p", &["acme"], &["read"]).await?;
    let path = |org: &str| app.url(&format!("/v1/tokens/{}/organizations/{org}", id_of(&token)));
    let jwt = session("member")?;

    let added = app
        .client
        .put(path("gamma"))
        .bearer_auth(&jwt)
        .send()
        .await?;
    assert_eq!(added.status(), 200);
    assert_eq!(
        added.json::<Value>().await?["organization_ids"],
        json!(["acme", "gamma"])
    );
    assert_eq!(
        app.client
            .put(path("gamma"))
            .bearer_auth(&jwt)
            .send()
            .await?
            .status(),
        200
    );
    assert_eq!(
        introspect(
            &app,
            &gateway,
            &json!({"token": value, "organization_id": "gamma"})
        )
        .await?["active"],
        true
    );
    let problem = expect_problem(
        app.client
            .put(path("delta"))
            .bearer_auth(&jwt)
            .send()
            .await?,
        422,
        "validation_failed",
    )
    .await?;
    assert_eq!(problem["errors"][0]["field"], "organization_id");

    assert_eq!(
        app.client
            .delete(path("acme"))
            .bearer_auth(&jwt)
            .send()
            .await?
            .status(),
        204
    );
    assert_eq!(
        introspect(
            &app,
            &gateway,
            &json!({"token": value, "organization_id": "acme"})
        )
        .await?["reason"],
        "organization_not_authorized"
    );
    expect_problem(
        app.client
            .delete(path("gamma"))
            .bearer_auth(&jwt)
            .send()
            .await?,
        409,
        "conflict",
    )
    .await?;
    expect_problem(
        app.client
            .put(path("gamma"))
            .bearer_auth(session("viewer")?)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;

    let (agent, _) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "a", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    let agent_path = app.url(&format!("/v1/tokens/{}/organizations/gamma", id_of(&agent)));
    expect_problem(
        app.client.put(agent_path).bearer_auth(&jwt).send().await?,
        409,
        "conflict",
    )
    .await?;
    Ok(())
}

async fn sso_authorization_opens_an_enforcing_organization(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("secure", json!({"sso_enforced": true})).await?;
    dir.member("secure", "member", "member").await?;
    let gateway = introspector(&app)?;
    let (token, value) = personal(&app, "member", "p", &["secure"], &["read"]).await?;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?["reason"],
        "sso_authorization_required"
    );
    let path = app.url(&format!(
        "/v1/tokens/{}/organizations/secure/sso-authorize",
        id_of(&token)
    ));

    let problem = expect_problem(
        app.client
            .post(&path)
            .bearer_auth(session("member")?)
            .send()
            .await?,
        403,
        "forbidden",
    )
    .await?;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("SSO")),
        "{problem}"
    );
    expect_problem(
        app.client
            .post(&path)
            .bearer_auth(session_with("viewer", &json!({"sso_orgs": ["secure"]}))?)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;
    let other = app.url(&format!(
        "/v1/tokens/{}/organizations/acme/sso-authorize",
        id_of(&token)
    ));
    expect_problem(
        app.client
            .post(other)
            .bearer_auth(session_with("member", &json!({"sso_orgs": ["acme"]}))?)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;

    let response = app
        .client
        .post(&path)
        .bearer_auth(session_with("member", &json!({"sso_orgs": ["secure"]}))?)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let authorized: Value = response.json().await?;
    assert_eq!(
        authorized["sso_authorizations"][0]["organization_id"],
        "secure"
    );
    assert!(authorized["sso_authorizations"][0]["authorized_at"].is_string());
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?["active"],
        true
    );
    Ok(())
}

async fn admins_oversee_their_organization(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    let (agent, _) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "mcp", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    let (pat, _) = personal(&app, "member", "pat", &["acme"], &["read"]).await?;
    let (api, _) = create_token(
        &app,
        "admin",
        &json!({"kind": "api", "name": "api", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    let (elsewhere, _) = personal(&app, "member", "gamma-only", &["gamma"], &["read"]).await?;

    let list = get_json(&app, "admin", "/v1/organizations/acme/tokens").await?;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .map(|i| i.iter().filter_map(|t| t["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(list["total_count"], 3);
    for token in [&agent, &pat, &api] {
        assert!(ids.contains(&token["id"].as_str().unwrap_or_default()));
    }
    assert!(!ids.contains(&elsewhere["id"].as_str().unwrap_or_default()));
    assert!(list.to_string().find("\"token\"").is_none());
    let agents = get_json(&app, "owner", "/v1/organizations/acme/tokens?kind=agent").await?;
    assert_eq!(agents["total_count"], 1);

    for user in ["member", "viewer", "stranger"] {
        expect_problem(
            app.client
                .get(app.url("/v1/organizations/acme/tokens"))
                .bearer_auth(session(user)?)
                .send()
                .await?,
            404,
            "not_found",
        )
        .await?;
    }
    expect_problem(
        post(
            &app,
            "admin",
            &format!("/v1/tokens/{}/revoke", id_of(&pat)),
            &json!({}),
        )
        .await?,
        404,
        "not_found",
    )
    .await?;
    let revoked = post(
        &app,
        "admin",
        &format!("/v1/tokens/{}/revoke", id_of(&agent)),
        &json!({"reason": "policy"}),
    )
    .await?;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await?;
    assert_eq!(
        (revoked["status"].as_str(), revoked["revoked_by"].as_str()),
        (Some("revoked"), Some("admin"))
    );
    Ok(())
}
