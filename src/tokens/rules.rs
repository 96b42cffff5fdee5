//! The rules of DESIGN §4 in one place: who may create which token, with which scopes,
//! organizations, projects and expiry, and who may see and manage it.

use chrono::{NaiveDateTime, TimeDelta};

use super::dto::{CreateToken, Owner};
use super::kind::{OwnerType, TokenKind};
use super::model::TokenRow;
use super::scopes::{Action, Catalog, Scope, normalized};
use crate::directory::model::Organization;
use crate::directory::{Role, Roles};
use crate::error::{ApiError, FieldError};

/// Agent tokens expire after this many days unless asked otherwise.
pub const AGENT_DEFAULT_LIFETIME_DAYS: i64 = 90;
/// Longest name.
pub const NAME_MAX: usize = 100;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 1000;
/// Longest revocation reason.
pub const REASON_MAX: usize = 500;

/// The signed-in user creating or managing tokens.
pub struct Creator<'a> {
    /// User id.
    pub user_id: &'a str,
    /// Verified email (session claim or directory).
    pub email_verified: bool,
    /// Current role per organization.
    pub roles: &'a Roles,
}

/// A validated creation, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Kind.
    pub kind: TokenKind,
    /// Trimmed name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Normalized scopes.
    pub scopes: Vec<String>,
    /// Organizations it may be used in.
    pub organization_ids: Vec<String>,
    /// Project restriction.
    pub project_ids: Vec<String>,
    /// Expiry.
    pub expires_at: Option<NaiveDateTime>,
    /// Owner.
    pub owner: Owner,
}

/// Checks a `POST /v1/tokens` against every rule. `orgs` are the requested organizations that
/// exist; `known_projects` the requested project ids that exist in them.
pub fn plan_creation(
    request: &CreateToken,
    creator: &Creator<'_>,
    orgs: &[Organization],
    known_projects: &[String],
    catalog: &Catalog,
    now: NaiveDateTime,
) -> Result<Plan, ApiError> {
    if request.kind == TokenKind::Service {
        return Err(ApiError::field(
            "kind",
            "must be personal, agent or api (service tokens are minted by operators)",
        ));
    }
    if !creator.email_verified {
        return Err(ApiError::EmailNotVerified);
    }
    let mut errors = Vec::new();
    let name = check_name(request.name.as_deref(), &mut errors);
    let description = check_description(request.description.as_deref(), &mut errors);
    let scopes = resolve_scopes(
        request.scopes.as_deref(),
        request.preset.as_deref(),
        catalog,
        &mut errors,
    );
    let organization_ids = requested_organizations(request, &mut errors);
    let project_ids = check_project_ids(
        request.project_ids.as_deref().unwrap_or_default(),
        &mut errors,
    );
    ApiError::fields(errors)?;

    let token_orgs = check_organizations(request.kind, &organization_ids, orgs, creator, &scopes)?;
    check_known_projects(&project_ids, known_projects)?;
    let expires_at = match request.expires_at {
        Some(explicit) => explicit.map(crate::time::stored),
        None if request.kind == TokenKind::Agent => Some(default_agent_expiry(&token_orgs, now)),
        None => None,
    };
    check_expiry(expires_at, &token_orgs, now)?;

    let owner_type = OwnerType::of(request.kind);
    let owner = Owner {
        id: match owner_type {
            OwnerType::Organization => organization_ids[0].clone(),
            OwnerType::User | OwnerType::Service => creator.user_id.to_owned(),
        },
        owner_type,
    };
    Ok(Plan {
        kind: request.kind,
        name,
        description,
        scopes,
        organization_ids,
        project_ids,
        expires_at,
        owner,
    })
}

/// The organizations a new token names, checked against the creator: an api token needs its
/// organization's admin or owner and `api_tokens_enabled`; a user token needs a membership in
/// each, and scopes within each role.
fn check_organizations<'o>(
    kind: TokenKind,
    organization_ids: &[String],
    orgs: &'o [Organization],
    creator: &Creator<'_>,
    scopes: &[String],
) -> Result<Vec<&'o Organization>, ApiError> {
    let mut named = Vec::with_capacity(organization_ids.len());
    for org_id in organization_ids {
        let org = orgs.iter().find(|o| &o.id == org_id);
        let role = creator.roles.get(org_id).copied();
        match (kind, org, role) {
            (TokenKind::Api, Some(org), Some(role)) if role >= Role::Admin => {
                if !org.api_tokens_enabled {
                    return Err(ApiError::ApiTokensDisabled);
                }
                named.push(org);
            }
            (TokenKind::Api, ..) => {
                return Err(ApiError::Forbidden(format!(
                    "only admins and owners of organization {org_id:?} may create api tokens for it"
                )));
            }
            (_, org, role) => {
                named.push(check_member("organization_ids", org_id, org, role, scopes)?);
            }
        }
    }
    Ok(named)
}

