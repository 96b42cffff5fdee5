//! Fixtures on top of `TestApp`: sessions, directory setup, token creation, introspection.

use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::helpers::{TEST_SESSION_SECRET, TestApp, TestResult};

/// Signs `claims` with the test deployment's HS256 secret.
pub fn sign(claims: &Value) -> TestResult<String> {
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_SESSION_SECRET.as_bytes()),
    )?)
}

/// A verified session for `user`, valid for an hour.
pub fn session(user: &str) -> TestResult<String> {
    session_with(user, &json!({}))
}

/// A session for `user` with extra or overriding claims.
pub fn session_with(user: &str, extra: &Value) -> TestResult<String> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user,
        "email": format!("{user}@example.com"),
        "email_verified": true,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    sign(&claims)
}

/// The directory sync, driven through its API with a `directory` service token.
pub struct Directory<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Directory<'a> {
    /// A directory client for `app`.
    pub fn new(app: &'a TestApp) -> TestResult<Self> {
        Ok(Self {
            app,
            token: app.service_token("directory-sync", &[Permission::Directory])?,
        })
    }

    async fn put(&self, path: &str, body: Value) -> TestResult {
        let response = self
            .app
            .client
            .put(self.app.url(path))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.text().await?
        );
        Ok(())
    }

    async fn delete(&self, path: &str) -> TestResult {
        let response = self
            .app
            .client
            .delete(self.app.url(path))
            .bearer_auth(&self.token)
            .send()
            .await?;
        assert_eq!(response.status(), 204, "DELETE {path}");
        Ok(())
    }

    /// Creates or replaces an organization (`body` without `name` gets one).
    pub async fn org(&self, id: &str, mut body: Value) -> TestResult {
        if body.get("name").is_none() {
            body["name"] = json!(id);
        }
        self.put(&format!("/v1/directory/organizations/{id}"), body)
            .await
    }

    /// Creates or replaces a user.
    pub async fn user(&self, id: &str, verified: bool, disabled: bool) -> TestResult {
        let body = json!({"email": format!("{id}@example.com"), "email_verified": verified, "disabled": disabled});
        self.put(&format!("/v1/directory/users/{id}"), body).await
    }

    /// Sets a membership.
    pub async fn member(&self, org: &str, user: &str, role: &str) -> TestResult {
        self.put(
            &format!("/v1/directory/organizations/{org}/members/{user}"),
            json!({"role": role}),
        )
        .await
    }

    /// Creates a project.
    pub async fn project(&self, org: &str, id: &str) -> TestResult {
        self.put(
            &format!("/v1/directory/organizations/{org}/projects/{id}"),
            json!({"name": id}),
        )
        .await
    }

    /// Removes a membership.
    pub async fn remove_member(&self, org: &str, user: &str) -> TestResult {
        self.delete(&format!("/v1/directory/organizations/{org}/members/{user}"))
            .await
    }

    /// Deletes a user.
    pub async fn delete_user(&self, id: &str) -> TestResult {
        self.delete(&format!("/v1/directory/users/{id}")).await
    }

    /// Deletes an organization.
    pub async fn delete_org(&self, id: &str) -> TestResult {
        self.delete(&format!("/v1/directory/organizations/{id}"))
            .await
    }

    /// `acme` (api tokens enabled) with `owner` as owner, `admin`, `member` and `viewer`.
    pub async fn acme(&self) -> TestResult {
        self.org("acme", json!({"name": "Acme", "api_tokens_enabled": true}))
            .await?;
        for (user, role) in [
            ("owner", "owner"),
            ("admin", "admin"),
            ("member", "member"),
            ("viewer", "viewer"),
        ] {
            self.user(user, true, false).await?;
            self.member("acme", user, role).await?;
        }
        Ok(())
    }
}

/// `POST /v1/tokens` as `user`; returns the response.
pub async fn post_token(app: &TestApp, user: &str, body: &Value) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .post(app.url("/v1/tokens"))
        .bearer_auth(session(user)?)
        .json(body)
        .send()
        .await?)
}

