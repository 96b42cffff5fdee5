//! The use cases of directory sync: validate a desired resource, store it idempotently, write
//! the audit event of what changed, and return the cache changes. Deleting a user or an
//! organization revokes the tokens that depended on it, in the same transaction.

use serde::Serialize;

use super::model::{
    Membership, MembershipInput, Organization, OrganizationInput, Project, ProjectInput, User,
    UserInput,
};
use super::repo::{self, Outcome};
use super::validate;
use crate::audit::{self, Actor, Event, RequestContext};
use crate::changes::{Change, Committed};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::tokens::kind::OwnerType;
use crate::tokens::{events, repo as tokens};

/// Who syncs: the service token's audit actor and the request's context.
#[derive(Debug, Clone)]
pub struct Syncer {
    /// The audit actor (the directory service token).
    pub actor: Actor,
    /// Request id and client address, for the audit events.
    pub context: RequestContext,
}

/// Who `revoked_by` names when a directory deletion revokes tokens.
pub const REVOKED_BY: &str = "directory";

/// The audit event names of one kind of directory resource.
struct Events {
    created: &'static str,
    updated: &'static str,
    deleted: &'static str,
}

const ORGANIZATION: Events = Events {
    created: "directory.organization_created",
    updated: "directory.organization_updated",
    deleted: "directory.organization_deleted",
};
const USER: Events = Events {
    created: "directory.user_created",
    updated: "directory.user_updated",
    deleted: "directory.user_deleted",
};
const MEMBERSHIP: Events = Events {
    created: "directory.membership_created",
    updated: "directory.membership_updated",
    deleted: "directory.membership_deleted",
};
const PROJECT: Events = Events {
    created: "directory.project_created",
    updated: "directory.project_updated",
    deleted: "directory.project_deleted",
};

/// Checks path ids (1–64 of `A-Za-z0-9._:-`), naming each bad one.
pub fn check_ids(ids: &[(&str, &str)]) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (field, value) in ids {
        validate::id(field, value, &mut errors);
    }
    ApiError::fields(errors)
}

/// The organization a `PUT` asks for, validated.
pub fn desired_organization(
    id: String,
    input: &OrganizationInput,
) -> Result<Organization, ApiError> {
    let mut errors = Vec::new();
    validate::id("id", &id, &mut errors);
    let name = validate::name("name", input.name.as_deref(), &mut errors);
    validate::lifetime_days(
        "max_token_lifetime_days",
        input.max_token_lifetime_days,
        &mut errors,
    );
    ApiError::fields(errors)?;
    let now = crate::time::now();
    Ok(Organization {
        id,
        name,
        sso_enforced: input.sso_enforced,
        api_tokens_enabled: input.api_tokens_enabled,
        require_expiry: input.require_expiry,
        max_token_lifetime_days: input.max_token_lifetime_days,
        created_at: now,
        updated_at: now,
    })
}

/// The user a `PUT` asks for, validated.
pub fn desired_user(id: String, input: &UserInput) -> Result<User, ApiError> {
    let mut errors = Vec::new();
    validate::id("id", &id, &mut errors);
    let email = validate::email("email", input.email.as_deref(), &mut errors);
    ApiError::fields(errors)?;
    let now = crate::time::now();
    Ok(User {
        id,
        email,
        email_verified: input.email_verified,
        disabled: input.disabled,
        created_at: now,
        updated_at: now,
    })
}

/// The membership a `PUT` asks for, validated.
pub fn desired_membership(
    organization_id: String,
    user_id: String,
    input: &MembershipInput,
) -> Result<Membership, ApiError> {
    let mut errors = Vec::new();
    validate::id("id", &organization_id, &mut errors);
    validate::id("user_id", &user_id, &mut errors);
    let role = validate::role("role", input.role.as_deref(), &mut errors);
    ApiError::fields(errors)?;
    let now = crate::time::now();
    Ok(Membership {
        organization_id,
        user_id,
        role: role.as_str().to_owned(),
        created_at: now,
        updated_at: now,
    })
}

/// The project a `PUT` asks for, validated.
pub fn desired_project(
    organization_id: String,
    id: String,
    input: &ProjectInput,
) -> Result<Project, ApiError> {
    let mut errors = Vec::new();
    validate::id("id", &organization_id, &mut errors);
    validate::id("project_id", &id, &mut errors);
    let name = validate::name("name", input.name.as_deref(), &mut errors);
    ApiError::fields(errors)?;
    let now = crate::time::now();
    Ok(Project {
        organization_id,
        id,
        name,
        created_at: now,
        updated_at: now,
    })
}

/// Writes one `directory.*` event.
fn record(
    conn: &mut DbConnection,
    by: &Syncer,
    event_type: &'static str,
    organization_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        &by.context,
        &Event {
            event_type,
            actor: &by.actor,
            token_id: None,
            organization_id,
            detail: Some(detail),
        },
    )?;
    Ok(())
}

/// What a `PUT` stored: the event of its outcome (none when unchanged) and, when it changed
/// something, the cache change.
fn stored<T: Serialize>(
    conn: &mut DbConnection,
    by: &Syncer,
    (events, key): (&Events, &str),
    (resource, outcome): (T, Outcome),
    organization_id: Option<&str>,
    change: Option<Change>,
) -> Result<Committed<(T, Outcome)>, ApiError> {
    let event_type = match outcome {
        Outcome::Created => events.created,
        Outcome::Updated => events.updated,
        Outcome::Unchanged => return Ok(Committed::alone((resource, outcome))),
    };
    record(
        conn,
        by,
        event_type,
        organization_id,
        serde_json::json!({ key: resource }),
    )?;
    let changes = change.into_iter().collect();
    Ok(Committed::new((resource, outcome), changes))
}

