//! Everything an answer about one token depends on, loaded in one SQL statement: the token,
//! its scopes, projects, organization grants (with the owner's role there) and whether the
//! owner is disabled.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::serialize::ToSql;
use diesel::sql_types::{Binary, Bool, Nullable, Text, Timestamp};

use super::interned::{IDS, SCOPE_SETS};
use crate::auth::Permission;
use crate::db::{self, DbConnection, DbError};
use crate::directory::Role;

use crate::tokens::kind::{OwnerType, TokenKind};
use crate::tokens::repo;
use crate::tokens::scopes::{self, Action};

/// One organization a token is authorized for, with what decides its use there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The organization.
    pub organization_id: Arc<str>,
    /// Whether it enforces SSO.
    pub sso_enforced: bool,
    /// When the owner authorized the token for SSO there.
    pub sso_authorized_at: Option<NaiveDateTime>,
    /// The owner's current role there (user tokens), `None` when not a member.
    pub role: Option<Role>,
    /// The token's scopes usable there: capped by `role` for user tokens, as granted for
    /// organization tokens (computed once at load, so an answer only borrows them; shared with
    /// the snapshot's when the cap changes nothing).
    pub scopes: Arc<[String]>,
    /// The encoded active answer for this organization when nothing more is asked (no
    /// `required_scopes`, no `project_id`): the same for every caller until the snapshot is
    /// dropped, so it is encoded once, on first use.
    pub answer: OnceLock<Bytes>,
}

/// The token fields answers read. The cache holds these rather than the whole row, so that
/// 100k cached tokens stay small.
#[derive(Debug, Clone)]
pub struct CachedToken {
    /// Token id.
    pub id: Arc<str>,
    /// Its kind.
    pub kind: TokenKind,
    /// Its name.
    pub name: Box<str>,
    /// Whose it is.
    pub owner_type: OwnerType,
    /// The owner's id.
    pub owner_id: Arc<str>,
    /// When it stops working.
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time.
    pub created_at: NaiveDateTime,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl CachedToken {
    /// Not revoked and not expired at `now`.
    #[must_use]
    pub fn is_usable(&self, now: NaiveDateTime) -> bool {
        !self.revoked && self.expires_at.is_none_or(|at| at > now)
    }

    /// Owned by the user `user_id`.
    #[must_use]
    pub fn owned_by_user(&self, user_id: &str) -> bool {
        self.owner_type == OwnerType::User && &*self.owner_id == user_id
    }
}

/// A token and its surroundings at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The token.
    pub token: CachedToken,
    /// Granted scopes (service permissions for service tokens).
    pub scopes: Arc<[String]>,
    /// Project restriction (empty = none).
    pub project_ids: Box<[String]>,
    /// Authorized organizations.
    pub grants: Box<[Grant]>,
    /// For user tokens: whether the owner is disabled (`None` when the user row is gone).
    pub owner_disabled: Option<bool>,
}

impl Snapshot {
    /// Whether the token (a service token) carries `permission`.
    #[must_use]
    pub fn has_permission(&self, permission: Permission) -> bool {
        self.scopes
            .iter()
            .any(|granted| granted == permission.as_str())
    }
}

/// The SQL types of a snapshot row, in the statement's column order: rows are read by
/// position, not by name.
type RowSql = (
    Text,
    Text,
    Text,
    Binary,
    Text,
    Text,
    Text,
    Nullable<Timestamp>,
    Timestamp,
    Nullable<Timestamp>,
    Nullable<Bool>,
    Text,
    Text,
    Text,
);

#[derive(Queryable)]
struct Row {
    id: String,
    kind: String,
    name: String,
    digest: Vec<u8>,
    pepper_id: String,
    owner_type: String,
    owner_id: String,
    expires_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    owner_disabled: Option<bool>,
    scopes: String,
    projects: String,
    grants: String,
}