/// Creates a token as `user` (201 expected); returns the resource (without the value) and the
/// value.
pub async fn create_token(app: &TestApp, user: &str, body: &Value) -> TestResult<(Value, String)> {
    let response = post_token(app, user, body).await?;
    let status = response.status();
    let mut created: Value = response.json().await?;
    assert_eq!(status, 201, "{created}");
    let value = created["token"].as_str().unwrap_or_default().to_owned();
    if let Some(map) = created.as_object_mut() {
        map.remove("token");
    }
    Ok((created, value))
}

/// A personal token of `user` in `orgs` with `scopes`.
pub async fn personal(
    app: &TestApp,
    user: &str,
    name: &str,
    orgs: &[&str],
    scopes: &[&str],
) -> TestResult<(Value, String)> {
    create_token(
        app,
        user,
        &json!({"kind": "personal", "name": name, "organization_ids": orgs, "scopes": scopes}),
    )
    .await
}

/// `GET path` as `user`; returns the JSON body, whatever the status.
pub async fn get_json(app: &TestApp, user: &str, path: &str) -> TestResult<Value> {
    Ok(app
        .client
        .get(app.url(path))
        .bearer_auth(session(user)?)
        .send()
        .await?
        .json()
        .await?)
}

/// `GET /v1/tokens/{id}` of `token` (a resource as created) as `user`; returns the body, whatever
/// the status.
pub async fn fetch_token(app: &TestApp, user: &str, token: &Value) -> TestResult<Value> {
    let id = token["id"].as_str().unwrap_or_default();
    get_json(app, user, &format!("/v1/tokens/{id}")).await
}

/// `POST /v1/tokens/{id}/revoke` of `token` (a resource as created) as `user`, without a body;
/// returns the response.
pub async fn revoke_token(
    app: &TestApp,
    user: &str,
    token: &Value,
) -> TestResult<reqwest::Response> {
    let id = token["id"].as_str().unwrap_or_default();
    Ok(app
        .client
        .post(app.url(&format!("/v1/tokens/{id}/revoke")))
        .bearer_auth(session(user)?)
        .send()
        .await?)
}

/// `GET /v1/tokens/{id}/usage` as `member`; returns the body (200 expected).
pub async fn usage(app: &TestApp, token_id: &str) -> TestResult<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/tokens/{token_id}/usage")))
        .bearer_auth(session("member")?)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    Ok(response.json().await?)
}

/// The [`usage`] of `token_id` once its `usage_count` is `count` (a flush wrote it), read every
/// 100 ms; the last one read when that takes more than 5 s.
pub async fn usage_once_counted(app: &TestApp, token_id: &str, count: i64) -> TestResult<Value> {
    let mut seen = json!(null);
    for _ in 0..50 {
        seen = usage(app, token_id).await?;
        if seen["usage_count"] == count {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(seen)
}

/// `POST /v1/introspect` as JSON with `service`; returns the body (200 expected).
pub async fn introspect(app: &TestApp, service: &str, body: &Value) -> TestResult<Value> {
    let response = app
        .client
        .post(app.url("/v1/introspect"))
        .bearer_auth(service)
        .json(body)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    Ok(response.json().await?)
}

/// A service token that may introspect and learn reasons.
pub fn introspector(app: &TestApp) -> TestResult<String> {
    app.service_token(
        "gateway",
        &[Permission::Introspect, Permission::IntrospectReasons],
    )
}

/// The `/metrics` text, as served.
pub async fn metrics_text(app: &TestApp) -> TestResult<String> {
    Ok(app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// The value of one series on `/metrics` (its name with labels, as rendered); 0 when absent.
pub async fn metric(app: &TestApp, series: &str) -> TestResult<f64> {
    let text = metrics_text(app).await?;
    Ok(text
        .lines()
        .filter_map(|line| line.strip_prefix(series))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_default())
}
