//! Everything an introspection answer depends on, loaded for one token.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{memberships, organizations, token_organizations, token_projects, users};
use crate::directory::Role;
use crate::error::ApiError;
use crate::tokens::model::TokenRow;
use crate::tokens::repo;

/// One organization a token is authorized for, with what decides its use there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The organization.
    pub organization_id: String,
    /// Whether it enforces SSO.
    pub sso_enforced: bool,
    /// When the owner authorized the token for SSO there.
    pub sso_authorized_at: Option<NaiveDateTime>,
    /// The owner's current role there (user tokens), `None` when not a member.
    pub role: Option<Role>,
}

/// A token and its surroundings at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The token.
    pub token: TokenRow,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Project restriction (empty = none).
    pub project_ids: Vec<String>,
    /// Authorized organizations.
    pub grants: Vec<Grant>,
    /// For user tokens: whether the owner is disabled (`None` when the user row is gone).
    pub owner_disabled: Option<bool>,
}

/// Loads the snapshot of the token with one of these digests, if any.
pub fn load(
    conn: &mut DbConnection,
    candidates: &[(String, [u8; 32])],
    current_pepper: &str,
) -> Result<Option<Snapshot>, ApiError> {
    match repo::find_by_digests(conn, candidates, current_pepper)? {
        Some(token) => Ok(Some(around(conn, token)?)),
        None => Ok(None),
    }
}

/// Loads the surroundings of a token already found.
pub fn around(conn: &mut DbConnection, token: TokenRow) -> Result<Snapshot, ApiError> {
    let scopes = repo::scopes_of(conn, &token.id)?;
    let project_ids = token_projects::table
        .filter(token_projects::token_id.eq(&token.id))
        .order(token_projects::project_id)
        .select(token_projects::project_id)
        .load(conn)?;
    let owner = token.owner_id.clone();
    let rows: Vec<(String, bool, Option<NaiveDateTime>, Option<String>)> =
        token_organizations::table
            .inner_join(organizations::table)
            .left_join(
                memberships::table.on(memberships::organization_id
                    .eq(token_organizations::organization_id)
                    .and(memberships::user_id.eq(owner))),
            )
            .filter(token_organizations::token_id.eq(&token.id))
            .order(token_organizations::organization_id)
            .select((
                token_organizations::organization_id,
                organizations::sso_enforced,
                token_organizations::sso_authorized_at,
                memberships::role.nullable(),
            ))
            .load(conn)?;
    let grants = rows
        .into_iter()
        .map(
            |(organization_id, sso_enforced, sso_authorized_at, role)| Grant {
                organization_id,
                sso_enforced,
                sso_authorized_at,
                role: role.as_deref().and_then(Role::from_name),
            },
        )
        .collect();
    let owner_disabled = if token.owner_type == "user" {
        users::table
            .find(&token.owner_id)
            .select(users::disabled)
            .first::<bool>(conn)
            .optional()?
    } else {
        None
    };
    Ok(Snapshot {
        token,
        scopes,
        project_ids,
        grants,
        owner_disabled,
    })
}
