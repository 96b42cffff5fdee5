//! The one list of `/v1` handlers: it registers them with the router and lists them in the
//! OpenAPI document, so a route cannot be missing from the spec. The router tries routes in
//! order, so the hot path comes first and static paths precede patterns.

use actix_web::web;
use utoipa::OpenApi;

use super::{
    audit, directory, forward_auth, introspection, ops, service_tokens, token_lifecycle, tokens,
};

/// Declares the `/v1` handlers once: `scope` registers them, `V1` documents them.
macro_rules! v1_routes {
    ($($module:ident :: $handler:ident),* $(,)?) => {
        /// The `/v1` scope with every handler, in order.
        fn scope() -> actix_web::Scope {
            web::scope("/v1")$(.service($module::$handler))*
        }

        /// The `/v1` operations of the OpenAPI document.
        #[derive(OpenApi)]
        #[openapi(paths($($module::$handler),*))]
        pub struct V1;
    };
}

v1_routes![
    introspection::introspect,
    forward_auth::forward_auth,
    introspection::me,
    introspection::revoke,
    token_lifecycle::bulk_revoke,
    token_lifecycle::bulk_delete,
    service_tokens::create_service_token,
    service_tokens::list_service_tokens,
    service_tokens::get_service_token,
    service_tokens::revoke_service_token,
    service_tokens::regenerate_service_token,
    service_tokens::delete_service_token,
    tokens::create_token,
    tokens::list_tokens,
    tokens::get_token,
    tokens::update_token,
    tokens::delete_token,
    tokens::revoke_token,
    tokens::list_scopes,
    tokens::session_profile,
    tokens::organization_tokens,
    tokens::token_usage,
    audit::list_audit_events,
    token_lifecycle::regenerate_token,
    token_lifecycle::duplicate_token,
    token_lifecycle::add_organization,
    token_lifecycle::remove_organization,
    token_lifecycle::sso_authorize,
    directory::put_organization,
    directory::get_organization,
    directory::delete_organization,
    directory::put_user,
    directory::get_user,
    directory::delete_user,
    directory::put_membership,
    directory::get_membership,
    directory::delete_membership,
    directory::put_project,
    directory::get_project,
    directory::delete_project,
];

/// Registers every route: `/v1` and the operations endpoints (the docs are added by
/// `app`, which owns the document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(scope())
        .service(ops::home)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics_endpoint);
}
