//! HTTP handlers of the directory sync API (`service` scheme with `directory`).

use actix_web::{HttpResponse, delete, get, put, web};
use serde::Serialize;

use super::model::{
    Membership, MembershipInput, Organization, OrganizationInput, Project, ProjectInput, User,
    UserInput,
};
use super::repo::{self, Outcome};
use super::role::Role;
use super::validate;
use crate::app::AppState;
use crate::audit::{self, Actor, Event, RequestContext};
use crate::auth::ServiceCaller;
use crate::auth::permission::need;
use crate::db::{self, DbConnection};
use crate::error::{ApiError, FieldError, Problem};
use crate::introspection::cache::Change;
use crate::introspection::invalidation;
use crate::tokens::cascade;

type Directory = ServiceCaller<need::Directory>;

/// 201 with `Location` when created, 200 otherwise.
fn stored<T: Serialize>(outcome: Outcome, location: String, body: &T) -> HttpResponse {
    match outcome {
        Outcome::Created => HttpResponse::Created()
            .insert_header(("Location", location))
            .json(body),
        Outcome::Updated | Outcome::Unchanged => HttpResponse::Ok().json(body),
    }
}

/// Writes the audit event of a directory change: the first type when the `PUT` created the
/// resource, the second when it replaced it, nothing when it changed nothing.
fn audit_change(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: [&'static str; 2],
    outcome: Outcome,
    organization_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    match outcome {
        Outcome::Created => {
            audit_event(conn, context, actor, event_type[0], organization_id, detail)
        }
        Outcome::Updated => {
            audit_event(conn, context, actor, event_type[1], organization_id, detail)
        }
        Outcome::Unchanged => Ok(()),
    }
}

/// Writes one `directory.*` audit event.
fn audit_event(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: &'static str,
    organization_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        context,
        &Event {
            event_type,
            actor,
            token_id: None,
            organization_id,
            detail: Some(detail),
        },
    )?;
    Ok(())
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::NotFound(format!("{what} {id:?} not found"))
}

fn check_ids(ids: &[(&str, &str)]) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (field, value) in ids {
        validate::id(field, value, &mut errors);
    }
    validate::finish(errors)
}

/// Create or replace an organization.
///
/// The body is the full desired state: omitted flags are `false`. Returns 201 when the
/// organization was created, 200 when it existed (replaced, or already as asked).
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "Organization id (1–64 of A-Za-z0-9._:-)")),
    request_body = OrganizationInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Organization),
        (status = 201, description = "Created", body = Organization),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}")]
pub async fn put_organization(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    id: web::Path<String>,
    body: web::Json<OrganizationInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.into_inner();
    let mut errors = Vec::new();
    validate::id("id", &id, &mut errors);
    let name = validate::name("name", input.name.as_deref(), &mut errors);
    if input
        .max_token_lifetime_days
        .is_some_and(|days| !(1..=36_500).contains(&days))
    {
        errors.push(FieldError::new(
            "max_token_lifetime_days",
            "must be between 1 and 36500, or null",
        ));
    }
    validate::finish(errors)?;
    let now = crate::time::now();
    let desired = Organization {
        id,
        name,
        sso_enforced: input.sso_enforced,
        api_tokens_enabled: input.api_tokens_enabled,
        require_expiry: input.require_expiry,
        max_token_lifetime_days: input.max_token_lifetime_days,
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::service(caller.identity.token_id());
    let (org, outcome) = db::transaction(&state.db, move |conn| {
        let (org, outcome) = repo::put_organization(conn, desired)?;
        audit_change(
            conn,
            &context,
            &actor,
            [
                "directory.organization_created",
                "directory.organization_updated",
            ],
            outcome,
            Some(&org.id),
            serde_json::json!({ "organization": org }),
        )?;
        Ok((org, outcome))
    })
    .await?;
    if outcome != Outcome::Unchanged {
        invalidation::changed(&state, vec![Change::Organization(org.id.clone())]).await;
    }
    Ok(stored(
        outcome,
        format!("/v1/directory/organizations/{}", org.id),
        &org,
    ))
}

/// Get a synced organization.
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = Organization),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Not synced", body = Problem),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    _caller: Directory,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let org = db::run(&state.db, {
        let id = id.clone();
        move |conn| Ok(repo::organization(conn, &id)?)
    })
    .await?
    .ok_or_else(|| not_found("organization", &id))?;
    Ok(HttpResponse::Ok().json(org))
}

/// Delete an organization.
///
/// Its memberships and projects go with it, its api tokens and agent tokens are revoked, and it
/// is removed from personal tokens' authorizations.
/// Idempotent: 204 whether or not it existed.
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "Organization id")),
    responses(
        (status = 204, description = "Deleted (or already absent)"),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
    ),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}")]
