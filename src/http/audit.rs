//! `GET /v1/audit-events`.

use actix_web::{HttpResponse, get, web};

use super::extract::AuditReader;
use super::responses::AuditErrors;
use crate::audit::query::{self, AuditEvent, AuditQuery};
use crate::db;
use crate::error::ApiError;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// List audit events, newest first.
///
/// A session sees the events about its own tokens and its own actions, plus all events of the
/// organizations it administers; a service token with `audit` sees every event.
#[utoipa::path(
    params(AuditQuery),
    responses((status = 200, description = "A page of events", body = Page<AuditEvent>), AuditErrors),
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    AuditReader(reader): AuditReader,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = PageQuery {
        limit: query.limit,
        after: query.after.as_deref(),
        before: query.before.as_deref(),
    }
    .validate()?;
    let page = db::run(&state.db, move |conn| {
        query::page(conn, reader, &query, &request)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
