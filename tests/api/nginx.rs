//! A real nginx (`auth_request`) in front of a small upstream, guarded by tokend's forward
//! auth: a valid token reaches the upstream with the identity headers, none or garbage is 401,
//! a missing scope 403, and a revoked token 401 on the next request. nginx comes from Debian's
//! `nginx-light` (`.ci/run` installs it); without it the test is skipped, except under
//! `CI=true`, where that is a failure.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use tokend::auth::Permission;

use crate::fixtures::{Directory, personal, revoke_token};
use crate::helpers::{Backend, TestApp, TestResult};

/// Stops nginx when the test ends, even on failure.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The nginx binary, or `None` (skip) outside CI.
fn nginx_binary() -> TestResult<Option<String>> {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if std::path::Path::new(candidate).exists() {
            return Ok(Some(candidate.to_owned()));
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return Err("CI=true but nginx is not installed: .ci/run installs nginx-light".into());
    }
    eprintln!("skipping the nginx test: nginx is not installed (apt-get install nginx-light)");
    Ok(None)
}

fn free_port() -> TestResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The gateway's configuration: `/` needs `read`, `/admin/` needs `admin:projects`.
fn config(dir: &std::path::Path, port: u16, upstream: u16, tokend: &str, gateway: &str) -> String {
    let guard = |name: &str, scope: &str| {
        format!(
            "location = /_{name} {{ internal; \
             proxy_pass {tokend}/v1/forward-auth?scope={scope}; \
             proxy_pass_request_body off; proxy_set_header Content-Length \"\"; \
             proxy_set_header Tokend-Gateway \"Bearer {gateway}\"; \
             proxy_set_header X-Forwarded-For $remote_addr; }}\n"
        )
    };
    let guarded = |path: &str, name: &str| {
        format!(
            "location {path} {{ auth_request /_{name}; \
             auth_request_set $subject $upstream_http_tokend_subject; \
             auth_request_set $user $upstream_http_tokend_user_id; \
             auth_request_set $org $upstream_http_tokend_organization_id; \
             auth_request_set $scopes $upstream_http_tokend_scopes; \
             proxy_set_header Tokend-Subject $subject; proxy_set_header Tokend-User-Id $user; \
             proxy_set_header Tokend-Organization-Id $org; proxy_set_header Tokend-Scopes $scopes; \
             proxy_pass http://127.0.0.1:{upstream}; }}\n"
        )
    };
    let dir = dir.display();
    format!(
        "daemon off; master_process off; pid {dir}/nginx.pid; error_log {dir}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;\n\
         fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;\n\
         server {{ listen 127.0.0.1:{port};\n{}{}{}{} }} }}\n",
        guarded("/", "tokend"),
        guarded("/admin/", "tokend_admin"),
        guard("tokend", "read"),
        guard("tokend_admin", "admin:projects"),
    )
}

/// The upstream: answers every request with the headers it received, as JSON.
async fn echo(req: HttpRequest) -> HttpResponse {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                json!(value.to_str().unwrap_or_default()),
            )
        })
        .collect();
    HttpResponse::Ok().json(headers)
}

#[actix_web::test]
async fn nginx_auth_request_guards_an_upstream() -> TestResult {
    let Some(nginx) = nginx_binary()? else {
        return Ok(());
    };
    let Some(app) = TestApp::spawn(Backend::Sqlite)? else {
        return Ok(());
    };
    Directory::new(&app)?.acme().await?;
    let gateway = app.service_token("nginx", &[Permission::Introspect])?;
    let (token, value) = personal(&app, "member", "through-nginx", &["acme"], &["read"]).await?;

    let upstream = TcpListener::bind("127.0.0.1:0")?;
    let upstream_port = upstream.local_addr()?.port();
    let upstream = HttpServer::new(|| App::new().default_service(web::to(echo)))
        .workers(1)
        .listen(upstream)?
        .run();
    let upstream_handle = upstream.handle();
    actix_web::rt::spawn(upstream);

    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        config(dir.path(), port, upstream_port, &app.url(""), &gateway),
    )?;
    let _nginx = Nginx(
        Command::new(&nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client.get(format!("{base}/")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert!(up, "nginx did not come up: {}", log());

    let through = client
        .get(format!("{base}/hello"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(through.status(), 200, "{}", log());
    let seen: Value = through.json().await?;
    assert_eq!(seen["tokend-subject"], "member", "{seen}");
    assert_eq!(seen["tokend-user-id"], "member");
    assert_eq!(seen["tokend-organization-id"], "acme");
    assert_eq!(seen["tokend-scopes"], "read");

    let none = client.get(format!("{base}/hello")).send().await?;
    assert_eq!(none.status(), 401);
    let garbage = client
        .get(format!("{base}/hello"))
        .bearer_auth("tolp_not-a-token")
        .send()
        .await?;
    assert_eq!(garbage.status(), 401);
    let admin = client
        .get(format!("{base}/admin/x"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(admin.status(), 403, "missing scope");

    let revoked = revoke_token(&app, "member", &token).await?;
    assert_eq!(revoked.status(), 200);
    let after = client
        .get(format!("{base}/hello"))
        .bearer_auth(&value)
        .send()
        .await?;
    assert_eq!(after.status(), 401, "revoked, on the next request");
    upstream_handle.stop(true).await;
    Ok(())
}
