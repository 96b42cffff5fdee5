//! Introspection: every inactive reason, active answers, role caps at use time, expiry,
//! projects and required scopes, both body formats, `/v1/me` and RFC 7009 revocation.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::fixtures::{
    Directory, create_token, fetch_token, introspect, introspector, metric, personal, session,
};
use crate::helpers::{TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    every_inactive_reason_and_the_active_answer,
    callers_without_introspect_reasons_learn_nothing,
    role_caps_apply_at_use_time,
    a_token_expires_on_time,
    projects_and_required_scopes_answer_allowed,
    form_bodies_and_the_organization_header_work,
    api_and_agent_tokens_introspect_as_their_owner,
    me_describes_the_calling_token,
    rfc7009_revocation_by_service_and_by_the_token_itself,
    directory_deletes_cascade_to_tokens,
    introspect_needs_the_permission_and_a_token_field,
);

fn set_expiry_in_the_past(app: &TestApp, token_id: &str) -> TestResult {
    use tokend::db::schema::tokens;
    let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::hours(1);
    diesel::update(tokens::table.find(token_id))
        .set(tokens::expires_at.eq(Some(past)))
        .execute(&mut app.connection()?)?;
    Ok(())
}

async fn revoke(app: &TestApp, user: &str, id: &str) -> TestResult {
    let response = app
        .client
        .post(app.url(&format!("/v1/tokens/{id}/revoke")))
        .bearer_auth(session(user)?)
        .json(&json!({"reason": "test"}))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    Ok(())
}

async fn every_inactive_reason_and_the_active_answer(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    dir.org("beta", json!({"sso_enforced": true})).await?;
    dir.member("beta", "member", "member").await?;
    for user in ["leaver", "disabled"] {
        dir.user(user, true, false).await?;
        dir.member("acme", user, "member").await?;
    }
    let gateway = introspector(&app)?;

    let (active, active_value) =
        personal(&app, "member", "active", &["acme"], &["write:projects"]).await?;
    let (expired, expired_value) =
        personal(&app, "member", "expired", &["acme"], &["read"]).await?;
    set_expiry_in_the_past(&app, expired["id"].as_str().unwrap_or_default())?;
    let (revoked, revoked_value) =
        personal(&app, "member", "revoked", &["acme"], &["read"]).await?;
    revoke(&app, "member", revoked["id"].as_str().unwrap_or_default()).await?;
    let (_, multi) = personal(&app, "member", "multi", &["acme", "gamma"], &["read"]).await?;
    let (_, sso) = personal(&app, "member", "sso", &["beta"], &["read"]).await?;
    let (_, leaver) = personal(&app, "leaver", "leaver", &["acme"], &["read"]).await?;
    dir.remove_member("acme", "leaver").await?;
    let (_, disabled) = personal(&app, "disabled", "disabled", &["acme"], &["read"]).await?;
    dir.user("disabled", true, true).await?;
    let unknown = tokend::tokens::secret::generate(
        &tokend::tokens::kind::Prefixes::default(),
        tokend::tokens::kind::TokenKind::Personal,
    );

    let cases: [(&str, Value, &str); 9] = [
        (
            "malformed",
            json!({"token": "tolp_not-a-token"}),
            "malformed",
        ),
        ("unknown", json!({"token": unknown.expose()}), "unknown"),
        ("expired", json!({"token": expired_value}), "expired"),
        ("revoked", json!({"token": revoked_value}), "revoked"),
        (
            "organization_required",
            json!({"token": multi}),
            "organization_required",
        ),
        (
            "organization_not_authorized",
            json!({"token": active_value, "organization_id": "gamma"}),
            "organization_not_authorized",
        ),
        (
            "sso_authorization_required",
            json!({"token": sso}),
            "sso_authorization_required",
        ),
        ("not_a_member", json!({"token": leaver}), "not_a_member"),
        ("user_disabled", json!({"token": disabled}), "user_disabled"),
    ];
    for (case, body, reason) in cases {
        let answer = introspect(&app, &gateway, &body).await?;
        assert_eq!(
            answer,
            json!({"active": false, "reason": reason}),
            "case {case}"
        );
    }

    let answer = introspect(&app, &gateway, &json!({"token": active_value})).await?;
    let expected = json!({
        "active": true,
        "token_id": active["id"],
        "token_type": "personal",
        "name": "active",
        "sub": "member",
        "user_id": "member",
        "organization_id": "acme",
        "role": "member",
        "scope": "write:projects",
        "scopes": ["write:projects"],
        "iat": answer["iat"],
    });
    assert_eq!(answer, expected);
    assert!(
        answer["iat"]
            .as_i64()
            .is_some_and(|iat| (iat - chrono::Utc::now().timestamp()).abs() < 60)
    );
    // With an organization named, a multi-organization token works.
    let answer = introspect(
        &app,
        &gateway,
        &json!({"token": multi, "organization_id": "gamma"}),
    )
    .await?;
    assert_eq!(
        (
            answer["active"].as_bool(),
            answer["organization_id"].as_str()
        ),
        (Some(true), Some("gamma"))
    );
    Ok(())
}

