//! Who may see and change which token: the caller's roles, and the tokens they manage or may
//! revoke. Anything else is 404, never 403 (others do not learn that a token exists).

use super::dto::TokenResource;
use super::model::TokenRow;
use super::{repo, rules, view};
use crate::db::DbConnection;
use crate::directory::Roles;
use crate::directory::repo::roles_of;
use crate::error::ApiError;

/// 404 for a token the caller may not see.
#[must_use]
pub fn token_not_found() -> ApiError {
    ApiError::NotFound("token not found".into())
}

/// The token if the user may manage it; otherwise 404.
pub fn managed(
    conn: &mut DbConnection,
    user_id: &str,
    token_id: &str,
) -> Result<(TokenRow, Roles), ApiError> {
    let roles = roles_of(conn, user_id)?;
    let token = manageable(conn, user_id, &roles, token_id)?.ok_or_else(token_not_found)?;
    Ok((token, roles))
}

/// The token if the user, with `roles`, may manage it; `None` otherwise (for a run over many
/// ids that loads the roles once).
pub fn manageable(
    conn: &mut DbConnection,
    user_id: &str,
    roles: &Roles,
    token_id: &str,
) -> Result<Option<TokenRow>, ApiError> {
    let token = repo::find(conn, token_id)?;
    Ok(token.filter(|token| rules::can_manage(user_id, roles, token)))
}

/// The resource of a token the user manages; 404 otherwise.
pub fn shown(
    conn: &mut DbConnection,
    user_id: &str,
    token_id: &str,
) -> Result<TokenResource, ApiError> {
    let (row, _) = managed(conn, user_id, token_id)?;
    Ok(view::resource(conn, row)?)
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
    let orgs = repo::organization_ids_of(conn, &token.id)?;
    Ok(rules::can_revoke(user_id, roles, &token, &orgs).then_some(token))
}
