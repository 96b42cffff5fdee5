//! HTTP handlers of token management (`session` scheme): create, list, get, patch, delete,
//! revoke, and the scope catalog.

use actix_web::{HttpResponse, delete, get, patch, post, web};

use super::dto::{
    CreateToken, CreatedToken, RevokeToken, ScopeCatalogResponse, TokenResource, UpdateToken,
};
use super::issue;
use super::list::{self, Coverage, TokenQuery};
use super::model::TokenRow;
use super::rules::{self, Creator};
use super::{repo, view};
use crate::app::AppState;
use crate::audit::{self, Actor, Event, RequestContext};
use crate::auth::Session;
use crate::db::{self, DbConnection};
use crate::directory::model::Organization;
use crate::directory::repo as directory;
use crate::directory::{Role, Roles};
use crate::error::{ApiError, FieldError, Problem};
use crate::introspection::cache::Change;
use crate::introspection::invalidation;
use crate::pagination::Page;

/// The user's current role in each organization.
pub fn roles_of(conn: &mut DbConnection, user_id: &str) -> Result<Roles, ApiError> {
    Ok(directory::roles_of(conn, user_id)?
        .into_iter()
        .filter_map(|(org, role)| Role::from_name(&role).map(|r| (org, r)))
        .collect())
}

/// The token if the user may manage it; otherwise 404 (never 403: others do not learn that it
/// exists).
pub fn managed(
    conn: &mut DbConnection,
    user_id: &str,
    token_id: &str,
) -> Result<(TokenRow, Roles), ApiError> {
    let roles = roles_of(conn, user_id)?;
    match repo::find(conn, token_id)? {
        Some(token) if rules::can_manage(user_id, &roles, &token) => Ok((token, roles)),
        _ => Err(ApiError::NotFound("token not found".into())),
    }
}

/// The token if the user may revoke it (its managers, and admins for agent tokens in their
/// organization); `None` otherwise.
pub fn revocable(
    conn: &mut DbConnection,
    user_id: &str,
    roles: &Roles,
    token_id: &str,
) -> Result<Option<TokenRow>, ApiError> {
    let Some(token) = repo::find(conn, token_id)? else {
        return Ok(None);
    };
    let orgs: Vec<String> = repo::organizations_of(conn, std::slice::from_ref(&token.id))?
        .into_iter()
        .map(|(_, org, _)| org)
        .collect();
    Ok(rules::can_revoke(user_id, roles, &token, &orgs).then_some(token))
}

/// The organization a token event is filed under: its one organization, if it has one.
fn event_org(organization_ids: &[String]) -> Option<&str> {
    match organization_ids {
        [one] => Some(one),
        _ => None,
    }
}

/// Writes one `token.*` event.
pub fn record(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: &'static str,
    token: &TokenResource,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        context,
        &Event {
            event_type,
            actor,
            token_id: Some(&token.id),
            organization_id: event_org(&token.organization_ids),
            detail: Some(detail),
        },
    )?;
    Ok(())
}

