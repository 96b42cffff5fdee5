//! Minting `service` tokens (by an operator through the CLI, later by services).

use super::issue::{self, Spec};
use super::kind::{OwnerType, Prefixes, TokenKind};
use super::model::TokenRow;
use super::secret::{Peppers, TokenValue};
use crate::audit::{self, Actor, Event, RequestContext};
use crate::auth::Permission;
use crate::db::DbConnection;
use crate::error::ApiError;

/// What a new service token needs.
pub struct NewServiceToken<'a> {
    /// Unique among the creator's service tokens.
    pub name: &'a str,
    /// What it may do.
    pub permissions: &'a [Permission],
}

/// Creates a service token in the current transaction and returns its row and its value (the
/// only time the value exists outside the caller's hands).
pub fn create(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    request: &NewServiceToken<'_>,
    actor: &Actor,
    context: &RequestContext,
) -> Result<(TokenRow, TokenValue), ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "must be 1-100 characters"));
    }
    if request.permissions.is_empty() {
        return Err(ApiError::field(
            "permissions",
            "at least one permission is required",
        ));
    }
    let permissions =
        super::scopes::normalized(request.permissions.iter().map(|p| p.as_str().to_owned()));
    let (row, value) = issue::issue(
        conn,
        peppers,
        prefixes,
        &Spec {
            kind: TokenKind::Service,
            name,
            description: None,
            scopes: &permissions,
            organization_ids: &[],
            project_ids: &[],
            owner_type: OwnerType::Service,
            owner_id: &actor.id,
            created_by: Some(&actor.id),
            expires_at: None,
        },
    )?;
    audit::record(
        conn,
        context,
        &Event {
            event_type: "token.created",
            actor,
            token_id: Some(&row.id),
            organization_id: None,
            detail: Some(
                serde_json::json!({ "kind": "service", "name": name, "permissions": permissions }),
            ),
        },
    )?;
    Ok((row, value))
}