/// Creates or replaces an organization.
pub fn put_organization(
    conn: &mut DbConnection,
    by: &Syncer,
    desired: Organization,
) -> Result<Committed<(Organization, Outcome)>, ApiError> {
    let id = desired.id.clone();
    let put = repo::put_organization(conn, desired)?;
    stored(
        conn,
        by,
        (&ORGANIZATION, "organization"),
        put,
        Some(&id),
        Some(Change::Organization(id.clone())),
    )
}

/// Creates or replaces a user.
pub fn put_user(
    conn: &mut DbConnection,
    by: &Syncer,
    desired: User,
) -> Result<Committed<(User, Outcome)>, ApiError> {
    let change = Change::User(desired.id.clone());
    let put = repo::put_user(conn, desired)?;
    stored(conn, by, (&USER, "user"), put, None, Some(change))
}

/// Creates or replaces a membership; the organization and the user must be synced (404).
pub fn put_membership(
    conn: &mut DbConnection,
    by: &Syncer,
    desired: Membership,
) -> Result<Committed<(Membership, Outcome)>, ApiError> {
    if repo::organization(conn, &desired.organization_id)?.is_none() {
        return Err(ApiError::not_found(
            "organization",
            &desired.organization_id,
        ));
    }
    if repo::user(conn, &desired.user_id)?.is_none() {
        return Err(ApiError::not_found("user", &desired.user_id));
    }
    let org = desired.organization_id.clone();
    let change = Change::Membership {
        organization_id: org.clone(),
        user_id: desired.user_id.clone(),
    };
    let put = repo::put_membership(conn, desired)?;
    stored(
        conn,
        by,
        (&MEMBERSHIP, "membership"),
        put,
        Some(&org),
        Some(change),
    )
}

/// Creates or replaces a project; the organization must be synced (404). Projects change no
/// cached answer (a token's restriction is kept by id).
pub fn put_project(
    conn: &mut DbConnection,
    by: &Syncer,
    desired: Project,
) -> Result<Committed<(Project, Outcome)>, ApiError> {
    if repo::organization(conn, &desired.organization_id)?.is_none() {
        return Err(ApiError::not_found(
            "organization",
            &desired.organization_id,
        ));
    }
    let org = desired.organization_id.clone();
    let put = repo::put_project(conn, desired)?;
    stored(conn, by, (&PROJECT, "project"), put, Some(&org), None)
}

/// Revokes the live tokens `ids` (a cascade of a directory deletion), one event each.
fn revoke_all(
    conn: &mut DbConnection,
    by: &Syncer,
    ids: &[String],
    organization_id: Option<&str>,
    reason: &str,
) -> Result<(), ApiError> {
    let now = crate::time::now();
    for id in ids {
        if tokens::revoke(conn, id, REVOKED_BY, Some(reason), now)? {
            events::revoked(conn, &by.context, &by.actor, id, organization_id, reason)?;
        }
    }
    Ok(())
}

/// Deletes an organization: its api tokens and the agent tokens bound to it are revoked, its
/// memberships and projects go with it, and it leaves personal tokens' authorizations.
/// Idempotent.
pub fn delete_organization(
    conn: &mut DbConnection,
    by: &Syncer,
    id: &str,
) -> Result<Committed<()>, ApiError> {
    let mut ids = tokens::live_owned_by(conn, OwnerType::Organization, id)?;
    ids.extend(tokens::live_agents_in(conn, id)?);
    let reason = "organization deleted from the directory";
    revoke_all(conn, by, &ids, Some(id), reason)?;
    if repo::delete_organization(conn, id)? {
        let detail = serde_json::json!({ "organization_id": id });
        record(conn, by, ORGANIZATION.deleted, Some(id), detail)?;
    }
    Ok(Committed::one((), Change::Organization(id.to_owned())))
}

/// Deletes a user and their memberships; their tokens are revoked. Idempotent.
pub fn delete_user(
    conn: &mut DbConnection,
    by: &Syncer,
    id: &str,
) -> Result<Committed<()>, ApiError> {
    let ids = tokens::live_owned_by(conn, OwnerType::User, id)?;
    let reason = "user deleted from the directory";
    revoke_all(conn, by, &ids, None, reason)?;
    if repo::delete_user(conn, id)? {
        let detail = serde_json::json!({ "user_id": id });
        record(conn, by, USER.deleted, None, detail)?;
    }
    Ok(Committed::one((), Change::User(id.to_owned())))
}

/// Removes a membership. Idempotent.
pub fn delete_membership(
    conn: &mut DbConnection,
    by: &Syncer,
    organization_id: &str,
    user_id: &str,
) -> Result<Committed<()>, ApiError> {
    if repo::delete_membership(conn, organization_id, user_id)? {
        let detail = serde_json::json!({ "user_id": user_id });
        record(conn, by, MEMBERSHIP.deleted, Some(organization_id), detail)?;
    }
    let change = Change::Membership {
        organization_id: organization_id.to_owned(),
        user_id: user_id.to_owned(),
    };
    Ok(Committed::one((), change))
}

/// Deletes a project; tokens restricted to it keep the restriction. Idempotent.
pub fn delete_project(
    conn: &mut DbConnection,
    by: &Syncer,
    organization_id: &str,
    project_id: &str,
) -> Result<Committed<()>, ApiError> {
    if repo::delete_project(conn, organization_id, project_id)? {
        let detail = serde_json::json!({ "project_id": project_id });
        record(conn, by, PROJECT.deleted, Some(organization_id), detail)?;
    }
    Ok(Committed::alone(()))
}
