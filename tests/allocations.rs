//! A warm introspection allocates nothing of its own: parsing and digesting the value, the
//! cache hit, the evaluation, the answer (encoded once per snapshot, then shared) and the usage
//! count of a token already counted. What remains per request is actix's request and response.
//! And the request latencies the metrics record do not pile up between scrapes.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use actix_web::web::Bytes;
use smallvec::SmallVec;
use tokend::directory::Role;
use tokend::introspection::cache::{Cached, Lookup, TokenCache};
use tokend::introspection::evaluate::{Question, evaluate};
use tokend::introspection::snapshot::{CachedToken, Grant, Snapshot};
use tokend::tokens::kind::{OwnerType, Prefixes, TokenKind};
use tokend::tokens::secret::{self, Digest, Peppers};
use tokend::usage::Recorder;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn snapshot() -> Snapshot {
    let scopes: Arc<[String]> = vec!["read".to_owned(), "write:projects".to_owned()].into();
    let now = chrono::Utc::now().naive_utc();
    Snapshot {
        token: CachedToken {
            id: "01a2".into(),
            kind: TokenKind::Personal,
            name: "ci".into(),
            owner_type: OwnerType::User,
            owner_id: "u1".into(),
            expires_at: None,
            created_at: now,
            revoked: false,
        },
        scopes: Arc::clone(&scopes),
        project_ids: Box::default(),
        grants: vec![Grant {
            organization_id: "acme".into(),
            sso_enforced: false,
            sso_authorized_at: None,
            role: Some(Role::Member),
            scopes,
            answer: OnceLock::new(),
        }]
        .into(),
        owner_disabled: Some(false),
    }
}

#[test]
fn a_warm_introspection_allocates_nothing() -> TestResult {
    let prefixes = Prefixes::default();
    let peppers = Peppers::new(vec![(
        "current".to_owned(),
        b"allocation-test-pepper-0123456789abcdef".to_vec(),
    )])?;
    let value = secret::generate(&prefixes, TokenKind::Personal);
    let value = value.expose();
    let cache = TokenCache::new(tokend::config::CacheSettings {
        capacity: 1000,
        ttl: std::time::Duration::from_secs(60),
        negative_ttl: std::time::Duration::from_secs(60),
        stale_if_error: std::time::Duration::from_secs(60),
    });
    let key = peppers.digest(value);
    cache.insert(key, Some(Arc::new(snapshot())), cache.generation());
    let recorder = Recorder::default();
    let ip: Option<IpAddr> = "203.0.113.7".parse().ok();
    let question = Question {
        organization_id: None,
        project_id: None,
        required_scopes: None,
    };

    let introspect = || -> Option<Bytes> {
        secret::parse(&prefixes, value).ok()?;
        let candidates: SmallVec<[Digest; 2]> = peppers
            .candidates(value)
            .map(|(_, digest)| digest)
            .collect();
        let Lookup::Fresh(Cached::Known(found)) = cache.get(candidates.first()?) else {
            return None;
        };
        let now = chrono::Utc::now().naive_utc();
        let active = evaluate(&found, &question, now).ok()?;
        recorder.record(&found.token.id, ip, now);
        Some(
            active
                .grant
                .answer
                .get_or_init(|| Bytes::from_static(b"{\"active\":true}"))
                .clone(),
        )
    };
    // The first call counts the token and stores the answer.
    assert!(introspect().is_some());
    let info = allocation_counter::measure(|| {
        for _ in 0..100 {
            assert!(introspect().is_some());
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    Ok(())
}

/// Request latencies recorded between two upkeeps, as one worker records them.
fn record_requests(n: usize) {
    for i in 0..n {
        #[expect(clippy::cast_precision_loss, reason = "a made-up latency")]
        tokend::metrics::record_request("/v1/introspect".to_owned(), "POST", 200, i as f64 / 1e6);
    }
}

#[test]
fn latency_samples_are_folded_not_kept() {
    tokend::metrics::install();
    record_requests(10);
    tokend::metrics::upkeep();
    // Without upkeep the exporter keeps every sample until a scrape: the measure can fail.
    let kept = allocation_counter::measure(|| record_requests(100_000));
    tokend::metrics::upkeep();
    let folded = allocation_counter::measure(|| {
        for _ in 0..100 {
            record_requests(1_000);
            tokend::metrics::upkeep();
        }
    });
    assert!(kept.bytes_max > 500_000, "{kept:?}");
    assert!(folded.bytes_max < 64 * 1024, "{folded:?}");
}
