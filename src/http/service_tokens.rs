//! Service-token routes (`service` scheme with `service_tokens`): create, list, show, revoke,
//! regenerate, delete. A caller grants only permissions it holds.

use actix_web::web::{Path, Query};
use actix_web::{HttpResponse, delete, get, post};

use super::extract::{Body, Operating, OptionalBody};
use super::params::ServiceTokenPath;
use super::responses::{
    CreateServiceTokenErrors, OneServiceTokenErrors, RegenerateServiceTokenErrors,
    RevokeServiceTokenErrors, ServiceTokenPageErrors,
};
use super::tokens::Answer;
use crate::pagination::Page;
use crate::tokens::dto::{
    CreateServiceToken, CreatedServiceToken, RevokeToken, ServiceTokenResource,
};
use crate::tokens::list::{self, ServiceTokenQuery};

use crate::tokens::service::{self, NewServiceToken};

/// Create a service token.
///
/// The response carries the value (`token`) this once. The caller may grant only permissions
/// it holds itself (403 otherwise).
#[utoipa::path(
    request_body = CreateServiceToken,
    responses((status = 201, description = "Created; `Location` names it", body = CreatedServiceToken), CreateServiceTokenErrors),
)]
#[post("/service-tokens")]
pub async fn create_service_token(o: Operating, Body(body): Body<CreateServiceToken>) -> Answer {
    let created = o
        .write(move |conn, by, settings| {
            let request = NewServiceToken {
                name: &body.name,
                permissions: &body.permissions,
                description: body.description.as_deref(),
                expires_at: body.expires_at,
            };
            service::create_resource(conn, &settings.peppers, &settings.prefixes, &request, by)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/v1/service-tokens/{}", created.resource.id),
        ))
        .json(created))
}

/// List service tokens, newest first.
#[utoipa::path(
    params(ServiceTokenQuery),
    responses((status = 200, description = "A page of service tokens", body = Page<ServiceTokenResource>), ServiceTokenPageErrors),
)]
#[get("/service-tokens")]
pub async fn list_service_tokens(o: Operating, query: Query<ServiceTokenQuery>) -> Answer {
    let (status, page) = query.validate()?;
    let found = o
        .read(move |conn| list::service_tokens(conn, status, &page))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Get a service token.
#[utoipa::path(
    params(ServiceTokenPath),
    responses((status = 200, description = "The service token", body = ServiceTokenResource), OneServiceTokenErrors),
)]
#[get("/service-tokens/{id}")]
pub async fn get_service_token(o: Operating, path: Path<ServiceTokenPath>) -> Answer {
    let token = o.read(move |conn| service::show(conn, &path.id)).await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Revoke a service token: it stops working at once, on every instance.
#[utoipa::path(
    params(ServiceTokenPath),
    request_body(content = Option<RevokeToken>, description = "Optional reason"),
    responses((status = 200, description = "The revoked service token", body = ServiceTokenResource), RevokeServiceTokenErrors),
)]
#[post("/service-tokens/{id}/revoke")]
pub async fn revoke_service_token(
    o: Operating,
    path: Path<ServiceTokenPath>,
    OptionalBody(body): OptionalBody<RevokeToken>,
) -> Answer {
    let reason = body.and_then(|b| b.reason);
    let token = o
        .write(move |conn, by, _| service::revoke(conn, by, &path.id, reason))
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Regenerate a service token: a new value, same id, name and permissions; the old value stops
/// working now. The caller must hold every permission of the token.
#[utoipa::path(
    params(ServiceTokenPath),
    responses((status = 200, description = "The service token and its new value", body = CreatedServiceToken), RegenerateServiceTokenErrors),
)]
#[post("/service-tokens/{id}/regenerate")]
pub async fn regenerate_service_token(o: Operating, path: Path<ServiceTokenPath>) -> Answer {
    let token = o
        .write(move |conn, by, settings| {
            service::regenerate(conn, &settings.peppers, &settings.prefixes, by, &path.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Delete a service token (it stops working at once and disappears from lists).
#[utoipa::path(
    params(ServiceTokenPath),
    responses((status = 204, description = "Deleted"), OneServiceTokenErrors),
)]
#[delete("/service-tokens/{id}")]
pub async fn delete_service_token(o: Operating, path: Path<ServiceTokenPath>) -> Answer {
    o.write(move |conn, by, _| service::delete(conn, by, &path.id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
