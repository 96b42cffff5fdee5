//! Prometheus metrics at `/metrics`: requests per route and status with latency, introspection
//! results, cache hits/misses/evictions, pool connections, usage flushes and invalidations.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, get, web};
use metrics::SharedString;
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
    let labels = [
        ("route", SharedString::from(route)),
        ("method", SharedString::const_str(method)),
        ("status", status_label(response.status().as_u16())),
    ];
    metrics::counter!("tokend_http_requests_total", &labels).increment(1);
    metrics::histogram!("tokend_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
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

/// A status label, without allocating for the statuses this API answers.
fn status_label(status: u16) -> SharedString {
    match status {
        200 => SharedString::const_str("200"),
        201 => SharedString::const_str("201"),
        204 => SharedString::const_str("204"),
        400 => SharedString::const_str("400"),
        401 => SharedString::const_str("401"),
        403 => SharedString::const_str("403"),
        404 => SharedString::const_str("404"),
        409 => SharedString::const_str("409"),
        422 => SharedString::const_str("422"),
        503 => SharedString::const_str("503"),
        other => SharedString::from(other.to_string()),
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
