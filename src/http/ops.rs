//! Operations endpoints (no auth): liveness, readiness, metrics, and the answer for routes
//! that do not exist.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

/// Health status body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` (process up) or `ready` (database reachable).
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Up", body = Status)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// Readiness: the database answers `SELECT 1`.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Status),
        (status = 503, description = "Database unreachable", body = Problem),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.db, db::ping).await.map_err(|error| {
        tracing::warn!(%error, "readiness check failed");
        ApiError::Unavailable
    })?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// Prometheus text exposition.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics_endpoint(state: web::Data<AppState>) -> HttpResponse {
    let (in_use, idle) = state.db.pool_state();
    let body = crate::metrics::render(in_use, idle, state.cache.entry_count());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// Any route that does not exist.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