const COLUMNS: &str = "t.id, t.kind, t.name, t.digest, t.pepper_id, \
    t.owner_type, t.owner_id, t.expires_at, t.created_at, t.revoked_at, \
    (SELECT u.disabled FROM users u WHERE u.id = t.owner_id AND t.owner_type = 'user') AS owner_disabled";

const SQLITE_AGGREGATES: &str = "\
    COALESCE((SELECT json_group_array(scope) FROM (SELECT scope FROM token_scopes \
        WHERE token_id = t.id ORDER BY scope)), '[]') AS scopes, \
    COALESCE((SELECT json_group_array(project_id) FROM (SELECT project_id FROM token_projects \
        WHERE token_id = t.id ORDER BY project_id)), '[]') AS projects, \
    COALESCE((SELECT json_group_array(json_array(organization_id, sso_enforced, sso_authorized_at, role)) \
        FROM (SELECT g.organization_id, o.sso_enforced, g.sso_authorized_at, m.role \
        FROM token_organizations g JOIN organizations o ON o.id = g.organization_id \
        LEFT JOIN memberships m ON m.organization_id = g.organization_id AND m.user_id = t.owner_id \
        WHERE g.token_id = t.id ORDER BY g.organization_id)), '[]') AS grants";

const POSTGRES_AGGREGATES: &str = "\
    COALESCE((SELECT json_agg(scope ORDER BY scope) FROM token_scopes \
        WHERE token_id = t.id)::text, '[]') AS scopes, \
    COALESCE((SELECT json_agg(project_id ORDER BY project_id) FROM token_projects \
        WHERE token_id = t.id)::text, '[]') AS projects, \
    COALESCE((SELECT json_agg(json_build_array(g.organization_id, o.sso_enforced, g.sso_authorized_at, m.role) \
        ORDER BY g.organization_id) \
        FROM token_organizations g JOIN organizations o ON o.id = g.organization_id \
        LEFT JOIN memberships m ON m.organization_id = g.organization_id AND m.user_id = t.owner_id \
        WHERE g.token_id = t.id)::text, '[]') AS grants";

/// The one statement, as a query diesel may keep prepared (a raw `sql_query` is prepared anew
/// on every call, which would dominate a cold introspection).
struct SnapshotQuery<'a> {
    postgres: bool,
    digests: &'a [&'a [u8; 32]],
}

db::kept_prepared!(SnapshotQuery, RowSql);

impl<DB> QueryFragment<DB> for SnapshotQuery<'_>
where
    DB: Backend,
    [u8]: ToSql<Binary, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(COLUMNS);
        out.push_sql(", ");
        out.push_sql(if self.postgres {
            POSTGRES_AGGREGATES
        } else {
            SQLITE_AGGREGATES
        });
        out.push_sql(" FROM tokens t WHERE t.digest IN (");
        for (i, digest) in self.digests.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Binary, [u8]>(digest.as_slice())?;
        }
        out.push_sql(")");
        Ok(())
    }
}

fn query_rows(conn: &mut DbConnection, digests: &[&[u8; 32]]) -> QueryResult<Vec<Row>> {
    match conn {
        DbConnection::Sqlite(conn) => SnapshotQuery {
            postgres: false,
            digests,
        }
        .load(conn),
        DbConnection::Pg(conn) => SnapshotQuery {
            postgres: true,
            digests,
        }
        .load(conn),
    }
}

/// Loads the snapshots of several presented values in one statement: for each, the token
/// with one of its digests (one per configured pepper, `current` first), or `None`. Each
/// stored digest is confirmed in constant time, and a token found under an older pepper is
/// re-digested under the current one.
pub fn load_many(
    conn: &mut DbConnection,
    presented: &[Vec<(String, [u8; 32])>],
    current_pepper: &str,
) -> Result<Vec<Option<Snapshot>>, DbError> {
    let digests: Vec<&[u8; 32]> = presented
        .iter()
        .flatten()
        .map(|(_, digest)| digest)
        .collect();
    let mut rows: Vec<Option<Row>> = query_rows(conn, &digests)?.into_iter().map(Some).collect();
    let mut found = Vec::with_capacity(presented.len());
    for candidates in presented {
        // Pairs the row with the value it was found by; `confirm` then checks it.
        let matching = rows.iter_mut().find(|row| {
            row.as_ref().is_some_and(|row| {
                candidates
                    .iter()
                    .any(|(_, digest)| row.digest == digest.as_slice())
            })
        });
        let Some(row) = matching.and_then(Option::take) else {
            found.push(None);
            continue;
        };
        if repo::confirm(
            conn,
            candidates,
            current_pepper,
            &row.id,
            &row.pepper_id,
            &row.digest,
        )? {
            found.push(Some(decode(row)?));
        } else {
            found.push(None);
        }
    }
    Ok(found)
}

