//! The use cases of token management, one function each: checks, storage and the audit event
//! in the caller's transaction, returning what was committed together with the cache changes
//! it causes ([`Committed`]). No HTTP here: handlers parse and answer, these decide.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::access::{manageable, managed, revocable, token_not_found};
use super::dto::{
    BulkOutcome, BulkResult, BulkResults, CreateToken, CreatedToken, TokenResource, UpdateToken,
};
use super::kind::TokenKind;
use super::model::TokenRow;
use super::rules::{self, Creator};
use super::secret::Digest;
use super::{events, issue, repo, view};
use crate::audit::{Actor, RequestContext};
use crate::changes::{Change, Committed};
use crate::config::Settings;
use crate::db::DbConnection;
use crate::directory::Roles;
use crate::directory::model::Organization;
use crate::directory::repo::{self as directory, roles_of};
use crate::error::{ApiError, FieldError};

/// Who asks for a change: the signed-in user, where the request came from, and the settings
/// the rules read.
#[derive(Debug, Clone)]
pub struct Manager {
    /// User id.
    pub user_id: String,
    /// Verified email (session claim or directory): needed to create tokens.
    pub email_verified: bool,
    /// Request id and client address, for the audit events.
    pub context: RequestContext,
    /// The settings (scope catalog, prefixes, peppers).
    pub settings: Arc<Settings>,
}

impl Manager {
    fn actor(&self) -> Actor {
        Actor::user(&self.user_id)
    }
}

fn not_revoked(row: &TokenRow) -> Result<(), ApiError> {
    if row.revoked_at.is_some() {
        Err(ApiError::Conflict("the token is revoked".into()))
    } else {
        Ok(())
    }
}

/// Checks a creation against every rule and stores it, returning the resource and its value.
fn plan_and_issue(
    conn: &mut DbConnection,
    by: &Manager,
    roles: &Roles,
    request: &CreateToken,
    now: NaiveDateTime,
) -> Result<CreatedToken, ApiError> {
    let org_ids: Vec<String> = request
        .organization_ids
        .clone()
        .or_else(|| request.organization_id.clone().map(|o| vec![o]))
        .unwrap_or_default();
    let project_ids = request.project_ids.clone().unwrap_or_default();
    let orgs = directory::organizations(conn, &org_ids)?;
    let known_projects = directory::existing_projects(conn, &org_ids, &project_ids)?;
    let creator = Creator {
        user_id: &by.user_id,
        email_verified: by.email_verified,
        roles,
    };
    let plan = rules::plan_creation(
        request,
        &creator,
        &orgs,
        &known_projects,
        &by.settings.scope_catalog,
        now,
    )?;
    let (resource, value) = issue::issue_plan(conn, &by.settings, &plan, &by.user_id)?;
    Ok(CreatedToken {
        resource,
        token: value,
    })
}

/// Creates a token (`POST /v1/tokens`). A new value changes no cached answer.
pub fn create(
    conn: &mut DbConnection,
    by: &Manager,
    request: &CreateToken,
) -> Result<Committed<CreatedToken>, ApiError> {
    let roles = roles_of(conn, &by.user_id)?;
    let created = plan_and_issue(conn, by, &roles, request, crate::time::now())?;
    let resource = &created.resource;
    events::record(
        conn,
        &by.context,
        &by.actor(),
        "token.created",
        resource,
        serde_json::json!({ "kind": resource.kind, "name": resource.name, "scopes": resource.scopes }),
    )?;
    Ok(Committed::alone(created))
}

/// Duplicates a token under a new name: same kind, scopes, organizations, projects and
/// description, the same lifetime from now.
pub fn duplicate(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    name: Option<String>,
) -> Result<Committed<CreatedToken>, ApiError> {
    let (row, roles) = managed(conn, &by.user_id, token_id)?;
    let now = crate::time::now();
    let expires_at = rules::same_lifetime(&row, now);
    let source = view::resource(conn, row)?;
    let multi = source.kind == TokenKind::Personal;
    let request = CreateToken {
        kind: source.kind,
        name,
        description: source.description.clone(),
        scopes: Some(source.scopes.clone()),
        preset: None,
        expires_at: Some(expires_at.map(|at| at.and_utc())),
        organization_ids: multi.then(|| source.organization_ids.clone()),
        organization_id: (!multi)
            .then(|| source.organization_ids.first().cloned())
            .flatten(),
        project_ids: Some(source.project_ids.clone()),
    };
    let created = plan_and_issue(conn, by, &roles, &request, now)?;
    events::record(
        conn,
        &by.context,
        &by.actor(),
        "token.duplicated",
        &created.resource,
        serde_json::json!({ "source_token_id": source.id, "name": created.resource.name }),
    )?;
    Ok(Committed::alone(created))
}

