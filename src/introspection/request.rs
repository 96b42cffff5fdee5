//! Reading an introspection or revocation request: JSON, or an RFC 7662/7009 form.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::{ApiError, BODY_LIMIT};

/// `POST /v1/introspect` as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// The presented token value.
    #[schema(example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X")]
    pub token: Option<String>,
    /// RFC 7662 hint (ignored: the prefix says the kind).
    pub token_type_hint: Option<String>,
    /// The organization context (or the `X-Organization-ID` header).
    #[schema(example = "acme")]
    pub organization_id: Option<String>,
    /// The project the request is for.
    #[schema(example = "billing")]
    pub project_id: Option<String>,
    /// Scopes the request needs.
    #[schema(example = json!(["write:deployments"]))]
    pub required_scopes: Option<Vec<String>>,
    /// The address the token was presented from (for usage tracking).
    #[schema(example = "203.0.113.7")]
    pub client_ip: Option<String>,
}

/// The same request as an `application/x-www-form-urlencoded` body (`required_scopes` is
/// space-separated there).
#[derive(Debug, Deserialize)]
struct IntrospectForm {
    token: Option<String>,
    #[serde(rename = "token_type_hint")]
    _token_type_hint: Option<String>,
    organization_id: Option<String>,
    project_id: Option<String>,
    required_scopes: Option<String>,
    client_ip: Option<String>,
}

/// Reads the body (JSON or form) within the size limit; the organization may also come from
/// `X-Organization-ID`.
pub async fn read(req: &HttpRequest, payload: web::Payload) -> Result<IntrospectRequest, ApiError> {
    let body = read_limited(payload).await?;
    let mut request = match body_kind(req)? {
        BodyKind::Json => serde_json::from_slice::<IntrospectRequest>(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?,
        BodyKind::Form => {
            let form: IntrospectForm = serde_urlencoded::from_bytes(&body)
                .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))?;
            IntrospectRequest {
                token: form.token,
                token_type_hint: None,
                organization_id: form.organization_id,
                project_id: form.project_id,
                required_scopes: form
                    .required_scopes
                    .map(|s| s.split_whitespace().map(str::to_owned).collect()),
                client_ip: form.client_ip,
            }
        }
    };
    if request.organization_id.is_none() {
        request.organization_id = req
            .headers()
            .get("x-organization-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
    }
    Ok(request)
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else {
        Err(ApiError::UnsupportedMediaType(
            "the body must be application/json or application/x-www-form-urlencoded".into(),
        ))
    }
}

/// Reads at most `BODY_LIMIT` bytes; more is 413.
pub async fn read_limited(mut payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge(BODY_LIMIT));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
