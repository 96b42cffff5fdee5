//! The service-token lifecycle over the API (`service` scheme with `service_tokens`): create,
//! list, show, revoke (the token stops at once), regenerate, delete; no permission escalation.

use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::helpers::{TestApp, TestResult, expect_problem, header};
use crate::on_both_backends;

on_both_backends!(
    the_lifecycle_over_the_api,
    a_caller_grants_only_what_it_holds,
);

/// `POST /v1/introspect` about nothing in particular with `credential`: its status.
async fn introspects(app: &TestApp, credential: &str) -> TestResult<u16> {
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(credential)
        .json(&json!({"token": "tolp_x"}))
        .send()
        .await?;
    Ok(response.status().as_u16())
}

async fn send(request: reqwest::RequestBuilder, admin: &str) -> TestResult<(u16, Value)> {
    let response = request.bearer_auth(admin).send().await?;
    let status = response.status().as_u16();
    let body = if status == 204 {
        Value::Null
    } else {
        response.json().await?
    };
    Ok((status, body))
}

async fn the_lifecycle_over_the_api(app: TestApp) -> TestResult {
    let admin = app.service_token(
        "admin",
        &[
            Permission::ServiceTokens,
            Permission::Introspect,
            Permission::Audit,
        ],
    )?;
    let created = app
        .client
        .post(app.url("/v1/service-tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "gateway", "permissions": ["introspect"],
                      "description": "the edge gateway"}))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let location = header(&created, "location");
    let created: Value = created.json().await?;
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(location, format!("/v1/service-tokens/{id}"));
    let value = created["token"].as_str().unwrap_or_default().to_owned();
    assert!(value.starts_with("tols_") && value.len() == 43, "{created}");
    assert_eq!(created["permissions"], json!(["introspect"]));
    assert_eq!(created["status"], "active");
    assert_eq!(created["hint"], &value[..9]);
    assert_eq!(introspects(&app, &value).await?, 200, "the new token works");

    let (status, page) = send(app.client.get(app.url("/v1/service-tokens")), &admin).await?;
    assert_eq!(status, 200);
    let names: Vec<&str> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["gateway", "admin"], "newest first: {page}");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items.iter().all(|t| t.get("token").is_none()),
        "no value in a list: {page}"
    );
    assert_eq!(
        created["created_by"], items[1]["id"],
        "created by the calling token"
    );
    let (status, shown) = send(app.client.get(app.url(&location)), &admin).await?;
    assert_eq!((status, shown["name"].as_str()), (200, Some("gateway")));

    let (status, regenerated) = send(
        app.client.post(app.url(&format!("{location}/regenerate"))),
        &admin,
    )
    .await?;
    assert_eq!(status, 200, "{regenerated}");
    let renewed = regenerated["token"].as_str().unwrap_or_default().to_owned();
    assert_ne!(renewed, value);
    assert_eq!(introspects(&app, &value).await?, 401, "the old value died");
    assert_eq!(introspects(&app, &renewed).await?, 200);

    let revoked = app
        .client
        .post(app.url(&format!("{location}/revoke")))
        .bearer_auth(&admin)
        .json(&json!({"reason": "rotated out"}))
        .send()
        .await?;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await?;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revoked_reason"], "rotated out");
    assert_eq!(introspects(&app, &renewed).await?, 401, "revoked at once");
    let again = app
        .client
        .post(app.url(&format!("{location}/regenerate")))
        .bearer_auth(&admin)
        .send()
        .await?;
    expect_problem(again, 409, "conflict").await?;
    let (status, only_revoked) = send(
        app.client.get(app.url("/v1/service-tokens?status=revoked")),
        &admin,
    )
    .await?;
    assert_eq!(
        (status, only_revoked["total_count"].as_i64()),
        (200, Some(1))
    );

    let (status, _) = send(app.client.delete(app.url(&location)), &admin).await?;
    assert_eq!(status, 204);
    expect_problem(
        app.client
            .get(app.url(&location))
            .bearer_auth(&admin)
            .send()
            .await?,
        404,
        "not_found",
    )
    .await?;
    let (_, events) = send(
        app.client.get(app.url("/v1/audit-events?limit=100")),
        &admin,
    )
    .await?;
    let types: Vec<&str> = events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["token_id"] == id.as_str())
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "service_token.deleted",
            "service_token.revoked",
            "service_token.regenerated",
            "service_token.created"
        ]
    );
    Ok(())
}

async fn a_caller_grants_only_what_it_holds(app: TestApp) -> TestResult {
    let limited = app.service_token(
        "limited",
        &[Permission::ServiceTokens, Permission::Introspect],
    )?;
    let outsider = app.service_token("outsider", &[Permission::Introspect])?;
    let directory = app.service_token("directory", &[Permission::Directory])?;
    expect_problem(
        app.client
            .get(app.url("/v1/service-tokens"))
            .bearer_auth(&outsider)
            .send()
            .await?,
        403,
        "forbidden",
    )
    .await?;
    let escalating = app
        .client
        .post(app.url("/v1/service-tokens"))
        .bearer_auth(&limited)
        .json(&json!({"name": "wider", "permissions": ["introspect", "directory"]}))
        .send()
        .await?;
    expect_problem(escalating, 403, "forbidden").await?;
    let (_, page) = send(app.client.get(app.url("/v1/service-tokens")), &limited).await?;
    let directory_id = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "directory")
        .and_then(|t| t["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let regenerate = app
        .client
        .post(app.url(&format!("/v1/service-tokens/{directory_id}/regenerate")))
        .bearer_auth(&limited)
        .send()
        .await?;
    expect_problem(regenerate, 403, "forbidden").await?;
    assert_eq!(
        app.client
            .get(app.url("/v1/directory/users/x"))
            .bearer_auth(&directory)
            .send()
            .await?
            .status(),
        404,
        "the directory token still works"
    );
    Ok(())
}
