//! The console (DESIGN §11): pages for people, served by tokend itself at `/console`. They are
//! plain ES modules over the public REST API, embedded in the binary (`console/`), with the
//! security headers of §11 on every response. `/console/login` signs a development session
//! for any user id and exists only outside production.

use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::extract::read_bytes;
use crate::auth::session;
use crate::config::{Environment, Settings};
use crate::error::ApiError;
use crate::state::AppState;

/// The page every console route but the assets serves.
const INDEX: &str = include_str!("console/index.html");
/// The development sign-in page.
const LOGIN: &str = include_str!("console/login.html");

/// The embedded assets: name, content type, content.
pub const ASSETS: [(&str, &str, &str); 2] = [
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("console/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("console/style.css"),
    ),
];

/// The Content-Security-Policy of every console response: nothing from another origin, no
/// inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'";

/// How long a development session lasts.
const DEV_SESSION_SECONDS: i64 = 8 * 60 * 60;

/// Registers `/console` (nothing when `TOKEND_CONSOLE_ENABLED=false`; no `/console/login` in
/// production).
pub fn configure(cfg: &mut web::ServiceConfig, settings: &Settings) {
    if !settings.console_enabled {
        return;
    }
    let mut console = web::scope("/console")
        .wrap(
            DefaultHeaders::new()
                .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                .add((header::REFERRER_POLICY, "no-referrer"))
                .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .add((header::CACHE_CONTROL, "no-store")),
        )
        .route("", web::get().to(to_console))
        .route("/", web::get().to(index))
        .route("/assets/{name}", web::get().to(asset));
    if settings.environment != Environment::Production {
        console = console
            .route("/login", web::get().to(login_page))
            .route("/login", web::post().to(login));
    }
    cfg.service(console.default_service(web::to(not_found)));
}

/// `/console` → `/console/` (relative asset paths and the fragment hand-over work from there).
async fn to_console() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

fn html(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body)
}

async fn index() -> HttpResponse {
    html(INDEX)
}

async fn login_page() -> HttpResponse {
    html(LOGIN)
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(content_type)))
            .body(*body),
        None => not_found().await,
    }
}

/// A console path that does not exist (with the console's headers, unlike the API's 404).
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}

/// The development sign-in form.
#[derive(Deserialize)]
struct LoginForm {
    user: String,
    #[serde(default)]
    email: String,
}

/// Signs a development session for the user named in the form and hands it to the console in
/// the fragment (which never reaches a server or a log).
async fn login(
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_bytes(payload).await?;
    let form: LoginForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("unreadable form: {e}")))?;
    let user = form.user.trim();
    if user.is_empty() {
        return Err(ApiError::BadRequest("a user id is required".into()));
    }
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    let jwt = session::dev_session(
        &state.settings,
        user,
        email,
        true,
        Vec::new(),
        DEV_SESSION_SECONDS,
    )
    .map_err(ApiError::BadRequest)?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/console/#session={jwt}")))
        .finish())
}
