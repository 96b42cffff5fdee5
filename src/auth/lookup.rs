//! Turning a presented credential into a caller: token values are looked up by digest, session
//! JWTs verified. Shared by every scheme's extractor.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{HttpRequest, web};
use chrono::NaiveDateTime;
use smallvec::SmallVec;

use super::bearer::{self, Credential};
use super::session::Claims;
use crate::app::AppState;
use crate::error::ApiError;
use crate::introspection::cache::Cached;
use crate::introspection::loader;
use crate::introspection::snapshot::Snapshot;
use crate::tokens::kind::TokenKind;
use crate::tokens::secret::Digest;

/// Digests of the presented value under every configured pepper, current first (the order of
/// [`Peppers::ids`](crate::tokens::secret::Peppers::ids)). Only digests travel with a request;
/// pepper ids are attached by [`labelled`] on the way to the database.
pub type Candidates = SmallVec<[Digest; 2]>;

/// What a request presented, reduced to what can leave the request: digests of a token value,
/// or the verified claims of a session. The value itself stays behind.
pub enum Presented {
    /// A well-formed token value.
    Token {
        /// The kind its prefix names.
        kind: TokenKind,
        /// Its digests.
        candidates: Candidates,
    },
    /// A valid session.
    Session(Claims),
}

/// Reads and pre-checks the credential: malformed values, bad or expired sessions are 401.
pub fn presented(req: &HttpRequest) -> Result<(web::Data<AppState>, Presented), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    let presented = match bearer::credential(req, &state.settings.prefixes)? {
        Credential::Token { kind, value } => Presented::Token {
            kind,
            candidates: candidates(&state, value),
        },
        Credential::Jwt(jwt) => Presented::Session(state.sessions.verify(jwt)?),
    };
    Ok((state, presented))
}

/// The peer address of a request, for usage tracking.
#[must_use]
pub fn peer_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|addr| addr.ip())
}

/// Counts one authenticated use of a token at `at` (in memory; written in batches).
pub fn record_use(state: &AppState, token_id: &str, ip: Option<IpAddr>, at: NaiveDateTime) {
    state.usage.record(token_id, ip, at);
}

/// Digests of `value` under every pepper.
#[must_use]
pub fn candidates(state: &AppState, value: &str) -> Candidates {
    state
        .settings
        .peppers
        .candidates(value)
        .map(|(_, digest)| digest)
        .collect()
}

/// `(pepper id, digest)` pairs, as the database queries take them.
#[must_use]
pub fn labelled(state: &AppState, candidates: &Candidates) -> Vec<(String, Digest)> {
    state
        .settings
        .peppers
        .ids()
        .zip(candidates)
        .map(|(id, digest)| (id.to_owned(), *digest))
        .collect()
}

/// The snapshot of the token with these digests, from the cache or (on a miss) from one
/// database read, shared with concurrent misses, that is then cached; `None` when no token has
/// them.
pub async fn find(
    state: &web::Data<AppState>,
    candidates: Candidates,
) -> Result<Option<Arc<Snapshot>>, ApiError> {
    let Some(&key) = candidates.first() else {
        return Ok(None);
    };
    if let Some(cached) = state.cache.get(&key) {
        crate::metrics::count("tokend_token_cache_hits_total");
        return Ok(match cached {
            Cached::Known(snapshot) => Some(snapshot),
            Cached::Unknown => None,
        });
    }
    crate::metrics::count("tokend_token_cache_misses_total");
    loader::load(state, key, candidates).await
}

/// The token with these digests, if it exists, is not revoked and has not expired at `now`;
/// 401 otherwise.
pub async fn live_token(
    state: &web::Data<AppState>,
    candidates: Candidates,
    now: NaiveDateTime,
) -> Result<Arc<Snapshot>, ApiError> {
    match find(state, candidates).await? {
        Some(snapshot) if snapshot.token.is_usable(now) => Ok(snapshot),
        _ => Err(ApiError::Unauthenticated("unknown or inactive credential")),
    }
}
