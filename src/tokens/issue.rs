//! Minting a token of any kind: a fresh value, its digest, hint, scopes and links, stored in the
//! caller's transaction. The value leaves only in the return value.

use chrono::NaiveDateTime;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::kind::{OwnerType, Prefixes, TokenKind};
use super::model::{NewToken, TokenRow};
use super::repo;
use super::secret::{self, Peppers, TokenValue};
use crate::db::DbConnection;
use crate::error::ApiError;

/// Everything a new token is, except its value.
pub struct Spec<'a> {
    /// Kind.
    pub kind: TokenKind,
    /// Name (unique per owner among live tokens).
    pub name: &'a str,
    /// Description.
    pub description: Option<&'a str>,
    /// Scopes or service permissions, normalized.
    pub scopes: &'a [String],
    /// Organizations it may be used in.
    pub organization_ids: &'a [String],
    /// Project restriction.
    pub project_ids: &'a [String],
    /// Whose it is.
    pub owner_type: OwnerType,
    /// Owner id.
    pub owner_id: &'a str,
    /// Who created it.
    pub created_by: Option<&'a str>,
    /// Expiry.
    pub expires_at: Option<NaiveDateTime>,
}

/// A fresh value of a kind with what is stored of it.
struct Minted {
    value: TokenValue,
    digest: secret::Digest,
    hint: String,
}

fn mint(peppers: &Peppers, prefixes: &Prefixes, kind: TokenKind) -> Minted {
    let value = secret::generate(prefixes, kind);
    Minted {
        digest: peppers.digest(value.expose()),
        hint: secret::hint(value.expose(), prefixes.prefix(kind)),
        value,
    }
}

/// Gives an existing token a fresh value and `expires_at` (regeneration): the old value stops
/// matching at once. Returns the new value.
pub fn reissue(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    row: &TokenRow,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<TokenValue, ApiError> {
    let minted = mint(peppers, prefixes, row.kind);
    let secret = repo::Secret {
        digest: &minted.digest,
        pepper_id: peppers.current_id(),
        hint: &minted.hint,
    };
    repo::replace_secret(conn, &row.id, &secret, expires_at, now)?;
    Ok(minted.value)
}

/// Stores a new token with a fresh value; a name already used by the owner is 409.
pub fn issue(
    conn: &mut DbConnection,
    peppers: &Peppers,
    prefixes: &Prefixes,
    spec: &Spec<'_>,
) -> Result<(TokenRow, TokenValue), ApiError> {
    let Minted {
        value,
        digest,
        hint,
    } = mint(peppers, prefixes, spec.kind);
    let now = crate::time::now();
    let id = uuid::Uuid::now_v7().to_string();
    let scopes: Vec<&str> = spec.scopes.iter().map(String::as_str).collect();
    let new = NewToken {
        id: &id,
        kind: spec.kind.as_str(),
        name: spec.name,
        description: spec.description,
        hint: &hint,
        digest: &digest,
        pepper_id: peppers.current_id(),
        owner_type: spec.owner_type.as_str(),
        owner_id: spec.owner_id,
        created_by: spec.created_by,
        expires_at: spec.expires_at,
        created_at: now,
        updated_at: now,
    };
    repo::insert(conn, &new, &scopes).map_err(|error| name_taken(error, spec.name))?;
    repo::insert_links(conn, &id, spec.organization_ids, spec.project_ids, now)?;
    // The row as stored: every time is already truncated as the database keeps it.
    let row = TokenRow {
        kind: spec.kind,
        name: spec.name.to_owned(),
        description: spec.description.map(str::to_owned),
        hint: new.hint.to_owned(),
        digest: new.digest.to_vec(),
        pepper_id: new.pepper_id.to_owned(),
        owner_type: spec.owner_type,
        owner_id: spec.owner_id.to_owned(),
        created_by: spec.created_by.map(str::to_owned),
        expires_at: spec.expires_at,
        created_at: now,
        updated_at: now,
        revoked_at: None,
        revoked_by: None,
        revoked_reason: None,
        id,
    };
    Ok((row, value))
}

/// Stores a validated creation plan (user or api token) created by `created_by`, returning its
/// resource and its value.
pub fn issue_plan(
    conn: &mut DbConnection,
    settings: &crate::config::Settings,
    plan: &super::rules::Plan,
    created_by: &str,
) -> Result<(super::dto::TokenResource, TokenValue), ApiError> {
    let (row, value) = issue(
        conn,
        &settings.peppers,
        &settings.prefixes,
        &Spec {
            kind: plan.kind,
            name: &plan.name,
            description: plan.description.as_deref(),
            scopes: &plan.scopes,
            organization_ids: &plan.organization_ids,
            project_ids: &plan.project_ids,
            owner_type: plan.owner.owner_type,
            owner_id: &plan.owner.id,
            created_by: Some(created_by),
            expires_at: plan.expires_at,
        },
    )?;
    let resource =
        super::view::created(row, &plan.scopes, &plan.organization_ids, &plan.project_ids);
    Ok((resource, value))
}

/// Maps the owner/name unique index to 409 `name_taken`.
#[must_use]
pub fn name_taken(error: DieselError, name: &str) -> ApiError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            ApiError::NameTaken(format!("you already have a token named {name:?}"))
        }
        other => other.into(),
    }
}
