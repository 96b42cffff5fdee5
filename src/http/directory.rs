//! Directory sync routes (`service` scheme with `directory`): idempotent `PUT`s, `GET`s to
//! check what was synced, idempotent `DELETE`s.

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, get, put};
use serde::Serialize;

use super::extract::{Body, Syncing};
use super::responses::{DirectoryErrors, PutErrors};
use super::tokens::Answer;
use crate::directory::model::{
    ExternalId, Membership, MembershipInput, Organization, OrganizationInput, Project,
    ProjectInput, User, UserInput,
};
use crate::directory::repo::{self, Outcome};
use crate::directory::sync;
use crate::error::Problem;

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
    params(("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
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
    id: Path<String>,
    Body(body): Body<OrganizationInput>,
) -> Answer {
    let desired = sync::desired_organization(id.into_inner(), &body)?;
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
    params(("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
    responses(
        (status = 200, description = "The organization", body = Organization),
        DirectoryErrors,
        (status = 404, description = "Not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}")]
pub async fn get_organization(s: Syncing, id: Path<String>) -> Answer {
    let id = id.into_inner();
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
    params(("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}")]
pub async fn delete_organization(s: Syncing, id: Path<String>) -> Answer {
    sync::check_ids(&[("id", &id)])?;
    s.write(move |conn, by| sync::delete_organization(conn, by, &id))
        .await?;
    Ok(gone())
}

/// Create or replace a user.
#[utoipa::path(
    tag = "directory",
    params(("id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
    request_body = UserInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = User),
        (status = 201, description = "Created", body = User),
        PutErrors,
    ),
    security(("service" = []))
)]
#[put("/directory/users/{id}")]
pub async fn put_user(s: Syncing, id: Path<String>, Body(body): Body<UserInput>) -> Answer {
    let desired = sync::desired_user(id.into_inner(), &body)?;
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
    params(("id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
    responses(
        (status = 200, description = "The user", body = User),
        DirectoryErrors,
        (status = 404, description = "Not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[get("/directory/users/{id}")]
pub async fn get_user(s: Syncing, id: Path<String>) -> Answer {
    let id = id.into_inner();
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
    params(("id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)")),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/users/{id}")]
pub async fn delete_user(s: Syncing, id: Path<String>) -> Answer {
    sync::check_ids(&[("id", &id)])?;
    s.write(move |conn, by| sync::delete_user(conn, by, &id))
        .await?;
    Ok(gone())
}

/// Create or replace a membership. The organization and the user must be synced first.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("user_id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
    ),
    request_body = MembershipInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Membership),
        (status = 201, description = "Created", body = Membership),
        PutErrors,
        (status = 404, description = "Organization or user not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/members/{user_id}")]
pub async fn put_membership(
    s: Syncing,
    path: Path<(String, String)>,
    Body(body): Body<MembershipInput>,
) -> Answer {
    let (org, user) = path.into_inner();
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
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("user_id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
    ),
    responses(
        (status = 200, description = "The membership", body = Membership),
        DirectoryErrors,
        (status = 404, description = "Not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/members/{user_id}")]
pub async fn get_membership(s: Syncing, path: Path<(String, String)>) -> Answer {
    let (org, user) = path.into_inner();
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
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("user_id" = inline(ExternalId), Path, description = "The user's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
    ),
    responses((status = 204, description = "Removed (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/members/{user_id}")]
pub async fn delete_membership(s: Syncing, path: Path<(String, String)>) -> Answer {
    let (org, user) = path.into_inner();
    sync::check_ids(&[("id", &org), ("user_id", &user)])?;
    s.write(move |conn, by| sync::delete_membership(conn, by, &org, &user))
        .await?;
    Ok(gone())
}

/// Create or replace a project. The organization must be synced first.
#[utoipa::path(
    tag = "directory",
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("project_id" = inline(ExternalId), Path, description = "The project's id, unique in its organization (1–64 of `A-Za-z0-9._:-`)"),
    ),
    request_body = ProjectInput,
    responses(
        (status = 200, description = "Replaced or unchanged", body = Project),
        (status = 201, description = "Created", body = Project),
        PutErrors,
        (status = 404, description = "Organization not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[put("/directory/organizations/{id}/projects/{project_id}")]
pub async fn put_project(
    s: Syncing,
    path: Path<(String, String)>,
    Body(body): Body<ProjectInput>,
) -> Answer {
    let (org, project) = path.into_inner();
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
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("project_id" = inline(ExternalId), Path, description = "The project's id, unique in its organization (1–64 of `A-Za-z0-9._:-`)"),
    ),
    responses(
        (status = 200, description = "The project", body = Project),
        DirectoryErrors,
        (status = 404, description = "Not synced", body = Problem, content_type = "application/problem+json"),
    ),
    security(("service" = []))
)]
#[get("/directory/organizations/{id}/projects/{project_id}")]
pub async fn get_project(s: Syncing, path: Path<(String, String)>) -> Answer {
    let (org, project) = path.into_inner();
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
    params(
        ("id" = inline(ExternalId), Path, description = "The organization's id on the platform (1–64 of `A-Za-z0-9._:-`)"),
        ("project_id" = inline(ExternalId), Path, description = "The project's id, unique in its organization (1–64 of `A-Za-z0-9._:-`)"),
    ),
    responses((status = 204, description = "Deleted (or already absent)"), DirectoryErrors),
    security(("service" = []))
)]
#[delete("/directory/organizations/{id}/projects/{project_id}")]
pub async fn delete_project(s: Syncing, path: Path<(String, String)>) -> Answer {
    let (org, project) = path.into_inner();
    sync::check_ids(&[("id", &org), ("project_id", &project)])?;
    s.write(move |conn, by| sync::delete_project(conn, by, &org, &project))
        .await?;
    Ok(gone())
}
