//! Service tokens: minted by operators (the CLI) and by services holding `service_tokens`,
//! listed, shown, revoked, regenerated and deleted. A caller never grants, nor regenerates a
//! token with, a permission it does not hold itself. Writes return [`Committed`].

use chrono::{DateTime, Utc};

use super::dto::{CreatedServiceToken, ServiceTokenResource};
use super::issue::{self, Spec};
use super::kind::{OwnerType, Prefixes, TokenKind};
use super::model::TokenRow;
use super::secret::{Peppers, TokenValue};
use super::{repo, rules, view};
use crate::audit::{self, Actor, Event, RequestContext};
use crate::auth::Permission;
use crate::changes::{Change, Committed};
use crate::db::DbConnection;
use crate::error::{ApiError, FieldError};

/// What a new service token needs.
#[derive(Debug, Default)]
pub struct NewServiceToken<'a> {
    /// Unique among the creator's live service tokens.
    pub name: &'a str,
    /// What it may do.
    pub permissions: &'a [Permission],
    /// What it is for.
    pub description: Option<&'a str>,
    /// When it stops working; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Who manages service tokens, from where, and what they may grant.
#[derive(Debug, Clone)]
pub struct Operator {
    /// The audit actor (`system`/`cli`, or the calling service token).
    pub actor: Actor,
    /// Request id and client address.
    pub context: RequestContext,
    /// The permissions it holds; `None` for an operator at the command line (all of them).
    pub holds: Option<Vec<Permission>>,
}

impl Operator {
    /// An operator at the command line.
    #[must_use]
    pub fn cli() -> Self {
        Self {
            actor: Actor::cli(),
            context: RequestContext::cli(),
            holds: None,
        }
    }

    /// 403 unless every permission in `permissions` is one the operator holds.
    fn may_grant<'p>(
        &self,
        permissions: impl IntoIterator<Item = &'p str>,
    ) -> Result<(), ApiError> {
        let Some(holds) = &self.holds else {
            return Ok(());
        };
        match permissions
            .into_iter()
            .find(|p| !holds.iter().any(|held| held.as_str() == *p))
        {
            Some(lacking) => Err(ApiError::Forbidden(format!(
                "a service token cannot grant `{lacking}`, which it does not hold"
            ))),
            None => Ok(()),
        }
    }

    fn record(
        &self,
        conn: &mut DbConnection,
        event_type: &'static str,
        token_id: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let event = Event {
            event_type,
            actor: &self.actor,
            token_id: Some(token_id),
            organization_id: None,
            detail: Some(detail),
        };
        audit::record(conn, &self.context, &event)?;
        Ok(())
    }
}

/// The service token `id`; 404 when there is none (or it is not a service token).
fn find(conn: &mut DbConnection, id: &str) -> Result<TokenRow, ApiError> {
    match repo::find(conn, id)? {
        Some(row) if row.kind == TokenKind::Service => Ok(row),
        _ => Err(ApiError::NotFound("service token not found".into())),
    }
}

/// One service token.
pub fn show(conn: &mut DbConnection, id: &str) -> Result<ServiceTokenResource, ApiError> {
    let row = find(conn, id)?;
    resource(conn, row)
}

/// The resource of one service-token row.
fn resource(conn: &mut DbConnection, row: TokenRow) -> Result<ServiceTokenResource, ApiError> {
    view::service_resources(conn, vec![row])?
        .pop()
        .ok_or(ApiError::Internal)
}

/// Creates a service token and returns its row and its value (the only time the value exists
/// outside the caller's hands).
pub fn create(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    request: &NewServiceToken<'_>,
    by: &Operator,
) -> Result<(TokenRow, TokenValue), ApiError> {
    let mut errors = Vec::new();
    let name = rules::check_name(Some(request.name), &mut errors);
    let description = rules::check_description(request.description, &mut errors);
    if request.permissions.is_empty() {
        errors.push(FieldError::new(
            "permissions",
            "at least one permission is required",
        ));
    }
    ApiError::fields(errors)?;
    let expires_at = request.expires_at.map(crate::time::stored);
    rules::check_expiry(expires_at, &[], crate::time::now())?;
    let permissions =
        super::scopes::normalized(request.permissions.iter().map(|p| p.as_str().to_owned()));
    by.may_grant(permissions.iter().map(String::as_str))?;
    let (row, value) = issue::issue(
        conn,
        peppers,
        prefixes,
        &Spec {
            kind: TokenKind::Service,
            name: &name,
            description: description.as_deref(),
            scopes: &permissions,
            organization_ids: &[],
            project_ids: &[],
            owner_type: OwnerType::Service,
            owner_id: &by.actor.id,
            created_by: Some(&by.actor.id),
            expires_at,
        },
    )?;
    let detail = serde_json::json!({ "name": name, "permissions": permissions });
    by.record(conn, "service_token.created", &row.id, detail)?;
    Ok((row, value))
}

/// [`create`] as a use case: the resource and the value.
pub fn create_resource(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    request: &NewServiceToken<'_>,
    by: &Operator,
) -> Result<Committed<CreatedServiceToken>, ApiError> {
    let (row, value) = create(conn, peppers, prefixes, request, by)?;
    Ok(Committed::alone(CreatedServiceToken {
        resource: resource(conn, row)?,
        token: value,
    }))
}

/// Revokes a service token: it stops working at once. Revoking a revoked one changes nothing.
pub fn revoke(
    conn: &mut DbConnection,
    by: &Operator,
    id: &str,
    reason: Option<String>,
) -> Result<Committed<ServiceTokenResource>, ApiError> {
    let reason = rules::check_reason(reason)?;
    let reason = reason.as_deref();
    let row = find(conn, id)?;
    if repo::revoke(conn, &row.id, &by.actor.id, reason, crate::time::now())? {
        by.record(
            conn,
            "service_token.revoked",
            &row.id,
            serde_json::json!({ "reason": reason }),
        )?;
    }
    Ok(Committed::one(show(conn, &row.id)?, Change::Token(row.id)))
}

/// Gives a service token a new value (same id, name and permissions); the old one dies now.
/// Not for revoked tokens (409), nor for tokens holding a permission the caller lacks (403).
pub fn regenerate(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    by: &Operator,
    id: &str,
) -> Result<Committed<CreatedServiceToken>, ApiError> {
    let row = find(conn, id)?;
    if row.revoked_at.is_some() {
        return Err(ApiError::Conflict("the service token is revoked".into()));
    }
    let held = repo::scopes::of_many(conn, std::slice::from_ref(&row.id))?;
    by.may_grant(held.iter().map(|(_, permission)| permission.as_str()))?;
    let now = crate::time::now();
    let expires_at = rules::renewed_expiry(&row, now);
    let value = issue::reissue(conn, peppers, prefixes, &row, expires_at, now)?;
    by.record(
        conn,
        "service_token.regenerated",
        &row.id,
        serde_json::json!({}),
    )?;
    let created = CreatedServiceToken {
        resource: show(conn, &row.id)?,
        token: value,
    };
    Ok(Committed::one(created, Change::Token(row.id)))
}

/// Deletes a service token: it stops working at once and disappears from lists.
pub fn delete(conn: &mut DbConnection, by: &Operator, id: &str) -> Result<Committed<()>, ApiError> {
    let row = find(conn, id)?;
    repo::delete(conn, &row.id)?;
    let detail = serde_json::json!({ "name": row.name });
    by.record(conn, "service_token.deleted", &row.id, detail)?;
    Ok(Committed::one((), Change::Token(row.id)))
}
