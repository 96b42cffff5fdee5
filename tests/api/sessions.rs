//! The `session` scheme: HS256 and public-key JWTs, `exp`/`iss`/`aud`, users created from
//! claims, disabled users, and `tokend dev-session`.

use serde_json::{Value, json};

use crate::fixtures::{Directory, session, session_with, sign};
use crate::helpers::{Backend, TestApp, TestResult, expect_problem};
use crate::on_both_backends;

on_both_backends!(
    an_unknown_user_is_created_from_the_claims,
    bad_sessions_are_401,
    a_disabled_user_is_401,
);

/// A test Ed25519 key pair (made for these tests only).
const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDaNPcJnvr38Jwf+W8Oyxyp02SQG1goTtJuYcpgu38v9\n-----END PRIVATE KEY-----\n";
const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA35TrDSuiDfb2+zzxFsGqElNc5N8kXUX7k3Yss7L2mzk=\n-----END PUBLIC KEY-----\n";

async fn list_status(app: &TestApp, jwt: &str) -> TestResult<reqwest::Response> {
    Ok(app
        .client
        .get(app.url("/v1/tokens"))
        .bearer_auth(jwt)
        .send()
        .await?)
}

async fn an_unknown_user_is_created_from_the_claims(app: TestApp) -> TestResult {
    let jwt = session_with(
        "newcomer",
        &json!({"email": "new@example.com", "email_verified": false}),
    )?;
    let response = list_status(&app, &jwt).await?;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await?;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total_count"], 0);
    assert_eq!(page["page_info"]["has_next_page"], false);

    let dir_token = app.service_token("sync", &[tokend::auth::Permission::Directory])?;
    let user: Value = app
        .client
        .get(app.url("/v1/directory/users/newcomer"))
        .bearer_auth(&dir_token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (
            user["email"].as_str(),
            user["email_verified"].as_bool(),
            user["disabled"].as_bool()
        ),
        (Some("new@example.com"), Some(false), Some(false))
    );
    // No memberships come from a session.
    let membership = app
        .client
        .get(app.url("/v1/directory/organizations/acme/members/newcomer"))
        .bearer_auth(&dir_token)
        .send()
        .await?;
    assert_eq!(membership.status(), 404);
    Ok(())
}

async fn bad_sessions_are_401(app: TestApp) -> TestResult {
    let now = chrono::Utc::now().timestamp();
    let expired = sign(&json!({"sub": "u1", "email_verified": true, "exp": now - 60}))?;
    let no_exp = sign(&json!({"sub": "u1", "email_verified": true}))?;
    let bad_sub = session("has spaces")?;
    let wrong_key = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": "u1", "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-another!"),
    )?;
    let mut tampered = session("u1")?;
    tampered.insert(tampered.len() - 3, 'x');
    for jwt in [
        expired,
        no_exp,
        bad_sub,
        wrong_key,
        tampered,
        "a.b.c".to_owned(),
    ] {
        expect_problem(list_status(&app, &jwt).await?, 401, "unauthenticated").await?;
    }
    Ok(())
}

async fn a_disabled_user_is_401(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.user("u1", true, false).await?;
    assert_eq!(list_status(&app, &session("u1")?).await?.status(), 200);
    dir.user("u1", true, true).await?;
    expect_problem(
        list_status(&app, &session("u1")?).await?,
        401,
        "unauthenticated",
    )
    .await?;
    Ok(())
}

#[actix_web::test]
async fn issuer_and_audience_are_checked_when_configured() -> TestResult {
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("TOKEND_SESSION_JWT_ISSUER", "https://id.example"),
            ("TOKEND_SESSION_JWT_AUDIENCE", "tokend"),
        ],
    )?
    else {
        return Ok(());
    };
    let good = session_with("u1", &json!({"iss": "https://id.example", "aud": "tokend"}))?;
    assert_eq!(list_status(&app, &good).await?.status(), 200);
    for claims in [
        json!({"iss": "https://evil.example", "aud": "tokend"}),
        json!({"iss": "https://id.example", "aud": "other"}),
        json!({"aud": "tokend"}),
        json!({"iss": "https://id.example"}),
    ] {
        let jwt = session_with("u1", &claims)?;
        expect_problem(list_status(&app, &jwt).await?, 401, "unauthenticated").await?;
    }
    Ok(())
}

