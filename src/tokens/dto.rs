//! Request and response bodies of token management.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kind::{OwnerType, TokenKind};
use super::secret::TokenValue;

/// The body of `POST /v1/tokens`: the new token's kind, name, scopes, organizations, projects
/// and expiry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The kind of token to create: `personal`, `agent` or `api` (service tokens are created
    /// with `POST /v1/service-tokens`).
    pub kind: TokenKind,
    /// A name to tell the token apart: 1–100 characters, not blank, unique per owner among
    /// tokens that are not revoked (required).
    #[schema(
        example = "CI deploys",
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = r"\S"
    )]
    pub name: Option<String>,
    /// Free text saying what the token is for, up to 1000 characters.
    #[schema(example = "Used by the deploy pipeline", max_length = 1000)]
    pub description: Option<String>,
    /// Scopes (`read`, `write:projects`, …); give these or `preset`.
    #[schema(example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Option<Vec<String>>,
    /// A preset id from `GET /v1/scopes`; give this or `scopes`.
    #[schema(example = "read-only")]
    pub preset: Option<String>,
    /// When the token stops working, an RFC 3339 timestamp in the future; `null` means never
    /// (where the organizations' policies allow it). Omitted: never, except for agent tokens,
    /// which then expire after 90 days (or the organization's shorter maximum lifetime).
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(example = "2027-03-01T17:37:45Z")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// Personal tokens: the organizations it may be used in (at least one).
    #[schema(example = json!(["acme"]))]
    pub organization_ids: Option<Vec<String>>,
    /// Agent and api tokens: the one organization.
    #[schema(example = "acme")]
    pub organization_id: Option<String>,
    /// Restrict the token to these projects.
    #[schema(example = json!(["billing"]))]
    pub project_ids: Option<Vec<String>>,
}

/// `PATCH /v1/tokens/{id}`: only the fields present change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateToken {
    /// A new name: 1–100 characters, not blank, unique per owner among live tokens; absent or
    /// `null` leaves the name as it is.
    #[schema(
        example = "CI deploys (2027)",
        min_length = 1,
        max_length = 100,
        pattern = r"\S"
    )]
    pub name: Option<String>,
    /// A new description saying what the token is for, up to 1000 characters; `null` removes
    /// the description.
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(value_type = Option<String>, example = "Used by the deploy pipeline")]
    pub description: Option<Option<String>>,
    /// The scopes that replace the token's current ones (`read`, `write:projects`, …), each
    /// within the owner's role.
    #[schema(example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Option<Vec<String>>,
    /// A new expiry, an RFC 3339 timestamp in the future; `null` means the token never expires
    /// (where the organizations' policies allow it).
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(example = "2027-06-01T00:00:00Z")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// The projects the token is restricted to from now on, replacing the current list; `[]`
    /// lifts the restriction (every project).
    #[schema(example = json!(["billing"]))]
    pub project_ids: Option<Vec<String>>,
}

/// The body of `POST /v1/tokens/{id}/revoke`: why the token is revoked.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeToken {
    /// Why (kept with the token and in the audit log), up to 500 characters.
    #[schema(example = "leaked in a CI log", max_length = 500)]
    pub reason: Option<String>,
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"type": "user", "id": "u_123"}))]
pub struct Owner {
    /// The kind of owner: `user` (personal and agent tokens), `organization` (api tokens) or
    /// `service` (service tokens).
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "user")]
    pub owner_type: OwnerType,
    /// The owner's id: the user id for `user`, the organization id for `organization`, and
    /// the creator (`cli` or a service token id) for `service`.
    #[schema(example = "u_123")]
    pub id: String,
}

/// An organization the token was authorized for SSO in, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SsoAuthorization {
    /// The id of the organization (one that enforces SSO) the token was authorized for.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// When the owner authorized the token for SSO in that organization, as an RFC 3339 UTC
    /// timestamp.
    #[schema(example = "2026-12-01T17:41:02.118203Z")]
    pub authorized_at: DateTime<Utc>,
}

/// `active`, `expired` or `revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = TokenStatus)]
pub enum Status {
    /// Usable (subject to organization rules at use time).
    Active,
    /// Past `expires_at`.
    Expired,
    /// Revoked.
    Revoked,
}

