//! Directory storage: idempotent upserts, lookups and deletes.

use diesel::prelude::*;

use super::model::{Membership, Organization, Project, User};
use crate::db::DbConnection;
use crate::db::schema::{memberships, organizations, projects, users};

/// What an idempotent `PUT` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The resource did not exist.
    Created,
    /// It existed and changed.
    Updated,
    /// It existed as asked: nothing was written.
    Unchanged,
}

/// Inserts `$desired`, or replaces the stored row when it differs (keeping `created_at`), in
/// the caller's transaction.
macro_rules! upsert {
    ($conn:expr, $table:ident, $ty:ty, $key:expr, $desired:expr) => {{
        let mut desired: $ty = $desired;
        let existing = $table::table
            .find($key)
            .select(<$ty>::as_select())
            .first::<$ty>($conn)
            .optional()?;
        match existing {
            None => {
                diesel::insert_into($table::table)
                    .values(&desired)
                    .execute($conn)?;
                Ok((desired, Outcome::Created))
            }
            Some(old) => {
                let now = desired.updated_at;
                desired.created_at = old.created_at;
                desired.updated_at = old.updated_at;
                if desired == old {
                    Ok((old, Outcome::Unchanged))
                } else {
                    desired.updated_at = now;
                    diesel::update($table::table.find($key))
                        .set(&desired)
                        .execute($conn)?;
                    Ok((desired, Outcome::Updated))
                }
            }
        }
    }};
}

/// Creates or replaces an organization.
pub fn put_organization(
    conn: &mut DbConnection,
    org: Organization,
) -> QueryResult<(Organization, Outcome)> {
    let id = org.id.clone();
    upsert!(conn, organizations, Organization, &id, org)
}

/// Creates or replaces a user.
pub fn put_user(conn: &mut DbConnection, user: User) -> QueryResult<(User, Outcome)> {
    let id = user.id.clone();
    upsert!(conn, users, User, &id, user)
}

/// Creates or replaces a membership.
pub fn put_membership(
    conn: &mut DbConnection,
    membership: Membership,
) -> QueryResult<(Membership, Outcome)> {
    let key = (
        membership.organization_id.clone(),
        membership.user_id.clone(),
    );
    upsert!(conn, memberships, Membership, (&key.0, &key.1), membership)
}

/// Creates or replaces a project.
pub fn put_project(conn: &mut DbConnection, project: Project) -> QueryResult<(Project, Outcome)> {
    let key = (project.organization_id.clone(), project.id.clone());
    upsert!(conn, projects, Project, (&key.0, &key.1), project)
}

/// An organization by id.
pub fn organization(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Organization>> {
    organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
        .optional()
}

/// A user by id.
pub fn user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// A membership by organization and user.
pub fn membership(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> QueryResult<Option<Membership>> {
    memberships::table
        .find((org_id, user_id))
        .select(Membership::as_select())
        .first(conn)
        .optional()
}

/// A project by organization and id.
pub fn project(
    conn: &mut DbConnection,
    org_id: &str,
    project_id: &str,
) -> QueryResult<Option<Project>> {
    projects::table
        .find((org_id, project_id))
        .select(Project::as_select())
        .first(conn)
        .optional()
}

/// Deletes an organization; its memberships, projects and token authorizations go with it
/// (foreign keys cascade). Returns whether it existed.
pub fn delete_organization(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(organizations::table.find(id)).execute(conn)? > 0)
}

/// Deletes a user and their memberships. Returns whether it existed.
pub fn delete_user(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? > 0)
}

/// Removes a membership. Returns whether it existed.
pub fn delete_membership(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> QueryResult<bool> {
    Ok(diesel::delete(memberships::table.find((org_id, user_id))).execute(conn)? > 0)
}

/// Deletes a project. Returns whether it existed.
pub fn delete_project(
    conn: &mut DbConnection,
    org_id: &str,
    project_id: &str,
) -> QueryResult<bool> {
    Ok(diesel::delete(projects::table.find((org_id, project_id))).execute(conn)? > 0)
}
