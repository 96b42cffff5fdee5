//! Request and response bodies of token management.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::kind::{OwnerType, TokenKind};

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// `personal`, `agent` or `api`.
    pub kind: TokenKind,
    /// 1–100 characters, unique per owner among tokens that are not revoked.
    #[schema(example = "CI deploys")]
    pub name: Option<String>,
    /// Free text, up to 1000 characters.
    #[schema(example = "Used by the deploy pipeline")]
    pub description: Option<String>,
    /// Scopes (`read`, `write:projects`, …); give these or `preset`.
    #[schema(example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Option<Vec<String>>,
    /// A preset id from `GET /v1/scopes`; give this or `scopes`.
    #[schema(example = "read-only")]
    pub preset: Option<String>,
    /// RFC 3339, in the future; `null` = never. Agent tokens default to 90 days.
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
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
    /// New name.
    pub name: Option<String>,
    /// New description (`null` clears it).
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New expiry (`null` = never, where policy allows).
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New project restriction (`[]` removes it).
    pub project_ids: Option<Vec<String>>,
}

/// `POST /v1/tokens/{id}/revoke`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeToken {
    /// Why (kept with the token and in the audit log), up to 500 characters.
    #[schema(example = "leaked in a CI log")]
    pub reason: Option<String>,
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Owner {
    /// `user`, `organization` or `service`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "user")]
    pub owner_type: OwnerType,
    /// The owner's id.
    #[schema(example = "u_123")]
    pub id: String,
}

/// An organization the token was authorized for SSO in, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SsoAuthorization {
    /// The organization.
    #[schema(example = "acme")]
    pub organization_id: String,
    /// When.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub authorized_at: NaiveDateTime,
}

/// `active`, `expired` or `revoked`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Usable (subject to organization rules at use time).
    Active,
    /// Past `expires_at`.
    Expired,
    /// Revoked.
    Revoked,
}

/// A token as its managers see it. Never holds the value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenResource {
    /// Opaque id.
    #[schema(example = "01932b6e-7d1c-7a4e-9f3b-2f1d5c8e9a10")]
    pub id: String,
    /// Kind.
    pub kind: TokenKind,
    /// Name.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Prefix and first four characters, to recognise the value.
    #[schema(example = "tolp_Ab3x")]
    pub hint: String,
    /// Granted scopes (before role caps).
    #[schema(example = json!(["read:projects"]))]
    pub scopes: Vec<String>,
    /// Organizations it may be used in.
    #[schema(example = json!(["acme"]))]
    pub organization_ids: Vec<String>,
    /// Project restriction (empty = every project).
    pub project_ids: Vec<String>,
    /// Who it acts for.
    pub owner: Owner,
    /// SSO authorizations.
    pub sso_authorizations: Vec<SsoAuthorization>,
    /// `status == active`.
    pub is_active: bool,
    /// `active`, `expired` or `revoked`.
    pub status: Status,
    /// Expiry, or `null` = never.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub created_at: NaiveDateTime,
    /// Last change.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub updated_at: NaiveDateTime,
    /// When it was revoked.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub revoked_at: Option<NaiveDateTime>,
    /// Who revoked it (user id, service token id, or `directory`).
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
    /// Last successful use.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_used_at: Option<NaiveDateTime>,
    /// Successful uses.
    pub usage_count: i64,
}

/// The response that creates a token: the resource plus its value, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token.
    #[serde(flatten)]
    pub resource: TokenResource,
    /// The value. Store it now: it is never shown again.
    #[schema(example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X")]
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("resource", &self.resource)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `GET /v1/scopes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScopeCatalogResponse {
    /// Every accepted scope.
    pub scopes: Vec<super::scopes::ScopeEntry>,
    /// Named bundles.
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

/// `POST /v1/tokens/{id}/regenerate`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateToken {
    /// New expiry (`null` = never, where policy allows). Omitted: unchanged, or for an
    /// expired token its former lifetime from now.
    #[serde(default, deserialize_with = "crate::serde_ext::present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// `POST /v1/tokens/{id}/duplicate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateToken {
    /// The new token's name.
    #[schema(example = "CI deploys (copy)")]
    pub name: Option<String>,
}

/// `POST /v1/tokens/bulk-revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRevoke {
    /// 1–100 token ids.
    pub ids: Vec<String>,
    /// Why.
    pub reason: Option<String>,
}

/// `POST /v1/tokens/bulk-delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDelete {
    /// 1–100 token ids.
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
    /// The id as sent.
    pub id: String,
    /// What happened.
    pub result: BulkOutcome,
}

/// The per-id results, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResults {
    /// One per id.
    pub results: Vec<BulkResult>,
}

/// A service token as its managers see it. Never holds the value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceTokenResource {
    /// Opaque id.
    #[schema(example = "01932b6e-7d1c-7a4e-9f3b-2f1d5c8e9a10")]
    pub id: String,
    /// Name, unique among the service tokens of the same creator.
    #[schema(example = "gateway")]
    pub name: String,
    /// What it is for.
    #[schema(example = "The API gateway's introspection credential")]
    pub description: Option<String>,
    /// Prefix and first four characters, to recognise the value.
    #[schema(example = "tols_Ab3x")]
    pub hint: String,
    /// What it may do.
    #[schema(example = json!(["introspect"]))]
    pub permissions: Vec<crate::auth::Permission>,
    /// `active`, `expired` or `revoked`.
    pub status: Status,
    /// `status == active`.
    pub is_active: bool,
    /// Expiry, or `null` = never.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<NaiveDateTime>,
    /// Creation time.
    #[serde(serialize_with = "crate::time::rfc3339")]
    #[schema(value_type = DateTime<Utc>)]
    pub created_at: NaiveDateTime,
    /// Who created it: `cli` (an operator) or the id of the service token that did.
    #[schema(example = "cli")]
    pub created_by: Option<String>,
    /// When it was revoked.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub revoked_at: Option<NaiveDateTime>,
    /// Who revoked it (`cli` or a service token id).
    pub revoked_by: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
    /// Last successful use.
    #[serde(serialize_with = "crate::time::rfc3339_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub last_used_at: Option<NaiveDateTime>,
    /// Successful uses.
    pub usage_count: i64,
}

/// The response that creates or regenerates a service token: the resource plus its value,
/// shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedServiceToken {
    /// The token.
    #[serde(flatten)]
    pub resource: ServiceTokenResource,
    /// The value. Store it now: it is never shown again.
    #[schema(example = "tols_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X")]
    pub token: String,
}

impl std::fmt::Debug for CreatedServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedServiceToken")
            .field("resource", &self.resource)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `POST /v1/service-tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceToken {
    /// 1–100 characters, unique among the caller's live service tokens.
    #[schema(example = "gateway")]
    pub name: String,
    /// What it may do: only permissions the caller holds itself.
    #[schema(example = json!(["introspect"]))]
    pub permissions: Vec<crate::auth::Permission>,
    /// What it is for, up to 1000 characters.
    #[schema(example = "The API gateway's introspection credential")]
    pub description: Option<String>,
    /// RFC 3339, in the future; absent or `null` = never.
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<DateTime<Utc>>,
}
