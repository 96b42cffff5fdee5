//! The `service` scheme: `Authorization: Bearer tols_…`, looked up by digest, with the
//! permission a route needs checked at the type level.

use std::marker::PhantomData;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::bearer::{self, Credential};
use super::permission::{Permission, Required};
use crate::app::AppState;
use crate::error::ApiError;
use crate::tokens::kind::TokenKind;
use crate::tokens::repo;

/// An authenticated service token.
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    /// The token's id (also the audit actor id).
    pub token_id: String,
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
}

impl ServiceIdentity {
    /// Whether it carries `permission`.
    #[must_use]
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }
}

/// Extractor for routes of the `service` scheme that need permission `P`: 401 without a valid
/// service credential, 403 without the permission.
pub struct ServiceCaller<P> {
    /// Who is calling.
    pub identity: ServiceIdentity,
    need: PhantomData<P>,
}

impl<P: Required> FromRequest for ServiceCaller<P> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let lookup = start_lookup(req);
        Box::pin(async move {
            let (state, digests) = lookup?;
            let identity = authenticate(&state, digests).await?;
            if !identity.has(P::PERMISSION) {
                return Err(ApiError::Forbidden(format!(
                    "this service token lacks the `{}` permission",
                    P::PERMISSION.as_str()
                )));
            }
            Ok(Self {
                identity,
                need: PhantomData,
            })
        })
    }
}

/// Digests of the presented value under every pepper, computed before anything awaits so the
/// value itself never leaves the request.
type Candidates = Vec<(String, [u8; 32])>;

fn start_lookup(req: &HttpRequest) -> Result<(web::Data<AppState>, Candidates), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    let candidates = match bearer::credential(req, &state.settings.prefixes)? {
        Credential::Token { value, .. } => state
            .settings
            .peppers
            .candidates(value)
            .map(|(id, digest)| (id.to_owned(), digest))
            .collect(),
        Credential::Jwt(_) => {
            return Err(ApiError::Unauthenticated(
                "this route needs a service token",
            ));
        }
    };
    Ok((state, candidates))
}

async fn authenticate(
    state: &AppState,
    candidates: Candidates,
) -> Result<ServiceIdentity, ApiError> {
    let current = state.settings.peppers.current_id().to_owned();
    let found = crate::db::run(&state.db, move |conn| {
        let Some(token) = repo::find_by_digests(conn, &candidates, &current)? else {
            return Ok(None);
        };
        let permissions = repo::scopes_of(conn, &token.id)?;
        Ok(Some((token, permissions)))
    })
    .await?;
    let (token, permissions) =
        found.ok_or(ApiError::Unauthenticated("unknown or inactive credential"))?;
    if !token.is_usable(chrono::Utc::now().naive_utc()) {
        return Err(ApiError::Unauthenticated("unknown or inactive credential"));
    }
    if token.kind != TokenKind::Service.as_str() {
        return Err(ApiError::Forbidden(
            "this route needs a service token".into(),
        ));
    }
    Ok(ServiceIdentity {
        token_id: token.id,
        name: token.name,
        permissions: permissions
            .iter()
            .filter_map(|p| Permission::from_name(p))
            .collect(),
    })
}
