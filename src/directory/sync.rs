//! The use cases of directory sync, one [`Resource`] implementation per kind of synced
//! resource: validate a desired resource, store it idempotently, write the audit event of what
//! changed, and return the cache changes. Deleting a user or an organization revokes the tokens
//! that depended on it, in the same transaction.

use chrono::NaiveDateTime;
use diesel::QueryResult;
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
use crate::error::{ApiError, FieldError};
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

/// What names one kind of synced resource: a 404, its path ids in validation errors, and its
/// audit events.
pub struct Kind {
    /// What a 404 names: `organization`, `user`, `membership` or `project`.
    pub name: &'static str,
    /// The names of its path ids, in path order.
    pub ids: &'static [&'static str],
    created: &'static str,
    updated: &'static str,
    deleted: &'static str,
}

/// The [`Kind`] named `$name` (its events `directory.<name>_created`, …) with path ids `$id`.
macro_rules! kind {
    ($name:literal, $($id:literal),+) => {
        Kind {
            name: $name,
            ids: &[$($id),+],
            created: concat!("directory.", $name, "_created"),
            updated: concat!("directory.", $name, "_updated"),
            deleted: concat!("directory.", $name, "_deleted"),
        }
    };
}

/// The ids that name a synced resource, in the order of its path.
pub trait Key: Send + 'static {
    /// The ids, in path order.
    fn ids(&self) -> Vec<&str>;
}

impl Key for String {
    fn ids(&self) -> Vec<&str> {
        vec![self]
    }
}

impl Key for (String, String) {
    fn ids(&self) -> Vec<&str> {
        vec![&self.0, &self.1]
    }
}

/// One kind of synced resource (organization, user, membership, project): what its `PUT`,
/// `GET` and `DELETE` do, so that the routes are written once for all four.
pub trait Resource: Serialize + Sized + Send + 'static {
    /// The ids that name it.
    type Key: Key;
    /// The body of its `PUT`.
    type Input;
    /// Its names.
    const KIND: Kind;

    /// The resource a `PUT` asks for, validated (all bad fields named at once).
    fn desired(key: Self::Key, input: &Self::Input) -> Result<Self, ApiError>;
    /// Creates or replaces it.
    fn put(conn: &mut DbConnection, by: &Syncer, desired: Self) -> Stored<Self>;
    /// Reads it.
    fn find(conn: &mut DbConnection, key: &Self::Key) -> QueryResult<Option<Self>>;
    /// Deletes it with what depends on it. Idempotent.
    fn delete(conn: &mut DbConnection, by: &Syncer, key: &Self::Key) -> Deleted;
}

/// What a `PUT` returns: the stored resource, whether it was created, and its cache change.
pub type Stored<R> = Result<Committed<(R, Outcome)>, ApiError>;

/// What a `DELETE` returns: the cache change of what it removed.
pub type Deleted = Result<Committed<()>, ApiError>;

/// Checks a key's ids (1–64 of `A-Za-z0-9._:-`), naming each bad one.
pub fn check<R: Resource>(key: &R::Key) -> Result<(), ApiError> {
    validated::<R, _>(key, |_| ()).map(drop)
}

/// Validates a `PUT`: the key's ids and what `fields` reads, naming every bad field at once;
/// with the time it is stored at.
fn validated<R: Resource, T>(
    key: &R::Key,
    fields: impl FnOnce(&mut Vec<FieldError>) -> T,
) -> Result<(T, NaiveDateTime), ApiError> {
    let mut errors = Vec::new();
    for (field, value) in R::KIND.ids.iter().zip(key.ids()) {
        validate::id(field, value, &mut errors);
    }
    let valid = fields(&mut errors);
    ApiError::fields(errors)?;
    Ok((valid, crate::time::now()))
}

impl Resource for Organization {
    type Key = String;
    type Input = OrganizationInput;
    const KIND: Kind = kind!("organization", "id");

    fn desired(id: String, input: &OrganizationInput) -> Result<Self, ApiError> {
        let (name, now) = validated::<Self, _>(&id, |errors| {
            let days = input.max_token_lifetime_days;
            let name = validate::name("name", input.name.as_deref(), errors);
            validate::lifetime_days("max_token_lifetime_days", days, errors);
            name
        })?;
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

    fn put(conn: &mut DbConnection, by: &Syncer, desired: Self) -> Stored<Self> {
        let id = desired.id.clone();
        let put = repo::put_organization(conn, desired)?;
        let change = Change::Organization(id.clone());
        stored(conn, by, put, Some(&id), Some(change))
    }

    fn find(conn: &mut DbConnection, id: &String) -> QueryResult<Option<Self>> {
        repo::organization(conn, id)
    }

    /// Its api tokens and the agent tokens bound to it are revoked, its memberships and
    /// projects go with it, and it leaves personal tokens' authorizations.
    fn delete(conn: &mut DbConnection, by: &Syncer, id: &String) -> Deleted {
        let mut ids = tokens::live_owned_by(conn, OwnerType::Organization, id)?;
        ids.extend(tokens::live_agents_in(conn, id)?);
        let reason = "organization deleted from the directory";
        revoke_all(conn, by, &ids, Some(id), reason)?;
        if repo::delete_organization(conn, id)? {
            let detail = serde_json::json!({ "organization_id": id });
            record(conn, by, Self::KIND.deleted, Some(id), detail)?;
        }
        Ok(Committed::one((), Change::Organization(id.clone())))
    }
}

impl Resource for User {
    type Key = String;
    type Input = UserInput;
    const KIND: Kind = kind!("user", "id");

