//! The introspection answer (RFC 7662): active with what the token may do in the organization
//! asked about, or inactive (with the reason for callers allowed to know it).

use bytes::Bytes;
use serde::Serialize;
use utoipa::ToSchema;

use super::evaluate::{self, Reason};
use super::snapshot::Snapshot;
use crate::directory::Role;
use crate::tokens::kind::{OwnerType, TokenKind};

// An active answer borrows from the cached snapshot: building it allocates nothing.
/// The answer (RFC 7662). Inactive answers carry `active: false` only, plus `reason` for
/// callers with `introspect_reasons`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Introspection<'a> {
    /// Whether the token is valid and usable in the request's organization; when false, the
    /// answer has no other field (but `reason`, for callers with `introspect_reasons`).
    #[schema(example = true)]
    pub active: bool,
    /// Why the token is inactive; present only when `active` is false and the caller's service
    /// token has the `introspect_reasons` permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<Reason>,
    /// The token's id, as in the `/v1/tokens/{id}` paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "01a232af-10f1-7487-94da-bb310d64cc80")]
    pub token_id: Option<&'a str>,
    /// The token's kind: `personal`, `agent` or `api`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token_type: Option<TokenKind>,
    /// The name the token's owner gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "CI deploys")]
    pub name: Option<&'a str>,
    /// Who the token acts for: the user id, or the organization id for api tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "u_123")]
    pub sub: Option<&'a str>,
    /// The id of the user the token acts for; present only for personal and agent tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "u_123")]
    pub user_id: Option<&'a str>,
    /// The organization the answer holds for: the one the request named, or the token's only
    /// organization when it named none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "acme")]
    pub organization_id: Option<&'a str>,
    /// The user's current role in that organization, which caps the scopes; present only for
    /// personal and agent tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub role: Option<Role>,
    /// Effective scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "read:projects write:deployments")]
    pub scope: Option<SpaceSeparated<'a>>,
    /// The token's effective scopes in that organization: its scopes, each capped by the
    /// owner's current role.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["read:projects", "write:deployments"]))]
    pub scopes: Option<&'a [String]>,
    /// The projects the token is restricted to; absent when it may be used for every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, example = json!(["billing"]))]
    pub project_ids: Option<&'a [String]>,
    /// When the token expires, in Unix seconds; absent when it never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_803_922_665)]
    pub exp: Option<i64>,
    /// When the token was created, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = 1_796_146_665)]
    pub iat: Option<i64>,
    /// Whether the token holds every scope of `required_scopes` and may be used for
    /// `project_id`; present only when the request asked about either.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = true)]
    pub allowed: Option<bool>,
    /// The scopes of `required_scopes` the token lacks (empty when it holds them all); present
    /// only when the request sent `required_scopes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!([]))]
    pub missing_scopes: Option<Vec<String>>,
}

/// Words written as one space-separated string, without building it first.
#[derive(Debug, Clone, Copy)]
pub struct SpaceSeparated<'a>(pub &'a [String]);

impl Serialize for SpaceSeparated<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl std::fmt::Display for SpaceSeparated<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, word) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

impl<'a> Introspection<'a> {
    /// `{"active": false}`, with the reason only when the caller may know it.
    #[must_use]
    pub fn inactive(reason: Reason, tell: bool) -> Self {
        Self {
            reason: tell.then_some(reason),
            ..Self::default()
        }
    }

    /// The active answer for `snapshot` in `active`'s organization.
    #[must_use]
    pub fn active(snapshot: &'a Snapshot, active: evaluate::Active<'a>) -> Self {
        let token = &snapshot.token;
        let scopes = active.scopes();
        Self {
            active: true,
            reason: None,
            token_id: Some(&token.id),
            token_type: Some(token.kind),
            name: Some(&token.name),
            sub: Some(&token.owner_id),
            user_id: (token.owner_type == OwnerType::User).then_some(&*token.owner_id),
            organization_id: Some(&active.grant.organization_id),
            role: active.role,
            scope: Some(SpaceSeparated(scopes)),
            scopes: Some(scopes),
            project_ids: (!snapshot.project_ids.is_empty()).then_some(&*snapshot.project_ids),
            exp: token.expires_at.map(|at| at.and_utc().timestamp()),
            iat: Some(token.created_at.and_utc().timestamp()),
            allowed: active.allowed,
            missing_scopes: active.missing_scopes,
        }
    }
}

/// The JSON of an answer (serializing these plain fields cannot fail).
#[must_use]
pub fn encode(answer: &Introspection<'_>) -> Bytes {
    // Exactly its length: a cached answer per token would otherwise keep the spare half of
    // the buffer serde grew (about 100 bytes a token with 100,000 cached).
    Bytes::from(
        serde_json::to_vec(answer)
            .unwrap_or_default()
            .into_boxed_slice(),
    )
}
