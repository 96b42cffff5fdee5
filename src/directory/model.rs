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
    /// The organization's id in the platform (external), 1–64 characters of `A-Za-z0-9._:-`.
    #[schema(example = "acme")]
    pub id: String,
    /// The organization's display name.
    #[schema(example = "Acme Inc.")]
    pub name: String,
    /// Whether tokens work in this organization only after their owner authorized them for SSO
    /// with a session signed in through the organization's SSO.
    #[schema(example = false)]
    pub sso_enforced: bool,
    /// Whether the organization may create `api` tokens (false until, e.g., a payment method
    /// is on file).
    #[schema(example = true)]
    pub api_tokens_enabled: bool,
    /// Whether tokens usable in this organization must have an expiry (`expires_at` not
    /// `null`).
    #[schema(example = true)]
    pub require_expiry: bool,
    /// The longest lifetime, in days from creation, of tokens usable in this organization;
    /// `null` when there is no limit.
    #[schema(example = 90)]
    pub max_token_lifetime_days: Option<i64>,
    /// When tokend first stored the organization, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-10-02T12:00:03.210458Z")]
    pub created_at: NaiveDateTime,
    /// When a directory sync last changed the organization, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-11-18T15:04:27.731095Z")]
    pub updated_at: NaiveDateTime,
}

/// The grammar of ids the platform gives organizations, users and projects (checked by
/// `validate::id`); the document uses it for the path parameters that take one.
pub struct ExternalId;

impl utoipa::PartialSchema for ExternalId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(r"^[A-Za-z0-9._:-]{1,64}$"))
            .examples([serde_json::json!("acme")])
            .into()
    }
}

impl ToSchema for ExternalId {}

/// `PUT /v1/directory/organizations/{id}`: the full desired state (omitted flags are false).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationInput {
    /// Display name shown in the console and in token listings, 1–200 characters (required).
    #[schema(
        example = "Acme Inc.",
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    pub name: Option<String>,
    /// Whether tokens work in the organization only after their owner authorized them for SSO
    /// (omitted: false).
    #[serde(default)]
    #[schema(example = false)]
    pub sso_enforced: bool,
    /// Whether the organization may create `api` tokens, e.g. once a payment method is on file
    /// (omitted: false).
    #[serde(default)]
    #[schema(example = true)]
    pub api_tokens_enabled: bool,
    /// Whether tokens usable in the organization must have an expiry (omitted: false).
    #[serde(default)]
    #[schema(example = true)]
    pub require_expiry: bool,
    /// Longest token lifetime in days (1–36500), or null for no limit.
    #[schema(example = 90, minimum = 1, maximum = 36500)]
    pub max_token_lifetime_days: Option<i64>,
}

/// A user of the platform, as tokend knows it from the directory sync or from the claims of
/// their first session.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct User {
    /// The user's id in the platform (external), 1–64 characters of `A-Za-z0-9._:-`.
    #[schema(example = "u_123")]
    pub id: String,
    /// The user's email address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Whether the email address is verified; users need a verified address to create tokens.
    #[schema(example = true)]
    pub email_verified: bool,
    /// Whether the user is disabled: a disabled user's tokens stop working at once.
    #[schema(example = false)]
    pub disabled: bool,
    /// When tokend first stored the user, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-10-02T12:00:03.210458Z")]
    pub created_at: NaiveDateTime,
    /// When the user was last changed, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-11-18T15:04:27.731095Z")]
    pub updated_at: NaiveDateTime,
}

/// The body of `PUT /v1/directory/users/{id}`: the user's full desired state (omitted flags
/// are false).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// The user's email address, at most 254 characters (required).
    #[schema(
        example = "ada@example.com",
        required = true,
        nullable = false,
        max_length = 254,
        pattern = r"^[^@\s]+@[^@\s]+$"
    )]
    pub email: Option<String>,
    /// Whether the email address is verified, which creating tokens requires (omitted: false).
    #[serde(default)]
    #[schema(example = true)]
    pub email_verified: bool,
    /// Whether the user is disabled, which stops all their tokens at once (omitted: false).
    #[serde(default)]
    #[schema(example = false)]
    pub disabled: bool,
}

/// A user's membership in an organization.
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = memberships, treat_none_as_null = true)]
pub struct Membership {
    /// The id of the organization the user is a member of.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// The id of the member user.
    #[schema(example = "u_123")]
    pub user_id: String,
    /// `owner`, `admin`, `member` or `viewer`.
    #[schema(example = "member")]
    pub role: String,
    /// When the membership was first synced, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-10-02T12:00:03.210458Z")]
    pub created_at: NaiveDateTime,
    /// When the membership (its role) last changed, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-11-18T15:04:27.731095Z")]
    pub updated_at: NaiveDateTime,
}

/// The body of `PUT /v1/directory/organizations/{id}/members/{user_id}`: the member's role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipInput {
    /// The user's role in the organization (required).
    #[schema(value_type = super::role::Role, example = "member", required = true)]
    pub role: Option<String>,
}

/// A project of an organization (tokens may be restricted to projects).
#[derive(
    Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize, ToSchema,
)]
#[diesel(table_name = projects, treat_none_as_null = true)]
pub struct Project {
    /// The id of the organization the project belongs to.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// External id, unique in the organization.
    #[schema(example = "billing")]
    pub id: String,
    /// The project's display name.
    #[schema(example = "Billing")]
    pub name: String,
    /// When the project was first synced, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-10-02T12:00:03.210458Z")]
    pub created_at: NaiveDateTime,
    /// When the project was last changed, as an RFC 3339 UTC timestamp.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(example = "2026-11-18T15:04:27.731095Z")]
    pub updated_at: NaiveDateTime,
}

/// The body of `PUT /v1/directory/organizations/{id}/projects/{project_id}`: the project's
/// name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// Display name shown in the console, 1–200 characters (required).
    #[schema(
        example = "Billing",
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    pub name: Option<String>,
}
