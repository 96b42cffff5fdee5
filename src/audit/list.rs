//! `GET /v1/audit-events`: a session sees events about its own tokens (and, for org admins,
//! the organization's); a service with `audit` sees all.

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, get, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Permission;
use crate::auth::lookup::{self, Presented};
use crate::auth::session_caller::signed_in_user;
use crate::db::schema::{audit_events, tokens};
use crate::db::{self, DbBackend, DbConnection};
use crate::directory::Role;
use crate::error::{ApiError, Problem};
use crate::pagination::{self, Cursor, Direction, Keyset, Page, PageQuery, PageRequest};
use crate::tokens::handlers::roles_of;
use crate::tokens::kind::TokenKind;

/// Who did it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `service` or `system`.
    #[serde(rename = "type")]
    pub actor_type: String,
    /// User id, service token id, or a system name.
    pub id: String,
}

/// One audit event. Never holds a token value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    /// Event id.
    pub id: String,
    /// `token.created`, `token.revoked`, `directory.user_deleted`, …
    #[serde(rename = "type")]
    #[schema(example = "token.revoked")]
    pub event_type: String,
    /// Who did it.
    pub actor: EventActor,
    /// The token concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The organization concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The request that made the change (also in the logs).
    pub request_id: String,
    /// When.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub created_at: NaiveDateTime,
    /// Facts of the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

type EventRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    NaiveDateTime,
);

fn event(row: EventRow) -> AuditEvent {
    let (
        id,
        event_type,
        actor_type,
        actor_id,
        token_id,
        organization_id,
        client_ip,
        request_id,
        detail,
        created_at,
    ) = row;
    AuditEvent {
        id,
        event_type,
        actor: EventActor {
            actor_type,
            id: actor_id,
        },
        token_id,
        organization_id,
        client_ip,
        request_id,
        created_at,
        detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
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
    pub limit: Option<i64>,
    /// Items after (older than) this cursor.
    pub after: Option<String>,
    /// Items before (newer than) this cursor.
    pub before: Option<String>,
}

/// Who may read which events.
#[derive(Debug, Clone)]
pub enum Reader {
    /// A service with `audit`: everything.
    Service,
    /// A user: their own tokens' events, their own actions, and their admin orgs' events.
    User {
        /// The user.
        user_id: String,
        /// Organizations they administer (filled in from the directory).
        admin_of: Vec<String>,
    },
}

impl FromRequest for Reader {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let presented = lookup::presented(req);
        Box::pin(async move {
            let (state, presented) = presented?;
            match presented {
                Presented::Session(claims) => Ok(Self::User {
                    user_id: signed_in_user(&state, &claims).await?.id,
                    admin_of: Vec::new(),
                }),
                Presented::Token { kind, candidates } => {
                    let snapshot =
                        lookup::live_token(&state, candidates, crate::time::now()).await?;
                    if kind == TokenKind::Service
                        && snapshot
                            .scopes
                            .iter()
                            .any(|p| p == Permission::Audit.as_str())
                    {
                        Ok(Self::Service)
                    } else {
                        Err(ApiError::Forbidden(
                            "audit events need a signed-in session or a service token with `audit`"
                                .into(),
                        ))
                    }
                }
            }
        })
    }
}

type Boxed<'a> = audit_events::BoxedQuery<'a, DbBackend>;

struct Filtered<'a> {
    reader: &'a Reader,
    query: &'a AuditQuery,
}

impl<'a> Filtered<'a> {
    fn base(&self) -> Boxed<'a> {
        let mut q = audit_events::table.into_boxed();
        if let Reader::User { user_id, admin_of } = self.reader {
            q = q.filter(
                audit_events::actor_type
                    .eq("user")
                    .and(audit_events::actor_id.eq(user_id))
                    .or(audit_events::token_id.eq_any(
                        tokens::table
                            .filter(tokens::owner_type.eq("user"))
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
            q = q.filter(audit_events::created_at.ge(since.naive_utc()));
        }
        q
    }

    fn beyond(&self, direction: &Direction) -> Boxed<'a> {
        let q = self.base();
        match direction {
            Direction::First => q,
            Direction::After(c) => q.filter(
                audit_events::created_at
                    .lt(c.created_at)
                    .or(audit_events::created_at
                        .eq(c.created_at)
                        .and(audit_events::id.lt(c.id.clone()))),
            ),
            Direction::Before(c) => q.filter(
                audit_events::created_at
                    .gt(c.created_at)
                    .or(audit_events::created_at
                        .eq(c.created_at)
                        .and(audit_events::id.gt(c.id.clone()))),
            ),
        }
    }
}

struct EventList<'a> {
    conn: &'a mut DbConnection,
    filtered: Filtered<'a>,
}

const COLUMNS: (
    audit_events::id,
    audit_events::event_type,
    audit_events::actor_type,
    audit_events::actor_id,
    audit_events::token_id,
    audit_events::organization_id,
    audit_events::client_ip,
    audit_events::request_id,
    audit_events::detail,
    audit_events::created_at,
) = (
    audit_events::id,
    audit_events::event_type,
    audit_events::actor_type,
    audit_events::actor_id,
    audit_events::token_id,
    audit_events::organization_id,
    audit_events::client_ip,
    audit_events::request_id,
    audit_events::detail,
    audit_events::created_at,
);

impl Keyset for EventList<'_> {
    type Item = AuditEvent;
    type Error = ApiError;

    fn key(item: &AuditEvent) -> Cursor {
        Cursor {
            created_at: item.created_at,
            id: item.id.clone(),
        }
    }

    fn fetch(&mut self, direction: &Direction, n: i64) -> Result<Vec<AuditEvent>, ApiError> {
        let query = self.filtered.beyond(direction).limit(n).select(COLUMNS);
        let mut rows: Vec<EventRow> = if matches!(direction, Direction::Before(_)) {
            query
                .order((audit_events::created_at.asc(), audit_events::id.asc()))
                .load(self.conn)?
        } else {
            query
                .order((audit_events::created_at.desc(), audit_events::id.desc()))
                .load(self.conn)?
        };
        if matches!(direction, Direction::Before(_)) {
            rows.reverse();
        }
        Ok(rows.into_iter().map(event).collect())
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
        Ok(self.filtered.base().count().get_result(self.conn)?)
    }
}

/// List audit events, newest first.
///
/// A session sees the events about its own tokens and its own actions, plus all events of the
/// organizations it administers; a service token with `audit` sees every event.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<AuditEvent>),
        (status = 400, description = "Bad cursor or `since`", body = Problem),
        (status = 401, description = "No valid credential", body = Problem),
        (status = 403, description = "A token, or a service token without `audit`", body = Problem),
        (status = 422, description = "Bad `limit`", body = Problem),
    ),
    security(("session" = []), ("service" = []))
)]
#[get("/audit-events")]
pub async fn list_audit_events(
    state: web::Data<AppState>,
    reader: Reader,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let request: PageRequest = PageQuery {
        limit: query.limit,
        after: query.after.clone(),
        before: query.before.clone(),
    }
    .validate()?;
    let query = query.into_inner();
    let page = db::run(&state.db, move |conn| {
        let reader = match reader {
            Reader::User { user_id, .. } => {
                let admin_of = roles_of(conn, &user_id)?
                    .into_iter()
                    .filter(|(_, role)| *role >= Role::Admin)
                    .map(|(org, _)| org)
                    .collect();
                Reader::User { user_id, admin_of }
            }
            Reader::Service => Reader::Service,
        };
        pagination::read(
            &mut EventList {
                conn,
                filtered: Filtered {
                    reader: &reader,
                    query: &query,
                },
            },
            &request,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}