async fn callers_without_introspect_reasons_learn_nothing(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    let stranger = app.service_token("stranger", &[Permission::Introspect])?;
    let (token, value) = personal(&app, "member", "t", &["acme"], &["read"]).await?;
    revoke(&app, "member", token["id"].as_str().unwrap_or_default()).await?;
    for body in [
        json!({"token": value}),
        json!({"token": "garbage"}),
        json!({"token": value, "organization_id": "nope"}),
    ] {
        assert_eq!(
            introspect(&app, &stranger, &body).await?,
            json!({"active": false})
        );
    }
    Ok(())
}

async fn role_caps_apply_at_use_time(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.user("riser", true, false).await?;
    dir.member("acme", "riser", "admin").await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(
        &app,
        "riser",
        "admin-pat",
        &["acme"],
        &["admin:projects", "read:billing"],
    )
    .await?;
    let body = json!({"token": value, "required_scopes": ["admin:projects"]});

    let answer = introspect(&app, &gateway, &body).await?;
    assert_eq!(answer["scopes"], json!(["admin:projects", "read:billing"]));
    assert_eq!(answer["allowed"], true);

    dir.member("acme", "riser", "member").await?;
    let answer = introspect(&app, &gateway, &body).await?;
    assert_eq!(answer["role"], "member");
    assert_eq!(answer["scopes"], json!(["read:billing", "write:projects"]));
    assert_eq!(answer["scope"], "read:billing write:projects");
    assert_eq!(answer["allowed"], false);
    assert_eq!(answer["missing_scopes"], json!(["admin:projects"]));

    dir.member("acme", "riser", "viewer").await?;
    let answer = introspect(&app, &gateway, &body).await?;
    assert_eq!(answer["scopes"], json!(["read:billing", "read:projects"]));

    dir.remove_member("acme", "riser").await?;
    assert_eq!(
        introspect(&app, &gateway, &body).await?,
        json!({"active": false, "reason": "not_a_member"})
    );
    Ok(())
}

async fn a_token_expires_on_time(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    let gateway = introspector(&app)?;
    let expires_at = chrono::Utc::now() + chrono::TimeDelta::seconds(2);
    let (token, value) = create_token(
        &app,
        "member",
        &json!({"kind": "personal", "name": "short", "organization_ids": ["acme"], "scopes": ["read"], "expires_at": expires_at.to_rfc3339()}),
    )
    .await?;
    let answer = introspect(&app, &gateway, &json!({"token": value})).await?;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["exp"], expires_at.timestamp());
    assert_eq!(token["status"], "active");

    let wait = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
        + Duration::from_millis(50);
    tokio::time::sleep(wait).await;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?,
        json!({"active": false, "reason": "expired"})
    );
    let fetched = fetch_token(&app, "member", &token).await?;
    assert_eq!(
        (fetched["status"].as_str(), fetched["is_active"].as_bool()),
        (Some("expired"), Some(false))
    );
    Ok(())
}

