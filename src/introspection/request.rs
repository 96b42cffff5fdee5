//! Reading an introspection or revocation request: JSON, or an RFC 7662/7009 form.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::serde_ext::{Media, invalid_json, refuse_nul};

/// `POST /v1/introspect` as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// The token value the client presented, exactly as received (required).
    #[schema(example = token_example, required = true, nullable = false)]
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
    #[schema(example = token_example, required = true, nullable = false)]
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
    #[schema(example = token_example, required = true, nullable = false)]
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
    #[schema(example = token_example, required = true, nullable = false)]
    token: Option<String>,
    /// RFC 7009 hint about the token's type; accepted and ignored, as the prefix says the kind.
    #[schema(example = "access_token", nullable = false)]
    token_type_hint: Option<String>,
}

/// The example token value of the request schemas.
fn token_example() -> &'static str {
    "tolp_Ab3xQ9nR2mK7vL1pW8sT4yZ6cF0hJ5gD2a7Bc9X"
}

impl From<RevocationForm> for RevocationRequest {
    fn from(form: RevocationForm) -> Self {
        Self {
            token: form.token,
            token_type_hint: form.token_type_hint,
        }
    }
}

impl From<IntrospectForm> for IntrospectRequest {
    fn from(form: IntrospectForm) -> Self {
        Self {
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
}

/// The text a request carries, for the NUL check both body kinds share.
trait Texts {
    fn texts(&self) -> impl Iterator<Item = &str>;
}

impl Texts for IntrospectRequest {
    fn texts(&self) -> impl Iterator<Item = &str> {
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
        .map(String::as_str)
    }
}

impl Texts for RevocationRequest {
    fn texts(&self) -> impl Iterator<Item = &str> {
        [&self.token, &self.token_type_hint]
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

/// Reads `J` from a JSON body or `F` from a form (made into a `J`), then refuses NUL text.
/// Read straight into the type (this is the hot path), not through a generic JSON value.
fn read<J, F>(body: &[u8], media: Option<Media>) -> Result<J, ApiError>
where
    J: DeserializeOwned + Texts,
    F: DeserializeOwned + Into<J>,
{
    let request: J = match media {
        Some(Media::Json) => serde_json::from_slice(body).map_err(|e| invalid_json(&e))?,
        Some(Media::Form) => serde_urlencoded::from_bytes::<F>(body)
            .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")))?
            .into(),
        None => {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be application/json or application/x-www-form-urlencoded".into(),
            ));
        }
    };
    refuse_nul(request.texts())?;
    Ok(request)
}

/// Reads an introspection body; the organization may also come from the `X-Organization-ID`
/// header.
pub fn parse(
    body: &[u8],
    media: Option<Media>,
    organization_header: Option<&str>,
) -> Result<IntrospectRequest, ApiError> {
    let mut request = read::<IntrospectRequest, IntrospectForm>(body, media)?;
    if request.organization_id.is_none() {
        request.organization_id = organization_header.map(str::to_owned);
    }
    Ok(request)
}

/// Reads a revocation body and returns the token value (422 when it names none; an empty
/// body names none, whatever its type).
pub fn parse_revocation(body: &[u8], media: Option<Media>) -> Result<String, ApiError> {
    if body.is_empty() {
        return required_token(None);
    }
    required_token(read::<RevocationRequest, RevocationForm>(body, media)?.token)
}

/// The token value a request must name (422 `token: is required` when it does not).
pub fn required_token(token: Option<String>) -> Result<String, ApiError> {
    token.ok_or_else(|| ApiError::field("token", "is required"))
}