/// A user token in an organization: its user must be a member (else 422 on `field`) and its
/// scopes within the member's role.
pub fn check_member<'o>(
    field: &str,
    org_id: &str,
    org: Option<&'o Organization>,
    role: Option<Role>,
    scopes: &[String],
) -> Result<&'o Organization, ApiError> {
    let (Some(org), Some(role)) = (org, role) else {
        return Err(ApiError::field(
            field,
            format!("you are not a member of organization {org_id:?}"),
        ));
    };
    check_role_caps(scopes, org_id, role)?;
    Ok(org)
}

/// A project restriction names only projects that exist in the token's organizations (422).
pub fn check_known_projects(project_ids: &[String], known: &[String]) -> Result<(), ApiError> {
    match project_ids.iter().find(|p| !known.contains(p)) {
        Some(unknown) => Err(ApiError::field(
            "project_ids",
            format!("no project {unknown:?} in the token's organizations"),
        )),
        None => Ok(()),
    }
}

/// Names: at most 100 characters with at least one that is not blank; stored trimmed.
pub fn check_name(name: Option<&str>, errors: &mut Vec<FieldError>) -> String {
    match name {
        Some(n) if !n.trim().is_empty() && n.chars().count() <= NAME_MAX => n.trim().to_owned(),
        Some(_) => {
            errors.push(FieldError::new("name", "must be 1-100 characters"));
            String::new()
        }
        None => {
            errors.push(FieldError::new("name", "is required"));
            String::new()
        }
    }
}

/// Descriptions: at most 1000 characters; blank is none; stored trimmed.
pub fn check_description(
    description: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let description = description.filter(|d| !d.trim().is_empty())?;
    if description.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new(
            "description",
            "must be at most 1000 characters",
        ));
    }
    Some(description.trim().to_owned())
}

/// Scopes from the list or the preset (exactly one of them), each in the catalog.
pub fn resolve_scopes(
    scopes: Option<&[String]>,
    preset: Option<&str>,
    catalog: &Catalog,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    match (scopes, preset) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "preset",
                "give scopes or a preset, not both",
            ));
            Vec::new()
        }
        (None, None) => {
            errors.push(FieldError::new(
                "scopes",
                "give at least one scope, or a preset",
            ));
            Vec::new()
        }
        (None, Some(id)) => {
            if let Some(preset) = catalog.preset(id) {
                normalized(preset.scopes.iter().cloned())
            } else {
                errors.push(FieldError::new("preset", format!("unknown preset {id:?}")));
                Vec::new()
            }
        }
        (Some(list), None) => check_scopes(list, catalog, errors),
    }
}

/// A non-empty list of catalog scopes, normalized.
pub fn check_scopes(
    list: &[String],
    catalog: &Catalog,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    if list.is_empty() {
        errors.push(FieldError::new("scopes", "give at least one scope"));
    }
    for (index, scope) in list.iter().enumerate() {
        if catalog.known(scope).is_none() {
            errors.push(FieldError::new(
                format!("scopes[{index}]"),
                format!("unknown scope {scope:?} (see GET /v1/scopes)"),
            ));
        }
    }
    normalized(list.iter().cloned())
}

fn requested_organizations(request: &CreateToken, errors: &mut Vec<FieldError>) -> Vec<String> {
    let mut ids: Vec<String> = match (&request.organization_ids, &request.organization_id) {
        (Some(list), None) => list.clone(),
        (None, Some(one)) => vec![one.clone()],
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                "organization_id",
                "give organization_id or organization_ids, not both",
            ));
            return Vec::new();
        }
        (None, None) => Vec::new(),
    };
    ids.sort_unstable();
    ids.dedup();
    let (field, ok) = match request.kind {
        TokenKind::Personal => ("organization_ids", !ids.is_empty()),
        _ => ("organization_id", ids.len() == 1),
    };
    if !ok {
        let message = if request.kind == TokenKind::Personal {
            "a personal token needs at least one organization"
        } else {
            "agent and api tokens need exactly one organization"
        };
        errors.push(FieldError::new(field, message));
    }
    ids
}

