//! Minting `service` tokens (by an operator through the CLI, later by services).

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::kind::{Prefixes, TokenKind};
use super::model::{NewToken, TokenRow};
use super::repo;
use super::secret::{self, Peppers, TokenValue};
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
    let value = secret::generate(prefixes, TokenKind::Service);
    let digest = peppers.digest(value.expose());
    let hint = secret::hint(value.expose(), prefixes.prefix(TokenKind::Service));
    let now = chrono::Utc::now().naive_utc();
    let id = uuid::Uuid::now_v7().to_string();
    let mut permissions: Vec<&str> = request.permissions.iter().map(|p| p.as_str()).collect();
    permissions.sort_unstable();
    permissions.dedup();
    let new = NewToken {
        id: &id,
        kind: TokenKind::Service.as_str(),
        name,
        description: None,
        hint: &hint,
        digest: &digest,
        pepper_id: peppers.current_id(),
        owner_type: "service",
        owner_id: &actor.id,
        created_by: Some(&actor.id),
        expires_at: None,
        created_at: now,
        updated_at: now,
    };
    repo::insert(conn, &new, &permissions).map_err(|error| match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::NameTaken(format!("a service token named {name:?} already exists"))
        }
        other => other.into(),
    })?;
    audit::record(
        conn,
        context,
        &Event {
            event_type: "token.created",
            actor,
            token_id: Some(&id),
            organization_id: None,
            detail: Some(
                serde_json::json!({ "kind": "service", "name": name, "permissions": permissions }),
            ),
        },
    )?;
    let row = repo::find_by_digests(
        conn,
        &[(peppers.current_id().to_owned(), digest)],
        peppers.current_id(),
    )?
    .ok_or(ApiError::Internal)?;
    Ok((row, value))
}