/// The validated new values of a PATCH.
struct Patched {
    name: String,
    description: Option<String>,
    /// New scopes, when the PATCH sets them.
    scopes: Option<Vec<String>>,
    expires_at: Option<NaiveDateTime>,
    /// A new project restriction, when the PATCH sets one.
    project_ids: Option<Vec<String>>,
    fields: Vec<&'static str>,
}

/// Checks a PATCH against the rules of creation.
fn check_patch(
    conn: &mut DbConnection,
    settings: &Settings,
    patch: &UpdateToken,
    current: &TokenResource,
    roles: &Roles,
) -> Result<Patched, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut fields = Vec::new();
    let name = match &patch.name {
        Some(name) => {
            fields.push("name");
            rules::check_name(Some(name), &mut errors)
        }
        None => current.name.clone(),
    };
    let description = match &patch.description {
        Some(description) => {
            fields.push("description");
            rules::check_description(description.as_deref(), &mut errors)
        }
        None => current.description.clone(),
    };
    let scopes = patch.scopes.as_ref().map(|list| {
        fields.push("scopes");
        rules::check_scopes(list, &settings.scope_catalog, &mut errors)
    });
    let project_ids = patch.project_ids.as_ref().map(|list| {
        fields.push("project_ids");
        rules::check_project_ids(list, &mut errors)
    });
    ApiError::fields(errors)?;
    if let Some(scopes) = &scopes
        && current.owner.owner_type == super::kind::OwnerType::User
    {
        for org in &current.organization_ids {
            if let Some(role) = roles.get(org) {
                rules::check_role_caps(scopes, org, *role)?;
            }
        }
    }
    if let Some(project_ids) = &project_ids {
        let known = directory::existing_projects(conn, &current.organization_ids, project_ids)?;
        rules::check_known_projects(project_ids, &known)?;
    }
    let expires_at = match patch.expires_at {
        Some(at) => {
            fields.push("expires_at");
            let at = at.map(crate::time::stored);
            let orgs = directory::organizations(conn, &current.organization_ids)?;
            let orgs: Vec<&Organization> = orgs.iter().collect();
            rules::check_expiry(at, &orgs, crate::time::now())?;
            at
        }
        None => current.expires_at.map(|at| at.naive_utc()),
    };
    Ok(Patched {
        name,
        description,
        scopes,
        expires_at,
        project_ids,
        fields,
    })
}

/// Changes a token's name, description, scopes, expiry or project restriction.
pub fn update(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    patch: &UpdateToken,
) -> Result<Committed<TokenResource>, ApiError> {
    let (row, roles) = managed(conn, &by.user_id, token_id)?;
    if row.revoked_at.is_some() {
        return Err(ApiError::Conflict(
            "a revoked token cannot be changed".into(),
        ));
    }
    let current = view::resource(conn, row)?;
    let patched = check_patch(conn, &by.settings, patch, &current, &roles)?;
    repo::update_settings(
        conn,
        &current.id,
        &repo::Settings {
            name: &patched.name,
            description: patched.description.as_deref(),
            expires_at: patched.expires_at,
        },
        crate::time::now(),
    )
    .map_err(|e| issue::name_taken(e, &patched.name))?;
    if let Some(scopes) = &patched.scopes {
        repo::scopes::replace(conn, &current.id, scopes)?;
    }
    if let Some(project_ids) = &patched.project_ids {
        repo::projects::replace(conn, &current.id, project_ids)?;
    }
    let updated = view::reload(conn, &current.id)?;
    events::record(
        conn,
        &by.context,
        &by.actor(),
        "token.updated",
        &updated,
        serde_json::json!({ "changed": patched.fields }),
    )?;
    Ok(Committed::one(updated, Change::Token(current.id)))
}

/// Deletes a token: it stops working at once and disappears from lists.
pub fn delete(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
) -> Result<Committed<()>, ApiError> {
    let (row, _) = managed(conn, &by.user_id, token_id)?;
    let resource = view::resource(conn, row)?;
    repo::delete(conn, &resource.id)?;
    events::record(
        conn,
        &by.context,
        &by.actor(),
        "token.deleted",
        &resource,
        serde_json::json!({ "kind": resource.kind, "name": resource.name }),
    )?;
    Ok(Committed::one((), Change::Token(resource.id)))
}

/// Revokes a token the manager may revoke; revoking a revoked token changes nothing and
/// returns it.
pub fn revoke(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    reason: Option<String>,
) -> Result<Committed<TokenResource>, ApiError> {
    let reason = rules::check_reason(reason)?;
    let reason = reason.as_deref();
    let roles = roles_of(conn, &by.user_id)?;
    let row = revocable(conn, &by.user_id, &roles, token_id)?.ok_or_else(token_not_found)?;
    let revoked = repo::revoke(conn, &row.id, &by.user_id, reason, crate::time::now())?;
    let resource = view::reload(conn, &row.id)?;
    if revoked {
        events::record(
            conn,
            &by.context,
            &by.actor(),
            "token.revoked",
            &resource,
            serde_json::json!({ "reason": reason }),
        )?;
    }
    Ok(Committed::one(resource, Change::Token(row.id)))
}

