//! Directory sync routes (`service` scheme with `directory`): idempotent `PUT`s, `GET`s to
//! check what was synced, idempotent `DELETE`s. The three routes of each synced resource are
//! written once, over [`Resource`].

use actix_web::web::Path;
use actix_web::{HttpResponse, delete, get, put};

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
use crate::directory::repo::Outcome;
use crate::directory::sync::{self, Key, Resource};

/// Stores the desired resource: 201 with `Location` (`url` with the resource's ids) when it
/// was created, 200 otherwise.
async fn put<R: Resource>(s: Syncing, url: &str, key: R::Key, input: R::Input) -> Answer {
    let at = location(url, &key.ids());
    let desired = R::desired(key, &input)?;
    let (resource, outcome) = s
        .write(move |conn, by, _| R::put(conn, by, desired))
        .await?;
    Ok(match outcome {
        Outcome::Created => HttpResponse::Created()
            .insert_header(("Location", at))
            .json(resource),
        Outcome::Updated | Outcome::Unchanged => HttpResponse::Ok().json(resource),
    })
}

/// `/v1` and the route's path with its `{…}` segments replaced by `ids`, in order.
fn location(url: &str, ids: &[&str]) -> String {
    let mut ids = ids.iter();
    let segments = url.split('/').map(|segment| {
        if segment.starts_with('{') {
            ids.next().copied().unwrap_or(segment)
        } else {
            segment
        }
    });
    format!("/v1{}", segments.collect::<Vec<_>>().join("/"))
}

/// 200 with the resource; 404 naming it when it is not synced.
async fn get<R: Resource>(s: Syncing, key: R::Key) -> Answer {
    Ok(HttpResponse::Ok().json(s.find::<R>(key).await?))
}

/// 204 whether or not it existed.
async fn delete<R: Resource>(s: Syncing, key: R::Key) -> Answer {
    sync::check::<R>(&key)?;
    s.write(move |conn, by, _| R::delete(conn, by, &key))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Declares a synced resource's `PUT`, `GET` and `DELETE` handlers: their documentation,
/// their OpenAPI operations (with what only that resource answers) and the routes.
macro_rules! synced_resource {
    ($url:tt, $Path:ident, $Resource:ident, $Input:ident {
        $(#[doc = $put_doc:tt])+ $put:ident($PutErrors:ident);
        $(#[doc = $get_doc:tt])+ $get:ident($shown:tt);
        $(#[doc = $delete_doc:tt])+ $delete:ident($deleted:tt);
    }) => {
        $(#[doc = $put_doc])+
        #[utoipa::path(params($Path), request_body = $Input, responses(
            (status = 200, description = "Replaced or unchanged", body = $Resource),
            (status = 201, description = "Created", body = $Resource), $PutErrors))]
        #[put($url)]
        pub async fn $put(s: Syncing, path: Path<$Path>, Body(body): Body<$Input>) -> Answer {
            put::<$Resource>(s, $url, path.into_inner().into(), body).await
        }

        $(#[doc = $get_doc])+
        #[utoipa::path(params($Path), responses(
            (status = 200, description = $shown, body = $Resource), DirectoryReadErrors))]
        #[get($url)]
        pub async fn $get(s: Syncing, path: Path<$Path>) -> Answer {
            get::<$Resource>(s, path.into_inner().into()).await
        }

        $(#[doc = $delete_doc])+
        #[utoipa::path(params($Path), responses(
            (status = 204, description = $deleted), DirectoryErrors))]
        #[delete($url)]
        pub async fn $delete(s: Syncing, path: Path<$Path>) -> Answer {
            delete::<$Resource>(s, path.into_inner().into()).await
        }
    };
}

synced_resource!("/directory/organizations/{id}", OrganizationPath, Organization, OrganizationInput {
    /// Create or replace an organization.
    ///
    /// The body is the full desired state: omitted flags are `false`. Returns 201 when the
    /// organization was created, 200 when it existed (replaced, or already as asked).
    put_organization(PutErrors);
    /// Get a synced organization.
    get_organization("The organization");
    /// Delete an organization.
    ///
    /// Its memberships and projects go with it, its api tokens and agent tokens are revoked, and it
    /// is removed from personal tokens' authorizations.
    /// Idempotent: 204 whether or not it existed.
    delete_organization("Deleted (or already absent)");
});

synced_resource!("/directory/users/{id}", UserPath, User, UserInput {
    /// Create or replace a user.
    put_user(PutErrors);
    /// Get a synced user.
    get_user("The user");
    /// Delete a user and their memberships; their tokens are revoked. Idempotent: 204 whether or
    /// not it existed.
    delete_user("Deleted (or already absent)");
});

synced_resource!("/directory/organizations/{id}/members/{user_id}", MembershipPath, Membership, MembershipInput {
    /// Create or replace a membership. The organization and the user must be synced first.
    put_membership(MembershipPutErrors);
    /// Get a synced membership.
    get_membership("The membership");
    /// Remove a membership. Idempotent: 204 whether or not it existed.
    delete_membership("Removed (or already absent)");
});

synced_resource!("/directory/organizations/{id}/projects/{project_id}", ProjectPath, Project, ProjectInput {
    /// Create or replace a project. The organization must be synced first.
    put_project(ProjectPutErrors);
    /// Get a synced project.
    get_project("The project");
    /// Delete a project. Idempotent: 204 whether or not it existed.
    ///
    /// Tokens restricted to it keep the restriction (a deleted project never widens a token).
    delete_project("Deleted (or already absent)");
});

#[cfg(test)]
mod tests {
    use super::location;

    #[test]
    fn a_location_fills_the_path_with_the_ids_in_order() {
        assert_eq!(
            location("/directory/users/{id}", &["u_1"]),
            "/v1/directory/users/u_1"
        );
        assert_eq!(
            location(
                "/directory/organizations/{id}/projects/{project_id}",
                &["acme", "p"]
            ),
            "/v1/directory/organizations/acme/projects/p"
        );
    }
}
