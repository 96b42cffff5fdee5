//! Micro-benchmarks of the introspection hot path: value parse and checksum, digest, cache
//! hit, and the whole handler in-process (a cached active token, no network).

use std::hint::black_box;

use actix_web::http::Method;
use actix_web::{test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use diesel::Connection;
use serde_json::json;
use tokend::auth::Permission;
use tokend::auth::session::{Claims, sign_dev_session};
use tokend::config::{CacheSettings, RawConfig};
use tokend::introspection::cache::TokenCache;
use tokend::state::AppState;
use tokend::tokens::kind::{Prefixes, TokenKind};
use tokend::tokens::secret::{self, Peppers, parse_pepper_list};
use tokend::tokens::service::{self, NewServiceToken, Operator};

const PEPPERS: &str = "bench:bench-pepper-0123456789abcdefghijklmnopqrstuvwxyz";

fn parse_and_digest(c: &mut Criterion) {
    let prefixes = Prefixes::default();
    let value = secret::generate(&prefixes, TokenKind::Personal);
    let peppers = Peppers::new(parse_pepper_list(PEPPERS).unwrap_or_default()).ok();
    c.bench_function("parse + checksum", |b| {
        b.iter(|| secret::parse(&prefixes, black_box(value.expose())));
    });
    if let Some(peppers) = peppers {
        c.bench_function("HMAC-SHA256 digest", |b| {
            b.iter(|| peppers.digest(black_box(value.expose())));
        });
    }
    let cache = TokenCache::new(CacheSettings {
        capacity: 100_000,
        ttl: std::time::Duration::from_secs(30),
        negative_ttl: std::time::Duration::from_secs(5),
        stale_if_error: std::time::Duration::from_secs(60),
    });
    let key = [7u8; 32];
    cache.insert(key, None, cache.generation());
    c.bench_function("cache hit", |b| b.iter(|| cache.get(black_box(&key))));
}

/// A started application state in a temporary directory, a gateway (introspect + directory)
/// and a session for `bench-user`.
fn setup(dir: &std::path::Path) -> Option<(web::Data<AppState>, String, String)> {
    let pairs = vec![
        ("TOKEND_DATA_DIR".to_owned(), dir.display().to_string()),
        ("TOKEND_PEPPERS".to_owned(), PEPPERS.to_owned()),
        (
            "TOKEND_SESSION_JWT_SECRET".to_owned(),
            "bench-session-secret-0123456789abcdefghij".to_owned(),
        ),
    ];
    let loaded = RawConfig::from_sources(None, pairs)
        .and_then(RawConfig::into_settings)
        .ok()?;
    let state = tokend::app::state(loaded.settings).ok()?;
    let mut conn = state.settings.database_url.connect(false).ok()?;
    let (_, gateway) = conn
        .transaction(|conn| {
            service::create(
                conn,
                &state.settings.peppers,
                &state.settings.prefixes,
                &NewServiceToken {
                    name: "gateway",
                    permissions: &[Permission::Introspect, Permission::Directory],
                    ..NewServiceToken::default()
                },
                &Operator::cli(),
            )
        })
        .ok()?;
    let claims = Claims {
        sub: "bench-user".into(),
        email: Some("bench@example.com".into()),
        email_verified: true,
        auth_time: None,
        sso_orgs: Vec::new(),
        exp: chrono::Utc::now().timestamp() + 3600,
        iat: None,
        iss: None,
        aud: None,
    };
    let session = sign_dev_session(&state.settings, &claims).ok()?;
    Some((state, gateway.into_exposed(), session))
}

fn full_handler(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Some((state, gateway, session)) = setup(dir.path()) else {
        return;
    };
    let Ok(runtime) = actix_web::rt::Runtime::new() else {
        return;
    };
    let app = runtime.block_on(test::init_service(tokend::app::application(state)));
    let call = |method: Method, uri: &str, bearer: &str, body: serde_json::Value| {
        let request = test::TestRequest::default()
            .method(method)
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {bearer}")))
            .set_json(body)
            .to_request();
        runtime.block_on(test::call_and_read_body_json::<_, _, serde_json::Value>(
            &app, request,
        ))
    };
    for (uri, body) in [
        (
            "/v1/directory/organizations/bench",
            json!({"name": "Bench"}),
        ),
        (
            "/v1/directory/users/bench-user",
            json!({"email": "bench@example.com", "email_verified": true}),
        ),
        (
            "/v1/directory/organizations/bench/members/bench-user",
            json!({"role": "member"}),
        ),
    ] {
        call(Method::PUT, uri, &gateway, body);
    }
    let created = call(
        Method::POST,
        "/v1/tokens",
        &session,
        json!({"kind": "personal", "name": "bench", "organization_ids": ["bench"], "scopes": ["read", "write:projects"]}),
    );
    let Some(value) = created["token"].as_str().map(str::to_owned) else {
        return;
    };
    for (name, body) in [
        (
            "introspect handler (cached, active)",
            json!({ "token": value }),
        ),
        (
            "introspect handler (cached, active, required_scopes)",
            json!({ "token": value, "required_scopes": ["read"] }),
        ),
    ] {
        let answer = call(Method::POST, "/v1/introspect", &gateway, body.clone());
        assert_eq!(answer["active"], true, "{answer}");
        c.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let request = test::TestRequest::post()
                        .uri("/v1/introspect")
                        .insert_header(("Authorization", format!("Bearer {gateway}")))
                        .set_json(&body)
                        .to_request();
                    let response = test::call_service(&app, request).await;
                    assert!(response.status().is_success());
                });
            });
        });
    }
}

criterion_group!(benches, parse_and_digest, full_handler);
criterion_main!(benches);