/// Gives a token a new value (same id and settings); the old value stops working now. An
/// expired token gets its former lifetime from now unless `asked` sets the expiry.
pub fn regenerate(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    asked: Option<Option<DateTime<Utc>>>,
) -> Result<Committed<CreatedToken>, ApiError> {
    let (row, _) = managed(conn, &by.user_id, token_id)?;
    not_revoked(&row)?;
    let now = crate::time::now();
    let expires_at = match asked {
        Some(asked) => asked.map(crate::time::stored),
        None => rules::renewed_expiry(&row, now),
    };
    let org_ids = repo::organization_ids_of(conn, &row.id)?;
    let orgs = directory::organizations(conn, &org_ids)?;
    rules::check_expiry(expires_at, &orgs.iter().collect::<Vec<_>>(), now)?;
    let settings = &by.settings;
    let value = issue::reissue(
        conn,
        &settings.peppers,
        &settings.prefixes,
        &row,
        expires_at,
        now,
    )?;
    let resource = view::reload(conn, &row.id)?;
    events::record(
        conn,
        &by.context,
        &by.actor(),
        "token.regenerated",
        &resource,
        serde_json::json!({ "expires_at": resource.expires_at }),
    )?;
    Ok(Committed::one(
        CreatedToken {
            resource,
            token: value,
        },
        Change::Token(row.id),
    ))
}

/// Runs `one` for each id of a bulk call (with the manager's roles and actor) and returns a
/// result per id, with the tokens it revoked or deleted as changes.
fn for_each_id(
    conn: &mut DbConnection,
    by: &Manager,
    ids: Vec<String>,
    mut one: impl FnMut(&mut DbConnection, &Roles, &Actor, &str) -> Result<BulkOutcome, ApiError>,
) -> Result<Committed<BulkResults>, ApiError> {
    let actor = by.actor();
    let roles = roles_of(conn, &by.user_id)?;
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let result = one(conn, &roles, &actor, &id)?;
        results.push(BulkResult { id, result });
    }
    let changes = results
        .iter()
        .filter(|r| matches!(r.result, BulkOutcome::Revoked | BulkOutcome::Deleted))
        .map(|r| Change::Token(r.id.clone()))
        .collect();
    Ok(Committed::new(BulkResults { results }, changes))
}

/// Revokes up to 100 tokens, with a result per id.
pub fn bulk_revoke(
    conn: &mut DbConnection,
    by: &Manager,
    ids: Vec<String>,
    reason: Option<String>,
) -> Result<Committed<BulkResults>, ApiError> {
    rules::check_bulk(&ids)?;
    let reason = rules::check_reason(reason)?;
    let reason = reason.as_deref();
    for_each_id(conn, by, ids, |conn, roles, actor, id| {
        Ok(match revocable(conn, &by.user_id, roles, id)? {
            None => BulkOutcome::NotFound,
            Some(row) if row.revoked_at.is_some() => BulkOutcome::AlreadyRevoked,
            Some(row) => {
                repo::revoke(conn, &row.id, &by.user_id, reason, crate::time::now())?;
                let resource = view::reload(conn, &row.id)?;
                events::record(
                    conn,
                    &by.context,
                    actor,
                    "token.revoked",
                    &resource,
                    serde_json::json!({ "reason": reason, "bulk": true }),
                )?;
                BulkOutcome::Revoked
            }
        })
    })
}

/// Deletes up to 100 tokens, with a result per id.
pub fn bulk_delete(
    conn: &mut DbConnection,
    by: &Manager,
    ids: Vec<String>,
) -> Result<Committed<BulkResults>, ApiError> {
    rules::check_bulk(&ids)?;
    for_each_id(conn, by, ids, |conn, roles, actor, id| {
        Ok(match manageable(conn, &by.user_id, roles, id)? {
            None => BulkOutcome::NotFound,
            Some(row) => {
                let resource = view::resource(conn, row)?;
                repo::delete(conn, &resource.id)?;
                events::record(
                    conn,
                    &by.context,
                    actor,
                    "token.deleted",
                    &resource,
                    serde_json::json!({ "bulk": true }),
                )?;
                BulkOutcome::Deleted
            }
        })
    })
}

