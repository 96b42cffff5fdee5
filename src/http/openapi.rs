//! The OpenAPI 3.1 document: the routes of `routes.rs`, the four security schemes, the
//! failures every route shares (429, 503), and the two corrections utoipa's output needs
//! (optional bodies, page items).

use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::ops;
use super::responses::problem;
use super::routes::{self, operations};
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
    modifiers(&SecuritySchemes, &OptionalBodies, &PageItems, &SharedFailures),
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
                "A user or organization token, for `/v1/me`, self-revocation, and as the \
                 client's credential that a gateway passes on to forward auth.",
            ),
        );
        components.add_security_scheme(
            "gateway",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Tokend-Gateway",
                "`Bearer tols_…`: the gateway's own service token (permission `introspect`) on \
                 forward auth, beside the client's `Authorization` it passes on.",
            ))),
        );
    }
}

/// What any route can answer besides its own outcomes: every `/v1` route needs the database
/// (503 `unavailable` with `Retry-After: 1` while it cannot be reached), and every route that
/// authenticates its caller refuses a client over its budget of failed authentications (429
/// `rate_limited` with `Retry-After`; for introspection callers, also over their rate).
struct SharedFailures;

impl Modify for SharedFailures {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for operation in operations(item) {
                let responses = &mut operation.responses.responses;
                if path.starts_with("/v1/") {
                    responses.entry("503".into()).or_insert_with(|| {
                        problem("The database is unavailable (`unavailable`, `Retry-After: 1`)")
                    });
                }
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses.entry("429".into()).or_insert_with(|| {
                        problem(
                            "Too many failed authentications from this client, or \
                             introspections over the service token's rate (`rate_limited`, \
                             `Retry-After`)",
                        )
                    });
                }
            }
        }
    }
}

/// A body that may be left out is documented as `required: false` with its schema alone:
/// utoipa writes `oneOf: [null, schema]` for it, which says `null` may be sent as the body and
/// which generated clients cannot leave out.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bodies = openapi
            .paths
            .paths
            .values_mut()
            .flat_map(operations)
            .filter_map(|operation| operation.request_body.as_mut())
            .filter(|body| body.required != Some(Required::True));
        for body in bodies {
            for content in body.content.values_mut() {
                if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                    let mut kept = one_of.items.iter().filter(|item| !is_null(item));
                    if let (Some(only), None) = (kept.next(), kept.next()) {
                        content.schema = Some(only.clone());
                    }
                }
            }
        }
    }
}

/// A page's items refer to their type's component (`Page_TokenResource.items` → `TokenResource`):
/// utoipa copies a generic's type argument inline (juhaku/utoipa#1586), which gives a generated
/// client one class for a listed token and another for a fetched one.
struct PageItems;

impl Modify for PageItems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let known: Vec<String> = components.schemas.keys().cloned().collect();
        for (name, schema) in &mut components.schemas {
            let Some(item) = name.strip_prefix("Page_") else {
                continue;
            };
            if !known.iter().any(|k| k == item) {
                continue;
            }
            if let RefOr::T(Schema::Object(page)) = schema
                && let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items")
            {
                items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(
                    utoipa::openapi::Ref::from_schema_name(item),
                )));
            }
        }
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == SchemaType::Type(Type::Null))
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
