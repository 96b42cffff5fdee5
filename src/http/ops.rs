//! Operations endpoints (no auth): the start page, liveness, readiness and metrics.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::responses::ReadyErrors;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Health status body.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `ok` (process up) or `ready` (database reachable).
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// What tokend is, its version, and where to go next: the interactive docs, the OpenAPI
/// document, health and metrics.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The start page", body = String, content_type = "text/html"))
)]
#[get("/")]
pub async fn home(state: web::Data<AppState>) -> HttpResponse {
    let console = if state.settings.console_enabled {
        CONSOLE_LINK
    } else {
        ""
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(HOME.replacen(CONSOLE_PLACE, console, 1))
}

/// Where the console's link goes on the start page.
const CONSOLE_PLACE: &str = "<!-- console -->\n";

/// The console's link (when `TOKEND_CONSOLE_ENABLED` is true).
const CONSOLE_LINK: &str = "<li><a href=\"/console/\">Console: manage your tokens</a></li>\n";

/// The start page: no script, no style, no other origin.
const HOME: &str = concat!(
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    "<title>tokend</title>\n</head>\n<body>\n<main>\n<h1>tokend</h1>\n",
    "<p>Token management: create, list, rotate and revoke API tokens, and introspect them on ",
    "every request. Version ",
    env!("CARGO_PKG_VERSION"),
    ".</p>\n<ul>\n",
    "<!-- console -->\n",
    "<li><a href=\"/docs/\">Interactive API documentation</a></li>\n",
    "<li><a href=\"/openapi.json\">OpenAPI document</a></li>\n",
    "<li><a href=\"/healthz\">Liveness</a> and <a href=\"/readyz\">readiness</a></li>\n",
    "<li><a href=\"/metrics\">Prometheus metrics</a></li>\n",
    "</ul>\n</main>\n</body>\n</html>\n"
);

/// Liveness: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Up", body = HealthStatus)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}

/// Readiness: the database answers `SELECT 1`, its circuit breaker is closed, and the server
/// is not draining after SIGTERM.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        ReadyErrors,
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Unavailable);
    }
    db::run(&state.db, db::ping).await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::Unavailable
    })?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ready" }))
}

/// Prometheus text exposition.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics_endpoint(state: web::Data<AppState>) -> HttpResponse {
    let (in_use, idle) = state.db.pool_state();
    let body = crate::metrics::render(in_use, idle, state.cache.entry_count());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
