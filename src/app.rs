//! Start-up: migrations, the pool, the shared state and the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpServer, web};
use futures_util::future::LocalBoxFuture;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::auth::session::SessionVerifier;
use crate::config::Settings;
use crate::db::{self, Database};
use crate::error::{self, BODY_LIMIT};
use crate::introspection::cache::TokenCache;
use crate::introspection::invalidation;
use crate::introspection::loader::Loader;
use crate::telemetry::RequestSpan;
use crate::usage::{self, Recorder};
use crate::{ops, routes};

/// What every handler shares.
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// Verifies session JWTs.
    pub sessions: SessionVerifier,
    /// Usage counted since the last flush.
    pub usage: Recorder,
    /// Verified tokens (and unknown digests), shared with the invalidation listener.
    pub cache: Arc<TokenCache>,
    /// Cache misses waiting for the next batch read.
    pub loader: Loader,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Migrations failed.
    #[error(transparent)]
    Migrations(#[from] db::MigrationError),
    /// The session key could not be read.
    #[error("{0}")]
    SessionKey(String),
    /// The listen address could not be bound.
    #[error("could not listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A started server: its task (ends after a graceful shutdown and the final usage flush), a
/// handle to stop it, and its port.
pub struct Running {
    /// Serves until stopped, then writes the last usage counts.
    pub task: LocalBoxFuture<'static, std::io::Result<()>>,
    /// Stops the server (gracefully with `stop(true)`).
    pub handle: ServerHandle,
    /// The bound port (useful with port 0).
    pub port: u16,
}

/// Applies migrations and builds the shared state (and, on PostgreSQL, the invalidation
/// listener).
pub fn state(settings: Settings) -> Result<web::Data<AppState>, StartError> {
    let applied = db::run_pending(&settings.database_url)?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    crate::redact::install(&settings.prefixes);
    crate::metrics::install();
    let sessions = SessionVerifier::from_settings(&settings).map_err(StartError::SessionKey)?;
    let settings = Arc::new(settings);
    let state = web::Data::new(AppState {
        db: Database::new(&settings.database_url, settings.pool),
        settings: Arc::clone(&settings),
        sessions,
        usage: Recorder::default(),
        cache: Arc::new(TokenCache::new(settings.cache)),
        loader: Loader::default(),
    });
    if state.db.backend() == crate::db::Backend::Postgres && settings.cache.capacity > 0 {
        invalidation::spawn_listener(settings.database_url.clone(), Arc::downgrade(&state.cache));
    }
    Ok(state)
}

/// The application: extractor limits and error shapes, routes, middlewares.
pub fn application(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(
            web::JsonConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(error::json_error),
        )
        .app_data(
            web::FormConfig::default()
                .limit(BODY_LIMIT)
                .error_handler(error::form_error),
        )
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PayloadConfig::new(BODY_LIMIT))
        .configure(routes::configure)
        .default_service(web::to(ops::not_found))
        .wrap(from_fn(crate::metrics::track))
        .wrap(from_fn(echo_request_id))
        .wrap(TracingLogger::<RequestSpan>::new())
}

/// Builds the state, starts the usage flusher and binds the server on `listener`.
pub fn start(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let state = state(settings)?;
    let flush_every = state.settings.usage_flush_interval;
    let stopped = Arc::new(AtomicBool::new(false));
    actix_web::rt::spawn(usage::run_flusher(
        state.clone(),
        flush_every,
        Arc::clone(&stopped),
    ));
    let for_shutdown = state.clone();
    // Blocking work is database work: more threads than connections would only wait, switch
    // and cost memory; fewer, and reads would wait for threads held by waiting writers.
    let blocking_threads = usize::try_from(state.db.max_connections()).unwrap_or(16);
    let workers = state.settings.workers;
    let server = HttpServer::new(move || application(state.clone()))
        .worker_max_blocking_threads(blocking_threads)
        .workers(workers)
        .listen(listener)
        .map_err(|source| StartError::Bind {
            address: "listener".into(),
            source,
        })?
        .run();
    let handle = server.handle();
    let task = Box::pin(async move {
        let outcome = server.await;
        stopped.store(true, Ordering::Relaxed);
        match usage::flush(&for_shutdown).await {
            Ok(tokens) => tracing::info!(tokens, "usage flushed at shutdown"),
            Err(error) => tracing::error!(%error, "usage could not be flushed at shutdown"),
        }
        outcome
    });
    Ok(Running { task, handle, port })
}

/// Binds the configured address and serves until SIGINT/SIGTERM.
pub async fn serve(settings: Settings) -> Result<(), StartError> {
    let address = settings.bind.clone();
    let listener = TcpListener::bind(&address).map_err(|source| StartError::Bind {
        address: address.clone(),
        source,
    })?;
    let running = start(settings, listener)?;
    tracing::info!(%address, "tokend listening");
    running
        .task
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Returns the request id (also in every log line of the request) as `x-request-id`.
async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = id {
        let mut text = uuid::Uuid::encode_buffer();
        if let Ok(value) = HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-request-id"), value);
        }
    }
    Ok(response)
}
