//! tokend's own rate limits (DESIGN §10): a client over its budget of failed authentications
//! gets 429 `rate_limited` with `Retry-After`, whatever it presents next, while other clients
//! go on; the client is the peer, or behind a trusted proxy the forwarded address (also in
//! audit events and usage); an introspection caller over `TOKEND_INTROSPECTION_PER_SECOND`
//! gets 429 while another caller does not.

use serde_json::json;
use tokend::auth::Permission;

use crate::fixtures::{Directory, introspector, personal, session, usage_once_counted};
use crate::helpers::{TestApp, TestResult, expect_problem, header};
use crate::on_both_backends;

on_both_backends!(
    settings = &[
        ("TOKEND_AUTH_FAILURES_PER_MINUTE", "5"),
        ("TOKEND_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    failed_authentications_beyond_the_budget_get_429,
    the_client_behind_a_trusted_proxy_is_audited_and_counted
);

mod untrusted {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_AUTH_FAILURES_PER_MINUTE", "5")];
        a_forwarded_address_from_an_untrusted_peer_is_ignored
    );
}

mod introspection_rate {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_INTROSPECTION_PER_SECOND", "3")];
        an_introspection_caller_over_its_rate_gets_429
    );
}

/// `GET /v1/tokens` as the client at `from` (through the trusted proxy on 127.0.0.1).
async fn list_as(app: &TestApp, from: &str, credential: &str) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .get(app.url("/v1/tokens"))
        .header("X-Forwarded-For", format!("6.6.6.6, {from}"))
        .bearer_auth(credential)
        .send()
        .await?)
}

async fn failed_authentications_beyond_the_budget_get_429(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let good = session("member")?;
    let attacker = "203.0.113.66";
    for attempt in 1..=5 {
        let refused = list_as(&app, attacker, &format!("garbage-{attempt}")).await?;
        expect_problem(refused, 401, "unauthenticated").await?;
    }
    let limited = list_as(&app, attacker, "garbage-6").await?;
    let retry_after: u64 = header(&limited, "retry-after").parse()?;
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    expect_problem(limited, 429, "rate_limited").await?;
    let valid_but_blocked = list_as(&app, attacker, &good).await?;
    expect_problem(valid_but_blocked, 429, "rate_limited").await?;
    let service_route = app
        .client
        .post(app.url("/v1/introspect"))
        .header("X-Forwarded-For", attacker)
        .bearer_auth("tols_not_a_real_token")
        .json(&json!({"token": "x"}))
        .send()
        .await?;
    expect_problem(service_route, 429, "rate_limited").await?;

    let neighbour = "203.0.113.67";
    let refused = list_as(&app, neighbour, "garbage").await?;
    expect_problem(refused, 401, "unauthenticated").await?;
    let served = list_as(&app, neighbour, &good).await?;
    assert_eq!(served.status(), 200, "another client is not affected");
    let direct = app
        .client
        .get(app.url("/v1/tokens"))
        .bearer_auth(&good)
        .send()
        .await?;
    assert_eq!(direct.status(), 200, "nor is the proxy's own address");
    Ok(())
}

async fn the_client_behind_a_trusted_proxy_is_audited_and_counted(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let created = app
        .client
        .post(app.url("/v1/tokens"))
        .header("X-Forwarded-For", "6.6.6.6, 198.51.100.20")
        .bearer_auth(session("member")?)
        .json(&json!({"kind": "personal", "name": "via-proxy", "organization_ids": ["acme"], "scopes": ["read"]}))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let value = created["token"].as_str().unwrap_or_default().to_owned();
    let events: serde_json::Value = app
        .client
        .get(app.url("/v1/audit-events?event_type=token.created"))
        .bearer_auth(session("member")?)
        .send()
        .await?
        .json()
        .await?;
    let event = events["items"]
        .as_array()
        .and_then(|items| items.iter().find(|e| e["token_id"] == id.as_str()))
        .ok_or_else(|| format!("no token.created event for {id}: {events}"))?;
    assert_eq!(event["client_ip"], "198.51.100.20", "{event}");

    let me = app
        .client
        .get(app.url("/v1/me"))
        .header("X-Forwarded-For", "198.51.100.21")
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(me.status(), 200);
    let seen = usage_once_counted(&app, &id, 1).await?;
    assert_eq!(seen["last_used_ip"], "198.51.100.21", "{seen}");
    let listed: serde_json::Value = app
        .client
        .get(app.url(&format!("/v1/tokens/{id}")))
        .bearer_auth(session("member")?)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(listed["last_used_ip"], "198.51.100.21", "{listed}");
    Ok(())
}

async fn a_forwarded_address_from_an_untrusted_peer_is_ignored(app: TestApp) -> TestResult {
    for attempt in 1..=5 {
        let refused = list_as(&app, &format!("203.0.113.{attempt}"), "garbage").await?;
        expect_problem(refused, 401, "unauthenticated").await?;
    }
    let limited = list_as(&app, "203.0.113.99", "garbage").await?;
    expect_problem(limited, 429, "rate_limited").await?;
    Ok(())
}

async fn an_introspection_caller_over_its_rate_gets_429(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let (_, value) = personal(&app, "member", "cli", &["acme"], &["read"]).await?;
    let busy = introspector(&app)?;
    let other = app.service_token("other-gateway", &[Permission::Introspect])?;
    let ask = |caller: &str| {
        app.client
            .post(app.url("/v1/introspect"))
            .bearer_auth(caller.to_owned())
            .json(&json!({"token": value}))
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(ask(&busy).await?.status().as_u16());
    }
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = loop {
        let response = ask(&busy).await?;
        if response.status() == 429 {
            break response;
        }
    };
    assert_eq!(header(&limited, "retry-after"), "1");
    expect_problem(limited, 429, "rate_limited").await?;
    assert_eq!(
        ask(&other).await?.status(),
        200,
        "another caller has its own rate"
    );
    Ok(())
}
