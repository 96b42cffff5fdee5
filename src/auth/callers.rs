//! The callers of each scheme (DESIGN §3) and the one place a presented credential becomes
//! one: a signed-in user (`session`), a service token with a permission (`service`), a user
//! or organization token about itself (`token`), an audit reader, a revoker by value. The HTTP
//! layer's extractors only hand the request's `Authorization` header and peer address here.

use std::net::IpAddr;
use std::sync::Arc;

use super::lookup::{self, Presented};
use super::permission::Permission;
use super::session::Claims;
use crate::audit::Actor;
use crate::audit::query::Reader;
use crate::db;
use crate::directory::model::User;
use crate::directory::repo;
use crate::error::ApiError;
use crate::introspection::snapshot::Snapshot;
use crate::state::AppState;
use crate::tokens::kind::{OwnerType, TokenKind};
use crate::tokens::manage::ByValue;

/// A signed-in user, known to the directory (created from the claims on first sight).
pub struct Session {
    /// The user row.
    pub user: User,
    /// The session's claims (`sso_orgs`, `email_verified`).
    pub claims: Claims,
}

impl Session {
    /// Whether the user may create tokens: the identity provider or the directory verified
    /// the email address.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        self.claims.email_verified || self.user.email_verified
    }
}

/// An authenticated service token (its cached snapshot: nothing is copied per request).
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    snapshot: Arc<Snapshot>,
}

impl ServiceIdentity {
    /// The token's id (also the audit actor id).
    #[must_use]
    pub fn token_id(&self) -> &str {
        &self.snapshot.token.id
    }

    /// Whether it carries `permission`.
    #[must_use]
    pub fn has(&self, permission: Permission) -> bool {
        self.snapshot.has_permission(permission)
    }

    /// The audit actor.
    #[must_use]
    pub fn actor(&self) -> Actor {
        Actor::service(self.token_id())
    }
}

/// A live personal, agent or api token calling about itself.
pub struct TokenCaller {
    /// The token and its surroundings.
    pub snapshot: Arc<Snapshot>,
}

const NEEDS_SERVICE: &str = "this route needs a service token";

/// A failed authentication (401) counts against the `client`'s budget: it stays a 401, or
/// becomes a 429 once the client is over the budget. Other errors pass unchanged.
#[must_use]
pub fn counted(state: &AppState, client: Option<IpAddr>, error: ApiError) -> ApiError {
    if let ApiError::Unauthenticated(_) = error
        && let Err(retry) = state.limits.failed(client)
    {
        return retry.into();
    }
    error
}

/// The user a valid session names (created on first sight); 401 when disabled.
async fn signed_in(state: &AppState, claims: &Claims) -> Result<User, ApiError> {
    let claims = claims.clone();
    let user = db::run(&state.db, move |conn| {
        Ok::<_, ApiError>(repo::ensure_user(conn, &claims)?)
    })
    .await?
    .ok_or(ApiError::Unauthenticated(
        "the session's subject is not a valid user id",
    ))?;
    if user.disabled {
        return Err(ApiError::Unauthenticated("this user is disabled"));
    }
    Ok(user)
}

/// A live token (401 otherwise) and the time it was checked at.
async fn live(
    state: &AppState,
    candidates: crate::tokens::secret::Candidates,
) -> Result<(Arc<Snapshot>, chrono::NaiveDateTime), ApiError> {
    let now = crate::time::now();
    Ok((lookup::live_token(state, candidates, now).await?, now))
}

/// For a route that takes only tokens: the presented token's kind, its snapshot (401 when it
/// is not live) and the time it was checked at. A session is 403 with `refusal`.
async fn live_presented(
    state: &AppState,
    presented: Presented,
    refusal: &str,
) -> Result<(TokenKind, Arc<Snapshot>, chrono::NaiveDateTime), ApiError> {
    let Presented::Token { kind, candidates } = presented else {
        return Err(ApiError::Forbidden(refusal.into()));
    };
    let (snapshot, now) = live(state, candidates).await?;
    Ok((kind, snapshot, now))
}

