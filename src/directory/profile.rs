//! The signed-in user's profile (`GET /v1/session`): who they are and, for each organization
//! they belong to, their role and the organization's token policy. A console offers from it
//! only what the user may create: the organizations, the kinds, the expiry presets.

use diesel::QueryResult;
use serde::Serialize;
use utoipa::ToSchema;

use super::model::User;
use super::repo;
use super::role::Role;
use crate::db::DbConnection;

/// The signed-in user and their organizations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    /// The user's id on the platform.
    #[schema(example = "u-42")]
    pub id: String,
    /// The user's email address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Whether the email address is verified (by the session or the directory); creating
    /// tokens needs it.
    #[schema(example = true)]
    pub email_verified: bool,
    /// Every organization the user belongs to, by id.
    #[schema(example = json!([{"id": "acme", "name": "Acme Inc.", "role": "member",
        "api_tokens_enabled": true, "require_expiry": false, "max_token_lifetime_days": null,
        "sso_enforced": false}]))]
    pub organizations: Vec<OrganizationAccess>,
}

/// One organization of the user: their role, and the policy tokens in it follow.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationAccess {
    /// The organization's id on the platform.
    #[schema(example = "acme")]
    pub id: String,
    /// Its display name.
    #[schema(example = "Acme Inc.")]
    pub name: String,
    /// The user's role in it (scopes above the role's reach are refused).
    pub role: Role,
    /// Whether the organization may create `api` tokens.
    #[schema(example = true)]
    pub api_tokens_enabled: bool,
    /// Whether tokens usable in it must expire.
    #[schema(example = false)]
    pub require_expiry: bool,
    /// The longest lifetime, in days, of tokens usable in it; `null` when unlimited.
    #[schema(example = 90)]
    pub max_token_lifetime_days: Option<i64>,
    /// Whether tokens work in it only once authorized for SSO.
    #[schema(example = false)]
    pub sso_enforced: bool,
}

/// The profile of `user` (whose email is verified when `email_verified`).
pub fn of(conn: &mut DbConnection, user: User, email_verified: bool) -> QueryResult<Profile> {
    let roles = repo::roles_of(conn, &user.id)?;
    let ids: Vec<String> = roles.keys().cloned().collect();
    let mut organizations = repo::organizations(conn, &ids)?
        .into_iter()
        .filter_map(|org| {
            let role = *roles.get(&org.id)?;
            Some(OrganizationAccess {
                id: org.id,
                name: org.name,
                role,
                api_tokens_enabled: org.api_tokens_enabled,
                require_expiry: org.require_expiry,
                max_token_lifetime_days: org.max_token_lifetime_days,
                sso_enforced: org.sso_enforced,
            })
        })
        .collect::<Vec<_>>();
    organizations.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Profile {
        id: user.id,
        email: user.email,
        email_verified,
        organizations,
    })
}
