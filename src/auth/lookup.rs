//! Turning a presented credential into a caller: token values are looked up by digest, session
//! JWTs verified. Shared by every scheme's extractor.

use actix_web::{HttpRequest, web};

use super::bearer::{self, Credential};
use super::session::Claims;
use crate::app::AppState;
use crate::db;
use crate::error::ApiError;
use crate::tokens::kind::TokenKind;
use crate::tokens::model::TokenRow;
use crate::tokens::repo;

/// `(pepper id, digest)` of the presented value under every configured pepper.
pub type Candidates = Vec<(String, [u8; 32])>;

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
pub fn peer_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|addr| addr.ip().to_string())
}

/// Counts one authenticated use of a token (in memory; written in batches).
pub fn record_use(state: &AppState, token_id: &str, ip: Option<&str>) {
    state.usage.record(token_id, ip, crate::time::now());
}

/// Digests of `value` under every pepper.
#[must_use]
pub fn candidates(state: &AppState, value: &str) -> Candidates {
    state
        .settings
        .peppers
        .candidates(value)
        .map(|(id, digest)| (id.to_owned(), digest))
        .collect()
}

/// The token with these digests and its scopes, if it exists, is not revoked and has not
/// expired; 401 otherwise.
pub async fn live_token(
    state: &AppState,
    candidates: Candidates,
) -> Result<(TokenRow, Vec<String>), ApiError> {
    let current = state.settings.peppers.current_id().to_owned();
    let found = db::run(&state.db, move |conn| {
        let Some(token) = repo::find_by_digests(conn, &candidates, &current)? else {
            return Ok(None);
        };
        let scopes = repo::scopes_of(conn, &token.id)?;
        Ok(Some((token, scopes)))
    })
    .await?;
    match found {
        Some((token, scopes)) if token.is_usable(crate::time::now()) => Ok((token, scopes)),
        _ => Err(ApiError::Unauthenticated("unknown or inactive credential")),
    }
}
