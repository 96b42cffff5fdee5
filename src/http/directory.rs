//! Directory sync routes (`service` scheme with `directory`): idempotent `PUT`s, `GET`s to
//! check what was synced, idempotent `DELETE`s.

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, get, put};
use serde::Serialize;

use super::extract::{Body, Syncing};
use super::params::{MembershipPath, OrganizationPath, ProjectPath, UserPath};
use super::responses::{
    DirectoryErrors, DirectoryReadErrors, MembershipPutErrors, ProjectPutErrors, PutErrors,
};
use super::tokens::Answer;
use crate::directory::model::{
    Membership, MembershipInput, Organization, OrganizationInput, Project, ProjectInput, User,
    UserInput,
};
use crate::directory::repo::{self, Outcome};
use crate::directory::sync;

/// 201 with `Location` when created, 200 otherwise.
fn stored<T: Serialize>(
    (body, outcome): (T, Outcome),
    location: impl Fn(&T) -> String,
) -> HttpResponse {
    match outcome {
        Outcome::Created => HttpResponse::Created()
            .insert_header(("Location", location(&body)))
            .json(body),
        Outcome::Updated | Outcome::Unchanged => HttpResponse::Ok().json(body),
    }
}

/// 200 with the resource.
fn shown<T: Serialize>(resource: &T) -> HttpResponse {
    HttpResponse::Ok().json(resource)
}

/// 204.
fn gone() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// Create or replace an organization.
///
/// The body is the full desired state: omitted flags are `false`. Returns 201 when the
/// organization was created, 200 when it existed (replaced, or already as asked).
#[utoipa::path(
    tag = "directory",
    params(OrganizationPath),
    request_body = OrganizationInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Organization),
        (status = 201, description = "Created", body = Organization),
        PutErrors,
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}")]
pub async fn put_organization(
    s: Syncing,
    path: Path<OrganizationPath>,
    Body(body): Body<OrganizationInput>,
) -> Answer {
    let desired = sync::desired_organization(path.into_inner().id, &body)?;
    let put = s
        .write(move |conn, by| sync::put_organization(conn, by, desired))
        .await?;
    Ok(stored(put, |org| {
        format!("/v1/directory/organizations/{}", org.id)
    }))
}

/// Get a synced organization.
#[utoipa::path(
    tag = "directory",
    params(OrganizationPath),
    responses(
        (status = 200, description = "The organization", body = Organization),
        DirectoryReadErrors,
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}")]
pub async fn get_organization(s: Syncing, path: Path<OrganizationPath>) -> Answer {
    let id = path.into_inner().id;
    let key = id.clone();
    Ok(shown(
        &s.find("organization", id, move |conn| {
            repo::organization(conn, &key)
        })
        .await?,
    ))
}

/// Delete an organization.
///
/// Its memberships and projects go with it, its api tokens and agent tokens are revoked, and it
/// is removed from personal tokens' authorizations.
/// Idempotent: 204 whether or not it existed.
#[utoipa::path(
    tag = "directory",
    params(OrganizationPath),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}")]
pub async fn delete_organization(s: Syncing, path: Path<OrganizationPath>) -> Answer {
    let id = path.into_inner().id;
    sync::check_ids(&[("id", &id)])?;
    s.write(move |conn, by| sync::delete_organization(conn, by, &id))
        .await?;
    Ok(gone())
}

/// Create or replace a user.
#[utoipa::path(
    tag = "directory",
    params(UserPath),
    request_body = UserInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = User),
        (status = 201, description = "Created", body = User),
        PutErrors,
    ),
    security(("service" = []))
)]
#[put("/directory/users/{id}")]
pub async fn put_user(s: Syncing, path: Path<UserPath>, Body(body): Body<UserInput>) -> Answer {
    let desired = sync::desired_user(path.into_inner().id, &body)?;
    let put = s
        .write(move |conn, by| sync::put_user(conn, by, desired))
        .await?;
    Ok(stored(put, |user| {
        format!("/v1/directory/users/{}", user.id)
    }))
}

/// Get a synced user.
#[utoipa::path(
    tag = "directory",
    params(UserPath),
    responses(
        (status = 200, description = "The user", body = User),
        DirectoryReadErrors,
    ),
    security(("service" = []))
)]
#[get("/directory/users/{id}")]
pub async fn get_user(s: Syncing, path: Path<UserPath>) -> Answer {
    let id = path.into_inner().id;
    let key = id.clone();
    Ok(shown(
        &s.find("user", id, move |conn| repo::user(conn, &key))
            .await?,
    ))
}

