//! `/v1/forward-auth` (any method): lets nginx `auth_request`, Traefik `ForwardAuth` and Envoy
//! `ext_authz` protect an upstream with tokend tokens. The gateway authenticates itself with
//! `Tokend-Gateway: Bearer tols_…` (permission `introspect`) or by its address; the answer is in
//! the status and headers. Same cache, usage counting and metrics as introspection.

use std::net::IpAddr;

use actix_web::ResponseError;
use actix_web::http::header::{AUTHORIZATION, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, route, web};

use super::extract::{client_ip, header_text, peer_ip};
use super::responses::ForwardAuthErrors;
use crate::auth::bearer::bearer_value;
use crate::auth::permission::Permission;
use crate::auth::{callers, lookup};
use crate::error::ApiError;
use crate::introspection::evaluate::{self, Question, Reason};
use crate::introspection::snapshot::Snapshot;
use crate::state::AppState;
use crate::tokens::kind::OwnerType;

/// What the gateway passes on about the original request.
struct Original<'r> {
    /// The client's bearer value, if any.
    credential: Option<&'r str>,
    organization_id: Option<String>,
    project_id: Option<String>,
    scopes: Vec<String>,
    client_ip: Option<IpAddr>,
}

impl<'r> Original<'r> {
    fn read(req: &'r HttpRequest) -> Result<Self, ApiError> {
        let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?;
        let mut take = |name: &str| {
            let at = pairs.iter().position(|(key, _)| key == name)?;
            Some(pairs.remove(at).1)
        };
        let organization_id = match header_text(req, "x-organization-id")? {
            Some(header) => Some(header.to_owned()),
            None => take("organization_id"),
        };
        let project_id = take("project_id");
        let forwarded_for = header_text(req, "x-forwarded-for")?
            .and_then(|list| list.split(',').next())
            .map(str::trim);
        let client_ip = match forwarded_for {
            Some(ip) => Some(ip),
            None => header_text(req, "x-real-ip")?,
        }
        .and_then(|ip| ip.parse().ok());
        Ok(Self {
            credential: header_text(req, AUTHORIZATION.as_str())?.and_then(bearer_value),
            organization_id,
            project_id,
            scopes: pairs
                .iter()
                .filter(|(key, _)| key == "scope")
                .flat_map(|(_, value)| value.split_whitespace().map(str::to_owned))
                .collect(),
            client_ip,
        })
    }
}

/// Whether the gateway may learn why a token is refused (`introspect_reasons`); 403 for a
/// caller that is no gateway.
async fn gateway(state: &AppState, req: &HttpRequest) -> Result<bool, ApiError> {
    let peer = peer_ip(req);
    let Some(header) = req.headers().get("tokend-gateway") else {
        let trusted = peer.is_some_and(|ip| {
            state
                .settings
                .forward_auth_trusted
                .iter()
                .any(|net| net.contains(&ip))
        });
        return if trusted {
            Ok(false)
        } else {
            Err(ApiError::Forbidden(
                "forward auth needs the gateway's credential: `Tokend-Gateway: Bearer tols_…` \
                 (a service token with `introspect`), or a gateway address in \
                 TOKEND_FORWARD_AUTH_TRUSTED_NETWORKS"
                    .into(),
            ))
        };
    };
    let client = client_ip(req);
    state.limits.admit(client)?;
    let identity = async {
        let presented = lookup::presented(state, Some(header.as_bytes()))?;
        callers::service(state, presented, Permission::Introspect, client).await
    }
    .await
    .map_err(|error| match callers::counted(state, client, error) {
        ApiError::Unauthenticated(_) => {
            ApiError::Forbidden("the Tokend-Gateway credential is not a live service token".into())
        }
        other => other,
    })?;
    state.limits.introspection(identity.token_id())?;
    Ok(identity.has(Permission::IntrospectReasons))
}

