//! `GET /v1/me`: a token asking who it is and what it may do in each organization.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::evaluate::{self, Question, Reason};
use super::snapshot::Snapshot;
use crate::db::DbConnection;
use crate::directory::{Role, repo as directory};
use crate::error::ApiError;
use crate::tokens::kind::{OwnerType, TokenKind};
use crate::tokens::repo as token_repo;

/// The calling token, without its value.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01a232af-10f1-7487-94da-bb310d64cc80",
    "kind": "personal",
    "name": "CI deploys",
    "hint": "tolp_Ab3x",
    "scopes": ["read:projects", "write:deployments"],
    "organization_ids": ["acme"],
    "project_ids": [],
    "expires_at": "2027-03-01T17:37:45.364944Z",
    "created_at": "2026-12-01T17:37:45.364944Z"
}))]
pub struct TokenSummary {
    /// The token's id (a UUID, version 7).
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub id: String,
    /// The kind of token: `personal`, `agent` or `api`.
    pub kind: TokenKind,
    /// The name its owner gave the token.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// The token's prefix and the first four characters after it, to recognise the value.
    #[schema(example = "tolp_Ab3x")]
    pub hint: String,
    /// The scopes granted to the token, before the owner's role caps them in each
    /// organization.
    #[schema(example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Vec<String>,
    /// The organizations the token is authorized to be used in.
    #[schema(example = json!(["acme"]))]
    pub organization_ids: Vec<String>,
    /// The projects the token is restricted to; empty when it may be used for every project.
    #[schema(example = json!([]))]
    pub project_ids: Vec<String>,
    /// When the token stops working, as an RFC 3339 UTC timestamp; `null` when it never
    /// expires.
    #[schema(example = "2027-03-01T17:37:45.364944Z")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the token was created, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-12-01T17:37:45.364944Z")]
    pub created_at: DateTime<Utc>,
}

/// The user or organization the token acts for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"type": "user", "id": "u_123", "email": "ada@example.com"}))]
pub struct MeOwner {
    /// `user` (personal and agent tokens) or `organization` (api tokens).
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub owner_type: String,
    /// The id of the user or the organization.
    #[schema(example = "u_123")]
    pub id: String,
    /// The user's email address; present only for personal and agent tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// The organization's display name; present only for api tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Acme Inc.")]
    pub name: Option<String>,
}

/// What the token may do in one authorized organization, now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOrganization {
    /// The id of an organization the token is authorized for.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// Whether the token works in that organization now.
    #[schema(example = true)]
    pub active: bool,
    /// Why the token does not work in that organization; present only when `active` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<Reason>,
    /// The owner's current role in that organization; present only for personal and agent
    /// tokens whose owner is a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role: Option<Role>,
    /// The token's effective scopes there, capped by the owner's role; empty when inactive.
    #[schema(example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Vec<String>,
}

/// The answer of `GET /v1/me`: the calling token, who it acts for, and what it may do in each
/// organization it is authorized for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The calling token's settings, without its value.
    pub token: TokenSummary,
    /// The user or organization the token acts for.
    pub owner: MeOwner,
    /// What the token may do now in each organization it is authorized for.
    #[schema(example = json!([{"organization_id": "acme", "active": true, "role": "member", "scopes": ["read:projects", "write:deployments"]}]))]
    pub organizations: Vec<MeOrganization>,
}

/// Who the token of `snapshot` is: its summary, its owner and its effective scopes per
/// organization now.
pub fn describe(conn: &mut DbConnection, snapshot: &Snapshot) -> Result<Me, ApiError> {
    let token = &snapshot.token;
    let owner = match token.owner_type {
        OwnerType::User => MeOwner {
            owner_type: OwnerType::User.as_str().into(),
            id: token.owner_id.to_string(),
            email: directory::user(conn, &token.owner_id)?.map(|u| u.email),
            name: None,
        },
        other => MeOwner {
            owner_type: other.as_str().into(),
            id: token.owner_id.to_string(),
            email: None,
            name: directory::organization(conn, &token.owner_id)?.map(|o| o.name),
        },
    };
    // The hint is not cached (only this route shows it).
    let hint = token_repo::find(conn, &token.id)?
        .map(|row| row.hint)
        .unwrap_or_default();
    let now = crate::time::now();
    let organizations = snapshot
        .grants
        .iter()
        .map(|grant| {
            let question = Question {
                organization_id: Some(&grant.organization_id),
                ..Question::default()
            };
            match evaluate::evaluate(snapshot, &question, now) {
                Ok(active) => MeOrganization {
                    organization_id: grant.organization_id.to_string(),
                    active: true,
                    reason: None,
                    role: active.role,
                    scopes: active.scopes().to_vec(),
                },
                Err(reason) => MeOrganization {
                    organization_id: grant.organization_id.to_string(),
                    active: false,
                    reason: Some(reason),
                    role: grant.role,
                    scopes: Vec::new(),
                },
            }
        })
        .collect();
    Ok(Me {
        token: TokenSummary {
            id: token.id.to_string(),
            kind: token.kind,
            name: token.name.to_string(),
            hint,
            scopes: snapshot.scopes.to_vec(),
            organization_ids: snapshot
                .grants
                .iter()
                .map(|g| g.organization_id.to_string())
                .collect(),
            project_ids: snapshot.project_ids.to_vec(),
            expires_at: token.expires_at.map(|at| at.and_utc()),
            created_at: token.created_at.and_utc(),
        },
        owner,
        organizations,
    })
}
