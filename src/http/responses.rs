//! The error responses that several operations share, declared once for the OpenAPI
//! document (`responses(…, ManageErrors)` in a handler's `#[utoipa::path]`).

use utoipa::IntoResponses;

use crate::error::Problem;

/// The errors of every token-management route: no session, or a token instead of one.
#[derive(IntoResponses)]
pub enum SessionErrors {
    /// No valid session
    #[response(status = 401)]
    Unauthenticated(Problem),
    /// `token_cannot_manage_tokens`
    #[response(status = 403)]
    Forbidden(Problem),
}

/// The errors of a route about one token the caller manages.
#[derive(IntoResponses)]
pub enum ManageErrors {
    /// No valid session
    #[response(status = 401)]
    Unauthenticated(Problem),
    /// `token_cannot_manage_tokens`
    #[response(status = 403)]
    Forbidden(Problem),
    /// No such token, or not yours
    #[response(status = 404)]
    NotFound(Problem),
}

/// The errors every directory route shares.
#[derive(IntoResponses)]
pub enum DirectoryErrors {
    /// No valid service token
    #[response(status = 401)]
    Unauthenticated(Problem),
    /// Missing the `directory` permission
    #[response(status = 403)]
    Forbidden(Problem),
}

/// The errors of a directory `PUT`: its body, its caller, its fields.
#[derive(IntoResponses)]
pub enum PutErrors {
    /// Unreadable body
    #[response(status = 400)]
    BadRequest(Problem),
    /// No valid service token
    #[response(status = 401)]
    Unauthenticated(Problem),
    /// Missing the `directory` permission
    #[response(status = 403)]
    Forbidden(Problem),
    /// Invalid fields
    #[response(status = 422)]
    Invalid(Problem),
}
