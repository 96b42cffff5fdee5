//! The audit events of token changes: `token.*`, written in the transaction of the change.

use super::dto::TokenResource;
use crate::audit::{self, Actor, Event, RequestContext};
use crate::db::DbConnection;
use crate::error::ApiError;

/// The organization a token event is filed under: its one organization, if it has one.
fn event_org(organization_ids: &[String]) -> Option<&str> {
    match organization_ids {
        [one] => Some(one),
        _ => None,
    }
}

/// What one event names besides its type and actor.
struct About<'a> {
    token_id: &'a str,
    organization_id: Option<&'a str>,
    detail: Option<serde_json::Value>,
}

fn write(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: &'static str,
    about: About<'_>,
) -> Result<(), ApiError> {
    let event = Event {
        event_type,
        actor,
        token_id: Some(about.token_id),
        organization_id: about.organization_id,
        detail: about.detail,
    };
    audit::record(conn, context, &event)?;
    Ok(())
}

/// Writes one `token.*` event about `token`.
pub fn record(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: &'static str,
    token: &TokenResource,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let about = About {
        token_id: &token.id,
        organization_id: event_org(&token.organization_ids),
        detail: Some(detail),
    };
    write(conn, context, actor, event_type, about)
}

/// Writes a `token.organization_*` or `token.sso_authorized` event.
pub fn organization(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    event_type: &'static str,
    token_id: &str,
    org_id: &str,
) -> Result<(), ApiError> {
    let about = About {
        token_id,
        organization_id: Some(org_id),
        detail: None,
    };
    write(conn, context, actor, event_type, about)
}

/// Writes a `token.revoked` event by id (cascades, which have no resource at hand).
pub fn revoked(
    conn: &mut DbConnection,
    context: &RequestContext,
    actor: &Actor,
    token_id: &str,
    organization_id: Option<&str>,
    reason: &str,
) -> Result<(), ApiError> {
    let about = About {
        token_id,
        organization_id,
        detail: Some(serde_json::json!({ "reason": reason })),
    };
    write(conn, context, actor, "token.revoked", about)
}
