//! Reading `Authorization: Bearer …` and telling token values from session JWTs.

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

/// Reads the bearer credential from the raw `Authorization` header. Missing or malformed is
/// 401 `unauthenticated`.
pub fn credential<'a>(
    authorization: Option<&'a [u8]>,
    prefixes: &Prefixes,
) -> Result<Credential<'a>, ApiError> {
    let header = authorization.ok_or(ApiError::Unauthenticated(
        "missing Authorization: Bearer credential",
    ))?;
    let value = visible_ascii(header)
        .and_then(bearer_value)
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

/// The credential of `Bearer <credential>` header text (trimmed); `None` for another scheme or
/// none.
#[must_use]
pub fn bearer_value(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The header as text when it is visible ASCII (and tabs), as HTTP header text must be.
fn visible_ascii(header: &[u8]) -> Option<&str> {
    header
        .iter()
        .all(|b| *b == b'\t' || (0x20..0x7f).contains(b))
        .then(|| std::str::from_utf8(header).ok())
        .flatten()
}