/// Create a token.
///
/// The response carries the value (`token`) this once; afterwards only `hint` is shown.
#[utoipa::path(
    tag = "tokens",
    request_body = CreateToken,
    responses(
        (status = 201, description = "Created; `Location` names it", body = CreatedToken),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`email_not_verified`, `api_tokens_disabled`, `forbidden` or `token_cannot_manage_tokens`", body = Problem),
        (status = 409, description = "`name_taken`", body = Problem),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    body: web::Json<CreateToken>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let verified = session.email_verified();
    let user_id = session.user.id.clone();
    let org_ids: Vec<String> = request
        .organization_ids
        .clone()
        .or_else(|| request.organization_id.clone().map(|o| vec![o]))
        .unwrap_or_default();
    let project_ids = request.project_ids.clone().unwrap_or_default();
    let state_for_tx = state.clone();
    let created = db::transaction(&state.db, move |conn| {
        let settings = &state_for_tx.settings;
        let roles = roles_of(conn, &user_id)?;
        let orgs = directory::organizations(conn, &org_ids)?;
        let known_projects = directory::existing_projects(conn, &org_ids, &project_ids)?;
        let creator = Creator {
            user_id: &user_id,
            email_verified: verified,
            roles: &roles,
        };
        let plan = rules::plan_creation(
            &request,
            &creator,
            &orgs,
            &known_projects,
            &settings.scope_catalog,
            crate::time::now(),
        )?;
        let (resource, value) = issue::issue_plan(conn, settings, &plan, &user_id)?;
        record(
            conn,
            &context,
            &Actor::user(&user_id),
            "token.created",
            &resource,
            serde_json::json!({ "kind": plan.kind, "name": plan.name, "scopes": plan.scopes }),
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

/// List the caller's tokens, newest first.
///
/// The caller's personal and agent tokens, and the api tokens of the organizations they
/// administer. Filters combine; cursors are opaque.
#[utoipa::path(
    tag = "tokens",
    params(TokenQuery),
    responses(
        (status = 200, description = "A page of tokens", body = Page<TokenResource>),
        (status = 400, description = "Bad cursor", body = Problem),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 422, description = "Bad `limit` or filter", body = Problem),
    ),
    security(("session" = []))
)]
#[get("/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filters, request) = query.validate()?;
    let user_id = session.user.id;
    let page = db::run(&state.db, move |conn| {
        let admin_of: Vec<String> = roles_of(conn, &user_id)?
            .into_iter()
            .filter(|(_, role)| *role >= Role::Admin)
            .map(|(org, _)| org)
            .collect();
        list::page(
            conn,
            &Coverage::Managed { user_id, admin_of },
            &filters,
            &request,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Get a token.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "The token", body = TokenResource),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
    ),
    security(("session" = []))
)]
#[get("/tokens/{id}")]
pub async fn get_token(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let resource = db::run(&state.db, move |conn| {
        let (row, _) = managed(conn, &user_id, &token_id)?;
        Ok(view::resource(conn, row)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(resource))
}

/// Update a token's name, description, scopes, expiry or project restriction.
///
/// The rules of creation apply to the new values; a revoked token cannot be changed (409).
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    request_body = UpdateToken,
    responses(
        (status = 200, description = "The updated token", body = TokenResource),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 409, description = "`name_taken`, or the token is revoked", body = Problem),
        (status = 422, description = "`validation_failed` or `policy_violation`", body = Problem),
    ),
    security(("session" = []))
)]
#[patch("/tokens/{id}")]
pub async fn update_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    id: web::Path<String>,
    body: web::Json<UpdateToken>,
) -> Result<HttpResponse, ApiError> {
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let affected = token_id.clone();
    let patch = body.into_inner();
    let state_for_tx = state.clone();
    let resource = db::transaction(&state.db, move |conn| {
        let (row, roles) = managed(conn, &user_id, &token_id)?;
        if row.revoked_at.is_some() {
            return Err(ApiError::Conflict(
                "a revoked token cannot be changed".into(),
            ));
        }
        let current = view::resource(conn, row.clone())?;
        let orgs = directory::organizations(conn, &current.organization_ids)?;
        let changes = apply_patch(&state_for_tx, &patch, &current, &orgs, &roles, conn)?;
        update_row(conn, &row, &changes)?;
        let updated = view::reload(conn, &row.id)?;
        record(
            conn,
            &context,
            &Actor::user(&user_id),
            "token.updated",
            &updated,
            serde_json::json!({ "changed": changes.fields }),
        )?;
        Ok(updated)
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(affected)]).await;
    Ok(HttpResponse::Ok().json(resource))
}

/// The validated new values of a PATCH.
struct Changes {
    name: String,
    description: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<chrono::NaiveDateTime>,
    project_ids: Vec<String>,
    fields: Vec<&'static str>,
}

fn apply_patch(
    state: &AppState,
    patch: &UpdateToken,
    current: &TokenResource,
    orgs: &[Organization],
    roles: &Roles,
    conn: &mut DbConnection,
) -> Result<Changes, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut fields = Vec::new();
    let name = match &patch.name {
        Some(name) => {
            fields.push("name");
            rules::check_name(Some(name), &mut errors)
        }
        None => current.name.clone(),
    };
    let description = match &patch.description {
        Some(description) => {
            fields.push("description");
            rules::check_description(description.as_deref(), &mut errors)
        }
        None => current.description.clone(),
    };
    let scopes = match &patch.scopes {
        Some(list) => {
            fields.push("scopes");
            rules::check_scopes(list, &state.settings.scope_catalog, &mut errors)
        }
        None => current.scopes.clone(),
    };
    let project_ids = match &patch.project_ids {
        Some(list) => {
            fields.push("project_ids");
            rules::check_project_ids(list, &mut errors)
        }
        None => current.project_ids.clone(),
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if patch.scopes.is_some() && current.owner.owner_type == "user" {
        for org in &current.organization_ids {
            if let Some(role) = roles.get(org) {
                rules::check_role_caps(&scopes, org, *role)?;
            }
        }
    }
    if patch.project_ids.is_some() {
        let known = directory::existing_projects(conn, &current.organization_ids, &project_ids)?;
        if let Some(unknown) = project_ids.iter().find(|p| !known.contains(p)) {
            return Err(ApiError::field(
                "project_ids",
                format!("no project {unknown:?} in the token's organizations"),
            ));
        }
    }
    let expires_at = match patch.expires_at {
        Some(at) => {
            fields.push("expires_at");
            let at = at.map(|a| a.naive_utc());
            let orgs: Vec<&Organization> = orgs.iter().collect();
            rules::check_expiry(at, &orgs, crate::time::now())?;
            at
        }
        None => current.expires_at,
    };
    Ok(Changes {
        name,
        description,
        scopes,
        expires_at,
        project_ids,
        fields,
    })
}

