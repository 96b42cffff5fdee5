//! Micro-benchmarks of the introspection hot path: value parse and checksum, digest, cache
//! hit, and the whole handler in-process (a cached token, no network).

use std::hint::black_box;

use actix_web::test;
use criterion::{Criterion, criterion_group, criterion_main};
use diesel::Connection;
use tokend::audit::{Actor, RequestContext};
use tokend::auth::Permission;
use tokend::config::{CacheSettings, RawConfig};
use tokend::introspection::cache::TokenCache;
use tokend::tokens::kind::{Prefixes, TokenKind};
use tokend::tokens::secret::{self, Peppers, parse_pepper_list};
use tokend::tokens::service::{self, NewServiceToken};

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
    });
    let key = [7u8; 32];
    cache.insert(key, None, cache.generation());
    c.bench_function("cache hit", |b| b.iter(|| cache.get(black_box(&key))));
}

fn full_handler(c: &mut Criterion) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let pairs = vec![
        (
            "TOKEND_DATA_DIR".to_owned(),
            dir.path().display().to_string(),
        ),
        ("TOKEND_PEPPERS".to_owned(), PEPPERS.to_owned()),
        (
            "TOKEND_SESSION_JWT_SECRET".to_owned(),
            "bench-session-secret-0123456789abcdefghij".to_owned(),
        ),
    ];
    let Ok(loaded) = RawConfig::from_sources(None, pairs).and_then(RawConfig::into_settings) else {
        return;
    };
    let settings = loaded.settings;
    let Ok(state) = tokend::app::state(settings) else {
        return;
    };
    let Ok(mut conn) = state.settings.database_url.connect(false) else {
        return;
    };
    let created = conn.transaction(|conn| {
        service::create(
            conn,
            &state.settings.peppers,
            &state.settings.prefixes,
            &NewServiceToken {
                name: "gateway",
                permissions: &[Permission::Introspect],
            },
            &Actor::cli(),
            &RequestContext::cli(),
        )
    });
    let Ok((_, gateway)) = created else { return };
    let gateway = gateway.into_exposed();
    let Ok(runtime) = actix_web::rt::Runtime::new() else {
        return;
    };
    let app = runtime.block_on(test::init_service(tokend::app::application(state)));
    // The gateway introspects its own (service) value: the caller and the subject both come from
    // the cache after the first call.
    let body = serde_json::json!({ "token": gateway });
    c.bench_function("introspect handler (cached)", |b| {
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

criterion_group!(benches, parse_and_digest, full_handler);
criterion_main!(benches);