/// Delete a user and their memberships; their tokens are revoked. Idempotent: 204 whether or
/// not it existed.
#[utoipa::path(
    tag = "directory",
    params(UserPath),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/users/{id}")]
pub async fn delete_user(s: Syncing, path: Path<UserPath>) -> Answer {
    let id = path.into_inner().id;
    sync::check_ids(&[("id", &id)])?;
    s.write(move |conn, by| sync::delete_user(conn, by, &id))
        .await?;
    Ok(gone())
}

/// Create or replace a membership. The organization and the user must be synced first.
#[utoipa::path(
    tag = "directory",
    params(MembershipPath),
    request_body = MembershipInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Membership),
        (status = 201, description = "Created", body = Membership),
        MembershipPutErrors,
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/members/{user_id}")]
pub async fn put_membership(
    s: Syncing,
    path: Path<MembershipPath>,
    Body(body): Body<MembershipInput>,
) -> Answer {
    let MembershipPath {
        id: org,
        user_id: user,
    } = path.into_inner();
    let desired = sync::desired_membership(org, user, &body)?;
    let put = s
        .write(move |conn, by| sync::put_membership(conn, by, desired))
        .await?;
    Ok(stored(put, |m| {
        format!(
            "/v1/directory/organizations/{}/members/{}",
            m.organization_id, m.user_id
        )
    }))
}

/// Get a synced membership.
#[utoipa::path(
    tag = "directory",
    params(MembershipPath),
    responses(
        (status = 200, description = "The membership", body = Membership),
        DirectoryReadErrors,
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/members/{user_id}")]
pub async fn get_membership(s: Syncing, path: Path<MembershipPath>) -> Answer {
    let MembershipPath {
        id: org,
        user_id: user,
    } = path.into_inner();
    let name = format!("{org}/{user}");
    Ok(shown(
        &s.find("membership", name, move |conn| {
            repo::membership(conn, &org, &user)
        })
        .await?,
    ))
}

/// Remove a membership. Idempotent: 204 whether or not it existed.
#[utoipa::path(
    tag = "directory",
    params(MembershipPath),
    responses((status = 204, description = "Removed (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/members/{user_id}")]
pub async fn delete_membership(s: Syncing, path: Path<MembershipPath>) -> Answer {
    let MembershipPath {
        id: org,
        user_id: user,
    } = path.into_inner();
    sync::check_ids(&[("id", &org), ("user_id", &user)])?;
    s.write(move |conn, by| sync::delete_membership(conn, by, &org, &user))
        .await?;
    Ok(gone())
}

/// Create or replace a project. The organization must be synced first.
#[utoipa::path(
    tag = "directory",
    params(ProjectPath),
    request_body = ProjectInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Project),
        (status = 201, description = "Created", body = Project),
        ProjectPutErrors,
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/projects/{project_id}")]
pub async fn put_project(
    s: Syncing,
    path: Path<ProjectPath>,
    Body(body): Body<ProjectInput>,
) -> Answer {
    let ProjectPath {
        id: org,
        project_id: project,
    } = path.into_inner();
    let desired = sync::desired_project(org, project, &body)?;
    let put = s
        .write(move |conn, by| sync::put_project(conn, by, desired))
        .await?;
    Ok(stored(put, |p| {
        format!(
            "/v1/directory/organizations/{}/projects/{}",
            p.organization_id, p.id
        )
    }))
}

/// Get a synced project.
#[utoipa::path(
    tag = "directory",
    params(ProjectPath),
    responses(
        (status = 200, description = "The project", body = Project),
        DirectoryReadErrors,
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/projects/{project_id}")]
pub async fn get_project(s: Syncing, path: Path<ProjectPath>) -> Answer {
    let ProjectPath {
        id: org,
        project_id: project,
    } = path.into_inner();
    let name = format!("{org}/{project}");
    Ok(shown(
        &s.find("project", name, move |conn| {
            repo::project(conn, &org, &project)
        })
        .await?,
    ))
}

/// Delete a project. Idempotent: 204 whether or not it existed.
///
/// Tokens restricted to it keep the restriction (a deleted project never widens a token).
#[utoipa::path(
    tag = "directory",
    params(ProjectPath),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/projects/{project_id}")]
pub async fn delete_project(s: Syncing, path: Path<ProjectPath>) -> Answer {
    let ProjectPath {
        id: org,
        project_id: project,
    } = path.into_inner();
    sync::check_ids(&[("id", &org), ("project_id", &project)])?;
    s.write(move |conn, by| sync::delete_project(conn, by, &org, &project))
        .await?;
    Ok(gone())
}
