//! The token-facing routes: introspection (RFC 7662), `/v1/me`, and revocation by value
//! (RFC 7009).

use std::net::IpAddr;

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::extract::{Introspector, Revoker, client_ip, header_text, media, read_bytes};
use super::responses::{IntrospectErrors, MeErrors, RevocationErrors};
use crate::audit::RequestContext;
use crate::auth::callers::TokenCaller;
use crate::auth::{Permission, lookup};
use crate::db;
use crate::error::ApiError;
use crate::introspection::answer::{self, Introspection};
use crate::introspection::evaluate::Question;
use crate::introspection::me::{Me, describe};
use crate::introspection::request::{
    self, IntrospectForm, IntrospectRequest, RevocationForm, RevocationRequest,
};
use crate::state::AppState;
use crate::tokens::{manage, secret};

/// Reads an introspection request, JSON or form.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<IntrospectRequest, ApiError> {
    let organization = header_text(req, "x-organization-id")?;
    let body = read_bytes(payload).await?;
    request::parse(&body, media(req), organization)
}

/// Introspect a token (RFC 7662).
///
/// JSON or `application/x-www-form-urlencoded`. Malformed values are rejected by their
/// checksum without touching the database.
#[utoipa::path(
    request_body(content((IntrospectRequest = "application/json"), (IntrospectForm = "application/x-www-form-urlencoded"))),
    params(("X-Organization-ID" = Option<String>, Header, description = "The organization the request is made in, when the body names none")),
    responses((status = 200, description = "Active or inactive", body = Introspection), IntrospectErrors),
)]
#[post("/introspect")]
pub async fn introspect(
    state: web::Data<AppState>,
    Introspector(caller): Introspector,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let mut request = read_body(&req, payload).await?;
    let tell = caller.has(Permission::IntrospectReasons);
    let value = request::required_token(request.token.take())?;
    let question = Question {
        organization_id: request.organization_id.as_deref(),
        project_id: request.project_id.as_deref(),
        required_scopes: request.required_scopes.as_deref(),
    };
    let ip = request
        .client_ip
        .as_deref()
        .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
        .or_else(|| client_ip(&req));
    let verdict = lookup::verify(&state, &value, &question, ip, |snapshot, active| {
        crate::metrics::count_introspection("active");
        if active.allowed.is_some() {
            return HttpResponse::Ok().json(Introspection::active(snapshot, active));
        }
        let body = active
            .grant
            .answer
            .get_or_init(|| answer::encode(&Introspection::active(snapshot, active)));
        HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(body.clone())
    })
    .await?;
    Ok(verdict
        .unwrap_or_else(|reason| HttpResponse::Ok().json(Introspection::inactive(reason, tell))))
}

/// Who the calling token is: its summary, its owner and its effective scopes per organization.
#[utoipa::path(responses((status = 200, description = "The token", body = Me), MeErrors))]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: TokenCaller) -> Result<HttpResponse, ApiError> {
    let me = db::run(&state.db, move |conn| describe(conn, &caller.snapshot)).await?;
    Ok(HttpResponse::Ok().json(me))
}

/// Revoke a token by its value (RFC 7009).
///
/// A service token needs the `revoke` permission; a personal, agent or api token may revoke
/// itself. The answer is 200 whether or not the value named a token.
#[utoipa::path(
    request_body(content((Option<RevocationRequest> = "application/json"), (Option<RevocationForm> = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Revoked, or nothing to revoke"), RevocationErrors),
)]
#[post("/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    Revoker(caller): Revoker,
    req: HttpRequest,
    context: RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_bytes(payload).await?;
    let value = request::parse_revocation(&body, media(&req))?;
    if secret::parse(&state.settings.prefixes, &value).is_err() {
        return Ok(HttpResponse::Ok().finish());
    }
    let peppers = &state.settings.peppers;
    let target = peppers.labelled(&peppers.digests(&value));
    drop(value);
    let current = peppers.current_id().to_owned();
    state
        .write(move |conn| manage::revoke_by_value(conn, &context, &caller, &target, &current))
        .await?;
    Ok(HttpResponse::Ok().finish())
}
