//! Reading an introspection or revocation request: JSON, or an RFC 7662/7009 form.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

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

impl IntrospectRequest {
    /// Whether any text field holds a NUL character (refused on both backends alike).
    fn holds_nul(&self) -> bool {
        [
            &self.token,
            &self.token_type_hint,
            &self.organization_id,
            &self.project_id,
            &self.client_ip,
        ]
        .into_iter()
        .flatten()
        .chain(self.required_scopes.iter().flatten())
        .any(|text| text.contains('\0'))
    }
}

/// Parses a body (JSON or form, by its content type); the organization may also come from
/// the `X-Organization-ID` header.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    organization_header: Option<&str>,
) -> Result<IntrospectRequest, ApiError> {
    let mut request = match body_kind(content_type.unwrap_or_default())? {
        // Read straight into the request (this is the hot path): its fields are checked for NUL
        // below, for both body kinds, instead of walking a generic JSON value first.
        BodyKind::Json => serde_json::from_slice::<IntrospectRequest>(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?,
        BodyKind::Form => {
            let form: IntrospectForm = serde_urlencoded::from_bytes(body)
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
    if request.holds_nul() {
        return Err(ApiError::BadRequest(
            "invalid body: text must not contain NUL characters".into(),
        ));
    }
    if request.organization_id.is_none() {
        request.organization_id = organization_header
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

fn body_kind(content_type: &str) -> Result<BodyKind, ApiError> {
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