/// A refusal: the problem `error` renders, with its `WWW-Authenticate` challenge.
fn refuse(error: &ApiError, challenge: &str) -> HttpResponse {
    let mut response = error.error_response();
    if let Ok(value) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// 401: no usable token; the reason in `Tokend-Reason` for gateways allowed to know it.
fn invalid(reason: Reason, tell: bool) -> HttpResponse {
    let mut response = refuse(
        &ApiError::Unauthenticated("the token is missing or not active"),
        r#"Bearer realm="tokend", error="invalid_token""#,
    );
    if tell {
        response.headers_mut().insert(
            HeaderName::from_static("tokend-reason"),
            HeaderValue::from_static(reason.as_str()),
        );
    }
    response
}

/// The identity headers of an allowed request.
fn identity(
    snapshot: &Snapshot,
    active: &evaluate::Active<'_>,
    response: &mut HttpResponseBuilder,
) {
    let token = &snapshot.token;
    response
        .insert_header(("Tokend-Token-Id", &*token.id))
        .insert_header(("Tokend-Token-Type", token.kind.as_str()))
        .insert_header(("Tokend-Subject", &*token.owner_id))
        .insert_header(("Tokend-Organization-Id", &*active.grant.organization_id))
        .insert_header(("Tokend-Scopes", active.scopes().join(" ")));
    if token.owner_type == OwnerType::User {
        response.insert_header(("Tokend-User-Id", &*token.owner_id));
    }
    if let Some(role) = active.role {
        response.insert_header(("Tokend-Role", role.as_str()));
    }
    if let Some(at) = token.expires_at {
        response.insert_header((
            "Tokend-Expires-At",
            at.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ));
    }
}

/// Forward auth for gateways (any method).
///
/// The gateway sends the original request's `Authorization`, `X-Organization-ID` (or the
/// `organization_id` query parameter), `X-Forwarded-For`/`X-Real-IP`, and per location the
/// `scope` (space-separated or repeated) and `project_id` query parameters. 200 with identity
/// headers when the token is active and allowed; 401 with `WWW-Authenticate: Bearer
/// error="invalid_token"` when missing or inactive; 403 with `error="insufficient_scope"`
/// when active but not allowed.
#[utoipa::path(
    get,
    path = "/forward-auth",
    params(
        ("scope" = Option<String>, Query, description = "Scopes the protected location needs, space-separated (or the parameter repeated)"),
        ("project_id" = Option<String>, Query, description = "The project the protected location belongs to"),
        ("organization_id" = Option<String>, Query, description = "The organization context, when the client sends no X-Organization-ID"),
        ("X-Organization-ID" = Option<String>, Header, description = "The client's organization context"),
    ),
    responses(
        (status = 200, description = "Allowed: identity in Tokend-Token-Id, Tokend-Token-Type, Tokend-Subject, Tokend-User-Id, Tokend-Organization-Id, Tokend-Role, Tokend-Scopes, Tokend-Expires-At"),
        ForwardAuthErrors,
    )
)]
#[route(
    "/forward-auth",
    method = "GET",
    method = "POST",
    method = "PUT",
    method = "PATCH",
    method = "DELETE",
    method = "HEAD",
    method = "OPTIONS"
)]
pub async fn forward_auth(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let tell = gateway(&state, &req).await?;
    let original = Original::read(&req)?;
    let Some(value) = original.credential else {
        crate::metrics::count_introspection(Reason::Malformed.as_str());
        return Ok(invalid(Reason::Malformed, tell));
    };
    let question = Question {
        organization_id: original.organization_id.as_deref(),
        project_id: original.project_id.as_deref(),
        required_scopes: (!original.scopes.is_empty()).then_some(&original.scopes[..]),
    };
    let verdict = lookup::verify(
        &state,
        value,
        &question,
        original.client_ip,
        |snapshot, active| {
            if active.allowed == Some(false) {
                crate::metrics::count_introspection("not_allowed");
                let needed = original.scopes.join(" ");
                let challenge = format!(
                    r#"Bearer realm="tokend", error="insufficient_scope", scope="{needed}""#
                );
                let refused =
                    ApiError::Forbidden(format!("the token lacks a scope this needs: {needed}"));
                return refuse(&refused, &challenge);
            }
            crate::metrics::count_introspection("active");
            let mut response = HttpResponse::Ok();
            identity(snapshot, &active, &mut response);
            response.finish()
        },
    )
    .await?;
    Ok(verdict.unwrap_or_else(|reason| invalid(reason, tell)))
}
