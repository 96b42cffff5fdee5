//! The verified-token cache: every change that alters an answer is seen on the next call,
//! expiry is checked on every hit, and several instances on PostgreSQL stay consistent.
//!
//! Every state-changing route goes through `AppState::write`, which applies the changes its
//! use case returns; `every_change_is_seen_on_the_next_call` shows it route by route, each on
//! an answer cached just before:
//!
//! | route | seen as |
//! |---|---|
//! | `POST /v1/tokens/{id}/revoke` | revoked |
//! | `POST /v1/tokens/{id}/regenerate` | the old value unknown |
//! | `DELETE /v1/tokens/{id}` | unknown |
//! | `PATCH /v1/tokens/{id}` | new scopes allowed |
//! | `DELETE /v1/tokens/{id}/organizations/{org}` | organization not authorized |
//! | `PUT /v1/tokens/{id}/organizations/{org}` | active there again |
//! | `POST /v1/tokens/{id}/organizations/{org}/sso-authorize` | active under SSO |
//! | `POST /v1/tokens/bulk-revoke` | revoked |
//! | `POST /v1/tokens/bulk-delete` | unknown |
//! | `POST /v1/revoke` (RFC 7009) | revoked |
//! | `PUT /v1/directory/organizations/{id}` | SSO required |
//! | `DELETE /v1/directory/organizations/{id}` | api token revoked, PAT not authorized |
//! | `PUT /v1/directory/users/{id}` | user disabled, then active |
//! | `DELETE /v1/directory/users/{id}` | revoked |
//! | `PUT /v1/directory/organizations/{id}/members/{user}` | role cap, then active |
//! | `DELETE /v1/directory/organizations/{id}/members/{user}` | not a member |
//!
//! Creating or duplicating a token and syncing a project change no cached answer: a new value
//! has no cache entry, and a token's project restriction is kept by id.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use serde_json::{Value, json};

use crate::fixtures::{
    Directory, create_token, introspect, introspector, metric, metrics_text, personal,
    revoke_token, session, session_with,
};
use crate::helpers::{Backend, TestApp, TestResult};
use crate::on_both_backends;
use tokend::auth::Permission;

mod small {
    use super::*;
    on_both_backends!(settings = &[("TOKEND_CACHE_CAPACITY", "4")]; a_full_cache_evicts_and_counts_it);
}

on_both_backends!(
    every_change_is_seen_on_the_next_call,
    expiry_is_checked_on_cached_tokens,
    metrics_count_cache_and_results,
    the_stored_answer_is_the_computed_answer
);

/// Sends a request that changes something; it must succeed.
async fn sent(request: reqwest::RequestBuilder) -> TestResult {
    request.send().await?.error_for_status()?;
    Ok(())
}

/// A change made to a fresh token: the request it sends, built from the token and its value.
type Change<'a> = &'a dyn Fn(&Value, &str) -> reqwest::RequestBuilder;

