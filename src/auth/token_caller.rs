//! The `token` scheme: a user or organization token calling about itself (`/v1/me`,
//! self-revocation).

use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::lookup::{self, Presented};
use crate::error::ApiError;
use crate::introspection::snapshot::Snapshot;
use crate::tokens::kind::TokenKind;

/// A live personal, agent or api token.
pub struct TokenCaller {
    /// The token and its surroundings.
    pub snapshot: Arc<Snapshot>,
}

impl FromRequest for TokenCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let presented = lookup::presented(req);
        let ip = lookup::peer_ip(req);
        Box::pin(async move {
            let (state, presented) = presented?;
            let Presented::Token { kind, candidates } = presented else {
                return Err(ApiError::Forbidden("this route needs a token".into()));
            };
            let now = crate::time::now();
            let snapshot = lookup::live_token(&state, candidates, now).await?;
            if kind == TokenKind::Service {
                return Err(ApiError::Forbidden(
                    "this route needs a personal, agent or api token".into(),
                ));
            }
            lookup::record_use(&state, &snapshot.token.id, ip, now);
            Ok(Self { snapshot })
        })
    }
}
