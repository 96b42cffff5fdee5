//! The decision: is this token usable for this request, as whom, with which scopes. A pure
//! function of the snapshot, the question and the time.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::snapshot::{Grant, Snapshot};
use crate::directory::Role;
use crate::tokens::kind::{OwnerType, TokenKind};
use crate::tokens::scopes;

/// Why a token is inactive (told only to callers with `introspect_reasons`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not a token value (format or checksum).
    Malformed,
    /// No such token.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
    /// Authorized for several organizations and none was named.
    OrganizationRequired,
    /// Not authorized for the named organization.
    OrganizationNotAuthorized,
    /// The organization enforces SSO and the token was not authorized for it.
    SsoAuthorizationRequired,
    /// The owner is no longer a member of the organization.
    NotAMember,
    /// The owner is disabled.
    UserDisabled,
}

impl Reason {
    /// Wire name (also the metrics label).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unknown => "unknown",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::OrganizationRequired => "organization_required",
            Self::OrganizationNotAuthorized => "organization_not_authorized",
            Self::SsoAuthorizationRequired => "sso_authorization_required",
            Self::NotAMember => "not_a_member",
            Self::UserDisabled => "user_disabled",
        }
    }
}

/// What the caller asks about the token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Question<'a> {
    /// The organization context, if named.
    pub organization_id: Option<&'a str>,
    /// The project the request is for.
    pub project_id: Option<&'a str>,
    /// Scopes the request needs.
    pub required_scopes: Option<&'a [String]>,
}

/// An active token in its organization context, borrowed from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Active<'a> {
    /// The organization context and what the token may do there.
    pub grant: &'a Grant,
    /// The owner's role there (user tokens).
    pub role: Option<Role>,
    /// Whether the request's scopes and project are allowed (when asked).
    pub allowed: Option<bool>,
    /// Required scopes not covered (when scopes were asked).
    pub missing_scopes: Option<Vec<String>>,
}

impl<'a> Active<'a> {
    /// Effective scopes (after role caps).
    #[must_use]
    pub fn scopes(&self) -> &'a [String] {
        &self.grant.scopes
    }
}

/// Decides; the first failing rule names the reason.
pub fn evaluate<'a>(
    snapshot: &'a Snapshot,
    question: &Question<'_>,
    now: NaiveDateTime,
) -> Result<Active<'a>, Reason> {
    let token = &snapshot.token;
    if token.kind == TokenKind::Service {
        return Err(Reason::Unknown);
    }
    if token.revoked {
        return Err(Reason::Revoked);
    }
    if token.expires_at.is_some_and(|at| at <= now) {
        return Err(Reason::Expired);
    }
    let user_token = token.owner_type == OwnerType::User;
    if user_token && snapshot.owner_disabled != Some(false) {
        return Err(Reason::UserDisabled);
    }
    let grant = match question.organization_id {
        Some(org) => snapshot
            .grants
            .iter()
            .find(|g| &*g.organization_id == org)
            .ok_or(Reason::OrganizationNotAuthorized)?,
        None => match &*snapshot.grants {
            [only] => only,
            [] => return Err(Reason::OrganizationNotAuthorized),
            _ => return Err(Reason::OrganizationRequired),
        },
    };
    if user_token && grant.role.is_none() {
        return Err(Reason::NotAMember);
    }
    if grant.sso_enforced && grant.sso_authorized_at.is_none() {
        return Err(Reason::SsoAuthorizationRequired);
    }
    let missing_scopes = question
        .required_scopes
        .map(|required| scopes::missing(&grant.scopes, required));
    let project_ok = question.project_id.map(|project| {
        snapshot.project_ids.is_empty() || snapshot.project_ids.iter().any(|p| p == project)
    });
    let allowed = match (&missing_scopes, project_ok) {
        (None, None) => None,
        (missing, project) => {
            Some(missing.as_ref().is_none_or(Vec::is_empty) && project.unwrap_or(true))
        }
    };
    Ok(Active {
        grant,
        role: if user_token { grant.role } else { None },
        allowed,
        missing_scopes,
    })
}
