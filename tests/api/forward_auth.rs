//! `/v1/forward-auth` as a gateway calls it: the gateway's own credential (or a trusted
//! address), the client's token, identity headers, 401 and 403 with their challenges, and a
//! revocation seen on the next call.

use tokend::auth::Permission;

use crate::fixtures::{Directory, fetch_token, personal, revoke_token};
use crate::helpers::{TestApp, TestResult, expect_problem, header};
use crate::on_both_backends;

on_both_backends!(a_gateway_checks_a_client_token, only_gateways_may_ask);

mod trusted {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_FORWARD_AUTH_TRUSTED_NETWORKS", "10.0.0.0/8, 127.0.0.1")];
        a_trusted_address_needs_no_credential
    );
}

async fn a_gateway_checks_a_client_token(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = app.service_token(
        "nginx",
        &[Permission::Introspect, Permission::IntrospectReasons],
    )?;
    let (token, value) = personal(&app, "member", "cli", &["acme"], &["read"]).await?;
    let ask = |query: &str, client: Option<&str>| {
        let mut request = app
            .client
            .get(app.url(&format!("/v1/forward-auth{query}")))
            .header("Tokend-Gateway", format!("Bearer {gateway}"))
            .header("X-Forwarded-For", "203.0.113.9, 10.0.0.1");
        if let Some(client) = client {
            request = request.header("Authorization", format!("Bearer {client}"));
        }
        request.send()
    };

    let allowed = ask("?scope=read:projects", Some(&value)).await?;
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        header(&allowed, "tokend-token-id"),
        token["id"].as_str().unwrap_or_default()
    );
    assert_eq!(header(&allowed, "tokend-token-type"), "personal");
    assert_eq!(header(&allowed, "tokend-subject"), "member");
    assert_eq!(header(&allowed, "tokend-user-id"), "member");
    assert_eq!(header(&allowed, "tokend-organization-id"), "acme");
    assert_eq!(header(&allowed, "tokend-role"), "member");
    assert_eq!(header(&allowed, "tokend-scopes"), "read");
    assert_eq!(allowed.text().await?, "", "an empty body");

    let short = ask("?scope=write:projects&scope=read", Some(&value)).await?;
    assert_eq!(short.status(), 403);
    assert_eq!(
        header(&short, "www-authenticate"),
        r#"Bearer realm="tokend", error="insufficient_scope", scope="write:projects read""#
    );
    for (client, reason) in [(None, "malformed"), (Some("garbage"), "malformed")] {
        let refused = ask("", client).await?;
        assert_eq!(refused.status(), 401);
        assert_eq!(
            header(&refused, "www-authenticate"),
            r#"Bearer realm="tokend", error="invalid_token""#
        );
        assert_eq!(header(&refused, "tokend-reason"), reason);
        expect_problem(refused, 401, "unauthenticated").await?;
    }

    let revoked = revoke_token(&app, "member", &token).await?;
    assert_eq!(revoked.status(), 200);
    let after = app
        .client
        .post(app.url("/v1/forward-auth"))
        .header("Tokend-Gateway", format!("Bearer {gateway}"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(after.status(), 401, "revoked, on the next call");
    assert_eq!(header(&after, "tokend-reason"), "revoked");
    let fetched = fetch_token(&app, "member", &token).await?;
    assert_eq!(fetched["status"], "revoked");
    Ok(())
}

async fn only_gateways_may_ask(app: TestApp) -> TestResult {
    let anonymous = app.client.get(app.url("/v1/forward-auth")).send().await?;
    let problem = expect_problem(anonymous, 403, "forbidden").await?;
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Tokend-Gateway")),
        "{problem}"
    );
    let directory = app.service_token("sync", &[Permission::Directory])?;
    for credential in [directory.as_str(), "tols_nonsense"] {
        let response = app
            .client
            .get(app.url("/v1/forward-auth"))
            .header("Tokend-Gateway", format!("Bearer {credential}"))
            .send()
            .await?;
        expect_problem(response, 403, "forbidden").await?;
    }
    let plain = app.service_token("plain", &[Permission::Introspect])?;
    let no_reason = app
        .client
        .get(app.url("/v1/forward-auth"))
        .header("Tokend-Gateway", format!("Bearer {plain}"))
        .bearer_auth("tolp_garbage")
        .send()
        .await?;
    assert_eq!(no_reason.status(), 401);
    assert!(no_reason.headers().get("tokend-reason").is_none());
    Ok(())
}

async fn a_trusted_address_needs_no_credential(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let (_, value) = personal(&app, "member", "cli", &["acme"], &["read"]).await?;
    let allowed = app
        .client
        .get(app.url("/v1/forward-auth"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(allowed.status(), 200);
    assert_eq!(header(&allowed, "tokend-organization-id"), "acme");
    Ok(())
}