pub async fn delete_organization(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    check_ids(&[("id", &id)])?;
    let change = Change::Organization(id.clone());
    let actor = Actor::service(caller.identity.token_id());
    db::transaction(&state.db, move |conn| {
        cascade::organization_deleted(conn, &context, &actor, &id)?;
        if repo::delete_organization(conn, &id)? {
            audit_event(
                conn,
                &context,
                &actor,
                "directory.organization_deleted",
                Some(&id),
                serde_json::json!({ "organization_id": id }),
            )?;
        }
        Ok(())
    })
    .await?;
    invalidation::changed(&state, vec![change]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Create or replace a user.
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "User id (1–64 of A-Za-z0-9._:-)")),
    request_body = UserInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = User),
        (status = 201, description = "Created", body = User),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("service" = []))
)]
#[put("/directory/users/{id}")]
pub async fn put_user(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    id: web::Path<String>,
    body: web::Json<UserInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.into_inner();
    let mut errors = Vec::new();
    validate::id("id", &id, &mut errors);
    let email = validate::email("email", input.email.as_deref(), &mut errors);
    validate::finish(errors)?;
    let now = crate::time::now();
    let desired = User {
        id,
        email,
        email_verified: input.email_verified,
        disabled: input.disabled,
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::service(caller.identity.token_id());
    let (user, outcome) = db::transaction(&state.db, move |conn| {
        let (user, outcome) = repo::put_user(conn, desired)?;
        audit_change(
            conn,
            &context,
            &actor,
            ["directory.user_created", "directory.user_updated"],
            outcome,
            None,
            serde_json::json!({ "user": user }),
        )?;
        Ok((user, outcome))
    })
    .await?;
    if outcome != Outcome::Unchanged {
        invalidation::changed(&state, vec![Change::User(user.id.clone())]).await;
    }
    Ok(stored(
        outcome,
        format!("/v1/directory/users/{}", user.id),
        &user,
    ))
}

/// Get a synced user.
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Not synced", body = Problem),
    ),
    security(("service" = []))
)]
#[get("/directory/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    _caller: Directory,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let user = db::run(&state.db, {
        let id = id.clone();
        move |conn| Ok(repo::user(conn, &id)?)
    })
    .await?
    .ok_or_else(|| not_found("user", &id))?;
    Ok(HttpResponse::Ok().json(user))
}

/// Delete a user and their memberships; their tokens are revoked. Idempotent: 204 whether or
/// not it existed.
#[utoipa::path(
    tag = "directory",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted (or already absent)"),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
    ),
    security(("service" = []))
)]
#[delete("/directory/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    check_ids(&[("id", &id)])?;
    let change = Change::User(id.clone());
    let actor = Actor::service(caller.identity.token_id());
    db::transaction(&state.db, move |conn| {
        cascade::user_deleted(conn, &context, &actor, &id)?;
        if repo::delete_user(conn, &id)? {
            audit_event(
                conn,
                &context,
                &actor,
                "directory.user_deleted",
                None,
                serde_json::json!({ "user_id": id }),
            )?;
        }
        Ok(())
    })
    .await?;
    invalidation::changed(&state, vec![change]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Create or replace a membership. The organization and the user must be synced first.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    request_body = MembershipInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Membership),
        (status = 201, description = "Created", body = Membership),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Organization or user not synced", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/members/{user_id}")]
pub async fn put_membership(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    path: web::Path<(String, String)>,
    body: web::Json<MembershipInput>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let mut errors = Vec::new();
    validate::id("id", &org_id, &mut errors);
    validate::id("user_id", &user_id, &mut errors);
    let role = match body.role.as_deref().map(Role::from_name) {
        Some(Some(role)) => role,
        Some(None) => {
            errors.push(FieldError::new(
                "role",
                "must be one of owner, admin, member, viewer",
            ));
            Role::Viewer
        }
        None => {
            errors.push(FieldError::new("role", "is required"));
            Role::Viewer
        }
    };
    validate::finish(errors)?;
    let now = crate::time::now();
    let desired = Membership {
        organization_id: org_id,
        user_id,
        role: role.as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::service(caller.identity.token_id());
    let (membership, outcome) = db::transaction(&state.db, move |conn| {
        if repo::organization(conn, &desired.organization_id)?.is_none() {
            return Err(not_found("organization", &desired.organization_id));
        }
        if repo::user(conn, &desired.user_id)?.is_none() {
            return Err(not_found("user", &desired.user_id));
        }
        let (membership, outcome) = repo::put_membership(conn, desired)?;
        audit_change(
            conn,
            &context,
            &actor,
            [
                "directory.membership_created",
                "directory.membership_updated",
            ],
            outcome,
            Some(&membership.organization_id),
            serde_json::json!({ "membership": membership }),
        )?;
        Ok((membership, outcome))
    })
    .await?;
    if outcome != Outcome::Unchanged {
        let change = Change::Membership {
            organization_id: membership.organization_id.clone(),
            user_id: membership.user_id.clone(),
        };
        invalidation::changed(&state, vec![change]).await;
    }
    let location = format!(
        "/v1/directory/organizations/{}/members/{}",
        membership.organization_id, membership.user_id
    );
    Ok(stored(outcome, location, &membership))
}

/// Get a synced membership.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 200, description = "The membership", body = Membership),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Not synced", body = Problem),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/members/{user_id}")]
pub async fn get_membership(
    state: web::Data<AppState>,
    _caller: Directory,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    let key = (org_id.clone(), user_id.clone());
    let membership = db::run(&state.db, move |conn| {
        Ok(repo::membership(conn, &key.0, &key.1)?)
    })
    .await?
    .ok_or_else(|| not_found("membership", &format!("{org_id}/{user_id}")))?;
    Ok(HttpResponse::Ok().json(membership))
}

/// Remove a membership. Idempotent: 204 whether or not it existed.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("user_id" = String, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "Removed (or already absent)"),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
    ),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/members/{user_id}")]
