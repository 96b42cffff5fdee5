//! `GET /v1/me`: a token asking who it is and what it may do in each organization.

use chrono::NaiveDateTime;
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
pub struct TokenSummary {
    /// Token id.
    pub id: String,
    /// Kind.
    pub kind: TokenKind,
    /// Name.
    pub name: String,
    /// Prefix and first four characters.
    pub hint: String,
    /// Granted scopes (before role caps).
    pub scopes: Vec<String>,
    /// Authorized organizations.
    pub organization_ids: Vec<String>,
    /// Project restriction (empty = none).
    pub project_ids: Vec<String>,
    /// Expiry, or `null` = never.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub created_at: NaiveDateTime,
}

/// The user or organization the token acts for.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOwner {
    /// `user` or `organization`.
    #[serde(rename = "type")]
    pub owner_type: String,
    /// Its id.
    pub id: String,
    /// The user's email (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The organization's name (api tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What the token may do in one authorized organization, now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOrganization {
    /// The organization.
    pub organization_id: String,
    /// Whether the token works there now.
    pub active: bool,
    /// Why not, when inactive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The owner's role there (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Effective scopes there (empty when inactive).
    pub scopes: Vec<String>,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The token.
    pub token: TokenSummary,
    /// Who it acts for.
    pub owner: MeOwner,
    /// Per authorized organization.
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
            expires_at: token.expires_at,
            created_at: token.created_at,
        },
        owner,
        organizations,
    })
}
