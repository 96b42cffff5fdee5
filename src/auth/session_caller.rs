//! The extractor of token-management routes: a signed-in user. A token instead of a session is
//! 403 `token_cannot_manage_tokens` (tokens never manage tokens); a service token is 403
//! `forbidden`.

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::lookup::{self, Presented};
use super::session::Claims;
use crate::app::AppState;
use crate::db;
use crate::directory::model::User;
use crate::directory::repo;
use crate::error::ApiError;
use crate::tokens::kind::TokenKind;

/// A signed-in user, known to the directory (created from the claims on first sight).
pub struct Session {
    /// The user row.
    pub user: User,
    /// The session's claims (`sso_orgs`, `email_verified`).
    pub claims: Claims,
}

impl Session {
    /// Whether the user may create tokens: the identity provider or the directory verified the
    /// email address.
    #[must_use]
    pub fn email_verified(&self) -> bool {
        self.claims.email_verified || self.user.email_verified
    }
}

impl FromRequest for Session {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let presented = lookup::presented(req);
        Box::pin(async move {
            let (state, presented) = presented?;
            match presented {
                Presented::Token { candidates, .. } => {
                    let snapshot =
                        lookup::live_token(&state, candidates, crate::time::now()).await?;
                    if snapshot.token.kind == TokenKind::Service {
                        Err(ApiError::Forbidden(
                            "this route needs a signed-in user session".into(),
                        ))
                    } else {
                        Err(ApiError::TokenCannotManageTokens)
                    }
                }
                Presented::Session(claims) => {
                    let user = db::run(&state.db, {
                        let claims = claims.clone();
                        move |conn| Ok(repo::ensure_user(conn, &claims)?)
                    })
                    .await?
                    .ok_or(ApiError::Unauthenticated(
                        "the session's subject is not a valid user id",
                    ))?;
                    if user.disabled {
                        return Err(ApiError::Unauthenticated("this user is disabled"));
                    }
                    Ok(Self { user, claims })
                }
            }
        })
    }
}

/// The user a valid session names (created on first sight); 401 when disabled.
pub async fn signed_in_user(state: &AppState, claims: &Claims) -> Result<User, ApiError> {
    let claims = claims.clone();
    let user = db::run(&state.db, move |conn| Ok(repo::ensure_user(conn, &claims)?))
        .await?
        .ok_or(ApiError::Unauthenticated(
            "the session's subject is not a valid user id",
        ))?;
    if user.disabled {
        return Err(ApiError::Unauthenticated("this user is disabled"));
    }
    Ok(user)
}
