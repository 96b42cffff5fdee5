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
    /// Whether the token may be used for this request's organization.
    pub active: bool,
    /// Why it is inactive (`introspect_reasons` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Token id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<&'a str>,
    /// The token kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenKind>,
    /// Token name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// Who it acts for: the user id, or the organization id for api tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<&'a str>,
    /// The user (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// The organization context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<&'a str>,
    /// The user's current role there (user tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Effective scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "read:projects write:deployments")]
    pub scope: Option<SpaceSeparated<'a>>,
    /// Effective scopes (after role caps).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<&'a [String]>,
    /// Project restriction, when the token has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub project_ids: Option<&'a [String]>,
    /// Expiry (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Whether `required_scopes` and `project_id` are allowed (when asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// Required scopes the token lacks (when `required_scopes` was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// An inactive answer, counted by reason.
#[must_use]
pub fn inactive(reason: Reason, tell: bool) -> Introspection<'static> {
    crate::metrics::count_introspection(reason.as_str());
    Introspection::inactive(reason, tell)
}

/// The JSON of an answer (serializing these plain fields cannot fail).
#[must_use]
pub fn encode(answer: &Introspection<'_>) -> Bytes {
    serde_json::to_vec(answer).unwrap_or_default().into()
}