/// A personal token of the manager's, live, for changing its organizations.
fn personal_of(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
) -> Result<(TokenResource, Roles), ApiError> {
    let (row, roles) = managed(conn, &by.user_id, token_id)?;
    not_revoked(&row)?;
    if row.kind != TokenKind::Personal {
        return Err(ApiError::Conflict(
            "only personal tokens can change their organizations".into(),
        ));
    }
    Ok((view::resource(conn, row)?, roles))
}

/// Authorizes a personal token for one more organization (the manager must be a member).
pub fn add_organization(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    org_id: &str,
) -> Result<Committed<TokenResource>, ApiError> {
    let (token, roles) = personal_of(conn, by, token_id)?;
    if token.organization_ids.iter().any(|o| o == org_id) {
        return Ok(Committed::alone(token));
    }
    let org = directory::organization(conn, org_id)?;
    let role = roles.get(org_id).copied();
    let org = rules::check_member("organization_id", org_id, org.as_ref(), role, &token.scopes)?;
    let now = crate::time::now();
    rules::check_expiry(token.expires_at.map(|at| at.naive_utc()), &[org], now)?;
    let created_at = token.created_at.naive_utc();
    repo::authorize_organization(conn, &token.id, created_at, org_id, now)?;
    let updated = view::reload(conn, &token.id)?;
    events::organization(
        conn,
        &by.context,
        &by.actor(),
        "token.organization_authorized",
        &token.id,
        org_id,
    )?;
    Ok(Committed::one(updated, Change::Token(token.id)))
}

/// Removes an organization from a personal token (not its last one); idempotent.
pub fn remove_organization(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    org_id: &str,
) -> Result<Committed<()>, ApiError> {
    let (token, _) = personal_of(conn, by, token_id)?;
    if !token.organization_ids.iter().any(|o| o == org_id) {
        return Ok(Committed::alone(()));
    }
    if token.organization_ids.len() == 1 {
        return Err(ApiError::Conflict(
            "a personal token keeps at least one organization; revoke it instead".into(),
        ));
    }
    repo::remove_organization(conn, &token.id, org_id, crate::time::now())?;
    events::organization(
        conn,
        &by.context,
        &by.actor(),
        "token.organization_removed",
        &token.id,
        org_id,
    )?;
    Ok(Committed::one((), Change::Token(token.id)))
}

/// Authorizes a token for SSO in an organization; `signed_in` says whether the session signed
/// into that organization with SSO.
pub fn sso_authorize(
    conn: &mut DbConnection,
    by: &Manager,
    token_id: &str,
    org_id: &str,
    signed_in: bool,
) -> Result<Committed<TokenResource>, ApiError> {
    let (row, _) = managed(conn, &by.user_id, token_id)?;
    not_revoked(&row)?;
    let token = view::resource(conn, row)?;
    if !token.organization_ids.iter().any(|o| o == org_id) {
        return Err(ApiError::NotFound(format!(
            "the token is not authorized for organization {org_id:?}"
        )));
    }
    if !signed_in {
        return Err(ApiError::Forbidden(format!(
            "sign in to organization {org_id:?} with SSO first: this session's sso_orgs does not include it"
        )));
    }
    repo::authorize_sso(conn, &token.id, org_id, crate::time::now())?;
    let updated = view::reload(conn, &token.id)?;
    events::organization(
        conn,
        &by.context,
        &by.actor(),
        "token.sso_authorized",
        &token.id,
        org_id,
    )?;
    Ok(Committed::one(updated, Change::Token(token.id)))
}

/// Who revokes by value (RFC 7009): a service with `revoke` (any token), or a token revoking
/// itself.
#[derive(Debug, Clone)]
pub struct ByValue {
    /// The audit actor.
    pub actor: Actor,
    /// The only token this caller may revoke (itself), or `None` for any.
    pub only: Option<String>,
}

/// Revokes the token with these `(pepper id, digest)` candidates, if it exists; a token naming
/// another token is 403. Nothing to revoke is no error.
pub fn revoke_by_value(
    conn: &mut DbConnection,
    context: &RequestContext,
    caller: &ByValue,
    target: &[(String, Digest)],
    current_pepper: &str,
) -> Result<Committed<()>, ApiError> {
    let Some(token) = repo::find_by_digests(conn, target, current_pepper)? else {
        return Ok(Committed::alone(()));
    };
    if caller.only.as_ref().is_some_and(|own| *own != token.id) {
        return Err(ApiError::Forbidden("a token may only revoke itself".into()));
    }
    if repo::revoke(
        conn,
        &token.id,
        &caller.actor.id,
        Some("revoked by value (RFC 7009)"),
        crate::time::now(),
    )? {
        let resource = view::reload(conn, &token.id)?;
        events::record(
            conn,
            context,
            &caller.actor,
            "token.revoked",
            &resource,
            serde_json::json!({ "via": "rfc7009" }),
        )?;
    }
    Ok(Committed::one((), Change::Token(token.id)))
}