    fn desired(id: String, input: &UserInput) -> Result<Self, ApiError> {
        let (email, now) = validated::<Self, _>(&id, |errors| {
            validate::email("email", input.email.as_deref(), errors)
        })?;
        Ok(User {
            id,
            email,
            email_verified: input.email_verified,
            disabled: input.disabled,
            created_at: now,
            updated_at: now,
        })
    }

    fn put(conn: &mut DbConnection, by: &Syncer, desired: Self) -> Stored<Self> {
        let change = Change::User(desired.id.clone());
        let put = repo::put_user(conn, desired)?;
        stored(conn, by, put, None, Some(change))
    }

    fn find(conn: &mut DbConnection, id: &String) -> QueryResult<Option<Self>> {
        repo::user(conn, id)
    }

    /// Their memberships go with them; their tokens are revoked.
    fn delete(conn: &mut DbConnection, by: &Syncer, id: &String) -> Deleted {
        let ids = tokens::live_owned_by(conn, OwnerType::User, id)?;
        revoke_all(conn, by, &ids, None, "user deleted from the directory")?;
        if repo::delete_user(conn, id)? {
            let detail = serde_json::json!({ "user_id": id });
            record(conn, by, Self::KIND.deleted, None, detail)?;
        }
        Ok(Committed::one((), Change::User(id.clone())))
    }
}

impl Resource for Membership {
    type Key = (String, String);
    type Input = MembershipInput;
    const KIND: Kind = kind!("membership", "id", "user_id");

    fn desired(key: (String, String), input: &MembershipInput) -> Result<Self, ApiError> {
        let (role, now) = validated::<Self, _>(&key, |errors| {
            validate::role("role", input.role.as_deref(), errors)
        })?;
        let (organization_id, user_id) = key;
        Ok(Membership {
            organization_id,
            user_id,
            role: role.as_str().to_owned(),
            created_at: now,
            updated_at: now,
        })
    }

    /// The organization and the user must be synced (404).
    fn put(conn: &mut DbConnection, by: &Syncer, desired: Self) -> Stored<Self> {
        synced::<Organization>(conn, &desired.organization_id)?;
        synced::<User>(conn, &desired.user_id)?;
        let org = desired.organization_id.clone();
        let change = Change::Membership {
            organization_id: org.clone(),
            user_id: desired.user_id.clone(),
        };
        let put = repo::put_membership(conn, desired)?;
        stored(conn, by, put, Some(&org), Some(change))
    }

    fn find(conn: &mut DbConnection, (org, user): &(String, String)) -> QueryResult<Option<Self>> {
        repo::membership(conn, org, user)
    }

    fn delete(conn: &mut DbConnection, by: &Syncer, (org, user): &(String, String)) -> Deleted {
        if repo::delete_membership(conn, org, user)? {
            let detail = serde_json::json!({ "user_id": user });
            record(conn, by, Self::KIND.deleted, Some(org), detail)?;
        }
        let change = Change::Membership {
            organization_id: org.clone(),
            user_id: user.clone(),
        };
        Ok(Committed::one((), change))
    }
}

impl Resource for Project {
    type Key = (String, String);
    type Input = ProjectInput;
    const KIND: Kind = kind!("project", "id", "project_id");

    fn desired(key: (String, String), input: &ProjectInput) -> Result<Self, ApiError> {
        let (name, now) = validated::<Self, _>(&key, |errors| {
            validate::name("name", input.name.as_deref(), errors)
        })?;
        let (organization_id, id) = key;
        Ok(Project {
            organization_id,
            id,
            name,
            created_at: now,
            updated_at: now,
        })
    }

    /// The organization must be synced (404). Projects change no cached answer (a token's
    /// restriction is kept by id).
    fn put(conn: &mut DbConnection, by: &Syncer, desired: Self) -> Stored<Self> {
        synced::<Organization>(conn, &desired.organization_id)?;
        let org = desired.organization_id.clone();
        let put = repo::put_project(conn, desired)?;
        stored(conn, by, put, Some(&org), None)
    }

    fn find(conn: &mut DbConnection, (org, id): &(String, String)) -> QueryResult<Option<Self>> {
        repo::project(conn, org, id)
    }

    /// Tokens restricted to it keep the restriction (a deleted project never widens a token).
    fn delete(conn: &mut DbConnection, by: &Syncer, (org, id): &(String, String)) -> Deleted {
        if repo::delete_project(conn, org, id)? {
            let detail = serde_json::json!({ "project_id": id });
            record(conn, by, Self::KIND.deleted, Some(org), detail)?;
        }
        Ok(Committed::alone(()))
    }
}

/// 404 naming the resource unless it is synced.
fn synced<R: Resource<Key = String>>(conn: &mut DbConnection, id: &String) -> Result<(), ApiError> {
    match R::find(conn, id)? {
        Some(_) => Ok(()),
        None => Err(ApiError::not_found(R::KIND.name, id)),
    }
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
fn stored<R: Resource>(
    conn: &mut DbConnection,
    by: &Syncer,
    (resource, outcome): (R, Outcome),
    organization_id: Option<&str>,
    change: Option<Change>,
) -> Stored<R> {
    let event_type = match outcome {
        Outcome::Created => R::KIND.created,
        Outcome::Updated => R::KIND.updated,
        Outcome::Unchanged => return Ok(Committed::alone((resource, outcome))),
    };
    record(
        conn,
        by,
        event_type,
        organization_id,
        serde_json::json!({ R::KIND.name: resource }),
    )?;
    let changes = change.into_iter().collect();
    Ok(Committed::new((resource, outcome), changes))
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