/// Project ids: well-formed external ids, sorted and deduplicated.
pub fn check_project_ids(ids: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    for id in ids {
        if id.is_empty() || id.len() > 64 {
            errors.push(FieldError::new(
                "project_ids",
                format!("{id:?} is not a project id"),
            ));
        }
    }
    normalized(ids.iter().cloned())
}

/// A user token may not hold a scope its owner's role in `org_id` could not use.
pub fn check_role_caps(scopes: &[String], org_id: &str, role: Role) -> Result<(), ApiError> {
    let cap = Action::cap_of(role);
    match scopes
        .iter()
        .find(|s| Scope::parse(s).is_some_and(|s| s.action > cap))
    {
        Some(scope) => Err(ApiError::PolicyViolation(format!(
            "scope {scope:?} exceeds your role ({}) in organization {org_id:?}",
            role.as_str()
        ))),
        None => Ok(()),
    }
}

fn default_agent_expiry(orgs: &[&Organization], now: NaiveDateTime) -> NaiveDateTime {
    let days = orgs
        .iter()
        .filter_map(|o| o.max_token_lifetime_days)
        .fold(AGENT_DEFAULT_LIFETIME_DAYS, i64::min);
    now + TimeDelta::days(days)
}

/// Expiry rules: in the future; present where an organization requires it; within each
/// organization's maximum lifetime.
pub fn check_expiry(
    expires_at: Option<NaiveDateTime>,
    orgs: &[&Organization],
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::field("expires_at", "must be in the future"));
    }
    for org in orgs {
        if org.require_expiry && expires_at.is_none() {
            return Err(ApiError::PolicyViolation(format!(
                "organization {:?} requires tokens to expire: set expires_at",
                org.id
            )));
        }
        if let Some(days) = org.max_token_lifetime_days {
            let latest = now + TimeDelta::days(days);
            if expires_at.is_none_or(|at| at > latest) {
                return Err(ApiError::PolicyViolation(format!(
                    "organization {:?} allows tokens to live at most {days} days",
                    org.id
                )));
            }
        }
    }
    Ok(())
}

/// The expiry a copy or a renewed expired token gets: the same lifetime, from now.
#[must_use]
pub fn same_lifetime(row: &TokenRow, now: NaiveDateTime) -> Option<NaiveDateTime> {
    row.expires_at
        .map(|at| now + (at - row.created_at).max(TimeDelta::seconds(1)))
}

/// The expiry a regenerated token keeps: its own, or for an expired token its former lifetime
/// from now.
#[must_use]
pub fn renewed_expiry(row: &TokenRow, now: NaiveDateTime) -> Option<NaiveDateTime> {
    if row.expires_at.is_some_and(|at| at <= now) {
        same_lifetime(row, now)
    } else {
        row.expires_at
    }
}

/// At most this many ids per bulk call.
pub const BULK_MAX: usize = 100;

/// The ids of a bulk call: 1 to 100 (else 422).
pub fn check_bulk(ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() || ids.len() > BULK_MAX {
        return Err(ApiError::field("ids", "give 1 to 100 token ids"));
    }
    Ok(())
}

/// A revocation reason: at most 500 characters (else 422); blank is none; stored trimmed.
pub fn check_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > REASON_MAX)
    {
        return Err(ApiError::field("reason", "must be at most 500 characters"));
    }
    Ok(reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty()))
}

/// Who may see and manage a token: its user owner, or an admin/owner of its organization for
/// api tokens. Everyone else is told it does not exist.
#[must_use]
pub fn can_manage(user_id: &str, roles: &Roles, token: &TokenRow) -> bool {
    match token.owner_type {
        OwnerType::User => token.owner_id == user_id,
        OwnerType::Organization => roles
            .get(&token.owner_id)
            .is_some_and(|r| *r >= Role::Admin),
        OwnerType::Service => false,
    }
}

