//! Token lifecycle routes (`session` scheme): regenerate, duplicate, bulk revoke and delete,
//! organization authorizations and SSO authorization.

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, post, put};

use super::extract::{Body, Managing, OptionalBody};
use super::params::{TokenOrganizationPath, TokenPath};
use super::responses::{
    AddOrganizationErrors, BulkErrors, DuplicateTokenErrors, RegenerateTokenErrors,
    RemoveOrganizationErrors, SsoAuthorizeErrors,
};
use super::tokens::{Answer, created};
use crate::tokens::dto::{
    BulkDelete, BulkResults, BulkRevoke, CreatedToken, DuplicateToken, RegenerateToken,
    TokenResource,
};
use crate::tokens::manage;

/// Regenerate a token: a new value, same id and settings; the old value stops working now.
///
/// Works on expired tokens (give `expires_at` where policy needs one); not on revoked ones.
#[utoipa::path(
    params(TokenPath),
    request_body(content = Option<RegenerateToken>),
    responses((status = 200, description = "The token and its new value", body = CreatedToken), RegenerateTokenErrors),
)]
#[post("/tokens/{id}/regenerate")]
pub async fn regenerate_token(
    m: Managing,
    path: Path<TokenPath>,
    OptionalBody(body): OptionalBody<RegenerateToken>,
) -> Answer {
    let asked = body.and_then(|b| b.expires_at);
    let token = m
        .write(move |conn, by| manage::regenerate(conn, by, &path.id, asked))
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Duplicate a token: a new token with the same kind, scopes, organizations, projects and
/// description, and the same lifetime from now. Its value is returned this once.
#[utoipa::path(
    params(TokenPath),
    request_body = DuplicateToken,
    responses((status = 201, description = "The copy and its value", body = CreatedToken), DuplicateTokenErrors),
)]
#[post("/tokens/{id}/duplicate")]
pub async fn duplicate_token(
    m: Managing,
    path: Path<TokenPath>,
    Body(body): Body<DuplicateToken>,
) -> Answer {
    let name = body.name;
    let token = m
        .write(move |conn, by| manage::duplicate(conn, by, &path.id, name))
        .await?;
    Ok(created(&token))
}

/// Revoke up to 100 tokens in one transaction, with a result per id.
#[utoipa::path(
    request_body = BulkRevoke,
    responses((status = 200, description = "Per-id results", body = BulkResults), BulkErrors),
)]
#[post("/tokens/bulk-revoke")]
pub async fn bulk_revoke(m: Managing, Body(body): Body<BulkRevoke>) -> Answer {
    let BulkRevoke { ids, reason } = body;
    let results = m
        .write(move |conn, by| manage::bulk_revoke(conn, by, ids, reason))
        .await?;
    Ok(HttpResponse::Ok().json(results))
}

/// Delete up to 100 tokens in one transaction, with a result per id.
#[utoipa::path(
    request_body = BulkDelete,
    responses((status = 200, description = "Per-id results", body = BulkResults), BulkErrors),
)]
#[post("/tokens/bulk-delete")]
pub async fn bulk_delete(m: Managing, Body(body): Body<BulkDelete>) -> Answer {
    let ids = body.ids;
    let results = m
        .write(move |conn, by| manage::bulk_delete(conn, by, ids))
        .await?;
    Ok(HttpResponse::Ok().json(results))
}

/// Authorize a personal token for one more organization (the caller must be a member).
#[utoipa::path(
    params(TokenOrganizationPath),
    responses((status = 200, description = "The token", body = TokenResource), AddOrganizationErrors),
)]
#[put("/tokens/{id}/organizations/{org_id}")]
pub async fn add_organization(m: Managing, path: Path<TokenOrganizationPath>) -> Answer {
    let resource = m
        .write(move |conn, by| manage::add_organization(conn, by, &path.id, &path.org_id))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Remove an organization from a personal token (not its last one). Idempotent.
#[utoipa::path(
    params(TokenOrganizationPath),
    responses((status = 204, description = "Removed (or was not authorized)"), RemoveOrganizationErrors),
)]
#[delete("/tokens/{id}/organizations/{org_id}")]
pub async fn remove_organization(m: Managing, path: Path<TokenOrganizationPath>) -> Answer {
    m.write(move |conn, by| manage::remove_organization(conn, by, &path.id, &path.org_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Authorize a token for SSO in an organization.
///
/// Needs a session signed into that organization with SSO (`sso_orgs` contains it); after it
/// the token works there even when the organization enforces SSO.
#[utoipa::path(
    params(TokenOrganizationPath),
    responses((status = 200, description = "The token", body = TokenResource), SsoAuthorizeErrors),
)]
#[post("/tokens/{id}/organizations/{org_id}/sso-authorize")]
pub async fn sso_authorize(m: Managing, path: Path<TokenOrganizationPath>) -> Answer {
    let signed_in = m.session.claims.sso_orgs.contains(&path.org_id);
    let resource = m
        .write(move |conn, by| manage::sso_authorize(conn, by, &path.id, &path.org_id, signed_in))
        .await?;
    Ok(HttpResponse::Ok().json(resource))
}