async fn projects_and_required_scopes_answer_allowed(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.project("acme", "billing").await?;
    dir.project("acme", "web").await?;
    let gateway = introspector(&app)?;
    let (_, value) = create_token(
        &app,
        "member",
        &json!({"kind": "personal", "name": "p", "organization_ids": ["acme"], "scopes": ["write:deployments", "read"], "project_ids": ["billing"]}),
    )
    .await?;
    let cases = [
        (json!({"project_id": "billing"}), true, None),
        (json!({"project_id": "web"}), false, None),
        (
            json!({"required_scopes": ["read:projects", "write:deployments"]}),
            true,
            Some(json!([])),
        ),
        (
            json!({"required_scopes": ["write:projects"]}),
            false,
            Some(json!(["write:projects"])),
        ),
        (
            json!({"project_id": "web", "required_scopes": ["read"]}),
            false,
            Some(json!([])),
        ),
    ];
    for (question, allowed, missing) in cases {
        let mut body = question.clone();
        body["token"] = json!(value);
        let answer = introspect(&app, &gateway, &body).await?;
        assert_eq!(answer["active"], true, "{question}");
        assert_eq!(answer["allowed"], allowed, "{question}");
        assert_eq!(answer.get("missing_scopes").cloned(), missing, "{question}");
        assert_eq!(answer["project_ids"], json!(["billing"]));
    }
    let plain = introspect(&app, &gateway, &json!({"token": value})).await?;
    assert!(
        plain.get("allowed").is_none() && plain.get("missing_scopes").is_none(),
        "{plain}"
    );
    Ok(())
}

async fn form_bodies_and_the_organization_header_work(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "viewer").await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(&app, "member", "multi", &["acme", "gamma"], &["read"]).await?;

    let form = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .header("X-Organization-ID", "gamma")
        .form(&[
            ("token", value.as_str()),
            ("token_type_hint", "access_token"),
            ("required_scopes", "read:projects read:billing"),
        ])
        .send()
        .await?;
    assert_eq!(form.status(), 200);
    let answer: Value = form.json().await?;
    assert_eq!(
        (
            answer["active"].as_bool(),
            answer["organization_id"].as_str(),
            answer["role"].as_str()
        ),
        (Some(true), Some("gamma"), Some("viewer"))
    );
    assert_eq!(answer["allowed"], true);

    let header_only = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .header("X-Organization-ID", "acme")
        .json(&json!({"token": value}))
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(header_only["organization_id"], "acme");

    let text = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .header("content-type", "text/plain")
        .body(value)
        .send()
        .await?;
    expect_problem(text, 415, "unsupported_media_type").await?;
    Ok(())
}

async fn api_and_agent_tokens_introspect_as_their_owner(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    let gateway = introspector(&app)?;
    let (api, api_value) = create_token(&app, "admin", &json!({"kind": "api", "name": "backend", "organization_id": "acme", "scopes": ["admin:projects"]})).await?;
    let answer = introspect(&app, &gateway, &json!({"token": api_value})).await?;
    assert_eq!(answer["token_type"], "api");
    assert_eq!(answer["sub"], "acme");
    assert!(
        answer.get("user_id").is_none() && answer.get("role").is_none(),
        "{answer}"
    );
    assert_eq!(answer["scopes"], json!(["admin:projects"]));
    assert_eq!(api["owner"], json!({"type": "organization", "id": "acme"}));
    // The creator leaving does not stop an api token.
    dir.remove_member("acme", "admin").await?;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": api_value})).await?["active"],
        true
    );

    let (agent, agent_value) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "mcp", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    let answer = introspect(&app, &gateway, &json!({"token": agent_value})).await?;
    assert_eq!(
        (
            answer["token_type"].as_str(),
            answer["sub"].as_str(),
            answer["organization_id"].as_str()
        ),
        (Some("agent"), Some("member"), Some("acme"))
    );
    assert!(agent["expires_at"].is_string());
    Ok(())
}

