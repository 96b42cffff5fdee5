//! Every extractor: the callers of each scheme, the request context of audit events, and
//! actix's own extractor errors (bad JSON, path, query) rendered as problems. Each caller
//! extractor hands the `Authorization` header and the peer address to `auth::callers`.

use std::future::{Ready, ready};
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, error as actix_error, web};
use futures_util::future::LocalBoxFuture;
use futures_util::{Stream, StreamExt};
use tracing_actix_web::RequestId;

use serde::de::DeserializeOwned;

use crate::audit::RequestContext;
use crate::audit::query::Reader;
use crate::auth::Permission;
use crate::auth::callers::{self, ServiceIdentity, Session, TokenCaller};
use crate::auth::lookup::{self, Presented};
use crate::changes::Committed;
use crate::config::Settings;
use crate::db::{self, DbConnection, DbError, Spares};
use crate::directory::sync::{Key, Resource, Syncer};
use crate::error::{ApiError, BODY_LIMIT};
use crate::serde_ext::Media;
use crate::state::AppState;
use crate::tokens::manage::{ByValue, Manager};
use crate::tokens::service::Operator;

/// The socket peer's address.
#[must_use]
pub fn peer_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|addr| addr.ip())
}

/// The client's address (rate limits, usage tracking, audit): the peer, or behind a trusted
/// proxy the client its forwarding header names.
#[must_use]
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = peer_ip(req);
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return peer;
    };
    let settings = &state.settings.client_ip;
    if settings.trusted_proxies.is_empty() {
        return peer;
    }
    let forwarded = req
        .headers()
        .get(settings.header.as_str())
        .and_then(|value| value.to_str().ok());
    settings.resolve(peer, forwarded)
}

/// The shared state and what the request presented: 429 while `client` is over its budget of
/// failed authentications, 401 for a malformed credential (counted against it).
fn presented(
    req: &HttpRequest,
    client: Option<IpAddr>,
) -> Result<(web::Data<AppState>, Presented), ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(ApiError::Internal)?;
    state.limits.admit(client)?;
    let authorization = req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes);
    let presented = lookup::presented(&state, authorization)
        .map_err(|error| callers::counted(&state, client, error))?;
    Ok((state, presented))
}

/// Where a change came from: the request id (also in the logs) and the peer address.
fn context_of(req: &HttpRequest) -> RequestContext {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), ToString::to_string);
    RequestContext {
        request_id,
        client_ip: client_ip(req).map(|ip| ip.to_string()),
    }
}

/// Implements `FromRequest` for a caller type by handing the state, what the request
/// presented, the client's address and (when named) its audit context to one function of
/// `auth::callers`. A failed authentication counts against the client's budget.
macro_rules! caller_extractor {
    ($caller:ty, |$state:ident, $presented:ident, $ip:ident $(, $context:ident)?| $body:expr) => {
        impl FromRequest for $caller {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
                let $ip = client_ip(req);
                let found = presented(req, $ip);
                $(let $context = context_of(req);)?
                Box::pin(async move {
                    let ($state, $presented) = found?;
                    let limits = $state.clone();
                    $body
                        .await
                        .map_err(|error| callers::counted(&limits, $ip, error))
                })
            }
        }
    };
}

caller_extractor!(TokenCaller, |state, presented, ip| {
    callers::token(&state, presented, ip)
});

/// A token-management request: the state and the signed-in user as a [`Manager`] (with the
/// request's context and the settings), plus the session (for its `sso_orgs`).
pub struct Managing {
    state: web::Data<AppState>,
    /// The signed-in user's session.
    pub session: Session,
    manager: Manager,
}

impl Managing {
    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Runs a use case through the one write path.
    pub async fn write<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Manager) -> Result<Committed<T>, ApiError> + Send + 'static,
    {
        let Self { state, manager, .. } = self;
        state.write(move |conn| work(conn, &manager)).await
    }

    /// Runs a read for the signed-in user (by id).
    pub async fn read<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &str) -> Result<T, ApiError> + Send + 'static,
    {
        self.read_with_spares(move |conn, _, user_id| work(conn, user_id))
            .await
    }

    /// [`Self::read`] with spare connections, for a list that counts beside its page.
    pub async fn read_with_spares<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Spares, &str) -> Result<T, ApiError> + Send + 'static,
    {
        let user_id = self.manager.user_id;
        db::run_with_spares(&self.state.db, move |conn, spares| {
            work(conn, spares, &user_id)
        })
        .await
    }
}

caller_extractor!(Managing, |state, presented, _ip, context| async move {
    let session = callers::session(&state, presented).await?;
    let manager = Manager {
        user_id: session.user.id.clone(),
        email_verified: session.email_verified(),
        context,
        settings: Arc::clone(&state.settings),
    };
    Ok(Managing {
        state,
        session,
        manager,
    })
});

/// A request of a service caller: the state and the caller as the use cases see it (`by`).
pub struct Acting<By> {
    state: web::Data<AppState>,
    by: By,
}

impl<By: Send + 'static> Acting<By> {
    /// Runs a use case through the one write path, as `by`, with the settings.
    pub async fn write<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &By, &Settings) -> Result<Committed<T>, ApiError>
            + Send
            + 'static,
    {
        let Self { state, by } = self;
        let settings = Arc::clone(&state.settings);
        state.write(move |conn| work(conn, &by, &settings)).await
    }
}

/// A directory-sync request: the calling directory service as a [`Syncer`].
pub type Syncing = Acting<Syncer>;

