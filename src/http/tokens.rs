//! Token management routes (`session` scheme): create, list, get, patch, delete, revoke, the
//! scope catalog, organization oversight and usage. Each handler parses, makes one domain
//! call and answers.

use actix_web::web::{Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post};

use super::extract::{Body, Managing, OptionalBody};
use super::responses::{BodyErrors, ManageErrors, PageErrors, SessionErrors};
use crate::directory::model::ExternalId;
use crate::directory::profile::{self, Profile};
use crate::error::{ApiError, Problem};
use crate::pagination::Page;
use crate::tokens::dto::{
    CreateToken, CreatedToken, RevokeToken, ScopeCatalogResponse, TokenResource, UpdateToken,
};
use crate::tokens::list::{self, TokenQuery};
use crate::tokens::{access, manage};
use crate::usage::query::{self as usage, Usage};

/// What a handler answers.
pub type Answer = Result<HttpResponse, ApiError>;

/// 201 with `Location` for a token created with its value.
#[must_use]
pub fn created(created: &CreatedToken) -> HttpResponse {
    HttpResponse::Created()
        .insert_header(("Location", format!("/v1/tokens/{}", created.resource.id)))
        .json(created)
}

/// Create a token.
///
/// The response carries the value (`token`) this once; afterwards only `hint` is shown.
#[utoipa::path(
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; `Location` names it", body = CreatedToken),
        BodyErrors,
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`email_not_verified`, `api_tokens_disabled`, `forbidden` or `token_cannot_manage_tokens`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`name_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
#[post("/tokens")]
pub async fn create_token(m: Managing, Body(body): Body<CreateToken>) -> Answer {
    let token = m
        .write(move |conn, by| manage::create(conn, by, &body))
        .await?;
    Ok(created(&token))
}

/// List the caller's tokens, newest first.
///
/// The caller's personal and agent tokens, and the api tokens of the organizations they
/// administer. Filters combine; cursors are opaque.
#[utoipa::path(
    tag = "tokens",
    params(TokenQuery),
    responses(
        (status = 200, description = "A page of tokens", body = Page<TokenResource>),
        PageErrors,
    ),
    security(("session" = []))
)]
#[get("/tokens")]
pub async fn list_tokens(m: Managing, query: Query<TokenQuery>) -> Answer {
    let (filters, page) = query.validate()?;
    let found = m
        .read(move |conn, user| list::managed_by(conn, user, &filters, &page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Get a token.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id (its `id` field, not its value)")),
    responses((status = 200, description = "The token", body = TokenResource), ManageErrors),
    security(("session" = []))
)]
#[get("/tokens/{id}")]
pub async fn get_token(m: Managing, id: Path<String>) -> Answer {
    let resource = m
        .read(move |conn, user| access::shown(conn, user, &id))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Update a token's name, description, scopes, expiry or project restriction.
///
/// The rules of creation apply to the new values; a revoked token cannot be changed (409).
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id (its `id` field, not its value)")),
    request_body = UpdateToken,
    responses(
        (status = 200, description = "The updated token", body = TokenResource),
        BodyErrors,
        ManageErrors,
        (status = 409, description = "`name_taken`, or the token is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
#[patch("/tokens/{id}")]
pub async fn update_token(m: Managing, id: Path<String>, Body(body): Body<UpdateToken>) -> Answer {
    let resource = m
        .write(move |conn, by| manage::update(conn, by, &id, &body))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Delete a token (it stops working at once and disappears from lists).
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id (its `id` field, not its value)")),
    responses((status = 204, description = "Deleted"), ManageErrors),
    security(("session" = []))
)]
#[delete("/tokens/{id}")]
pub async fn delete_token(m: Managing, id: Path<String>) -> Answer {
    m.write(move |conn, by| manage::delete(conn, by, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke a token: it stops working at once, on every instance, and stays listed as revoked.
///
/// Organization admins may revoke the agent tokens bound to their organization. Revoking a
/// revoked token changes nothing and returns it.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id (its `id` field, not its value)")),
    request_body(content = Option<RevokeToken>, description = "Optional reason"),
    responses(
        (status = 200, description = "The revoked token", body = TokenResource),
        BodyErrors,
        ManageErrors,
        (status = 422, description = "Reason too long", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
#[post("/tokens/{id}/revoke")]
pub async fn revoke_token(
    m: Managing,
    id: Path<String>,
    OptionalBody(body): OptionalBody<RevokeToken>,
) -> Answer {
    let reason = body.and_then(|b| b.reason);
    let resource = m
        .write(move |conn, by| manage::revoke(conn, by, &id, reason))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// The signed-in user and their organizations, each with the user's role and the
/// organization's token policy (the console's create form offers only what they allow).
#[utoipa::path(
    tag = "tokens",
    responses(
        (status = 200, description = "The user and their organizations", body = Profile),
        SessionErrors,
    ),
    security(("session" = []))
)]
#[get("/session")]
pub async fn session_profile(m: Managing) -> Answer {
    let user = m.session.user.clone();
    let verified = m.session.email_verified();
    let found = m
        .read(move |conn, _| Ok(profile::of(conn, user, verified)?))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// The scope catalog and presets, for the console's create form.
#[utoipa::path(
    tag = "tokens",
    responses(
        (status = 200, description = "Scopes and presets", body = ScopeCatalogResponse),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
#[get("/scopes")]
pub async fn list_scopes(m: Managing) -> HttpResponse {
    HttpResponse::Ok().json(ScopeCatalogResponse::of(&m.settings().scope_catalog))
}

/// An organization's tokens, for its admins and owners: its api tokens, its members' agent
/// tokens and the metadata of the personal tokens authorized for it. Others get 404.
#[utoipa::path(
    tag = "tokens",
    params(("org_id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"), TokenQuery),
    responses(
        (status = 200, description = "A page of tokens", body = Page<TokenResource>),
        PageErrors,
        (status = 404, description = "No such organization, or not its admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
#[get("/organizations/{org_id}/tokens")]
pub async fn organization_tokens(
    m: Managing,
    org: Path<String>,
    query: Query<TokenQuery>,
) -> Answer {
    let (filters, page) = query.validate()?;
    let found = m
        .read(move |conn, user| {
            list::of_organization(conn, user, org.into_inner(), &filters, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A token's usage: counts, last use, recent client addresses and daily counts.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "The token's id (its `id` field, not its value)")),
    responses((status = 200, description = "Usage", body = Usage), ManageErrors),
    security(("session" = []))
)]
#[get("/tokens/{id}/usage")]
pub async fn token_usage(m: Managing, id: Path<String>) -> Answer {
    let used = m
        .read(move |conn, user| usage::of_managed(conn, user, &id))
        .await?;
    Ok(HttpResponse::Ok().json(used))
}