pub async fn delete_membership(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, user_id) = path.into_inner();
    check_ids(&[("id", &org_id), ("user_id", &user_id)])?;
    let change = Change::Membership {
        organization_id: org_id.clone(),
        user_id: user_id.clone(),
    };
    let actor = Actor::service(caller.identity.token_id());
    db::transaction(&state.db, move |conn| {
        if repo::delete_membership(conn, &org_id, &user_id)? {
            audit_event(
                conn,
                &context,
                &actor,
                "directory.membership_deleted",
                Some(&org_id),
                serde_json::json!({ "user_id": user_id }),
            )?;
        }
        Ok(())
    })
    .await?;
    invalidation::changed(&state, vec![change]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Create or replace a project. The organization must be synced first.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("project_id" = String, Path, description = "Project id (1–64 of A-Za-z0-9._:-)"),
    ),
    request_body = ProjectInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Project),
        (status = 201, description = "Created", body = Project),
        (status = 400, description = "Unreadable body", body = Problem),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Organization not synced", body = Problem),
        (status = 422, description = "Invalid fields", body = Problem),
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/projects/{project_id}")]
pub async fn put_project(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    path: web::Path<(String, String)>,
    body: web::Json<ProjectInput>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, project_id) = path.into_inner();
    let mut errors = Vec::new();
    validate::id("id", &org_id, &mut errors);
    validate::id("project_id", &project_id, &mut errors);
    let name = validate::name("name", body.name.as_deref(), &mut errors);
    validate::finish(errors)?;
    let now = crate::time::now();
    let desired = Project {
        organization_id: org_id,
        id: project_id,
        name,
        created_at: now,
        updated_at: now,
    };
    let actor = Actor::service(caller.identity.token_id());
    let (project, outcome) = db::transaction(&state.db, move |conn| {
        if repo::organization(conn, &desired.organization_id)?.is_none() {
            return Err(not_found("organization", &desired.organization_id));
        }
        let (project, outcome) = repo::put_project(conn, desired)?;
        audit_change(
            conn,
            &context,
            &actor,
            ["directory.project_created", "directory.project_updated"],
            outcome,
            Some(&project.organization_id),
            serde_json::json!({ "project": project }),
        )?;
        Ok((project, outcome))
    })
    .await?;
    let location = format!(
        "/v1/directory/organizations/{}/projects/{}",
        project.organization_id, project.id
    );
    Ok(stored(outcome, location, &project))
}

/// Get a synced project.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("project_id" = String, Path, description = "Project id"),
    ),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
        (status = 404, description = "Not synced", body = Problem),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/projects/{project_id}")]
pub async fn get_project(
    state: web::Data<AppState>,
    _caller: Directory,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, project_id) = path.into_inner();
    let key = (org_id.clone(), project_id.clone());
    let project = db::run(&state.db, move |conn| {
        Ok(repo::project(conn, &key.0, &key.1)?)
    })
    .await?
    .ok_or_else(|| not_found("project", &format!("{org_id}/{project_id}")))?;
    Ok(HttpResponse::Ok().json(project))
}

/// Delete a project. Idempotent: 204 whether or not it existed.
///
/// Tokens restricted to it keep the restriction (a deleted project never widens a token).
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = String, Path, description = "Organization id"),
        ("project_id" = String, Path, description = "Project id"),
    ),
    responses(
        (status = 204, description = "Deleted (or already absent)"),
        (status = 401, description = "No valid service token", body = Problem),
        (status = 403, description = "Missing the `directory` permission", body = Problem),
    ),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/projects/{project_id}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    caller: Directory,
    context: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org_id, project_id) = path.into_inner();
    check_ids(&[("id", &org_id), ("project_id", &project_id)])?;
    let actor = Actor::service(caller.identity.token_id());
    db::transaction(&state.db, move |conn| {
        if repo::delete_project(conn, &org_id, &project_id)? {
            audit_event(
                conn,
                &context,
                &actor,
                "directory.project_deleted",
                Some(&org_id),
                serde_json::json!({ "project_id": project_id }),
            )?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