impl Status {
    /// Every status, in documentation order.
    pub const ALL: [Status; 3] = [Self::Active, Self::Expired, Self::Revoked];

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

super::kind::named!(
    Status,
    super::kind::UnknownName("status: expected one of active, expired, revoked")
);

/// A token as its managers see it. Never holds the value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResource {
    /// The token's id (a UUID, version 7), used in the `/v1/tokens/{id}` paths.
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub id: String,
    /// The kind of token: `personal`, `agent` or `api`.
    pub kind: TokenKind,
    /// The name its owner gave it, unique among the owner's tokens that are not revoked.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// Free text saying what the token is for; `null` when it has none.
    #[schema(example = "Used by the deploy pipeline")]
    pub description: Option<String>,
    /// Prefix and first four characters, to recognise the value.
    #[schema(example = "tolp_Ab3x")]
    pub hint: String,
    /// The scopes granted to the token, before the owner's role caps them in each
    /// organization.
    #[schema(example = json!(["read:projects"]))]
    pub scopes: Vec<String>,
    /// Organizations it may be used in.
    #[schema(example = json!(["acme"]))]
    pub organization_ids: Vec<String>,
    /// The projects the token is restricted to; empty when it may be used for every project.
    #[schema(example = json!(["billing"]))]
    pub project_ids: Vec<String>,
    /// Who the token acts for: a user (personal and agent tokens) or an organization (api
    /// tokens).
    pub owner: Owner,
    /// The organizations enforcing SSO that the owner has authorized the token for, with the
    /// time of each authorization; a token works in such an organization only once listed here.
    #[schema(example = json!([{"organization_id": "acme", "authorized_at": "2026-12-01T17:41:02.118203Z"}]))]
    pub sso_authorizations: Vec<SsoAuthorization>,
    /// Whether `status` is `active`: neither revoked nor expired (each organization's rules
    /// still apply at use time).
    #[schema(example = true)]
    pub is_active: bool,
    /// The token's state: `active`, `expired` (past `expires_at`) or `revoked`.
    pub status: Status,
    /// When the token stops working, as an RFC 3339 UTC timestamp; `null` when it never
    /// expires.
    #[schema(example = "2027-03-01T17:37:45.364944Z")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the token was created, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-12-01T17:37:45.364944Z")]
    pub created_at: DateTime<Utc>,
    /// When the token's settings, value or state last changed, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-12-03T09:12:05.118203Z")]
    pub updated_at: DateTime<Utc>,
    /// When the token was revoked, as an RFC 3339 UTC timestamp; `null` while it is not
    /// revoked.
    #[schema(example = "2026-12-15T10:20:00.512339Z")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked the token: a user id, a service token id, `directory` (its user or
    /// organization was deleted) or `token:<id>` (an api token revoking itself); `null` while
    /// it is not revoked.
    #[schema(example = "u_123")]
    pub revoked_by: Option<String>,
    /// The reason given when the token was revoked; `null` when none was given or it is not
    /// revoked.
    #[schema(example = "leaked in a CI log")]
    pub revoked_reason: Option<String>,
    /// When the token was last used (an active introspection or forward-auth answer, or a call
    /// it authenticated), as an RFC 3339 UTC timestamp; `null` if it was never used. Written in
    /// batches, so up to one flush interval behind (up to 30 s when 1,000 tokens or more are
    /// used in one interval).
    #[schema(example = "2026-12-14T08:02:31.907112Z")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of that last use (the forwarded client behind trusted proxies);
    /// `null` if never used or unknown.
    #[schema(example = "203.0.113.9")]
    pub last_used_ip: Option<String>,
    /// How many times the token has been used in all (counted like `last_used_at`).
    #[schema(example = 1284)]
    pub usage_count: i64,
}

/// The response that creates a token: the resource plus its value, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub resource: TokenResource,
    /// The value. Store it now: it is never shown again.
    #[serde(serialize_with = "super::secret::serialize_exposed")]
    #[schema(value_type = String, example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X")]
    pub token: TokenValue,
}

/// The answer of `GET /v1/scopes`: the scopes this deployment accepts and its named presets,
/// for a token creation form.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeCatalogResponse {
    /// Every scope a token may be given, with what it allows.
    #[schema(example = json!([{"name": "read:projects", "description": "Read projects and their settings"}]))]
    pub scopes: Vec<super::scopes::ScopeEntry>,
    /// Named bundles of scopes, to give as `preset` in `POST /v1/tokens`.
    #[schema(example = json!([{"id": "read-only", "name": "Read-only", "scopes": ["read"]}]))]
    pub presets: Vec<super::scopes::Preset>,
}

impl ScopeCatalogResponse {
    /// The catalog's scopes and presets.
    #[must_use]
    pub fn of(catalog: &super::scopes::Catalog) -> Self {
        Self {
            scopes: catalog.entries(),
            presets: catalog.presets.clone(),
        }
    }
}

/// The body of `POST /v1/tokens/{id}/regenerate`: the expiry of the new value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateToken {
    /// The token's new expiry, an RFC 3339 timestamp in the future; `null` means never (where
    /// policy allows). Omitted: unchanged, or for an expired token its former lifetime from now.
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(example = "2027-03-01T17:37:45Z")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// The body of `POST /v1/tokens/{id}/duplicate`: the name of the new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateToken {
    /// The new token's name: 1–100 characters, not blank, unique per owner among live tokens
    /// (required).
    #[schema(
        example = "CI deploys (copy)",
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 100,
        pattern = r"\S"
    )]
    pub name: Option<String>,
}

/// The body of `POST /v1/tokens/bulk-revoke`: the tokens to revoke and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRevoke {
    /// The ids of the tokens to revoke, 1–100 of them.
    #[schema(example = json!(["01a232af-10f1-7487-94da-bb310d64cc80"]), min_items = 1, max_items = 100)]
    pub ids: Vec<String>,
    /// Why (kept with each token and in the audit log), up to 500 characters.
    #[schema(example = "offboarding", max_length = 500)]
    pub reason: Option<String>,
}

