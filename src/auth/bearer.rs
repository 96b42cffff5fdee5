//! Reading `Authorization: Bearer …` and telling token values from session JWTs.

use actix_web::HttpRequest;
use actix_web::http::header::AUTHORIZATION;

use crate::error::ApiError;
use crate::tokens::kind::{Prefixes, TokenKind};
use crate::tokens::secret::{self, FormatError};

/// What a caller presented. Borrowed from the request; never logged.
pub enum Credential<'a> {
    /// A tokend token value whose format and checksum are valid.
    Token {
        /// The kind its prefix names.
        kind: TokenKind,
        /// The value.
        value: &'a str,
    },
    /// Something shaped like a JWT (three dot-separated parts): a session.
    Jwt(&'a str),
}

/// Reads the bearer credential of a request. Missing or malformed is 401 `unauthenticated`.
pub fn credential<'a>(
    req: &'a HttpRequest,
    prefixes: &Prefixes,
) -> Result<Credential<'a>, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated(
            "missing Authorization: Bearer credential",
        ))?;
    let value = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::Unauthenticated(
            "the Authorization header must be `Bearer <credential>`",
        ))?;
    match secret::parse(prefixes, value) {
        Ok(kind) => return Ok(Credential::Token { kind, value }),
        Err(FormatError::UnknownPrefix) => {}
        Err(_) => return Err(ApiError::Unauthenticated("malformed token")),
    }
    if value.split('.').count() == 3 {
        return Ok(Credential::Jwt(value));
    }
    Err(ApiError::Unauthenticated("malformed credential"))
}
