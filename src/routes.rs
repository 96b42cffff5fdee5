//! The one URL map.

use actix_web::web;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::openapi::ApiDoc;
use crate::{audit, directory, introspection, ops, tokens, usage};

/// Registers every route. The router tries routes in order, so the hot path comes first and
/// static paths precede patterns.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .service(introspection::handler::introspect)
            .service(introspection::me::me)
            .service(introspection::revoke::revoke)
            .service(tokens::lifecycle::bulk_revoke)
            .service(tokens::lifecycle::bulk_delete)
            .service(tokens::handlers::create_token)
            .service(tokens::handlers::list_tokens)
            .service(tokens::handlers::get_token)
            .service(tokens::handlers::update_token)
            .service(tokens::handlers::delete_token)
            .service(tokens::handlers::revoke_token)
            .service(tokens::handlers::list_scopes)
            .service(tokens::handlers::organization_tokens)
            .service(usage::handler::token_usage)
            .service(audit::list::list_audit_events)
            .service(tokens::lifecycle::regenerate_token)
            .service(tokens::lifecycle::duplicate_token)
            .service(tokens::lifecycle::add_organization)
            .service(tokens::lifecycle::remove_organization)
            .service(tokens::lifecycle::sso_authorize)
            .service(directory::handlers::put_organization)
            .service(directory::handlers::get_organization)
            .service(directory::handlers::delete_organization)
            .service(directory::handlers::put_user)
            .service(directory::handlers::get_user)
            .service(directory::handlers::delete_user)
            .service(directory::handlers::put_membership)
            .service(directory::handlers::get_membership)
            .service(directory::handlers::delete_membership)
            .service(directory::handlers::put_project)
            .service(directory::handlers::get_project)
            .service(directory::handlers::delete_project),
    )
    .service(ops::healthz)
    .service(ops::readyz)
    .service(crate::metrics::metrics_endpoint)
    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
    .service(web::redirect("/docs", "/docs/"));
}