/// Introspects twice (the second answer comes from the cache), applies `change`, and checks
/// the next answer.
async fn cached_then_changed(
    app: &TestApp,
    gateway: &str,
    body: &Value,
    change: impl std::future::Future<Output = TestResult>,
    expect: &str,
) -> TestResult {
    let first = introspect(app, gateway, body).await?;
    assert_eq!(
        first,
        introspect(app, gateway, body).await?,
        "cached answer"
    );
    change.await?;
    let after = introspect(app, gateway, body).await?;
    let got = if after["active"] == true {
        "active".to_owned()
    } else {
        after["reason"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(got, expect, "{body} -> {after}");
    Ok(())
}

async fn every_change_is_seen_on_the_next_call(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org("gamma", json!({})).await?;
    dir.member("gamma", "member", "member").await?;
    let gateway = introspector(&app)?;
    let jwt = session("member")?;
    let token_url = |token: &Value, suffix: &str| {
        app.url(&format!(
            "/v1/tokens/{}{suffix}",
            token["id"].as_str().unwrap_or_default()
        ))
    };

    // Token changes, bulk changes and revocation by value, each on a fresh personal token in
    // acme. A row: the token's name, the answer after the change, and the change (a request
    // built from the token and its value).
    let revoker = app.service_token("revoker", &[Permission::Revoke])?;
    let token_changes: [(&str, &str, Change); 6] = [
        ("revoke", "revoked", &|t, _| {
            app.client.post(token_url(t, "/revoke")).bearer_auth(&jwt)
        }),
        ("regen", "unknown", &|t, _| {
            app.client
                .post(token_url(t, "/regenerate"))
                .bearer_auth(&jwt)
        }),
        ("delete", "unknown", &|t, _| {
            app.client.delete(token_url(t, "")).bearer_auth(&jwt)
        }),
        ("bulk-revoke", "revoked", &|t, _| {
            app.client
                .post(app.url("/v1/tokens/bulk-revoke"))
                .bearer_auth(&jwt)
                .json(&json!({"ids": [t["id"]]}))
        }),
        ("bulk-delete", "unknown", &|t, _| {
            app.client
                .post(app.url("/v1/tokens/bulk-delete"))
                .bearer_auth(&jwt)
                .json(&json!({"ids": [t["id"]]}))
        }),
        ("by-value", "revoked", &|_, v| {
            app.client
                .post(app.url("/v1/revoke"))
                .bearer_auth(&revoker)
                .form(&[("token", v)])
        }),
    ];
    for (name, expect, change) in token_changes {
        let (t, v) = personal(&app, "member", name, &["acme"], &["read"]).await?;
        cached_then_changed(
            &app,
            &gateway,
            &json!({"token": v}),
            sent(change(&t, &v)),
            expect,
        )
        .await?;
    }

    // Changes answered per question: new scopes, an organization dropped and added back.
    let (t, v) = personal(&app, "member", "patch", &["acme"], &["read"]).await?;
    let asks_write = json!({"token": v, "required_scopes": ["write:projects"]});
    assert_eq!(
        introspect(&app, &gateway, &asks_write).await?["allowed"],
        false
    );
    app.client
        .patch(token_url(&t, ""))
        .bearer_auth(&jwt)
        .json(&json!({"scopes": ["write:projects"]}))
        .send()
        .await?;
    assert_eq!(
        introspect(&app, &gateway, &asks_write).await?["allowed"],
        true,
        "patched scopes"
    );
    let (t, v) = personal(&app, "member", "orgs", &["acme", "gamma"], &["read"]).await?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": v, "organization_id": "gamma"}),
        sent(
            app.client
                .delete(token_url(&t, "/organizations/gamma"))
                .bearer_auth(&jwt),
        ),
        "organization_not_authorized",
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": v, "organization_id": "gamma"}),
        sent(
            app.client
                .put(token_url(&t, "/organizations/gamma"))
                .bearer_auth(&jwt),
        ),
        "active",
    )
    .await?;

    // SSO: enforcing the policy, then authorizing.
    let (t, v) = personal(&app, "member", "sso", &["gamma"], &["read"]).await?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": v}),
        dir.org("gamma", json!({"sso_enforced": true})),
        "sso_authorization_required",
    )
    .await?;
    let sso_jwt = session_with("member", &json!({"sso_orgs": ["gamma"]}))?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": v}),
        sent(
            app.client
                .post(token_url(&t, "/organizations/gamma/sso-authorize"))
                .bearer_auth(&sso_jwt),
        ),
        "active",
    )
    .await?;

    // Directory changes.
    let (_, v) = personal(&app, "member", "role", &["acme"], &["write:projects"]).await?;
    let body = json!({"token": v});
    assert_eq!(
        introspect(&app, &gateway, &body).await?["scopes"],
        json!(["write:projects"])
    );
    dir.member("acme", "member", "viewer").await?;
    assert_eq!(
        introspect(&app, &gateway, &body).await?["scopes"],
        json!(["read:projects"]),
        "role change"
    );
    cached_then_changed(
        &app,
        &gateway,
        &body,
        dir.remove_member("acme", "member"),
        "not_a_member",
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &body,
        dir.member("acme", "member", "member"),
        "active",
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &body,
        dir.user("member", true, true),
        "user_disabled",
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &body,
        dir.user("member", true, false),
        "active",
    )
    .await?;
    let (_, api) = create_token(
        &app,
        "admin",
        &json!({"kind": "api", "name": "api", "organization_id": "acme", "scopes": ["read"]}),
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": api}),
        dir.delete_org("acme"),
        "revoked",
    )
    .await?;
    cached_then_changed(
        &app,
        &gateway,
        &body,
        async { Ok(()) },
        "organization_not_authorized",
    )
    .await?;
    let (_, v) = personal(&app, "member", "user-gone", &["gamma"], &["read"]).await?;
    cached_then_changed(
        &app,
        &gateway,
        &json!({"token": v}),
        dir.delete_user("member"),
        "revoked",
    )
    .await?;
    Ok(())
}

async fn expiry_is_checked_on_cached_tokens(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let expires_at = chrono::Utc::now() + chrono::TimeDelta::milliseconds(1500);
    let (_, value) = create_token(&app, "member", &json!({"kind": "personal", "name": "brief", "organization_ids": ["acme"], "scopes": ["read"], "expires_at": expires_at.to_rfc3339()})).await?;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?["active"],
        true
    );
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?["active"],
        true
    );
    let wait = (expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
        + Duration::from_millis(50);
    tokio::time::sleep(wait).await;
    assert_eq!(
        introspect(&app, &gateway, &json!({"token": value})).await?,
        json!({"active": false, "reason": "expired"})
    );
    Ok(())
}

/// A plain answer is encoded once and then served as stored; it must equal the answer built
/// field by field for a question (less the question's own `allowed`).
async fn the_stored_answer_is_the_computed_answer(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(&app, "member", "m", &["acme"], &["read", "write:projects"]).await?;
    let plain = introspect(&app, &gateway, &json!({"token": value})).await?;
    assert_eq!(
        plain,
        introspect(&app, &gateway, &json!({"token": value})).await?
    );
    let mut asked = introspect(
        &app,
        &gateway,
        &json!({"token": value, "project_id": "billing"}),
    )
    .await?;
    assert_eq!(asked["allowed"], true, "{asked}");
    if let Some(fields) = asked.as_object_mut() {
        fields.remove("allowed");
    }
    assert_eq!(plain, asked);
    assert_eq!(plain["scope"], "read write:projects", "{plain}");
    Ok(())
}

