//! Lifecycle handlers: regenerate, duplicate, bulk revoke and delete, organization
//! authorizations and SSO authorization.

use actix_web::{HttpResponse, delete, post, put, web};
use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::dto::{
    BulkDelete, BulkOutcome, BulkResult, BulkResults, BulkRevoke, CreateToken, CreatedToken,
    DuplicateToken, RegenerateToken, TokenResource,
};
use super::handlers::{managed, record, revocable, roles_of};
use super::issue;
use super::kind::TokenKind;
use super::model::TokenRow;
use super::rules::{self, Creator};
use super::{repo, secret, view};
use crate::app::AppState;
use crate::audit::{Actor, RequestContext};
use crate::auth::Session;
use crate::db::schema::{token_organizations, tokens};
use crate::db::{self, DbConnection};
use crate::directory::model::Organization;
use crate::directory::repo as directory;
use crate::error::{ApiError, Problem};
use crate::introspection::cache::Change;
use crate::introspection::invalidation;

/// At most this many ids per bulk call.
pub const BULK_MAX: usize = 100;

fn not_revoked(row: &TokenRow) -> Result<(), ApiError> {
    if row.revoked_at.is_some() {
        Err(ApiError::Conflict("the token is revoked".into()))
    } else {
        Ok(())
    }
}

/// The expiry a copy or a renewed expired token gets: the same lifetime, from now.
fn same_lifetime(row: &TokenRow, now: NaiveDateTime) -> Option<NaiveDateTime> {
    row.expires_at
        .map(|at| now + (at - row.created_at).max(TimeDelta::seconds(1)))
}

/// Regenerate a token: a new value, same id and settings; the old value stops working now.
///
/// Works on expired tokens (give `expires_at` where policy needs one); not on revoked ones.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    request_body(content = Option<RegenerateToken>),
    responses(
        (status = 200, description = "The token and its new value", body = CreatedToken),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 409, description = "The token is revoked", body = Problem),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/{id}/regenerate")]
pub async fn regenerate_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    id: web::Path<String>,
    body: Option<web::Json<RegenerateToken>>,
) -> Result<HttpResponse, ApiError> {
    let asked = body.map(|b| b.into_inner().expires_at).unwrap_or_default();
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let affected = token_id.clone();
    let state_for_tx = state.clone();
    let created = db::transaction(&state.db, move |conn| {
        let settings = &state_for_tx.settings;
        let (row, _) = managed(conn, &user_id, &token_id)?;
        not_revoked(&row)?;
        let now = crate::time::now();
        let expires_at = match asked {
            Some(explicit) => explicit.map(|at| at.naive_utc()),
            None if row.expires_at.is_some_and(|at| at <= now) => same_lifetime(&row, now),
            None => row.expires_at,
        };
        let org_ids: Vec<String> = repo::organizations_of(conn, std::slice::from_ref(&row.id))?
            .into_iter()
            .map(|(_, org, _)| org)
            .collect();
        let orgs = directory::organizations(conn, &org_ids)?;
        rules::check_expiry(
            expires_at,
            &orgs.iter().collect::<Vec<&Organization>>(),
            now,
        )?;
        let kind: TokenKind = row.kind.parse().map_err(|e| ApiError::internal(&e))?;
        let value = secret::generate(&settings.prefixes, kind);
        let digest = settings.peppers.digest(value.expose());
        diesel::update(tokens::table.find(&row.id))
            .set((
                tokens::digest.eq(digest.as_slice()),
                tokens::pepper_id.eq(settings.peppers.current_id()),
                tokens::hint.eq(secret::hint(value.expose(), settings.prefixes.prefix(kind))),
                tokens::expires_at.eq(expires_at),
                tokens::updated_at.eq(now),
            ))
            .execute(conn)?;
        let resource = view::reload(conn, &row.id)?;
        record(
            conn,
            &context,
            &Actor::user(&user_id),
            "token.regenerated",
            &resource,
            serde_json::json!({ "expires_at": resource.expires_at.map(|at| at.and_utc()) }),
        )?;
        Ok(CreatedToken {
            resource,
            token: value.into_exposed(),
        })
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(affected)]).await;
    Ok(HttpResponse::Ok().json(created))
}

