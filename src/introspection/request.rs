//! Reading an introspection or revocation request: JSON, or an RFC 7662/7009 form.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::error::ApiError;

/// `POST /v1/introspect` as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// The token value the client presented, exactly as received (required).
    #[schema(
        example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X",
        required = true,
        nullable = false
    )]
    pub token: Option<String>,
    /// RFC 7662 hint about the token's type; accepted and ignored, as the prefix says the kind.
    #[schema(example = "access_token")]
    pub token_type_hint: Option<String>,
    /// The organization the request is made in (or the `X-Organization-ID` header); without
    /// one, a token valid in any organization is active.
    #[schema(example = "acme")]
    pub organization_id: Option<String>,
    /// The project the request is for; a token restricted to other projects is not allowed.
    #[schema(example = "billing")]
    pub project_id: Option<String>,
    /// Scopes the request needs; `allowed` in the answer says whether the token holds them all.
    #[schema(example = json!(["write:deployments"]))]
    pub required_scopes: Option<Vec<String>>,
    /// The address the token was presented from, kept in its usage (`recent_ips`).
    #[schema(example = "203.0.113.7")]
    pub client_ip: Option<String>,
}

/// `POST /v1/introspect` as an `application/x-www-form-urlencoded` body (RFC 7662): the same
/// fields, `required_scopes` space-separated; parameters it does not know are ignored, as
/// RFC 6749 §3.2 requires of OAuth endpoints.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectForm {
    /// The token value the client presented, exactly as received (required).
    #[schema(
        example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X",
        required = true,
        nullable = false
    )]
    token: Option<String>,
    /// RFC 7662 hint about the token's type; accepted and ignored, as the prefix says the kind.
    #[serde(rename = "token_type_hint")]
    #[schema(example = "access_token", nullable = false)]
    _token_type_hint: Option<String>,
    /// The organization the request is made in (or the `X-Organization-ID` header).
    #[schema(example = "acme", nullable = false)]
    organization_id: Option<String>,
    /// The project the request is for; a token restricted to other projects is not allowed.
    #[schema(example = "billing", nullable = false)]
    project_id: Option<String>,
    /// Scopes the request needs, separated by spaces.
    #[schema(example = "read:projects write:deployments", nullable = false)]
    required_scopes: Option<String>,
    /// The address the token was presented from, kept in its usage (`recent_ips`).
    #[schema(example = "203.0.113.7", nullable = false)]
    client_ip: Option<String>,
}

/// `POST /v1/revoke` as JSON (RFC 7009's parameters).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// The value of the token to revoke (required).
    #[schema(
        example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X",
        required = true,
        nullable = false
    )]
    pub token: Option<String>,
    /// RFC 7009 hint about the token's type; accepted and ignored, as the prefix says the kind.
    #[schema(example = "access_token")]
    pub token_type_hint: Option<String>,
}

/// `POST /v1/revoke` as an `application/x-www-form-urlencoded` body (RFC 7009); parameters it
/// does not know are ignored, as RFC 6749 §3.2 requires of OAuth endpoints.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevocationForm {
    /// The value of the token to revoke (required).
    #[schema(
        example = "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X",
        required = true,
        nullable = false
    )]
    token: Option<String>,
    /// RFC 7009 hint about the token's type; accepted and ignored, as the prefix says the kind.
    #[schema(example = "access_token", nullable = false)]
    token_type_hint: Option<String>,
}

impl From<RevocationForm> for RevocationRequest {
    fn from(form: RevocationForm) -> Self {
        Self {
            token: form.token,
            token_type_hint: form.token_type_hint,
        }
    }
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
        BodyKind::Json => read_json::<IntrospectRequest>(body)?,
        BodyKind::Form => {
            let form: IntrospectForm = read_form(body)?;
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

/// Reads a revocation body (JSON or form, by its content type) and returns the token value;
/// `None` when it names none (an empty body names none, whatever its type).
pub fn parse_revocation(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    let request = match body_kind(content_type.unwrap_or_default())? {
        BodyKind::Json => read_json::<RevocationRequest>(body)?,
        BodyKind::Form => read_form::<RevocationForm>(body)?.into(),
    };
    let texts = [&request.token, &request.token_type_hint];
    if texts.into_iter().flatten().any(|text| text.contains('\0')) {
        return Err(ApiError::BadRequest(
            "invalid body: text must not contain NUL characters".into(),
        ));
    }
    Ok(request.token)
}

fn read_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

fn read_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))
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
