//! Turning a presented credential into what can leave the request (digests of a token value,
//! or a verified session), and a token's snapshot from the cache or the database.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::bearer::{self, Credential};
use super::session::Claims;
use crate::error::ApiError;
use crate::introspection::cache::{Cached, Lookup};
use crate::introspection::evaluate::{Active, Question, Reason, evaluate};
use crate::introspection::loader::LoadError;
use crate::introspection::snapshot::Snapshot;
use crate::state::AppState;
use crate::tokens::kind::TokenKind;
use crate::tokens::secret::{self, Candidates};

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

/// Reads and pre-checks the raw `Authorization` header: malformed values, bad or expired
/// sessions are 401.
pub fn presented(state: &AppState, authorization: Option<&[u8]>) -> Result<Presented, ApiError> {
    Ok(
        match bearer::credential(authorization, &state.settings.prefixes)? {
            Credential::Token { kind, value } => Presented::Token {
                kind,
                candidates: state.settings.peppers.digests(value),
            },
            Credential::Jwt(jwt) => Presented::Session(state.sessions.verify(jwt)?),
        },
    )
}

/// The check behind introspection and forward auth: `value`'s format and checksum (offline),
/// the token it names (cache, else one read), and whether it is active for `question` now.
/// An active token's use is counted (from `ip`) and `answer` makes the caller's reply of it
/// (and counts it in `tokend_introspections_total`); an inactive one is counted there by its
/// reason, which is returned.
pub async fn verify<R>(
    state: &AppState,
    value: &str,
    question: &Question<'_>,
    ip: Option<IpAddr>,
    answer: impl FnOnce(&Snapshot, Active<'_>) -> R,
) -> Result<Result<R, Reason>, ApiError> {
    if secret::parse(&state.settings.prefixes, value).is_err() {
        return Ok(Err(inactive(Reason::Malformed)));
    }
    let candidates = state.settings.peppers.digests(value);
    let Some(snapshot) = find(state, candidates).await? else {
        return Ok(Err(inactive(Reason::Unknown)));
    };
    let now = crate::time::now();
    Ok(match evaluate(&snapshot, question, now) {
        Ok(active) => {
            record_use(state, &snapshot.token.id, ip, now);
            Ok(answer(&snapshot, active))
        }
        Err(reason) => Err(inactive(reason)),
    })
}

/// Counts an inactive answer by its reason.
fn inactive(reason: Reason) -> Reason {
    crate::metrics::count_introspection(reason.as_str());
    reason
}

/// Counts one authenticated use of a token at `at` (in memory; written in batches).
pub fn record_use(state: &AppState, token_id: &Arc<str>, ip: Option<IpAddr>, at: NaiveDateTime) {
    state.usage.record(token_id, ip, at);
}

/// The snapshot of the token with these digests, from the cache or (on a miss) from one
/// database read, shared with concurrent misses, that is then cached; `None` when no token has
/// them.
///
/// Stale-if-error: an entry past its TTL or unconfirmed is read again, and served only when
/// that read finds the database unavailable, within `TOKEND_CACHE_STALE_IF_ERROR_MS` of the
/// outage's start. No revocation can commit while the database is down.
pub async fn find(
    state: &AppState,
    candidates: Candidates,
) -> Result<Option<Arc<Snapshot>>, ApiError> {
    let Some(&key) = candidates.first() else {
        return Ok(None);
    };
    let fallback = match state.cache.get(&key) {
        Lookup::Fresh(cached) => {
            crate::metrics::count("tokend_token_cache_hits_total");
            return Ok(found(cached));
        }
        Lookup::Stale(cached) => Some(cached),
        Lookup::Miss => None,
    };
    crate::metrics::count("tokend_token_cache_misses_total");
    match state.loader.load(key, candidates).await {
        Ok(loaded) => Ok(loaded),
        Err(LoadError::Unavailable) => match fallback {
            Some(cached) if within_stale_window(state) => {
                crate::metrics::count("tokend_cache_stale_answers_total");
                Ok(found(cached))
            }
            _ => Err(ApiError::Unavailable),
        },
        Err(LoadError::Failed) => Err(ApiError::Internal),
    }
}

/// What a cache entry says about the token.
fn found(cached: Cached) -> Option<Arc<Snapshot>> {
    match cached {
        Cached::Known(snapshot) => Some(snapshot),
        Cached::Unknown => None,
    }
}

/// Whether the outage is young enough for stale answers (a read that failed without a
/// recorded outage, such as a pool that had no connection free in time, counts as its start).
fn within_stale_window(state: &AppState) -> bool {
    let window = state.settings.cache.stale_if_error;
    !window.is_zero() && state.db.down_for().is_none_or(|down| down <= window)
}

/// The token with these digests, if it exists, is not revoked and has not expired at `now`;
/// 401 otherwise.
pub async fn live_token(
    state: &AppState,
    candidates: Candidates,
    now: NaiveDateTime,
) -> Result<Arc<Snapshot>, ApiError> {
    match find(state, candidates).await? {
        Some(snapshot) if snapshot.token.is_usable(now) => Ok(snapshot),
        _ => Err(ApiError::Unauthenticated("unknown or inactive credential")),
    }
}
