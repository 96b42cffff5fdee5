//! Start-up: migrations, the shared state, the HTTP server, the background tasks and the
//! graceful shutdown. The only importer of the route list.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::KeepAlive;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use futures_util::future::LocalBoxFuture;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::audit::retention;
use crate::auth::session::SessionVerifier;
use crate::config::Settings;
use crate::db::{self, Backend};
use crate::http::middleware::{self, RequestSpan};
use crate::http::openapi::ApiDoc;
use crate::http::{console, extract, fallback, routes};
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
/// handle to stop it, its port and its state.
pub struct Running {
    /// Serves until stopped, then writes the last usage counts.
    pub task: LocalBoxFuture<'static, std::io::Result<()>>,
    /// Stops the server (gracefully with `stop(true)`).
    pub handle: ServerHandle,
    /// The bound port (useful with port 0).
    pub port: u16,
    /// The shared state (its `draining` flag turns `/readyz` to 503).
    pub state: web::Data<AppState>,
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
    let settings = Arc::clone(&state.settings);
    App::new()
        .app_data(state)
        .app_data(web::PathConfig::default().error_handler(extract::invalid("path")))
        .app_data(web::QueryConfig::default().error_handler(extract::invalid("query string")))
        .configure(routes::configure)
        .configure(|cfg| console::configure(cfg, &settings))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
        .service(web::redirect("/docs", "/docs/"))
        .default_service(web::to(fallback::not_found))
        .wrap(from_fn(middleware::refuse_nul))
        .wrap(from_fn(middleware::track))
        .wrap(from_fn(middleware::echo_request_id))
        .wrap(TracingLogger::<RequestSpan>::new())
}

/// Builds the state, starts the usage flusher, the audit pruner and the metrics upkeep, and
/// binds the server on `listener`.
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
    let pruner = actix_web::rt::spawn(retention::run_pruner(
        state.db.clone(),
        state.settings.audit_retention_days,
        Arc::clone(&stopped),
    ));
    let upkeep = actix_web::rt::spawn(crate::metrics::run_upkeep());
    let for_shutdown = state.clone();
    let running_state = state.clone();
    // Blocking work is database work: more threads than connections would only wait, switch
    // and cost memory; fewer, and reads would wait for threads held by waiting writers.
    let blocking_threads = usize::try_from(state.db.max_connections()).unwrap_or(16);
    let workers = state.settings.workers;
    let server = HttpServer::new(move || application(state.clone()))
        .worker_max_blocking_threads(blocking_threads)
        .workers(workers)
        // A slow client cannot hold a worker: its request head must arrive within 5 s (the body
        // within 10 s, see `extract::read_bytes`), and an idle connection is closed after 5 s.
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
        // Signals are handled in `serve`: SIGTERM first turns `/readyz` to 503.
        .disable_signals()
        .shutdown_timeout(30)
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
        // It sleeps for a day between prunes: end it rather than wait for it to see `stopped`;
        // the metrics upkeep runs until it is ended.
        pruner.abort();
        upkeep.abort();
        match usage::flush(&for_shutdown.usage, &for_shutdown.db).await {
            Ok(tokens) => tracing::info!(tokens, "usage flushed at shutdown"),
            Err(error) => tracing::error!(%error, "usage could not be flushed at shutdown"),
        }
        outcome
    });
    Ok(Running {
        task,
        handle,
        port,
        state: running_state,
    })
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
    actix_web::rt::spawn(stop_on_signal(
        running.handle.clone(),
        running.state.clone(),
    ));
    running
        .task
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Graceful shutdown (DESIGN §10). SIGTERM: `/readyz` turns 503 at once, requests are still
/// served for `TOKEND_SHUTDOWN_DELAY_MS` (so load balancers stop sending new ones), then the
/// server stops accepting and lets in-flight requests finish (at most 30 s); the final usage
/// flush follows, then the pools close. SIGINT (Ctrl-C) skips the delay.
async fn stop_on_signal(handle: ServerHandle, state: web::Data<AppState>) {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        tracing::error!("could not listen for SIGTERM");
        return;
    };
    let interrupt = Box::pin(actix_web::rt::signal::ctrl_c());
    let terminated = Box::pin(terminate.recv());
    let delay = match futures_util::future::select(terminated, interrupt).await {
        futures_util::future::Either::Left(_) => state.settings.shutdown_delay,
        futures_util::future::Either::Right(_) => Duration::ZERO,
    };
    state.draining.store(true, Ordering::Relaxed);
    tracing::info!(
        delay_ms = delay.as_millis(),
        "shutting down: /readyz answers 503"
    );
    actix_web::rt::time::sleep(delay).await;
    tracing::info!("no longer accepting; finishing requests in flight");
    handle.stop(true).await;
}