fn update_row(conn: &mut DbConnection, row: &TokenRow, changes: &Changes) -> Result<(), ApiError> {
    use diesel::prelude::*;

    use crate::db::schema::tokens;
    diesel::update(tokens::table.find(&row.id))
        .set((
            tokens::name.eq(&changes.name),
            tokens::description.eq(changes.description.as_deref()),
            tokens::expires_at.eq(changes.expires_at),
            tokens::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)
        .map_err(|e| issue::name_taken(e, &changes.name))?;
    repo::replace_scopes(conn, &row.id, &changes.scopes)?;
    repo::replace_projects(conn, &row.id, &changes.project_ids)?;
    Ok(())
}

/// Delete a token (it stops working at once and disappears from lists).
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
    ),
    security(("session" = []))
)]
#[delete("/tokens/{id}")]
pub async fn delete_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let affected = token_id.clone();
    db::transaction(&state.db, move |conn| {
        let (row, _) = managed(conn, &user_id, &token_id)?;
        let resource = view::resource(conn, row)?;
        repo::delete(conn, &resource.id)?;
        record(
            conn,
            &context,
            &Actor::user(&user_id),
            "token.deleted",
            &resource,
            serde_json::json!({ "kind": resource.kind, "name": resource.name }),
        )
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(affected)]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Revoke a token: it stops working at once, on every instance, and stays listed as revoked.
///
/// Organization admins may revoke the agent tokens bound to their organization. Revoking a
/// revoked token changes nothing and returns it.
#[utoipa::path(
    tag = "tokens",
    params(("id" = String, Path, description = "Token id")),
    request_body(content = Option<RevokeToken>, description = "Optional reason"),
    responses(
        (status = 200, description = "The revoked token", body = TokenResource),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such token, or not yours", body = Problem),
        (status = 422, description = "Reason too long", body = Problem),
    ),
    security(("session" = []))
)]
#[post("/tokens/{id}/revoke")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    session: Session,
    context: RequestContext,
    id: web::Path<String>,
    body: Option<web::Json<RevokeToken>>,
) -> Result<HttpResponse, ApiError> {
    let reason = body
        .and_then(|b| b.into_inner().reason)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > rules::REASON_MAX)
    {
        return Err(ApiError::field("reason", "must be at most 500 characters"));
    }
    let user_id = session.user.id;
    let token_id = id.into_inner();
    let affected = token_id.clone();
    let resource = db::transaction(&state.db, move |conn| {
        let roles = roles_of(conn, &user_id)?;
        let row = revocable(conn, &user_id, &roles, &token_id)?
            .ok_or_else(|| ApiError::NotFound("token not found".into()))?;
        let now = crate::time::now();
        let revoked = repo::revoke(conn, &row.id, &user_id, reason.as_deref(), now)?;
        let resource = view::reload(conn, &row.id)?;
        if revoked {
            record(
                conn,
                &context,
                &Actor::user(&user_id),
                "token.revoked",
                &resource,
                serde_json::json!({ "reason": reason }),
            )?;
        }
        Ok(resource)
    })
    .await?;
    invalidation::changed(&state, vec![Change::Token(affected)]).await;
    Ok(HttpResponse::Ok().json(resource))
}

/// The scope catalog and presets, for the console's create form.
#[utoipa::path(
    tag = "tokens",
    responses(
        (status = 200, description = "Scopes and presets", body = ScopeCatalogResponse),
        (status = 401, description = "No valid session", body = Problem),
    ),
    security(("session" = []))
)]
#[get("/scopes")]
pub async fn list_scopes(state: web::Data<AppState>, _session: Session) -> HttpResponse {
    let catalog = &state.settings.scope_catalog;
    HttpResponse::Ok().json(ScopeCatalogResponse {
        scopes: catalog.entries(),
        presets: catalog.presets.clone(),
    })
}

/// An organization's tokens, for its admins and owners: its api tokens, its members' agent
/// tokens and the metadata of the personal tokens authorized for it. Others get 404.
#[utoipa::path(
    tag = "tokens",
    params(("org_id" = String, Path, description = "Organization id"), TokenQuery),
    responses(
        (status = 200, description = "A page of tokens", body = Page<TokenResource>),
        (status = 400, description = "Bad cursor", body = Problem),
        (status = 401, description = "No valid session", body = Problem),
        (status = 403, description = "`token_cannot_manage_tokens`", body = Problem),
        (status = 404, description = "No such organization, or not its admin", body = Problem),
        (status = 422, description = "Bad `limit` or filter", body = Problem),
    ),
    security(("session" = []))
)]
#[get("/organizations/{org_id}/tokens")]
pub async fn organization_tokens(
    state: web::Data<AppState>,
    session: Session,
    org_id: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filters, request) = query.validate()?;
    let user_id = session.user.id;
    let org_id = org_id.into_inner();
    let page = db::run(&state.db, move |conn| {
        let roles = roles_of(conn, &user_id)?;
        if roles.get(&org_id).is_none_or(|role| *role < Role::Admin) {
            return Err(ApiError::NotFound(format!(
                "organization {org_id:?} not found"
            )));
        }
        list::page(conn, &Coverage::Organization(org_id), &filters, &request)
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
