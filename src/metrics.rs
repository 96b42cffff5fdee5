//! Prometheus metrics at `/metrics`: requests per route and status with latency, introspection
//! results, cache hits/misses/evictions, pool connections, usage flushes and invalidations.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, web};
use foldhash::fast::RandomState;
use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::AppState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() {
    HANDLE.get_or_init(|| match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => Some(handle),
        Err(error) => {
            tracing::warn!(%error, "metrics recorder not installed");
            None
        }
    });
}

/// The request counter and latency histogram of one route, method and status.
type RequestHandles = (Counter, Histogram);

/// Counters by the address and length of their name and label value (static strings:
/// comparing and hashing those is cheaper than comparing and hashing the text; two equal texts at
/// different addresses only resolve the same series twice).
type CounterKey = (usize, usize, usize, usize);

thread_local! {
    /// Metric handles resolved once per worker thread, so the hot path neither builds label
    /// sets nor hashes them into the registry on every request.
    static REQUESTS: RefCell<HashMap<(String, &'static str, u16), RequestHandles, RandomState>> =
        RefCell::new(HashMap::with_hasher(RandomState::default()));
    static COUNTERS: RefCell<HashMap<CounterKey, Counter, RandomState>> =
        RefCell::new(HashMap::with_hasher(RandomState::default()));
}

/// Counts every request and its latency by route pattern, method and status.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = method_label(req.method());
    let response = next.call(req).await?;
    let status = response.status().as_u16();
    let elapsed = started.elapsed().as_secs_f64();
    REQUESTS.with_borrow_mut(|handles| {
        let (requests, latency) =
            handles
                .entry((route, method, status))
                .or_insert_with_key(|(route, method, status)| {
                    let labels = [
                        ("route", SharedString::from(route.clone())),
                        ("method", SharedString::const_str(method)),
                        ("status", SharedString::from(status.to_string())),
                    ];
                    (
                        metrics::counter!("tokend_http_requests_total", &labels),
                        metrics::histogram!("tokend_http_request_duration_seconds", &labels),
                    )
                });
        requests.increment(1);
        latency.record(elapsed);
    });
    Ok(response)
}

/// Adds one to the counter `name`, or to its series with `label` set to `value`.
fn increment(name: &'static str, label: &'static str, value: &'static str) {
    COUNTERS.with_borrow_mut(|counters| {
        counters
            .entry((
                name.as_ptr() as usize,
                name.len(),
                value.as_ptr() as usize,
                value.len(),
            ))
            .or_insert_with(|| {
                if label.is_empty() {
                    metrics::counter!(name)
                } else {
                    metrics::counter!(name, label => value)
                }
            })
            .increment(1);
    });
}

/// Adds one to an unlabelled counter.
pub fn count(name: &'static str) {
    increment(name, "", "");
}

/// Counts one introspection answer by result (`active` or the inactive reason).
pub fn count_introspection(result: &'static str) {
    increment("tokend_introspections_total", "result", result);
}

/// A method label without allocating for the usual methods.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Prometheus text exposition.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics_endpoint(state: web::Data<AppState>) -> HttpResponse {
    let (in_use, idle) = state.db.pool_state();
    metrics::gauge!("tokend_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("tokend_db_pool_connections", "state" => "idle").set(f64::from(idle));
    #[expect(clippy::cast_precision_loss, reason = "an entry count as a gauge")]
    metrics::gauge!("tokend_token_cache_entries").set(state.cache.entry_count() as f64);
    let body = HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