async fn me_describes_the_calling_token(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    let (token, value) = personal(
        &app,
        "member",
        "cli",
        &["acme", "gamma"],
        &["write:projects"],
    )
    .await?;
    dir.member("gamma", "member", "viewer").await?;
    let me: Value = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(&value)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(me["token"]["id"], token["id"]);
    assert_eq!(me["token"]["hint"], token["hint"]);
    assert_eq!(me["token"]["scopes"], json!(["write:projects"]));
    assert_eq!(
        me["owner"],
        json!({"type": "user", "id": "member", "email": "member@example.com"})
    );
    assert_eq!(
        me["organizations"],
        json!([
            {"organization_id": "acme", "active": true, "role": "member", "scopes": ["write:projects"]},
            {"organization_id": "gamma", "active": true, "role": "viewer", "scopes": ["read:projects"]},
        ])
    );
    assert!(!me.to_string().contains(&value));

    expect_problem(
        app.client.get(app.url("/v1/me")).send().await?,
        401,
        "unauthenticated",
    )
    .await?;
    expect_problem(
        app.client
            .get(app.url("/v1/me"))
            .bearer_auth(session("member")?)
            .send()
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let service = introspector(&app)?;
    expect_problem(
        app.client
            .get(app.url("/v1/me"))
            .bearer_auth(&service)
            .send()
            .await?,
        403,
        "forbidden",
    )
    .await?;
    Ok(())
}

async fn rfc7009_revocation_by_service_and_by_the_token_itself(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    let gateway = introspector(&app)?;
    let revoker = app.service_token("revoker", &[Permission::Revoke])?;
    let (_, first) = personal(&app, "member", "first", &["acme"], &["read"]).await?;
    let (_, second) = personal(&app, "member", "second", &["acme"], &["read"]).await?;
    let (_, third) = personal(&app, "member", "third", &["acme"], &["read"]).await?;
    let post = |credential: String, token: String| {
        app.client
            .post(app.url("/v1/revoke"))
            .bearer_auth(credential)
            .form(&[("token", token), ("token_type_hint", "access_token".into())])
            .send()
    };

    assert_eq!(post(revoker.clone(), first.clone()).await?.status(), 200);
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": first})).await?["reason"],
        "revoked"
    );
    // Unknown and malformed values: still 200.
    let unknown = tokend::tokens::secret::generate(
        &tokend::tokens::kind::Prefixes::default(),
        tokend::tokens::kind::TokenKind::Api,
    );
    assert_eq!(
        post(revoker.clone(), unknown.expose().to_owned())
            .await?
            .status(),
        200
    );
    assert_eq!(
        post(revoker.clone(), "nonsense".into()).await?.status(),
        200
    );
    // A token may revoke itself, not another one.
    expect_problem(post(second.clone(), third.clone()).await?, 403, "forbidden").await?;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": third})).await?["active"],
        true
    );
    assert_eq!(post(second.clone(), second.clone()).await?.status(), 200);
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": second})).await?["reason"],
        "revoked"
    );
    // Wrong callers.
    expect_problem(
        post(gateway.clone(), third.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        post(session("member")?, third.clone()).await?,
        403,
        "forbidden",
    )
    .await?;
    expect_problem(
        app.client
            .post(app.url("/v1/revoke"))
            .form(&[("token", &third)])
            .send()
            .await?,
        401,
        "unauthenticated",
    )
    .await?;
    // JSON works too.
    let json_revoke = app
        .client
        .post(app.url("/v1/revoke"))
        .bearer_auth(&revoker)
        .json(&json!({"token": third}))
        .send()
        .await?;
    assert_eq!(json_revoke.status(), 200);
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": third})).await?["reason"],
        "revoked"
    );
    // A form parameter it does not know is ignored (RFC 6749 §3.2: OAuth clients send
    // `client_id`); a JSON field it does not know is a 400; a body naming no token is a 422.
    let (_, fourth) = personal(&app, "member", "fourth", &["acme"], &["read"]).await?;
    let send = |body: reqwest::RequestBuilder| body.bearer_auth(&revoker).send();
    let revoke = || app.client.post(app.url("/v1/revoke"));
    expect_problem(
        send(revoke().json(&json!({"token": fourth, "client_id": "gw"}))).await?,
        400,
        "validation_failed",
    )
    .await?;
    for empty in [
        revoke(),
        revoke().header("content-type", "application/json"),
    ] {
        expect_problem(send(empty).await?, 422, "validation_failed").await?;
    }
    let form = revoke().form(&[("token", fourth.as_str()), ("client_id", "gw")]);
    assert_eq!(send(form).await?.status(), 200);
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": fourth})).await?["reason"],
        "revoked"
    );
    Ok(())
}