fn decode(row: Row) -> Result<Snapshot, DbError> {
    let bad = |what: &str| {
        DbError::Query(diesel::result::Error::DeserializationError(
            format!("unreadable {what} in the token snapshot").into(),
        ))
    };
    let scopes = SCOPE_SETS
        .shared(serde_json::from_str::<Vec<String>>(&row.scopes).map_err(|_| bad("scopes"))?);
    let project_ids: Vec<String> =
        serde_json::from_str(&row.projects).map_err(|_| bad("projects"))?;
    let raw: Vec<(String, serde_json::Value, Option<String>, Option<String>)> =
        serde_json::from_str(&row.grants).map_err(|_| bad("grants"))?;
    let owner_type: OwnerType = row.owner_type.parse().map_err(|_| bad("owner type"))?;
    let kind: TokenKind = row.kind.parse().map_err(|_| bad("token kind"))?;
    let grants = raw
        .into_iter()
        .map(|(organization_id, sso, at, role)| {
            let role = role.as_deref().and_then(Role::from_name);
            let usable = match (owner_type, role) {
                (OwnerType::User, Some(role)) => {
                    scopes::effective(&scopes, Some(Action::cap_of(role)))
                }
                (OwnerType::User, None) => Vec::new(),
                (OwnerType::Organization | OwnerType::Service, _) => {
                    scopes::effective(&scopes, None)
                }
            };
            Grant {
                organization_id: IDS.shared(organization_id),
                sso_enforced: sso
                    .as_bool()
                    .unwrap_or_else(|| sso.as_i64().is_some_and(|v| v != 0)),
                sso_authorized_at: at.as_deref().and_then(parse_timestamp),
                role,
                scopes: if *usable == *scopes {
                    Arc::clone(&scopes)
                } else {
                    SCOPE_SETS.shared(usable)
                },
                answer: OnceLock::new(),
            }
        })
        .collect();
    Ok(Snapshot {
        token: CachedToken {
            id: row.id.into(),
            kind,
            name: row.name.into(),
            owner_type,
            owner_id: IDS.shared(row.owner_id),
            expires_at: row.expires_at,
            created_at: row.created_at,
            revoked: row.revoked_at.is_some(),
        },
        scopes,
        project_ids: project_ids.into(),
        grants,
        owner_disabled: row.owner_disabled,
    })
}

/// Timestamps inside the JSON aggregates: SQLite's text form or PostgreSQL's ISO form.
fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_timestamp_forms_parse() {
        let sqlite = parse_timestamp("2026-11-23 00:19:54.554635");
        assert!(sqlite.is_some());
        assert_eq!(parse_timestamp("2026-11-23T00:19:54.554635"), sqlite);
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn the_statement_is_prepared_once_per_backend() {
        let candidates = [&[1u8; 32], &[2u8; 32]];
        let query = |postgres| SnapshotQuery {
            postgres,
            digests: &candidates,
        };
        let sqlite = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query(false)).to_string();
        let pg = diesel::debug_query::<diesel::pg::Pg, _>(&query(true)).to_string();
        assert!(
            sqlite.contains("IN (?, ?)") && sqlite.contains("json_group_array"),
            "{sqlite}"
        );
        assert!(
            pg.contains("IN ($1, $2)") && pg.contains("json_agg"),
            "{pg}"
        );
    }
}
