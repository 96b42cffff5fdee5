//! The one error type of the API, rendered as RFC 9457 problem+json with a stable `code`, and
//! the one conversion from storage's error.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{DbError, Failure};
use crate::limits::RetryAfter;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The request field (JSON name, or path/query parameter name).
    #[schema(example = "name")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "must be 1-100 characters")]
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every way a request can fail. The variant fixes the HTTP status and the `code`; messages
/// never contain secret material.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read (bad JSON, bad path, bad query): 400.
    #[error("{0}")]
    BadRequest(String),
    /// One or more fields are invalid: 422 with `errors[]`.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// Missing, malformed, unknown, expired or revoked credential: 401.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A valid credential that may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// A token tried to manage tokens: 403.
    #[error("tokens cannot manage tokens; sign in with a session")]
    TokenCannotManageTokens,
    /// The resource does not exist, or the caller may not know it exists: 404.
    #[error("{0}")]
    NotFound(String),
    /// A name already used by the same owner: 409.
    #[error("{0}")]
    NameTaken(String),
    /// The request conflicts with the resource's state: 409.
    #[error("{0}")]
    Conflict(String),
    /// The user's email address is not verified: 403.
    #[error("verify your email address before creating tokens")]
    EmailNotVerified,
    /// The organization may not mint API tokens yet: 403.
    #[error("API tokens are not enabled for this organization")]
    ApiTokensDisabled,
    /// A rule of the organization or of the caller's role forbids this: 422.
    #[error("{0}")]
    PolicyViolation(String),
    /// The body is larger than the limit: 413.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The path exists but not with this method: 405, `Allow` naming the methods it has.
    #[error("{method} is not allowed here; allowed: {allow}")]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
        /// The methods the path has, comma-separated.
        allow: String,
    },
    /// The body's content type is not accepted: 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client sent its body too slowly: 408.
    #[error("the request body did not arrive within {0} s")]
    RequestTimeout(u64),
    /// Too many requests: 429, with `Retry-After` in seconds.
    #[error("too many requests; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until a retry can succeed.
        retry_after: u64,
    },
    /// The database cannot be reached: 503.
    #[error("the service is temporarily unavailable; retry later")]
    Unavailable,
    /// A bug or an unexpected failure: 500 (details are logged, not returned).
    #[error("an internal error occurred")]
    Internal,
}

/// The problem+json body (RFC 9457) every error response has.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    #[schema(example = "https://tokend.dev/problems/not_found")]
    pub problem_type: String,
    /// A short summary of the problem type.
    #[schema(example = "Not Found")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 404)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "organization acme not found")]
    pub detail: String,
    /// A stable, machine-readable code.
    #[schema(example = "not_found")]
    pub code: &'static str,
    /// The fields that failed validation, each with what is wrong with it; present only on a
    /// 422 `validation_failed` answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!([{"field": "name", "message": "must be 1-100 characters"}]))]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    /// Logs an unexpected error and returns the opaque 500.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::Internal
    }

    /// The 422 for the fields that failed their checks; `Ok` when none did.
    pub fn fields(errors: Vec<FieldError>) -> Result<(), Self> {
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Self::Validation(errors))
        }
    }

    /// The 404 for a named resource that does not exist (`organization "acme" not found`).
    #[must_use]
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::NotFound(format!("{what} {id:?} not found"))
    }

    /// A 422 for one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable `code` of this error.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) | Self::Validation(_) => "validation_failed",
            Self::Unauthenticated(_) => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::TokenCannotManageTokens => "token_cannot_manage_tokens",
            Self::NotFound(_) => "not_found",
            Self::NameTaken(_) => "name_taken",
            Self::Conflict(_) => "conflict",
            Self::EmailNotVerified => "email_not_verified",
            Self::ApiTokensDisabled => "api_tokens_disabled",
            Self::PolicyViolation(_) => "policy_violation",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RequestTimeout(_) => "request_timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// What went wrong, in words: the message, or each field error (`field: message; …`).
    /// Not yet redacted: the problem body and the CLI's stderr both start from it.
    #[must_use]
    pub fn detail(&self) -> String {
        match self {
            Self::Validation(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }

    /// The body of this error.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let errors = match self {
            Self::Validation(errors) => Some(
                errors
                    .iter()
                    .map(|e| FieldError::new(&e.field, crate::redact::configured(&e.message)))
                    .collect(),
            ),
            _ => None,
        };
        let detail = crate::redact::configured(&self.detail()).into_owned();
        Problem {
            problem_type: format!("https://tokend.dev/problems/{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code(),
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::PolicyViolation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::TokenCannotManageTokens
            | Self::EmailNotVerified
            | Self::ApiTokensDisabled => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NameTaken(_) | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            Self::Unauthenticated(_) => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            Self::MethodNotAllowed { allow, .. } => {
                response.insert_header(("Allow", allow.clone()));
            }
            Self::Unavailable => {
                response.insert_header(("Retry-After", "1"));
            }
            Self::RateLimited { retry_after } => {
                response.insert_header(("Retry-After", retry_after.to_string()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

/// A rate limit's refusal is a 429 saying when to retry.
impl From<RetryAfter> for ApiError {
    fn from(RetryAfter(retry_after): RetryAfter) -> Self {
        Self::RateLimited { retry_after }
    }
}

/// The one conversion from storage's error: unavailable is 503, a missing row 404, anything
/// else an opaque 500 (logged).
impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Self::Unavailable
            }
            DbError::Query(diesel::result::Error::NotFound) => Self::NotFound("not found".into()),
            other => Self::internal(&other),
        }
    }
}

/// Storage functions answer diesel's own result; it goes through [`DbError`]'s classification.
impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        DbError::from(error).into()
    }
}

impl Failure for ApiError {
    fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable)
    }
}

/// Body size limit for every JSON and form body.
pub const BODY_LIMIT: usize = 64 * 1024;
