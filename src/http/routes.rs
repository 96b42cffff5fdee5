//! The one list of `/v1` handlers: it registers them with the router and lists them in the
//! OpenAPI document, so a route cannot be missing from the spec. The list is cut into
//! sections that share an OpenAPI tag and security, declared here once rather than on each
//! handler. The router tries routes in order, so the hot path comes first and static paths
//! precede patterns.

use actix_web::web;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::{Modify, OpenApi};

use super::{
    audit, directory, forward_auth, introspection, ops, service_tokens, token_lifecycle, tokens,
};

/// The tag and the security of a section of the route list: `security` lists the
/// alternatives, each the schemes that must all be presented.
struct Section {
    tag: &'static str,
    security: &'static [&'static [&'static str]],
}

impl Modify for Section {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                operation.tags = Some(vec![self.tag.to_owned()]);
                operation.security = Some(
                    self.security
                        .iter()
                        .map(|schemes| {
                            schemes
                                .iter()
                                .fold(SecurityRequirement::default(), |all, s| {
                                    all.add(*s, Vec::<String>::new())
                                })
                        })
                        .collect(),
                );
            }
        }
    }
}

/// Declares the `/v1` handlers once, by section: `scope` registers them in order, and each
/// section's document (tagged and secured by its [`Section`]) goes into `V1`.
macro_rules! v1_routes {
    ($($section:ident($tag:literal, $security:expr) {
        $($module:ident :: { $($handler:ident),+ $(,)? })+
    })+) => {
        /// The `/v1` scope with every handler, in order.
        fn scope() -> actix_web::Scope {
            web::scope("/v1")$($($(.service($module::$handler))+)+)+
        }

        $(
            /// The section's operations, tagged and secured.
            mod $section {
                use super::*;

                const SECTION: Section = Section { tag: $tag, security: $security };

                #[derive(OpenApi)]
                #[openapi(paths($($($module::$handler),+),+), modifiers(&SECTION))]
                pub struct Doc;
            }
        )+

        /// The `/v1` operations of the OpenAPI document.
        pub struct V1;

        impl OpenApi for V1 {
            fn openapi() -> utoipa::openapi::OpenApi {
                let mut v1 = utoipa::openapi::OpenApi::default();
                $(v1.merge($section::Doc::openapi());)+
                v1
            }
        }
    };
}

v1_routes! {
    introspect("introspection", &[&["service"]]) { introspection::{introspect} }
    gate("introspection", &[&["gateway", "token"], &["gateway"]]) { forward_auth::{forward_auth} }
    me("introspection", &[&["token"]]) { introspection::{me} }
    revocation("introspection", &[&["service"], &["token"]]) { introspection::{revoke} }
    managed_services("service-tokens", &[&["service"]]) {
        service_tokens::{
            create_service_token, list_service_tokens, get_service_token, revoke_service_token,
            regenerate_service_token, delete_service_token,
        }
    }
    managed_tokens("tokens", &[&["session"]]) {
        token_lifecycle::{bulk_revoke, bulk_delete}
        tokens::{
            create_token, list_tokens, get_token, update_token, delete_token, revoke_token,
            list_scopes, session_profile, organization_tokens, token_usage,
        }
        token_lifecycle::{
            regenerate_token, duplicate_token, add_organization, remove_organization, sso_authorize,
        }
    }
    audit_trail("audit", &[&["session"], &["service"]]) { audit::{list_audit_events} }
    synced("directory", &[&["service"]]) {
        directory::{
            put_organization, get_organization, delete_organization, put_user, get_user, delete_user,
            put_membership, get_membership, delete_membership, put_project, get_project,
            delete_project,
        }
    }
}

/// The operations of a path item (the methods the routes use).
pub(super) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Registers every route: `/v1` and the operations endpoints (the docs are added by
/// `app`, which owns the document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(scope())
        .service(ops::home)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics_endpoint);
}
