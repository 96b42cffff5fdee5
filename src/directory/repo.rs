//! Directory storage: idempotent upserts, lookups and deletes.

use std::collections::BTreeSet;

use diesel::prelude::*;

use super::model::{Membership, Organization, Project, User};
use super::role::{Role, Roles};
use crate::auth::session::Claims;
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

/// The row of `$table` whose primary key is `$key`, as `$ty`, if there is one.
macro_rules! find {
    ($conn:expr, $table:ident, $ty:ty, $key:expr) => {
        $table::table
            .find($key)
            .select(<$ty>::as_select())
            .get_result::<$ty>($conn)
            .optional()
    };
}

/// Inserts `$desired`, or replaces the stored row when it differs (keeping `created_at`), in
/// the caller's transaction.
macro_rules! upsert {
    ($conn:expr, $table:ident, $ty:ty, $key:expr, $desired:expr) => {{
        let mut desired: $ty = $desired;
        match find!($conn, $table, $ty, $key)? {
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
    find!(conn, organizations, Organization, id)
}

/// A user by id.
pub fn user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    find!(conn, users, User, id)
}

/// A membership by organization and user.
pub fn membership(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
) -> QueryResult<Option<Membership>> {
    find!(conn, memberships, Membership, (org_id, user_id))
}

/// A project by organization and id.
pub fn project(conn: &mut DbConnection, org_id: &str, id: &str) -> QueryResult<Option<Project>> {
    find!(conn, projects, Project, (org_id, id))
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
pub fn delete_project(conn: &mut DbConnection, org_id: &str, id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(projects::table.find((org_id, id))).execute(conn)? > 0)
}

/// The user a session names, created from its claims on first sight (no memberships: those
/// come only from the directory). `None` when `sub` is not a valid external id.
pub fn ensure_user(conn: &mut DbConnection, claims: &Claims) -> QueryResult<Option<User>> {
    let mut errors = Vec::new();
    super::validate::id("sub", &claims.sub, &mut errors);
    if !errors.is_empty() {
        return Ok(None);
    }
    if let Some(found) = user(conn, &claims.sub)? {
        return Ok(Some(found));
    }
    let now = crate::time::now();
    let created = User {
        id: claims.sub.clone(),
        email: claims.email.clone().unwrap_or_default(),
        email_verified: claims.email_verified,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    // Two first requests of the same new user may race; the loser reads the winner's row.
    match diesel::insert_into(users::table)
        .values(&created)
        .execute(conn)
    {
        Ok(_) => Ok(Some(created)),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => user(conn, &claims.sub),
        Err(other) => Err(other),
    }
}

/// The user's current role in each organization (a stored role tokend does not know counts
/// as no membership: it grants nothing).
pub fn roles_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Roles> {
    Ok(memberships::table
        .filter(memberships::user_id.eq(user_id))
        .select((memberships::organization_id, memberships::role))
        .load::<(String, String)>(conn)?
        .into_iter()
        .filter_map(|(org, role)| Role::from_name(&role).map(|r| (org, r)))
        .collect())
}

/// The organizations where the user is admin or owner.
pub fn admin_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<Vec<String>> {
    Ok(roles_of(conn, user_id)?
        .into_iter()
        .filter(|(_, role)| *role >= Role::Admin)
        .map(|(org, _)| org)
        .collect())
}

/// Organizations by id (each once, whatever `ids` repeats). On SQLite each is found by its
/// own statement, which the connection keeps prepared: an `IN` list is parsed anew on every
/// call, and this runs in every token creation on the one writer. PostgreSQL binds the ids as
/// one array (`= ANY($1)`), a statement it keeps as well.
pub fn organizations(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<Organization>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if matches!(conn, DbConnection::Pg(_)) {
        return organizations::table
            .filter(organizations::id.eq_any(ids))
            .select(Organization::as_select())
            .load(conn);
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    let mut found = Vec::with_capacity(distinct.len());
    for id in distinct {
        if let Some(org) = organization(conn, id)? {
            found.push(org);
        }
    }
    Ok(found)
}

/// Which of `project_ids` exist in any of `org_ids` (no statement when either is empty, as for
/// most new tokens: an `IN` list is prepared anew on every call).
pub fn existing_projects(
    conn: &mut DbConnection,
    org_ids: &[String],
    project_ids: &[String],
) -> QueryResult<Vec<String>> {
    if org_ids.is_empty() || project_ids.is_empty() {
        return Ok(Vec::new());
    }
    projects::table
        .filter(projects::organization_id.eq_any(org_ids))
        .filter(projects::id.eq_any(project_ids))
        .select(projects::id)
        .load(conn)
}