/// Duplicate a token: a new token with the same kind, scopes, organizations, projects and
/// description, and the same lifetime from now. Its value is returned this once.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    request_body = DuplicateToken,
    responses(
        (status = 201, description = "The copy and its value", body = CreatedToken),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`, or the rules of creation", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 409, description = "`name_taken`", body = Problem),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/{id}/duplicate")]
pub async fn duplicate_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    id: web::Path<String>,
    body: web::Json<DuplicateToken>,
) -> Result<HttpResponse, ApiError> {
    let name = body.into_inner().name;
    let verified = session.email_verified();
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let state_for_tx = state.clone();
    let created = db::transaction(&state.db, move |conn| {
        let settings = &state_for_tx.settings;
        let (row, roles) = managed(conn, &user_id, &token_id)?;
        let source = view::resource(conn, row.clone())?;
        let now = crate::time::now();
        let multi = source.kind == TokenKind::Personal;
        let request = CreateToken {
            kind: source.kind,
            name,
            description: source.description.clone(),
            scopes: Some(source.scopes.clone()),
            preset: None,
            expires_at: Some(same_lifetime(&row, now).map(|at| at.and_utc())),
            organization_ids: multi.then(|| source.organization_ids.clone()),
            organization_id: (!multi)
                .then(|| source.organization_ids.first().cloned())
                .flatten(),
            project_ids: Some(source.project_ids.clone()),
        };
        let orgs = directory::organizations(conn, &source.organization_ids)?;
        let known =
            directory::existing_projects(conn, &source.organization_ids, &source.project_ids)?;
        let creator = Creator {
            user_id: &user_id,
            email_verified: verified,
            roles: &roles,
        };
        let plan = rules::plan_creation(
            &request,
            &creator,
            &orgs,
            &known,
            &settings.scope_catalog,
            now,
        )?;
        let (resource, value) = issue::issue_plan(conn, settings, &plan, &user_id)?;
        record(
            conn,
            &context,
            &Actor::user(&user_id),
            "token.duplicated",
            &resource,
            serde_json::json!({ "source_token_id": source.id, "name": resource.name }),
        )?;
        Ok(CreatedToken {
            resource,
            token: value.into_exposed(),
        })
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/tokens/{}", created.resource.id)))
        .json(created))
}

fn check_bulk(ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() || ids.len() > BULK_MAX {
        return Err(ApiError::field("ids", "give 1 to 100 token ids"));
    }
    Ok(())
}

/// Revoke up to 100 tokens in one transaction, with a result per id.
#[utoipa::path(
    tag = "tokens",
    request_body = BulkRevoke,
    responses(
        (status = 200, description = "Per-id results", body = BulkResults),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 422, description = "No ids, or more than 100", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/bulk-revoke")]
pub async fn bulk_revoke(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    body: web::Json<BulkRevoke>,
) -> Result<HttpResponse, ApiError> {
    let BulkRevoke { ids, reason } = body.into_inner();
    check_bulk(&ids)?;
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > rules::REASON_MAX)
    {
        return Err(ApiError::field("reason", "must be at most 500 characters"));
    }
    let user_id = session.user.id;
    let results = db::transaction(&state.db, move |conn| {
        let actor = Actor::user(&user_id);
        let roles = roles_of(conn, &user_id)?;
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            let result = match revocable(conn, &user_id, &roles, &id)? {
                None => BulkOutcome::NotFound,
                Some(row) if row.revoked_at.is_some() => BulkOutcome::AlreadyRevoked,
                Some(row) => {
                    repo::revoke(
                        conn,
                        &row.id,
                        &user_id,
                        reason.as_deref(),
                        crate::time::now(),
                    )?;
                    let resource = view::reload(conn, &row.id)?;
                    record(
                        conn,
                        &context,
                        &actor,
                        "token.revoked",
                        &resource,
                        serde_json::json!({ "reason": reason, "bulk": true }),
                    )?;
                    BulkOutcome::Revoked
                }
            };
            results.push(BulkResult { id, result });
        }
        Ok(BulkResults { results })
    })
    .await?;
    invalidation::changed(&state, changed_tokens(&results)).await;
    Ok(HttpResponse::Ok().json(results))
}

/// The tokens a bulk operation revoked or deleted: what caches must drop.
fn changed_tokens(results: &BulkResults) -> Vec<Change> {
    results
        .results
        .iter()
        .filter(|r| matches!(r.result, BulkOutcome::Revoked | BulkOutcome::Deleted))
        .map(|r| Change::Token(r.id.clone()))
        .collect()
}

/// Delete up to 100 tokens in one transaction, with a result per id.
#[utoipa::path(
    tag = "tokens",
    request_body = BulkDelete,
    responses(
        (status = 200, description = "Per-id results", body = BulkResults),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 422, description = "No ids, or more than 100", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/bulk-delete")]
pub async fn bulk_delete(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    body: web::Json<BulkDelete>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.into_inner().ids;
    check_bulk(&ids)?;
    let user_id = session.user.id;
    let results = db::transaction(&state.db, move |conn| {
        let actor = Actor::user(&user_id);
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            let result = match managed(conn, &user_id, &id) {
                Err(ApiError::NotFound(_)) => BulkOutcome::NotFound,
                Err(other) => return Err(other),
                Ok((row, _)) => {
                    let resource = view::resource(conn, row)?;
                    repo::delete(conn, &resource.id)?;
                    record(
                        conn,
                        &context,
                        &actor,
                        "token.deleted",
                        &resource,
                        serde_json::json!({ "bulk": true }),
                    )?;
                    BulkOutcome::Deleted
                }
            };
            results.push(BulkResult { id, result });
        }
        Ok(BulkResults { results })
    })
    .await?;
    invalidation::changed(&state, changed_tokens(&results)).await;
    Ok(HttpResponse::Ok().json(results))
}

/// Writes a `token.organization_*` or `token.sso_authorized` event.
fn organization_event(
    conn: &mut DbConnection,
    context: &RequestContext,
    user_id: &str,
    event_type: &'static str,
    token_id: &str,
    org_id: &str,
) -> Result<(), ApiError> {
    crate::audit::record(
        conn,
        context,
        &crate::audit::Event {
            event_type,
            actor: &Actor::user(user_id),
            token_id: Some(token_id),
            organization_id: Some(org_id),
            detail: None,
        },
    )?;
    Ok(())
}

/// A personal token of the caller's, live, for changing its organizations.
fn personal_of(
    conn: &mut DbConnection,
    user_id: &str,
    token_id: &str,
) -> Result<(TokenResource, crate::directory::Roles), ApiError> {
    let (row, roles) = managed(conn, user_id, token_id)?;
    not_revoked(&row)?;
    if row.kind != TokenKind::Personal.as_str() {
        return Err(ApiError::Conflict(
            "only personal tokens can change their organizations".into(),
        ));
    }
    Ok((view::resource(conn, row)?, roles))
}

/// Authorize a personal token for one more organization (the caller must be a member).
#[utoipa::path(
    tag = "tokens",
    params(
        ("id" = String, Path, description = "Token id"),
        ("org_id" = String, Path, description = "Organization id"),
    ),
    responses(
        (status = 200, description = "The token", body = TokenResource),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 409, description = "Not a personal token, or revoked", body = Problem),
        (status = 422, description = "Not a member, or `policy_violation`", body = Problem),
    ),
    security(("session" = []))
)]
#[put("/tokens/{id}/organizations/{org_id}")]
pub async fn add_organization(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (token_id, org_id) = path.into_inner();
    let user_id = session.user.id;
    let resource = db::transaction(&state.db, move |conn| {
        let (token, roles) = personal_of(conn, &user_id, &token_id)?;
        if token.organization_ids.contains(&org_id) {
            return Ok(token);
        }
        let org = directory::organization(conn, &org_id)?;
        let (Some(org), Some(role)) = (org, roles.get(&org_id)) else {
            return Err(ApiError::field(
                "organization_id",
                format!("you are not a member of organization {org_id:?}"),
            ));
        };
        rules::check_role_caps(&token.scopes, &org_id, *role)?;
        rules::check_expiry(token.expires_at, &[&org], crate::time::now())?;
        diesel::insert_into(token_organizations::table)
            .values((
                token_organizations::token_id.eq(&token.id),
                token_organizations::organization_id.eq(&org_id),
                token_organizations::created_at.eq(crate::time::now()),
            ))
            .execute(conn)?;
        let updated = view::reload(conn, &token.id)?;
        organization_event(
            conn,
            &context,
            &user_id,
            "token.organization_authorized",
            &token.id,
            &org_id,
        )?;
        Ok(updated)
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(resource.id.clone())]).await;
    Ok(HttpResponse::Ok().json(resource))
}

/// Remove an organization from a personal token (not its last one). Idempotent.
#[utoipa::path(
    tag = "tokens",
    params(
        ("id" = String, Path, description = "Token id"),
        ("org_id" = String, Path, description = "Organization id"),
    ),
    responses(
        (status = 204, description = "Removed (or was not authorized)"),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 409, description = "The last organization, not a personal token, or revoked", body = Problem),
    ),
    security(("session" = []))
)]
#[delete("/tokens/{id}/organizations/{org_id}")]
pub async fn remove_organization(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (token_id, org_id) = path.into_inner();
    let user_id = session.user.id;
    let affected = token_id.clone();
    db::transaction(&state.db, move |conn| {
        let (token, _) = personal_of(conn, &user_id, &token_id)?;
        if !token.organization_ids.contains(&org_id) {
            return Ok(());
        }
        if token.organization_ids.len() == 1 {
            return Err(ApiError::Conflict(
                "a personal token keeps at least one organization; revoke it instead".into(),
            ));
        }
        diesel::delete(token_organizations::table.find((&token.id, &org_id))).execute(conn)?;
        diesel::update(tokens::table.find(&token.id))
            .set(tokens::updated_at.eq(crate::time::now()))
            .execute(conn)?;
        organization_event(
            conn,
            &context,
            &user_id,
            "token.organization_removed",
            &token.id,
            &org_id,
        )?;
        Ok(())
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(affected)]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Authorize a token for SSO in an organization.
///
/// Needs a session signed into that organization with SSO (`sso_orgs` contains it); after it
/// the token works there even when the organization enforces SSO.
#[utoipa::path(
    tag = "tokens",
    params(
        ("id" = String, Path, description = "Token id"),
        ("org_id" = String, Path, description = "Organization id"),
    ),
    responses(
        (status = 200, description = "The token", body = TokenResource),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "The session did not sign into the organization with SSO", body = Problem),
        (status = 404, description = "No such token, not yours, or not authorized for the organization", body = Problem),
        (status = 409, description = "The token is revoked", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/{id}/organizations/{org_id}/sso-authorize")]
pub async fn sso_authorize(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (token_id, org_id) = path.into_inner();
    let signed_in = session.claims.sso_orgs.contains(&org_id);
    let user_id = session.user.id;
    let resource = db::transaction(&state.db, move |conn| {
        let (row, _) = managed(conn, &user_id, &token_id)?;
        not_revoked(&row)?;
        let token = view::resource(conn, row)?;
        if !token.organization_ids.contains(&org_id) {
            return Err(ApiError::NotFound(format!(
                "the token is not authorized for organization {org_id:?}"
            )));
        }
        if !signed_in {
            return Err(ApiError::Forbidden(format!(
                "sign in to organization {org_id:?} with SSO first: this session's sso_orgs does not include it"
            )));
        }
        diesel::update(token_organizations::table.find((&token.id, &org_id)))
            .set(token_organizations::sso_authorized_at.eq(crate::time::now()))
            .execute(conn)?;
        let updated = view::reload(conn, &token.id)?;
        organization_event(conn, &context, &user_id, "token.sso_authorized", &token.id, &org_id)?;
        Ok(updated)
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(resource.id.clone())]).await;
    Ok(HttpResponse::Ok().json(resource))
}
