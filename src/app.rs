//! Start-up: migrations, the shared state, the HTTP server, the background tasks and the
//! graceful shutdown. The only importer of the route list.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use futures_util::future::LocalBoxFuture;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::session::SessionVerifier;
use crate::config::Settings;
use crate::db::{self, Backend};
use crate::http::middleware::{self, RequestSpan};
use crate::http::openapi::ApiDoc;
use crate::http::{extract, fallback, routes};
use crate::introspection::invalidation;
use crate::state::AppState;

use crate::usage;

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
    let state = web::Data::new(AppState::new(Arc::new(settings), sessions));
    if state.db.backend() == Backend::Postgres && state.settings.cache.capacity > 0 {
        invalidation::spawn_listener(
            state.settings.database_url.clone(),
            Arc::downgrade(&state.cache),
        );
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
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .configure(routes::configure)
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(fallback::not_found))
        .wrap(from_fn(middleware::refuse_nul))
        .wrap(from_fn(middleware::track))
        .wrap(from_fn(middleware::echo_request_id))
        .wrap(TracingLogger::<RequestSpan>::new())
}

/// Builds the state, starts the usage flusher and binds the server on `listener`.
pub fn start(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let state = state(settings)?;
    let flush_every = state.settings.usage_flush_interval;
    let stopped = Arc::new(AtomicBool::new(false));
    let flusher = state.clone();
    let flusher_stopped = Arc::clone(&stopped);
    actix_web::rt::spawn(async move {
        usage::run_flusher(&flusher.usage, &flusher.db, flush_every, flusher_stopped).await;
    });
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
        match usage::flush(&for_shutdown.usage, &for_shutdown.db).await {
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