/// A cache of 4 entries counts what it evicts and answers every token correctly all the same
/// (the bound itself: `cache::tests::capacity_bounds_the_entries`).
async fn a_full_cache_evicts_and_counts_it(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let evicted = metric(&app, "tokend_token_cache_evictions_total").await?;
    for i in 0..12 {
        let (token, value) =
            personal(&app, "member", &format!("t{i}"), &["acme"], &["read"]).await?;
        let answer = introspect(&app, &gateway, &json!({"token": value})).await?;
        assert_eq!(
            (&answer["active"], &answer["token_id"]),
            (&json!(true), &token["id"])
        );
    }
    assert!(metric(&app, "tokend_token_cache_evictions_total").await? > evicted);
    Ok(())
}

async fn metrics_count_cache_and_results(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = introspector(&app)?;
    let (_, value) = personal(&app, "member", "m", &["acme"], &["read"]).await?;
    for _ in 0..3 {
        introspect(&app, &gateway, &json!({"token": value})).await?;
    }
    introspect(&app, &gateway, &json!({"token": "garbage"})).await?;
    let text = metrics_text(&app).await?;
    for needle in [
        "tokend_http_requests_total{",
        "tokend_http_request_duration_seconds",
        "route=\"/v1/introspect\"",
        "tokend_introspections_total{result=\"active\"}",
        "tokend_introspections_total{result=\"malformed\"}",
        "tokend_token_cache_hits_total",
        "tokend_token_cache_misses_total",
        "tokend_db_pool_connections{state=\"idle\"}",
        "tokend_token_cache_entries",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from /metrics:\n{text}"
        );
    }
    assert!(!text.contains(&value[5..]));
    Ok(())
}

fn terminate_listeners(app: &TestApp) -> TestResult {
    let mut conn = app.connection()?;
    conn.batch_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{}' AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
        app.database_name()
    ))?;
    Ok(())
}

async fn inactive_within(
    app: &TestApp,
    gateway: &str,
    value: &str,
    limit: Duration,
) -> TestResult<Duration> {
    let started = Instant::now();
    loop {
        let answer = introspect(app, gateway, &json!({"token": value})).await?;
        if answer["active"] == false {
            return Ok(started.elapsed());
        }
        assert!(started.elapsed() < limit, "still active after {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_second_instance_sees_revocations_within_a_second() -> TestResult {
    let Some(a) = TestApp::spawn(Backend::Postgres)? else {
        return Ok(());
    };
    let b = a.second_instance(&[])?;
    // Both listeners up first, so B's answer below depends on the notification alone.
    a.listening(2).await?;
    Directory::new(&a)?.acme().await?;
    let gateway = introspector(&a)?;
    let (first, first_value) = personal(&a, "member", "first", &["acme"], &["read"]).await?;
    let (second, second_value) = personal(&a, "member", "second", &["acme"], &["read"]).await?;
    for value in [&first_value, &second_value] {
        assert_eq!(
            introspect(&b, &gateway, &json!({"token": value})).await?["active"],
            true,
            "cached on B"
        );
    }

    let sent = metric(&a, "tokend_invalidations_sent_total").await?;
    let received = metric(&b, "tokend_invalidations_received_total").await?;
    revoke_token(&a, "member", &first)
        .await?
        .error_for_status()?;
    let seen = inactive_within(&b, &gateway, &first_value, Duration::from_secs(1)).await?;
    eprintln!("B saw the revocation after {seen:?}");
    assert!(metric(&a, "tokend_invalidations_sent_total").await? > sent);
    // Under load B's listener may clear its cache (as it does after LISTEN) only after the
    // entries above were cached; B then reads the revocation itself, a moment before the
    // notification arrives. The notification must still arrive within the second.
    let started = Instant::now();
    while metric(&b, "tokend_invalidations_received_total").await? <= received {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "no invalidation received within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // B's listener connection dies; it must reconnect and stay correct.
    terminate_listeners(&a)?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    revoke_token(&a, "member", &second)
        .await?
        .error_for_status()?;
    inactive_within(&b, &gateway, &second_value, Duration::from_secs(3)).await?;
    // And it keeps listening: a third revocation after the reconnect is seen within a second.
    a.listening(2).await?;
    let (third, third_value) = personal(&a, "member", "third", &["acme"], &["read"]).await?;
    assert_eq!(
        introspect(&b, &gateway, &json!({"token": third_value})).await?["active"],
        true
    );
    revoke_token(&a, "member", &third)
        .await?
        .error_for_status()?;
    inactive_within(&b, &gateway, &third_value, Duration::from_secs(1)).await?;
    Ok(())
}