impl Syncing {
    /// Reads one synced resource; 404 naming it (its kind and ids) when absent.
    pub async fn find<R: Resource>(self, key: R::Key) -> Result<R, ApiError> {
        let name = key.ids().join("/");
        db::run(&self.state.db, move |conn| {
            R::find(conn, &key).map_err(DbError::from)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(R::KIND.name, &name))
    }
}

caller_extractor!(Syncing, |state, presented, ip, context| async move {
    let identity = callers::service(&state, presented, Permission::Directory, ip).await?;
    let by = Syncer {
        actor: identity.actor(),
        context,
    };
    Ok(Acting { state, by })
});

/// A service-token-management request: the calling service (with `service_tokens`) as an
/// [`Operator`] that may grant only what it holds.
pub type Operating = Acting<Operator>;

impl Operating {
    /// Runs a read.
    pub async fn read<T, F>(self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        db::run(&self.state.db, work).await
    }
}

caller_extractor!(Operating, |state, presented, ip, context| async move {
    let identity = callers::service(&state, presented, Permission::ServiceTokens, ip).await?;
    let by = Operator {
        actor: identity.actor(),
        context,
        holds: Some(
            Permission::ALL
                .into_iter()
                .filter(|p| identity.has(*p))
                .collect(),
        ),
    };
    Ok(Acting { state, by })
});

/// Who may read audit events (a session, or a service token with `audit`).
pub struct AuditReader(pub Reader);

caller_extractor!(AuditReader, |state, presented, _ip| async move {
    callers::audit_reader(&state, presented)
        .await
        .map(AuditReader)
});

/// Who revokes by value (a service token with `revoke`, or the token itself).
pub struct Revoker(pub ByValue);

caller_extractor!(Revoker, |state, presented, ip| async move {
    callers::revoker(&state, presented, ip).await.map(Revoker)
});

/// A service token with `introspect` (introspection's caller): 401 without a valid
/// credential, 403 for a valid credential of another scheme or without the permission.
pub struct Introspector(pub ServiceIdentity);

caller_extractor!(Introspector, |state, presented, ip| async move {
    let identity = callers::service(&state, presented, Permission::Introspect, ip).await?;
    state.limits.introspection(identity.token_id())?;
    Ok(Introspector(identity))
});

impl FromRequest for RequestContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(context_of(req)))
    }
}

/// A JSON body, read by the rules of every body ([`crate::serde_ext::from_json`]): another
/// content type is 415, more than the limit 413, unreadable JSON, an unknown field or a NUL
/// character 400.
pub struct Body<T>(pub T);

/// A JSON body that may be left out: an empty body is `None`; any other body is read as a
/// [`Body`]. (actix's `Option<Json<T>>` would turn a bad body into `None` and the request would
/// go on as if nothing had been sent.)
pub struct OptionalBody<T>(pub Option<T>);

/// The media type a request's `Content-Type` names.
#[must_use]
pub fn media(req: &HttpRequest) -> Option<Media> {
    Media::of(
        req.headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A header as trimmed text, `None` when absent or blank; 400 when it is not visible ASCII.
pub fn header_text<'r>(req: &'r HttpRequest, name: &str) -> Result<Option<&'r str>, ApiError> {
    let Some(value) = req.headers().get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest(format!("{name} must be visible ASCII text")))?
        .trim();
    Ok((!text.is_empty()).then_some(text))
}

/// How long a client may take to send its body (DESIGN §10): a slow client does not hold a
/// worker's attention for longer.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads a body of at most `BODY_LIMIT` bytes (more is 413) within [`BODY_TIMEOUT`] (408).
pub async fn read_bytes<S>(mut payload: S) -> Result<web::BytesMut, ApiError>
where
    S: Stream<Item = Result<web::Bytes, actix_error::PayloadError>> + Unpin,
{
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::PayloadTooLarge(BODY_LIMIT));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| ApiError::RequestTimeout(BODY_TIMEOUT.as_secs()))?
}

/// Reads a JSON body; `None` when it is empty and `optional`.
fn json_body<T: DeserializeOwned + 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    optional: bool,
) -> LocalBoxFuture<'static, Result<Option<T>, ApiError>> {
    let json = media(req) == Some(Media::Json);
    let payload = payload.take();
    Box::pin(async move {
        let body = read_bytes(payload).await?;
        if optional && body.is_empty() {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "the body must be application/json".into(),
            ));
        }
        crate::serde_ext::from_json(&body).map(Some)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body(req, payload, false);
        Box::pin(async move {
            body.await?
                .map(Body)
                .ok_or_else(|| ApiError::BadRequest("invalid JSON body: the body is empty".into()))
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = json_body(req, payload, true);
        Box::pin(async move { body.await.map(OptionalBody) })
    }
}

/// Renders an extractor's errors (`"path"`, `"query string"`) as 400 problems naming what was
/// invalid.
pub fn invalid<E: std::fmt::Display>(
    what: &'static str,
) -> impl Fn(E, &HttpRequest) -> actix_web::Error + Send + Sync + 'static {
    move |error, _| ApiError::BadRequest(format!("invalid {what}: {error}")).into()
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;
    use actix_web::test::TestRequest;

    use super::invalid;

    #[test]
    fn an_extractor_error_is_a_400_problem_naming_what_was_invalid() {
        let error = invalid("path")("no such segment", &TestRequest::default().to_http_request());
        let response = error.error_response();
        assert_eq!(response.status(), 400);
        let body = response.into_body().try_into_bytes().unwrap_or_default();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["detail"], "invalid path: no such segment");
    }
}