/// The body of `POST /v1/tokens/bulk-delete`: the tokens to delete.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDelete {
    /// The ids of the tokens to delete, 1–100 of them.
    #[schema(example = json!(["01a232af-10f1-7487-94da-bb310d64cc80"]), min_items = 1, max_items = 100)]
    pub ids: Vec<String>,
}

/// What a bulk operation did to one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkOutcome {
    /// Revoked now.
    Revoked,
    /// Was revoked already.
    AlreadyRevoked,
    /// Deleted.
    Deleted,
    /// No such token, or not the caller's.
    NotFound,
}

/// One id's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResult {
    /// The token id exactly as the request sent it.
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub id: String,
    /// What the operation did to that token: `revoked`, `already_revoked`, `deleted` or
    /// `not_found` (no such token, or not one the caller manages).
    pub result: BulkOutcome,
}

/// The per-id results, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResults {
    /// One result per id of the request, in the same order.
    #[schema(example = json!([{"id": "01a232af-10f1-7487-94da-bb310d64cc80", "result": "revoked"}]))]
    pub results: Vec<BulkResult>,
}

/// A service token as its managers see it. Never holds the value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceTokenResource {
    /// The service token's id (a UUID, version 7), used in the `/v1/service-tokens/{id}` paths.
    #[schema(example = "01a1f83c-e1f0-7b2d-9c4e-5a8f3d6b1e72")]
    pub id: String,
    /// Name, unique among the service tokens of the same creator.
    #[schema(example = "gateway")]
    pub name: String,
    /// Free text saying what the service token is for; `null` when it has none.
    #[schema(example = "The API gateway's introspection credential")]
    pub description: Option<String>,
    /// Prefix and first four characters, to recognise the value.
    #[schema(example = "tols_Ab3x")]
    pub hint: String,
    /// The permissions the service token carries, which decide the calls it may make.
    #[schema(example = json!(["introspect"]))]
    pub permissions: Vec<crate::auth::Permission>,
    /// The token's state: `active`, `expired` (past `expires_at`) or `revoked`.
    pub status: Status,
    /// Whether `status` is `active`: the service token is neither revoked nor expired.
    #[schema(example = true)]
    pub is_active: bool,
    /// When the service token stops working, as an RFC 3339 UTC timestamp; `null` when it
    /// never expires.
    #[schema(example = "2027-11-20T09:15:02.481337Z")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the service token was created, as an RFC 3339 UTC timestamp.
    #[schema(example = "2026-11-20T09:15:02.481337Z")]
    pub created_at: DateTime<Utc>,
    /// Who created it: `cli` (an operator) or the id of the service token that did.
    #[schema(example = "cli")]
    pub created_by: Option<String>,
    /// When the service token was revoked, as an RFC 3339 UTC timestamp; `null` while it is
    /// not revoked.
    #[schema(example = "2026-12-15T10:20:00.512339Z")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who revoked the service token: `cli` (an operator) or the id of the service token that
    /// did; `null` while it is not revoked.
    #[schema(example = "cli")]
    pub revoked_by: Option<String>,
    /// The reason given when the service token was revoked; `null` when none was given or it
    /// is not revoked.
    #[schema(example = "replaced by a new gateway credential")]
    pub revoked_reason: Option<String>,
    /// When the service token last authenticated a call, as an RFC 3339 UTC timestamp; `null`
    /// if it was never used. Written in batches, so up to one flush interval behind (up to 30 s
    /// when 1,000 tokens or more are used in one interval).
    #[schema(example = "2026-12-14T08:02:31.907112Z")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// How many calls the service token has authenticated in all.
    #[schema(example = 52310)]
    pub usage_count: i64,
}

/// The response that creates or regenerates a service token: the resource plus its value,
/// shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceToken {
    /// The token.
    #[serde(flatten)]
    pub resource: ServiceTokenResource,
    /// The value. Store it now: it is never shown again.
    #[serde(serialize_with = "super::secret::serialize_exposed")]
    #[schema(value_type = String, example = "tols_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X")]
    pub token: TokenValue,
}

/// The body of `POST /v1/service-tokens`: the new service token's name, permissions,
/// description and expiry.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceToken {
    /// A name to tell it apart: 1–100 characters, not blank, unique among live service tokens.
    #[schema(example = "gateway", min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    /// What it may do: at least one permission, each one the caller holds itself.
    #[schema(example = json!(["introspect"]), min_items = 1)]
    pub permissions: Vec<crate::auth::Permission>,
    /// What it is for, up to 1000 characters.
    #[schema(
        example = "The API gateway's introspection credential",
        max_length = 1000
    )]
    pub description: Option<String>,
    /// When the service token stops working, an RFC 3339 timestamp in the future; absent or
    /// `null` means never.
    #[schema(example = "2027-11-20T00:00:00Z")]
    pub expires_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_their_wire_names() {
        super::super::kind::assert_named(Status::ALL, Status::as_str, "deleted");
    }
}
