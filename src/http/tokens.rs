//! Token management routes (`session` scheme): create, list, get, patch, delete, revoke, the
//! scope catalog, organization oversight and usage. Each handler parses, makes one domain
//! call and answers.

use actix_web::web::{Path, Query};
use actix_web::{HttpResponse, delete, get, patch, post};

use super::extract::{Body, Managing, OptionalBody};
use super::params::{OrganizationTokensPath, TokenPath};
use super::responses::{
    CreateTokenErrors, ManageErrors, NoSessionErrors, OrganizationPageErrors, PageErrors,
    RevokeTokenErrors, SessionErrors, UpdateTokenErrors,
};
use crate::directory::profile::{self, Profile};
use crate::error::ApiError;
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
    request_body = CreateToken,
    responses((status = 201, description = "Created; `Location` names it", body = CreatedToken), CreateTokenErrors),
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
    params(TokenQuery),
    responses((status = 200, description = "A page of tokens", body = Page<TokenResource>), PageErrors),
)]
#[get("/tokens")]
pub async fn list_tokens(m: Managing, query: Query<TokenQuery>) -> Answer {
    let (filters, page) = query.validate()?;
    let found = m
        .read_with_spares(move |conn, spares, user| {
            list::managed_by(conn, spares, user, &filters, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Get a token.
#[utoipa::path(
    params(TokenPath),
    responses((status = 200, description = "The token", body = TokenResource), ManageErrors),
)]
#[get("/tokens/{id}")]
pub async fn get_token(m: Managing, path: Path<TokenPath>) -> Answer {
    let resource = m
        .read(move |conn, user| access::shown(conn, user, &path.id))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Update a token's name, description, scopes, expiry or project restriction.
///
/// The rules of creation apply to the new values; a revoked token cannot be changed (409).
#[utoipa::path(
    params(TokenPath),
    request_body = UpdateToken,
    responses((status = 200, description = "The updated token", body = TokenResource), UpdateTokenErrors),
)]
#[patch("/tokens/{id}")]
pub async fn update_token(
    m: Managing,
    path: Path<TokenPath>,
    Body(body): Body<UpdateToken>,
) -> Answer {
    let resource = m
        .write(move |conn, by| manage::update(conn, by, &path.id, &body))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Delete a token (it stops working at once and disappears from lists).
#[utoipa::path(params(TokenPath), responses((status = 204, description = "Deleted"), ManageErrors))]
#[delete("/tokens/{id}")]
pub async fn delete_token(m: Managing, path: Path<TokenPath>) -> Answer {
    m.write(move |conn, by| manage::delete(conn, by, &path.id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke a token: it stops working at once, on every instance, and stays listed as revoked.
///
/// Organization admins may revoke the agent tokens bound to their organization. Revoking a
/// revoked token changes nothing and returns it.
#[utoipa::path(
    params(TokenPath),
    request_body(content = Option<RevokeToken>, description = "Optional reason"),
    responses((status = 200, description = "The revoked token", body = TokenResource), RevokeTokenErrors),
)]
#[post("/tokens/{id}/revoke")]
pub async fn revoke_token(
    m: Managing,
    path: Path<TokenPath>,
    OptionalBody(body): OptionalBody<RevokeToken>,
) -> Answer {
    let reason = body.and_then(|b| b.reason);
    let resource = m
        .write(move |conn, by| manage::revoke(conn, by, &path.id, reason))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// The signed-in user and their organizations, each with the user's role and the
/// organization's token policy (the console's create form offers only what they allow).
#[utoipa::path(
    responses((status = 200, description = "The user and their organizations", body = Profile), SessionErrors),
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
    responses((status = 200, description = "Scopes and presets", body = ScopeCatalogResponse), NoSessionErrors),
)]
#[get("/scopes")]
pub async fn list_scopes(m: Managing) -> HttpResponse {
    HttpResponse::Ok().json(ScopeCatalogResponse::of(&m.settings().scope_catalog))
}

/// An organization's tokens, for its admins and owners: its api tokens, its members' agent
/// tokens and the metadata of the personal tokens authorized for it. Others get 404.
#[utoipa::path(
    params(OrganizationTokensPath, TokenQuery),
    responses((status = 200, description = "A page of tokens", body = Page<TokenResource>), OrganizationPageErrors),
)]
#[get("/organizations/{org_id}/tokens")]
pub async fn organization_tokens(
    m: Managing,
    path: Path<OrganizationTokensPath>,
    query: Query<TokenQuery>,
) -> Answer {
    let (filters, page) = query.validate()?;
    let found = m
        .read_with_spares(move |conn, spares, user| {
            let org_id = path.into_inner().org_id;
            list::of_organization(conn, spares, user, org_id, &filters, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// A token's usage: counts, last use, recent client addresses and daily counts.
#[utoipa::path(
    params(TokenPath),
    responses((status = 200, description = "Usage", body = Usage), ManageErrors),
)]
#[get("/tokens/{id}/usage")]
pub async fn token_usage(m: Managing, path: Path<TokenPath>) -> Answer {
    let used = m
        .read(move |conn, user| usage::of_managed(conn, user, &path.id))
        .await?;
    Ok(HttpResponse::Ok().json(used))
}
