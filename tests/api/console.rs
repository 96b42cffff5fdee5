//! The console's HTTP surface (DESIGN §11): the security headers on every console response,
//! no reference to another origin in any embedded asset, the development sign-in (and its
//! absence in production), `TOKEND_CONSOLE_ENABLED=false`, the start page's link, and
//! `GET /v1/session`, the profile the console's forms are built from.

use serde_json::{Value, json};

use crate::fixtures::{Directory, session};
use crate::helpers::{TestApp, TestResult, expect_problem, header};
use crate::on_both_backends;

on_both_backends!(
    every_console_response_has_the_security_headers,
    the_development_sign_in_hands_over_a_working_session,
    the_session_profile_lists_roles_and_policies
);

mod production {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_ENV", "production")];
        the_development_sign_in_is_404_in_production
    );
}

mod disabled {
    use super::*;
    on_both_backends!(
        settings = &[("TOKEND_CONSOLE_ENABLED", "false")];
        a_disabled_console_is_404
    );
}

const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' \
     data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn assert_console_headers(response: &reqwest::Response, path: &str) {
    assert_eq!(
        header(response, "content-security-policy"),
        POLICY,
        "{path}"
    );
    assert_eq!(header(response, "referrer-policy"), "no-referrer", "{path}");
    assert_eq!(
        header(response, "x-content-type-options"),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(response, "cache-control"), "no-store", "{path}");
}

async fn every_console_response_has_the_security_headers(app: TestApp) -> TestResult {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for (path, status, content_type) in [
        ("/console", 308, ""),
        ("/console/", 200, "text/html; charset=utf-8"),
        (
            "/console/assets/app.js",
            200,
            "text/javascript; charset=utf-8",
        ),
        ("/console/assets/style.css", 200, "text/css; charset=utf-8"),
        (
            "/console/assets/missing.js",
            404,
            "text/plain; charset=utf-8",
        ),
        ("/console/nowhere", 404, "text/plain; charset=utf-8"),
        ("/console/login", 200, "text/html; charset=utf-8"),
    ] {
        let response = client.get(app.url(path)).send().await?;
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_console_headers(&response, path);
        if !content_type.is_empty() {
            assert_eq!(header(&response, "content-type"), content_type, "{path}");
        }
    }
    let redirect = client.get(app.url("/console")).send().await?;
    assert_eq!(header(&redirect, "location"), "/console/");

    let index = client
        .get(app.url("/console/"))
        .send()
        .await?
        .text()
        .await?;
    assert!(index.contains("src=\"/console/assets/app.js\""), "{index}");
    assert!(
        index.contains("href=\"/console/assets/style.css\""),
        "{index}"
    );
    assert!(
        !index.contains("<script>") && !index.contains("style="),
        "no inline script or style"
    );

    let home = app.client.get(app.url("/")).send().await?.text().await?;
    assert!(
        home.contains("href=\"/console/\""),
        "the start page links the console: {home}"
    );
    Ok(())
}

/// Every `http://` or `https://` in the embedded pages and assets, except XML namespace names
/// (identifiers, never fetched).
#[test]
fn no_console_asset_refers_to_another_origin() {
    let namespaces = ["http://www.w3.org/2000/svg"];
    for (name, _, content) in tokend::http::console::ASSETS {
        let mut rest = content;
        while let Some(at) = rest.find("http") {
            let tail = &rest[at..];
            if tail.starts_with("http://") || tail.starts_with("https://") {
                assert!(
                    namespaces.iter().any(|ns| tail.starts_with(ns)),
                    "{name} refers to another origin: {}",
                    &tail[..tail.len().min(60)]
                );
            }
            rest = &rest[at + 4..];
        }
        assert!(
            !content.contains("url("),
            "{name} loads nothing through CSS url()"
        );
        assert!(!content.contains("//cdn"), "{name}");
    }
}

async fn the_development_sign_in_hands_over_a_working_session(app: TestApp) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let signed = client
        .post(app.url("/console/login"))
        .form(&[("user", "member"), ("email", "")])
        .send()
        .await?;
    assert_eq!(signed.status(), 303);
    assert_console_headers(&signed, "POST /console/login");
    let location = header(&signed, "location");
    let jwt = location
        .strip_prefix("/console/#session=")
        .ok_or_else(|| format!("the session goes in the fragment: {location}"))?;
    let profile = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(jwt)
        .send()
        .await?;
    assert_eq!(profile.status(), 200);
    let profile: Value = profile.json().await?;
    assert_eq!(profile["id"], "member");

    let empty = client
        .post(app.url("/console/login"))
        .form(&[("user", " ")])
        .send()
        .await?;
    expect_problem(empty, 400, "validation_failed").await?;
    Ok(())
}

async fn the_session_profile_lists_roles_and_policies(app: TestApp) -> TestResult {
    let dir = Directory::new(&app)?;
    dir.acme().await?;
    dir.org(
        "strict",
        json!({"name": "Strict", "require_expiry": true, "max_token_lifetime_days": 30}),
    )
    .await?;
    dir.member("strict", "member", "viewer").await?;
    let profile = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(session("member")?)
        .send()
        .await?;
    assert_eq!(profile.status(), 200);
    let profile: Value = profile.json().await?;
    assert_eq!(profile["id"], "member");
    assert_eq!(profile["email_verified"], true, "{profile}");
    let orgs = profile["organizations"]
        .as_array()
        .ok_or("no organizations")?;
    let strict = orgs
        .iter()
        .find(|o| o["id"] == "strict")
        .ok_or_else(|| format!("strict missing: {profile}"))?;
    assert_eq!(strict["role"], "viewer");
    assert_eq!(strict["require_expiry"], true);
    assert_eq!(strict["max_token_lifetime_days"], 30);
    let acme = orgs
        .iter()
        .find(|o| o["id"] == "acme")
        .ok_or_else(|| format!("acme missing: {profile}"))?;
    assert_eq!(acme["role"], "member");

    let stranger = app
        .client
        .get(app.url("/v1/session"))
        .bearer_auth(session("nobody")?)
        .send()
        .await?
        .json::<Value>()
        .await?;
    assert_eq!(stranger["organizations"], json!([]), "{stranger}");
    let anonymous = app.client.get(app.url("/v1/session")).send().await?;
    expect_problem(anonymous, 401, "unauthenticated").await?;
    Ok(())
}

async fn the_development_sign_in_is_404_in_production(app: TestApp) -> TestResult {
    for (method, path) in [("GET", "/console/login"), ("POST", "/console/login")] {
        let response = app
            .client
            .request(method.parse()?, app.url(path))
            .form(&[("user", "member")])
            .send()
            .await?;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let index = app.client.get(app.url("/console/")).send().await?;
    assert_eq!(
        index.status(),
        200,
        "the console itself is served in production"
    );
    Ok(())
}

async fn a_disabled_console_is_404(app: TestApp) -> TestResult {
    for path in [
        "/console",
        "/console/",
        "/console/assets/app.js",
        "/console/login",
    ] {
        let response = app.client.get(app.url(path)).send().await?;
        assert_eq!(response.status(), 404, "{path}");
    }
    let home = app.client.get(app.url("/")).send().await?.text().await?;
    assert!(!home.contains("/console/"), "{home}");
    Ok(())
}