/// The `session` scheme: a token instead of a session is 403 `token_cannot_manage_tokens`
/// (tokens never manage tokens); a service token is 403 `forbidden`.
pub async fn session(state: &AppState, presented: Presented) -> Result<Session, ApiError> {
    match presented {
        Presented::Token { candidates, .. } => {
            let (snapshot, _) = live(state, candidates).await?;
            if snapshot.token.kind == TokenKind::Service {
                Err(ApiError::Forbidden(
                    "this route needs a signed-in user session".into(),
                ))
            } else {
                Err(ApiError::TokenCannotManageTokens)
            }
        }
        Presented::Session(claims) => Ok(Session {
            user: signed_in(state, &claims).await?,
            claims,
        }),
    }
}

/// The `service` scheme with `permission`: 403 for a valid credential of another scheme or
/// without the permission. The use is counted.
pub async fn service(
    state: &AppState,
    presented: Presented,
    permission: Permission,
    ip: Option<IpAddr>,
) -> Result<ServiceIdentity, ApiError> {
    let (kind, snapshot, now) = live_presented(state, presented, NEEDS_SERVICE).await?;
    if kind != TokenKind::Service {
        return Err(ApiError::Forbidden(NEEDS_SERVICE.into()));
    }
    if !snapshot.has_permission(permission) {
        return Err(ApiError::Forbidden(format!(
            "this service token lacks the `{}` permission",
            permission.as_str()
        )));
    }
    lookup::record_use(state, &snapshot.token.id, ip, now);
    Ok(ServiceIdentity { snapshot })
}

/// The `token` scheme: a live personal, agent or api token. The use is counted.
pub async fn token(
    state: &AppState,
    presented: Presented,
    ip: Option<IpAddr>,
) -> Result<TokenCaller, ApiError> {
    let (kind, snapshot, now) =
        live_presented(state, presented, "this route needs a token").await?;
    if kind == TokenKind::Service {
        return Err(ApiError::Forbidden(
            "this route needs a personal, agent or api token".into(),
        ));
    }
    lookup::record_use(state, &snapshot.token.id, ip, now);
    Ok(TokenCaller { snapshot })
}

/// Who may read audit events: a signed-in user, or a service with `audit`.
pub async fn audit_reader(state: &AppState, presented: Presented) -> Result<Reader, ApiError> {
    match presented {
        Presented::Session(claims) => Ok(Reader::User(signed_in(state, &claims).await?.id)),
        Presented::Token { kind, candidates } => {
            let (snapshot, _) = live(state, candidates).await?;
            if kind == TokenKind::Service && snapshot.has_permission(Permission::Audit) {
                Ok(Reader::Service)
            } else {
                Err(ApiError::Forbidden(
                    "audit events need a signed-in session or a service token with `audit`".into(),
                ))
            }
        }
    }
}

/// Who revokes by value (RFC 7009): a service with `revoke`, or any live token about itself.
/// The use is counted.
pub async fn revoker(
    state: &AppState,
    presented: Presented,
    ip: Option<IpAddr>,
) -> Result<ByValue, ApiError> {
    let refusal = "revocation needs a service token or the token itself";
    let (kind, snapshot, now) = live_presented(state, presented, refusal).await?;
    let caller = &snapshot.token;
    lookup::record_use(state, &caller.id, ip, now);
    if kind == TokenKind::Service {
        if !snapshot.has_permission(Permission::Revoke) {
            return Err(ApiError::Forbidden(
                "this service token lacks the `revoke` permission".into(),
            ));
        }
        return Ok(ByValue {
            actor: Actor::service(&caller.id),
            only: None,
        });
    }
    let actor = if caller.owner_type == OwnerType::User {
        Actor::user(&caller.owner_id)
    } else {
        Actor::system(&format!("token:{}", caller.id))
    };
    Ok(ByValue {
        actor,
        only: Some(caller.id.to_string()),
    })
}
