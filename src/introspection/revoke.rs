//! `POST /v1/revoke` (RFC 7009): revocation by value, by a service with `revoke` or by the
//! token itself. Always 200 when allowed, whether or not the token existed.

use actix_web::{HttpRequest, HttpResponse, post, web};

use super::cache::Change;
use super::invalidation;
use super::request::{self, IntrospectRequest};
use super::snapshot::OwnerType;
use crate::audit::{Actor, RequestContext};
use crate::auth::Permission;
use crate::auth::lookup::{self, Presented};
use crate::db;
use crate::error::{ApiError, Problem};
use crate::tokens::kind::TokenKind;
use crate::tokens::{handlers, repo, secret, view};

/// Revoke a token by its value (RFC 7009).
///
/// A service token needs the `revoke` permission; a personal, agent or api token may revoke
/// itself. The answer is 200 whether or not the value named a token.
#[utoipa::path(
    tag = "introspection",
    request_body(content = IntrospectRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 401, description = "No valid credential", body = Problem),
        (status = 403, description = "A session, a service token without `revoke`, or a token naming another token", body = Problem),
        (status = 422, description = "No `token`", body = Problem),
    ),
    security(("service" = []), ("token" = []))
)]
#[post("/revoke")]
pub async fn revoke(
    req: HttpRequest,
    context: RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (state, presented) = lookup::presented(&req)?;
    let Presented::Token { kind, candidates } = presented else {
        return Err(ApiError::Forbidden(
            "revocation needs a service token or the token itself".into(),
        ));
    };
    let now = crate::time::now();
    let snapshot = lookup::live_token(&state, candidates, now).await?;
    let caller = &snapshot.token;
    lookup::record_use(&state, &caller.id, lookup::peer_ip(&req), now);
    let (actor, only_self) = if kind == TokenKind::Service {
        if !snapshot.has_permission(Permission::Revoke) {
            return Err(ApiError::Forbidden(
                "this service token lacks the `revoke` permission".into(),
            ));
        }
        (Actor::service(&caller.id), None)
    } else if caller.owner_type == OwnerType::User {
        (Actor::user(&caller.owner_id), Some(caller.id.to_string()))
    } else {
        (
            Actor::system(&format!("token:{}", caller.id)),
            Some(caller.id.to_string()),
        )
    };

    let mut body = request::read(&req, payload).await?;
    let Some(value) = body.token.take() else {
        return Err(ApiError::field("token", "is required"));
    };
    if secret::parse(&state.settings.prefixes, &value).is_err() {
        return Ok(HttpResponse::Ok().finish());
    }
    let target = lookup::labelled(&state, &lookup::candidates(&state, &value));
    drop(value);
    let current = state.settings.peppers.current_id().to_owned();
    let revoked = db::transaction(&state.db, move |conn| {
        let Some(token) = repo::find_by_digests(conn, &target, &current)? else {
            return Ok(None);
        };
        if only_self.as_ref().is_some_and(|own| *own != token.id) {
            return Err(ApiError::Forbidden("a token may only revoke itself".into()));
        }
        if repo::revoke(
            conn,
            &token.id,
            &actor.id,
            Some("revoked by value (RFC 7009)"),
            crate::time::now(),
        )? {
            let resource = view::reload(conn, &token.id)?;
            handlers::record(
                conn,
                &context,
                &actor,
                "token.revoked",
                &resource,
                serde_json::json!({ "via": "rfc7009" }),
            )?;
        }
        Ok(Some(token.id))
    })
    .await?;
    if let Some(token_id) = revoked {
        invalidation::changed(&state, vec![Change::Token(token_id)]).await;
    }
    Ok(HttpResponse::Ok().finish())
}