async fn directory_deletes_cascade_to_tokens(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({"api_tokens_enabled": true}))
        .await?;
    dir.member("gamma", "member", "member").await?;
    dir.member("gamma", "admin", "admin").await?;
    let gateway = introspector(&app)?;
    let (_, pat) = personal(&app, "member", "both", &["acme", "gamma"], &["read"]).await?;
    let (_, agent) = create_token(
        &app,
        "member",
        &json!({"kind": "agent", "name": "agent", "organization_id": "gamma", "scopes": ["read"]}),
    )
    .await?;
    let (_, api) = create_token(
        &app,
        "admin",
        &json!({"kind": "api", "name": "api", "organization_id": "gamma", "scopes": ["read"]}),
    )
    .await?;
    let (mine, viewer_pat) = personal(&app, "viewer", "viewer", &["acme"], &["read"]).await?;

    dir.delete_org("gamma").await?;
    for value in [&agent, &api] {
        assert_eq!(
            introspect(&app, &gateway, &json!({"token": value})).await?,
            json!({"active": false, "reason": "revoked"})
        );
    }
    assert_eq!(
        introspect(
            &app,
            &gateway,
            &json!({"token": pat, "organization_id": "gamma"})
        )
        .await?["reason"],
        "organization_not_authorized"
    );
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": pat})).await?["organization_id"],
        "acme"
    );

    dir.delete_user("viewer").await?;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": viewer_pat})).await?["reason"],
        "revoked"
    );
    let revoked_by: (Option<String>, Option<String>) = {
        use tokend::db::schema::tokens;
        tokens::table
            .find(mine["id"].as_str().unwrap_or_default())
            .select((tokens::revoked_by, tokens::revoked_reason))
            .first(&mut app.connection()?)?
    };
    assert_eq!(revoked_by.0.as_deref(), Some("directory"));
    assert!(revoked_by.1.is_some_and(|r| r.contains("user deleted")));
    Ok(())
}

async fn introspect_needs_the_permission_and_a_token_field(app: TestApp) -> TestResult {
    let auditor = app.service_token("auditor", &[Permission::Audit])?;
    let gateway = introspector(&app)?;
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&auditor)
        .json(&json!({"token": "x"}))
        .send()
        .await?;
    expect_problem(response, 403, "forbidden").await?;
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .json(&json!({"token": "x"}))
        .send()
        .await?;
    expect_problem(response, 401, "unauthenticated").await?;
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(&gateway)
        .json(&json!({}))
        .send()
        .await?;
    let problem = expect_problem(response, 422, "validation_failed").await?;
    assert_eq!(problem["errors"][0]["field"], "token");
    Ok(())
}

/// SQLite has one writer at a time. Introspection reads on connections (and threads) of its
/// own, so writes waiting for the database never hold a cold introspection up: here the
/// writer's connection waits on a write lock held from outside, with four creations queued
/// behind it, while the introspection is answered.
#[actix_web::test]
async fn waiting_sqlite_writers_never_hold_up_introspection() -> TestResult {
    // One worker: every request shares its blocking threads.
    let Some(app) =
        TestApp::spawn_with(crate::helpers::Backend::Sqlite, &[("TOKEND_WORKERS", "1")])?
    else {
        return Ok(());
    };
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(&app, "member", "read-while-writing", &["acme"], &["read"]).await?;

    let jwt = session("member")?;
    let mut outside = app.connection()?;
    outside.batch_execute("BEGIN IMMEDIATE")?;
    let writes: Vec<_> = (0..4)
        .map(|i| {
            let request = app
                .client
                .post(app.url("/v1/tokens"))
                .bearer_auth(&jwt)
                .json(&json!({"kind": "personal", "name": format!("blocked-{i}"),
                    "organization_ids": ["acme"], "scopes": ["read"]}));
            actix_web::rt::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    let mut waiting = 0.0;
    for _ in 0..100 {
        waiting = metric(&app, "tokend_db_pool_connections{state=\"in_use\"}").await?;
        if waiting >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(waiting >= 1.0, "the writer is waiting: {waiting} in use");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let answer = introspect(&app, &gateway, &json!({"token": value})).await?;
    assert_eq!(answer["active"], true, "{answer}");
    assert!(
        writes.iter().all(|write| !write.is_finished()),
        "answered while every writer still waited"
    );

    outside.batch_execute("ROLLBACK")?;
    for write in writes {
        assert_eq!(write.await??, 201);
    }
    Ok(())
}
