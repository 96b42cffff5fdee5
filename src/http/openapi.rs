//! The OpenAPI 3.1 document: the routes of `routes.rs` and the three security schemes.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{ops, routes};
use crate::error::Problem;

/// The whole document served at `/openapi.json` and printed by `tokend openapi`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tokend",
        description = "Token management: create, list, rotate and revoke API tokens, and \
                       introspect them on every request.",
        license(name = "Apache-2.0")
    ),
    paths(ops::home, ops::healthz, ops::readyz, ops::metrics_endpoint),
    nest((path = "/v1", api = routes::V1)),
    components(schemas(Problem, crate::error::FieldError)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "tokens", description = "Token management (signed-in users)"),
        (name = "service-tokens", description = "Service tokens (service tokens with `service_tokens`)"),
        (name = "introspection", description = "Introspection, `/v1/me` and revocation by value"),
        (name = "audit", description = "Audit events"),
        (name = "directory", description = "Directory sync (service tokens with `directory`)"),
        (name = "operations", description = "Health, readiness and documentation"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |format: Option<&str>, description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.bearer_format = format.map(str::to_owned);
            http.description = Some(description.to_owned());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "session",
            bearer(
                Some("JWT"),
                "A session JWT from the platform's identity provider (a signed-in user).",
            ),
        );
        components.add_security_scheme(
            "service",
            bearer(
                Some("tols_…"),
                "A service token; each route needs one of its permissions.",
            ),
        );
        components.add_security_scheme(
            "token",
            bearer(
                Some("tolp_… / tola_… / tolg_…"),
                "A user or organization token, for `/v1/me` and self-revocation.",
            ),
        );
    }
}

/// The document as pretty JSON with a trailing newline (the committed file's form).
#[must_use]
pub fn document() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    json.push('\n');
    json
}