#[actix_web::test]
async fn a_public_key_file_verifies_eddsa_sessions() -> TestResult {
    let keys = tempfile::tempdir()?;
    let public = keys.path().join("session.pub");
    std::fs::write(&public, ED25519_PUBLIC)?;
    let public = public.display().to_string();
    let Some(app) = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("TOKEND_SESSION_JWT_SECRET", ""),
            ("TOKEND_SESSION_JWT_PUBLIC_KEY_FILE", &public),
        ],
    )?
    else {
        return Ok(());
    };
    let now = chrono::Utc::now().timestamp();
    let signed = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &json!({"sub": "u1", "email_verified": true, "exp": now + 60}),
        &jsonwebtoken::EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes())?,
    )?;
    assert_eq!(list_status(&app, &signed).await?.status(), 200);
    // An HS256 session is no longer accepted.
    expect_problem(
        list_status(&app, &session("u1")?).await?,
        401,
        "unauthenticated",
    )
    .await?;
    Ok(())
}

#[actix_web::test]
async fn dev_session_prints_a_session_the_server_accepts() -> TestResult {
    let Some(app) = TestApp::spawn(Backend::Sqlite)? else {
        return Ok(());
    };
    let run = |user: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tokend"));
        command
            .env_clear()
            .env("TOKEND_DATA_DIR", app.data_dir.path())
            .env("TOKEND_DATABASE_URL", &app.database_url)
            .env("TOKEND_PEPPERS", crate::helpers::TEST_PEPPERS)
            .env(
                "TOKEND_SESSION_JWT_SECRET",
                crate::helpers::TEST_SESSION_SECRET,
            )
            .args(["dev-session", "--user", user])
            .args(extra);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output()
    };
    let output = run(
        "dev1",
        &[
            "--email",
            "dev1@example.org",
            "--sso-org",
            "acme",
            "--ttl",
            "120",
        ],
        &[],
    )?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let jwt = String::from_utf8(output.stdout)?.trim().to_owned();
    assert_eq!(jwt.split('.').count(), 3);
    assert_eq!(list_status(&app, &jwt).await?.status(), 200);
    let payload: Value = {
        use base64::Engine;
        let part = jwt.split('.').nth(1).unwrap_or_default();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part)?)?
    };
    assert_eq!(
        (
            payload["sub"].as_str(),
            payload["email"].as_str(),
            payload["email_verified"].as_bool()
        ),
        (Some("dev1"), Some("dev1@example.org"), Some(true))
    );
    assert_eq!(payload["sso_orgs"], json!(["acme"]));
    assert_eq!(
        payload["exp"].as_i64().unwrap_or_default() - payload["iat"].as_i64().unwrap_or_default(),
        120
    );

    let unverified = run("dev2", &["--unverified"], &[])?;
    let jwt = String::from_utf8(unverified.stdout)?.trim().to_owned();
    let response = app
        .client
        .post(app.url("/v1/tokens"))
        .bearer_auth(&jwt)
        .json(&json!({"kind": "personal", "name": "x", "scopes": ["read"], "organization_ids": ["acme"]}))
        .send()
        .await?;
    expect_problem(response, 403, "email_not_verified").await?;

    let refused = run("dev3", &[], &[("TOKEND_ENV", "production")])?;
    assert!(!refused.status.success());
    assert!(String::from_utf8(refused.stderr)?.contains("production"));
    assert!(refused.stdout.is_empty());
    Ok(())
}
