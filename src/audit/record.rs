//! Writing one audit event.

use diesel::prelude::*;

use super::context::RequestContext;
use crate::db::DbConnection;
use crate::db::schema::audit_events;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorType {
    /// A signed-in user (session).
    User,
    /// A service token.
    Service,
    /// tokend itself or an operator at the CLI.
    System,
}

impl ActorType {
    /// Stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::System => "system",
        }
    }
}

/// The actor of an event.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Kind of actor.
    pub kind: ActorType,
    /// User id, service token id, or a system name (`cli`).
    pub id: String,
}

impl Actor {
    /// An operator at the command line.
    #[must_use]
    pub fn cli() -> Self {
        Self {
            kind: ActorType::System,
            id: "cli".into(),
        }
    }

    /// A signed-in user.
    #[must_use]
    pub fn user(user_id: &str) -> Self {
        Self {
            kind: ActorType::User,
            id: user_id.to_owned(),
        }
    }

    /// The directory sync or tokend itself acting on a rule (cascades).
    #[must_use]
    pub fn system(name: &str) -> Self {
        Self {
            kind: ActorType::System,
            id: name.to_owned(),
        }
    }

    /// A service token.
    #[must_use]
    pub fn service(token_id: &str) -> Self {
        Self {
            kind: ActorType::Service,
            id: token_id.to_owned(),
        }
    }
}

/// One state change. Never holds a token value.
pub struct Event<'a> {
    /// `token.created`, `directory.organization_upserted`, …
    pub event_type: &'static str,
    /// Who.
    pub actor: &'a Actor,
    /// The token concerned.
    pub token_id: Option<&'a str>,
    /// The organization concerned.
    pub organization_id: Option<&'a str>,
    /// Extra facts (names, old and new values).
    pub detail: Option<serde_json::Value>,
}

/// Writes `event` (call inside the transaction of the change).
pub fn record(
    conn: &mut DbConnection,
    context: &RequestContext,
    event: &Event<'_>,
) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(uuid::Uuid::now_v7().to_string()),
            audit_events::event_type.eq(event.event_type),
            audit_events::actor_type.eq(event.actor.kind.as_str()),
            audit_events::actor_id.eq(&event.actor.id),
            audit_events::token_id.eq(event.token_id),
            audit_events::organization_id.eq(event.organization_id),
            audit_events::client_ip.eq(context.client_ip.as_deref()),
            audit_events::request_id.eq(&context.request_id),
            audit_events::detail.eq(event.detail.as_ref().map(ToString::to_string)),
            audit_events::created_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    Ok(())
}
