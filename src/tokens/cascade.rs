//! What directory deletions do to tokens: deleting a user revokes their tokens; deleting an
//! organization revokes its api tokens and the agent tokens bound to it (its PAT
//! authorizations go with the organization row).

use super::repo;
use crate::audit::{self, Actor, Event, RequestContext};
use crate::db::DbConnection;
use crate::error::ApiError;

/// Who `revoked_by` names for cascades.
pub const REVOKED_BY: &str = "directory";

fn revoke_all(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    ids: &[String],
    organization_id: Option<&str>,
    reason: &str,
) -> Result<(), ApiError> {
    let now = crate::time::now();
    for id in ids {
        if repo::revoke(conn, id, REVOKED_BY, Some(reason), now)? {
            audit::record(
                conn,
                context,
                &Event {
                    event_type: "token.revoked",
                    actor,
                    token_id: Some(id),
                    organization_id,
                    detail: Some(serde_json::json!({ "reason": reason })),
                },
            )?;
        }
    }
    Ok(())
}

/// Before a user row is deleted: revoke every live token they own.
pub fn user_deleted(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    user_id: &str,
) -> Result<(), ApiError> {
    let ids = repo::live_owned_by(conn, "user", user_id)?;
    revoke_all(
        conn,
        context,
        actor,
        &ids,
        None,
        "user deleted from the directory",
    )
}

/// Before an organization row is deleted: revoke its api tokens and the agent tokens bound to
/// it.
pub fn organization_deleted(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    org_id: &str,
) -> Result<(), ApiError> {
    let mut ids = repo::live_owned_by(conn, "organization", org_id)?;
    ids.extend(repo::live_agents_in(conn, org_id)?);
    revoke_all(
        conn,
        context,
        actor,
        &ids,
        Some(org_id),
        "organization deleted from the directory",
    )
}