/// Org admins and owners may also revoke the agent tokens bound to their organization (but not
/// members' personal tokens).
#[must_use]
pub fn can_revoke(
    user_id: &str,
    roles: &Roles,
    token: &TokenRow,
    token_organizations: &[String],
) -> bool {
    can_manage(user_id, roles, token)
        || (token.kind == TokenKind::Agent
            && token_organizations
                .iter()
                .any(|org| roles.get(org).is_some_and(|r| *r >= Role::Admin)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(id: &str) -> Organization {
        Organization {
            id: id.into(),
            name: id.into(),
            sso_enforced: false,
            api_tokens_enabled: true,
            require_expiry: false,
            max_token_lifetime_days: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    fn now() -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    }

    fn request(kind: TokenKind, scopes: &[&str]) -> CreateToken {
        CreateToken {
            kind,
            name: Some("ci".into()),
            description: None,
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            preset: None,
            expires_at: None,
            organization_ids: (kind == TokenKind::Personal).then(|| vec!["acme".into()]),
            organization_id: (kind != TokenKind::Personal).then(|| "acme".into()),
            project_ids: None,
        }
    }

    fn plan(
        req: &CreateToken,
        role: Option<Role>,
        orgs: &[Organization],
    ) -> Result<Plan, ApiError> {
        let roles: Roles = role.map(|r| ("acme".to_owned(), r)).into_iter().collect();
        let creator = Creator {
            user_id: "u1",
            email_verified: true,
            roles: &roles,
        };
        plan_creation(req, &creator, orgs, &[], &Catalog::default(), now())
    }

    #[test]
    fn agent_tokens_default_to_90_days_clamped_by_policy() {
        for (policy, days) in [(None, 90), (Some(30), 30)] {
            let mut acme = org("acme");
            acme.max_token_lifetime_days = policy;
            let planned = plan(
                &request(TokenKind::Agent, &["read"]),
                Some(Role::Member),
                &[acme],
            );
            assert_eq!(
                planned.ok().and_then(|p| p.expires_at),
                Some(now() + TimeDelta::days(days)),
                "policy {policy:?}"
            );
        }
    }

    #[test]
    fn scopes_above_the_role_are_a_policy_violation() {
        let err = plan(
            &request(TokenKind::Personal, &["admin:projects"]),
            Some(Role::Member),
            &[org("acme")],
        );
        assert!(matches!(err, Err(ApiError::PolicyViolation(_))));
        assert!(
            plan(
                &request(TokenKind::Personal, &["write:projects"]),
                Some(Role::Member),
                &[org("acme")]
            )
            .is_ok()
        );
    }

    #[test]
    fn api_tokens_need_admin_and_enabled_org() {
        assert!(matches!(
            plan(
                &request(TokenKind::Api, &["read"]),
                Some(Role::Member),
                &[org("acme")]
            ),
            Err(ApiError::Forbidden(_))
        ));
        let mut disabled = org("acme");
        disabled.api_tokens_enabled = false;
        assert!(matches!(
            plan(
                &request(TokenKind::Api, &["read"]),
                Some(Role::Owner),
                &[disabled]
            ),
            Err(ApiError::ApiTokensDisabled)
        ));
        let planned = plan(
            &request(TokenKind::Api, &["admin"]),
            Some(Role::Admin),
            &[org("acme")],
        );
        assert_eq!(
            planned.ok().map(|p| p.owner.owner_type),
            Some(OwnerType::Organization)
        );
    }

    #[test]
    fn expiry_must_be_future_and_within_policy() {
        let mut policy = org("acme");
        policy.require_expiry = true;
        assert!(matches!(
            check_expiry(None, &[&policy], now()),
            Err(ApiError::PolicyViolation(_))
        ));
        assert!(matches!(
            check_expiry(Some(now()), &[], now()),
            Err(ApiError::Validation(_))
        ));
        policy.max_token_lifetime_days = Some(7);
        assert!(check_expiry(Some(now() + TimeDelta::days(7)), &[&policy], now()).is_ok());
        assert!(check_expiry(Some(now() + TimeDelta::days(8)), &[&policy], now()).is_err());
    }

    #[test]
    fn non_members_and_unverified_users_cannot_create() {
        assert!(matches!(
            plan(
                &request(TokenKind::Personal, &["read"]),
                None,
                &[org("acme")]
            ),
            Err(ApiError::Validation(_))
        ));
        let roles = Roles::new();
        let creator = Creator {
            user_id: "u1",
            email_verified: false,
            roles: &roles,
        };
        let err = plan_creation(
            &request(TokenKind::Personal, &["read"]),
            &creator,
            &[],
            &[],
            &Catalog::default(),
            now(),
        );
        assert!(matches!(err, Err(ApiError::EmailNotVerified)));
    }
}
