//! Directory resources: the stored rows (also the response bodies) and the `PUT` bodies.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{memberships, organizations, projects, users};

/// An organization (tenant).
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = organizations, treat_none_as_null = true)]
pub struct Organization {
    /// External id.
    #[schema(example = "acme")]
    pub id: String,
    /// Display name.
    #[schema(example = "Acme Inc.")]
    pub name: String,
    /// Tokens need an SSO authorization before they work here.
    pub sso_enforced: bool,
    /// The organization may mint API tokens.
    pub api_tokens_enabled: bool,
    /// Tokens usable here must expire.
    pub require_expiry: bool,
    /// Longest lifetime of tokens usable here, in days.
    #[schema(example = 90)]
    pub max_token_lifetime_days: Option<i64>,
    /// When it was first synced.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: NaiveDateTime,
    /// When it last changed.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub updated_at: NaiveDateTime,
}

/// `PUT /v1/directory/organizations/{id}`: the full desired state (omitted flags are false).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    /// Display name, 1–200 characters.
    #[schema(example = "Acme Inc.")]
    pub name: Option<String>,
    /// Require SSO authorization of tokens.
    #[serde(default)]
    pub sso_enforced: bool,
    /// Allow API tokens (e.g. once a payment method is on file).
    #[serde(default)]
    pub api_tokens_enabled: bool,
    /// Tokens usable here must have an expiry.
    #[serde(default)]
    pub require_expiry: bool,
    /// Longest token lifetime in days (1–36500), or null for no limit.
    #[schema(example = 90)]
    pub max_token_lifetime_days: Option<i64>,
}

/// A user.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct User {
    /// External id.
    #[schema(example = "u_123")]
    pub id: String,
    /// Email address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Whether the address is verified (needed to create tokens).
    pub email_verified: bool,
    /// A disabled user's tokens stop working.
    pub disabled: bool,
    /// When it was first synced.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: NaiveDateTime,
    /// When it last changed.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub updated_at: NaiveDateTime,
}

/// `PUT /v1/directory/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Email address.
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// Whether the address is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Disable the user (their tokens stop working).
    #[serde(default)]
    pub disabled: bool,
}

/// A user's membership in an organization.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = memberships, treat_none_as_null = true)]
pub struct Membership {
    /// The organization.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// The user.
    #[schema(example = "u_123")]
    pub user_id: String,
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(example = "member")]
    pub role: String,
    /// When it was first synced.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: NaiveDateTime,
    /// When it last changed.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub updated_at: NaiveDateTime,
}

/// `PUT /v1/directory/organizations/{id}/members/{user_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(example = "member")]
    pub role: Option<String>,
}

/// A project of an organization (tokens may be restricted to projects).
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = projects, treat_none_as_null = true)]
pub struct Project {
    /// The organization.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// External id, unique in the organization.
    #[schema(example = "billing")]
    pub id: String,
    /// Display name.
    #[schema(example = "Billing")]
    pub name: String,
    /// When it was first synced.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: NaiveDateTime,
    /// When it last changed.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub updated_at: NaiveDateTime,
}

/// `PUT /v1/directory/organizations/{id}/projects/{project_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// Display name, 1–200 characters.
    #[schema(example = "Billing")]
    pub name: Option<String>,
}
