//! Operations endpoints (no auth): liveness, readiness, the OpenAPI document and its docs page.

use actix_web::{HttpResponse, get};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db;
use crate::error::{ApiError, Problem};

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
pub async fn readyz(state: actix_web::web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    db::run(&state.db, |conn| {
        conn.batch_execute("SELECT 1").map_err(|error| {
            tracing::warn!(%error, "readiness check failed");
            ApiError::Unavailable
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

/// Any route that does not exist.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
