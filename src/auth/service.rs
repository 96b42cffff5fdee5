//! The `service` scheme: `Authorization: Bearer tols_…`, looked up by digest, with the
//! permission a route needs checked at the type level.

use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use futures_util::future::LocalBoxFuture;

use super::lookup::{self, Presented};
use super::permission::{Permission, Required};
use crate::error::ApiError;
use crate::introspection::snapshot::Snapshot;
use crate::tokens::kind::TokenKind;

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
}

/// Extractor for routes of the `service` scheme that need permission `P`: 401 without a valid
/// credential, 403 for a valid credential of another scheme or without the permission.
pub struct ServiceCaller<P> {
    /// Who is calling.
    pub identity: ServiceIdentity,
    need: PhantomData<P>,
}

const NEEDS_SERVICE: &str = "this route needs a service token";

impl<P: Required> FromRequest for ServiceCaller<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let presented = lookup::presented(req);
        let ip = lookup::peer_ip(req);
        Box::pin(async move {
            let (state, presented) = presented?;
            let Presented::Token { candidates, .. } = presented else {
                return Err(ApiError::Forbidden(NEEDS_SERVICE.into()));
            };
            let now = crate::time::now();
            let snapshot = lookup::live_token(&state, candidates, now).await?;
            if snapshot.token.kind != TokenKind::Service {
                return Err(ApiError::Forbidden(NEEDS_SERVICE.into()));
            }
            let identity = ServiceIdentity { snapshot };
            if !identity.has(P::PERMISSION) {
                return Err(ApiError::Forbidden(format!(
                    "this service token lacks the `{}` permission",
                    P::PERMISSION.as_str()
                )));
            }
            lookup::record_use(&state, identity.token_id(), ip, now);
            Ok(Self {
                identity,
                need: PhantomData,
            })
        })
    }
}
