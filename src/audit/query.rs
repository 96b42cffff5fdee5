//! Reading audit events (`GET /v1/audit-events`): a user sees events about their own tokens
//! and their own actions (and, for org admins, the organization's); a service with `audit`
//! sees all.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::record::ActorType;
use crate::db::schema::{audit_events, tokens};
use crate::db::{DbBackend, DbConnection};
use crate::directory::repo as directory;
use crate::error::ApiError;
use crate::pagination::{self, Cursor, Direction, Keyset, Page, PageRequest};
use crate::tokens::kind::OwnerType;

/// Who made the change an audit event records.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"type": "user", "id": "u_123"}))]
pub struct EventActor {
    /// The kind of actor: `user` (a signed-in user), `service` (a service token) or `system`
    /// (an operator at the CLI, or a token acting on itself).
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub actor_type: String,
    /// The actor's id: the user id for `user`, the service token's id for `service`; for
    /// `system`, `cli` or `token:<id>` (an api token that revoked itself).
    #[schema(example = "u_123")]
    pub id: String,
}

/// One audit event. Never holds a token value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    /// The event's id (a UUID, version 7).
    #[schema(example = "01a27937-5a80-7f3e-b6d1-4c2a9e8f0d15")]
    pub id: String,
    /// The event's name, saying what changed: `token.created`, `token.revoked`,
    /// `directory.user_deleted`, …
    #[serde(rename = "type")]
    #[schema(example = "token.revoked")]
    pub event_type: String,
    /// Who made the change: a user, a service token, or the system.
    pub actor: EventActor,
    /// The id of the token (or service token) the change concerns; absent for changes that
    /// concern no token.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub token_id: Option<String>,
    /// The id of the organization the change is filed under; absent when it concerns none, or a
    /// token usable in several.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "acme")]
    pub organization_id: Option<String>,
    /// The IP address the request that made the change came from; absent for changes made at
    /// the command line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "203.0.113.7")]
    pub client_ip: Option<String>,
    /// The id of the request that made the change, as in its `x-request-id` response header and
    /// the logs (`cli-…` for the command line).
    #[schema(example = "5f0c6e2a-3b8d-4f1e-9a7c-2d4b6e8f0a13")]
    pub request_id: String,
    /// When the change was made, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-12-15T10:20:00.512339Z")]
    pub created_at: DateTime<Utc>,
    /// Facts of the change depending on `type` (such as the name, the changed fields or the
    /// reason); never a token value.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        value_type = Option<std::collections::HashMap<String, serde_json::Value>>,
        example = json!({"reason": "leaked in a CI log"})
    )]
    pub detail: Option<serde_json::Value>,
}

/// An `audit_events` row.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct EventRow {
    id: String,
    event_type: String,
    actor_type: String,
    actor_id: String,
    token_id: Option<String>,
    organization_id: Option<String>,
    client_ip: Option<String>,
    request_id: String,
    detail: Option<String>,
    created_at: NaiveDateTime,
}

impl From<EventRow> for AuditEvent {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            event_type: row.event_type,
            actor: EventActor {
                actor_type: row.actor_type,
                id: row.actor_id,
            },
            token_id: row.token_id,
            organization_id: row.organization_id,
            client_ip: row.client_ip,
            request_id: row.request_id,
            created_at: row.created_at.and_utc(),
            detail: row.detail.and_then(|d| serde_json::from_str(&d).ok()),
        }
    }
}

/// Filters and page of `GET /v1/audit-events`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events about this token.
    pub token_id: Option<String>,
    /// Events in this organization.
    pub organization_id: Option<String>,
    /// Events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Events at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, example = 20)]
    pub limit: Option<i64>,
    /// Items after (older than) this cursor.
    pub after: Option<String>,
    /// Items before (newer than) this cursor.
    pub before: Option<String>,
}

/// Who is reading.
#[derive(Debug, Clone)]
pub enum Reader {
    /// A service with `audit`: everything.
    Service,
    /// A signed-in user (by id): their own tokens' events, their own actions, and their admin
    /// organizations' events.
    User(String),
}

/// What a reader may see, resolved against the directory.
enum Visible {
    All,
    User {
        user_id: String,
        admin_of: Vec<String>,
    },
}

type Boxed<'a> = audit_events::BoxedQuery<'a, DbBackend>;

struct Filtered<'a> {
    visible: &'a Visible,
    query: &'a AuditQuery,
}

impl<'a> Filtered<'a> {
    fn base(&self) -> Boxed<'a> {
        let mut q = audit_events::table.into_boxed();
        if let Visible::User { user_id, admin_of } = self.visible {
            q = q.filter(
                audit_events::actor_type
                    .eq(ActorType::User.as_str())
                    .and(audit_events::actor_id.eq(user_id))
                    .or(audit_events::token_id.eq_any(
                        tokens::table
                            .filter(tokens::owner_type.eq(OwnerType::User.as_str()))
                            .filter(tokens::owner_id.eq(user_id))
                            .select(tokens::id.nullable()),
                    ))
                    .or(audit_events::organization_id.eq_any(admin_of)),
            );
        }
        if let Some(token) = &self.query.token_id {
            q = q.filter(audit_events::token_id.eq(token));
        }
        if let Some(org) = &self.query.organization_id {
            q = q.filter(audit_events::organization_id.eq(org));
        }
        if let Some(event_type) = &self.query.event_type {
            q = q.filter(audit_events::event_type.eq(event_type));
        }
        if let Some(since) = self.query.since {
            q = q.filter(audit_events::created_at.ge(crate::time::stored(since)));
        }
        q
    }

    fn beyond(&self, direction: &Direction) -> Boxed<'a> {
        pagination::beyond!(
            self.base(),
            direction,
            audit_events::created_at,
            audit_events::id
        )
    }
}

struct EventList<'a> {
    conn: &'a mut DbConnection,
    filtered: Filtered<'a>,
}

impl Keyset for EventList<'_> {
    type Item = AuditEvent;

    fn key(item: &AuditEvent) -> Cursor {
        Cursor::at(item.created_at.naive_utc(), &item.id)
    }

    fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<AuditEvent>, ApiError> {
        let query = self
            .filtered
            .beyond(direction)
            .limit(n)
            .select(EventRow::as_select());
        let rows: Vec<EventRow> = pagination::load_newest_first!(
            query,
            direction,
            audit_events::created_at,
            audit_events::id,
            self.conn
        )?;
        Ok(rows.into_iter().map(AuditEvent::from).collect())
    }

    fn exists(&mut self, direction: &Direction) -> Result<bool, ApiError> {
        let found: Vec<String> = self
            .filtered
            .beyond(direction)
            .select(audit_events::id)
            .limit(1)
            .load(self.conn)?;
        Ok(!found.is_empty())
    }

    fn count(&mut self) -> Result<i64, ApiError> {
        Ok(pagination::capped_count!(self.filtered.base(), self.conn))
    }
}

/// A page of the events `reader` may see, filtered by `query`, newest first. A user's
/// organizations are read here: they see every event of those they administer.
pub fn page(
    conn: &mut DbConnection,
    reader: Reader,
    query: &AuditQuery,
    request: &PageRequest,
) -> Result<Page<AuditEvent>, ApiError> {
    let visible = match reader {
        Reader::User(user_id) => Visible::User {
            admin_of: directory::admin_of(conn, &user_id)?,
            user_id,
        },
        Reader::Service => Visible::All,
    };
    pagination::read(
        &mut EventList {
            conn,
            filtered: Filtered {
                visible: &visible,
                query,
            },
        },
        request,
    )
}
