//! The `tokend` binary as an operator uses it: CLI output and exit codes, start-up checks, and
//! a whole run whose logs and database file never contain a token value.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::TestResult;

fn tokend(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokend"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TOKEND_DATA_DIR", data_dir)
        .env("RUST_LOG", "debug");
    command
}

#[test]
fn production_without_secrets_refuses_to_start_and_names_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = tokend(dir.path())
        .env("TOKEND_ENV", "production")
        .arg("serve")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("TOKEND_PEPPERS"), "{stderr}");
    assert!(stderr.contains("TOKEND_SESSION_JWT_SECRET"), "{stderr}");
    assert!(
        !dir.path().join("dev-peppers").exists(),
        "no dev secret in production"
    );

    let output = tokend(dir.path())
        .env("TOKEND_ENV", "production")
        .env("TOKEND_SESSION_JWT_SECRET", "s".repeat(40))
        .arg("serve")
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(
        stderr.contains("TOKEND_PEPPERS") && !stderr.contains("TOKEND_SESSION_JWT_SECRET"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn help_lists_every_command() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = tokend(dir.path()).arg("--help").output()?;
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout)?;
    for command in [
        "serve",
        "migrate",
        "openapi",
        "service-token",
        "check-token",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command} missing:\n{help}"
        );
    }
    Ok(())
}

#[test]
fn check_token_needs_no_database_and_sets_the_exit_code() -> TestResult {
    let dir = tempfile::tempdir()?;
    let value = tokend::tokens::secret::generate(
        &tokend::tokens::kind::Prefixes::default(),
        tokend::tokens::kind::TokenKind::Personal,
    );
    let valid = tokend(dir.path())
        .args(["check-token", value.expose()])
        .output()?;
    assert_eq!(valid.status.code(), Some(0));
    assert!(String::from_utf8(valid.stdout)?.starts_with("valid"));
    let mut typo = value.expose().to_owned();
    typo.replace_range(8..9, if &typo[8..9] == "x" { "y" } else { "x" });
    let invalid = tokend(dir.path()).args(["check-token", &typo]).output()?;
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8(invalid.stdout)?.starts_with("invalid"));
    assert_eq!(
        tokend(dir.path())
            .args(["check-token", "hello"])
            .output()?
            .status
            .code(),
        Some(1)
    );
    assert!(
        std::fs::read_dir(dir.path())?.next().is_none(),
        "nothing was created"
    );
    Ok(())
}

#[test]
fn openapi_command_prints_the_document() -> TestResult {
    let dir = tempfile::tempdir()?;
    let output = tokend(dir.path()).arg("openapi").output()?;
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout)?,
        tokend::http::openapi::document()
    );
    Ok(())
}

/// Kills the server when the test ends, even on failure.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tokend serve` on a free port with its log in `log_path`; returns it and its base URL
/// once it answers.
async fn serve(mut command: Command, log_path: &std::path::Path) -> TestResult<(Killed, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bind = format!("127.0.0.1:{port}");
    let server = command
        .env("TOKEND_BIND", &bind)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log_path)?)
        .spawn()?;
    let server = Killed(server);
    let client = reqwest::Client::new();
    let base = format!("http://{bind}");
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            return Ok((server, base));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the server did not come up".into())
}

/// Mints a service token with the CLI; returns its value.
fn mint(command: &mut Command, name: &str, permissions: &[&str]) -> TestResult<String> {
    command.args(["service-token", "create", "--name", name]);
    for permission in permissions {
        command.args(["--permission", permission]);
    }
    let output = command.output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?.trim_end().to_owned())
}

/// A line logged on a blocking database thread carries the id of the request it serves: the
/// request span travels into the blocking thread. Revoking by value a token minted under an
/// older pepper re-digests it inside the revocation's transaction, which logs.
#[actix_web::test]
async fn a_database_thread_logs_with_the_request_id() -> TestResult {
    const OLD: &str = "old:old-pepper-0123456789abcdefghijklmnopq";
    let rotated = format!("new:new-pepper-0123456789abcdefghijklmnopq,{OLD}");
    let dir = tempfile::tempdir()?;
    let with_old = || {
        let mut command = tokend(dir.path());
        command.env("TOKEND_PEPPERS", OLD);
        command
    };
    let revoker = mint(&mut with_old(), "revoker", &["revoke"])?;
    let target = mint(&mut with_old(), "target", &["audit"])?;
    let log_path = dir.path().join("serve.log");
    let mut command = tokend(dir.path());
    command
        .env("TOKEND_PEPPERS", &rotated)
        .env("TOKEND_LOG_FORMAT", "json");
    let (server, base) = serve(command, &log_path).await?;
    let revoked = reqwest::Client::new()
        .post(format!("{base}/v1/revoke"))
        .bearer_auth(&revoker)
        .form(&[("token", target.as_str())])
        .send()
        .await?;
    assert_eq!(revoked.status(), 200);
    let request_id = revoked
        .headers()
        .get("x-request-id")
        .ok_or("no x-request-id")?
        .to_str()?
        .to_owned();
    drop(server);
    let log = std::fs::read_to_string(&log_path)?;
    let redigested: Vec<&str> = log.lines().filter(|l| l.contains("re-digested")).collect();
    assert_eq!(redigested.len(), 2, "the caller's and the target's:\n{log}");
    assert!(
        redigested.iter().any(|line| line.contains(&request_id)),
        "the transaction's log line has no request id {request_id}:\n{redigested:#?}"
    );
    Ok(())
}

/// Runs `tokend service-token ARGS` in `dir`; its stdout, or the failure with its stderr.
fn service_token(dir: &std::path::Path, args: &[&str]) -> TestResult<String> {
    let output = tokend(dir).arg("service-token").args(args).output()?;
    if !output.status.success() {
        return Err(format!("{args:?}: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// The service-token commands with the server down, then the server up on the same database:
/// list (table and JSON), show, revoke, regenerate.
#[actix_web::test]
async fn service_tokens_are_managed_from_the_command_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let gateway = mint(&mut tokend(dir.path()), "gateway", &["introspect"])?;
    let old = mint(&mut tokend(dir.path()), "old", &["introspect", "audit"])?;
    let listed: serde_json::Value =
        serde_json::from_str(&service_token(dir.path(), &["list", "--json"])?)?;
    let id_of = |name: &str| {
        listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"] == name)
            .and_then(|t| t["id"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (gateway_id, old_id) = (id_of("gateway"), id_of("old"));
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let table = service_token(dir.path(), &["list"])?;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("LAST USED"),
        "{table}"
    );
    assert!(
        table.contains(&gateway[..9]) && table.contains("introspect"),
        "{table}"
    );
    assert!(!table.contains(&gateway[9..]), "no value in the table");
    service_token(
        dir.path(),
        &["revoke", &old_id, "--reason", "left the team"],
    )?;
    let shown: serde_json::Value =
        serde_json::from_str(&service_token(dir.path(), &["show", &old_id])?)?;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked_reason"], "left the team");
    assert!(service_token(dir.path(), &["show", "no-such-id"]).is_err());
    let renewed = service_token(dir.path(), &["regenerate", &gateway_id])?;
    let renewed = renewed.trim_end();
    assert!(
        renewed.starts_with("tols_") && renewed.len() == 43,
        "{renewed}"
    );

    let log_path = dir.path().join("serve.log");
    let (_server, base) = serve(tokend(dir.path()), &log_path).await?;
    let client = reqwest::Client::new();
    let introspect = |credential: String| {
        client
            .post(format!("{base}/v1/introspect"))
            .bearer_auth(credential)
            .json(&serde_json::json!({"token": "tolp_x"}))
            .send()
    };
    assert_eq!(introspect(renewed.to_owned()).await?.status(), 200);
    assert_eq!(introspect(gateway.clone()).await?.status(), 401, "replaced");
    assert_eq!(introspect(old.clone()).await?.status(), 401, "revoked");
    Ok(())
}

#[actix_web::test]
async fn a_whole_run_leaves_no_token_value_in_logs_or_the_database() -> TestResult {
    let dir = tempfile::tempdir()?;

    let created = tokend(dir.path())
        .args([
            "service-token",
            "create",
            "--name",
            "sync",
            "--permission",
            "directory",
            "--permission",
            "audit",
        ])
        .output()?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let stdout = String::from_utf8(created.stdout)?;
    let value = stdout.trim_end_matches('\n');
    assert_eq!(stdout.lines().count(), 1, "the value alone on stdout");
    assert_eq!(value.len(), 43);
    assert!(value.starts_with("tols_"));
    let meta = String::from_utf8(created.stderr)?;
    assert!(
        meta.contains("created service token") && meta.contains("directory,audit")
            || meta.contains("audit,directory"),
        "{meta}"
    );
    assert!(!meta.contains(value));

    let log_path = dir.path().join("serve.log");
    let (server, base) = serve(tokend(dir.path()), &log_path).await?;
    let client = reqwest::Client::new();

    let put = client
        .put(format!("{base}/v1/directory/organizations/acme"))
        .bearer_auth(value)
        .json(&serde_json::json!({"name": "Acme"}))
        .send()
        .await?;
    assert_eq!(put.status(), 201);
    // The value shows up in places a careless server would echo: a bad body, a bad path.
    let bad = client
        .put(format!("{base}/v1/directory/organizations/{value}x"))
        .bearer_auth(value)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{value}"))
        .send()
        .await?;
    assert_eq!(bad.status(), 400);
    let bad_body = bad.text().await?;
    assert!(!bad_body.contains(value), "{bad_body}");
    // Percent-encoded in a path, and as a client address a proxy passed on.
    let encoded = client
        .get(format!(
            "{base}/v1/directory/organizations/{}%5F{}",
            &value[..4],
            &value[5..]
        ))
        .bearer_auth(value)
        .header("x-forwarded-for", value)
        .send()
        .await?;
    assert_eq!(encoded.status(), 404);
    let encoded_body = encoded.text().await?;
    assert!(!encoded_body.contains(&value[5..]), "{encoded_body}");
    let wrong_scheme = client
        .get(format!("{base}/v1/directory/organizations/acme"))
        .header("Authorization", format!("Basic {value}"))
        .send()
        .await?;
    assert_eq!(wrong_scheme.status(), 401);
    let pat = use_a_personal_token(&client, &base, dir.path(), value).await?;
    // SIGTERM: a graceful stop that writes the pending usage counts before exiting.
    let mut server = server;
    let terminated = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()?;
    assert!(terminated.success());
    let exit = server.0.wait()?;
    assert!(exit.success(), "graceful exit: {exit:?}");
    drop(server);
    let used: Vec<i64> = {
        use diesel::prelude::*;
        use tokend::db::schema::{token_usage, tokens};
        let url = tokend::db::DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join("tokend.db").display()
        ))?;
        token_usage::table
            .inner_join(tokens::table)
            .filter(tokens::kind.eq("personal"))
            .select(token_usage::usage_count)
            .load(&mut url.connect(false)?)?
    };
    assert_eq!(
        used,
        [2],
        "the introspection and /v1/me were flushed at shutdown"
    );

    let log = std::fs::read_to_string(&log_path)?;
    let leaked: Vec<&str> = log.lines().filter(|l| l.contains(&pat[5..])).collect();
    assert!(
        leaked.is_empty(),
        "a personal token value reached the log: {leaked:#?}"
    );
    assert!(
        log.contains("/v1/directory/organizations/acme"),
        "requests were logged:\n{log}"
    );
    let leaked: Vec<&str> = log.lines().filter(|l| l.contains(&value[5..])).collect();
    assert!(
        leaked.is_empty(),
        "a token value reached the log: {leaked:#?}"
    );
    for file in ["tokend.db", "tokend.db-wal"] {
        let path = dir.path().join(file);
        if path.exists() {
            let bytes = std::fs::read(&path)?;
            for secret in [value, pat.as_str()] {
                assert!(
                    !bytes
                        .windows(secret.len() - 5)
                        .any(|w| w == &secret.as_bytes()[5..]),
                    "a token value reached {file}"
                );
            }
        }
    }
    Ok(())
}

/// Creates a personal token through the API and uses it everywhere a value can go: the
/// introspection body, `/v1/me`, a management call, a URL. Returns its value.
async fn use_a_personal_token(
    client: &reqwest::Client,
    base: &str,
    data_dir: &std::path::Path,
    directory: &str,
) -> TestResult<String> {
    for (path, body) in [
        (
            "/v1/directory/users/u1",
            serde_json::json!({"email": "u1@example.com", "email_verified": true}),
        ),
        (
            "/v1/directory/organizations/acme/members/u1",
            serde_json::json!({"role": "member"}),
        ),
    ] {
        let response = client
            .put(format!("{base}{path}"))
            .bearer_auth(directory)
            .json(&body)
            .send()
            .await?;
        assert!(response.status().is_success());
    }
    let session = tokend(data_dir)
        .args(["dev-session", "--user", "u1"])
        .output()?;
    let session = String::from_utf8(session.stdout)?.trim().to_owned();
    let created: serde_json::Value = client
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(&session)
        .json(&serde_json::json!({"kind": "personal", "name": "cli", "organization_ids": ["acme"], "scopes": ["read"]}))
        .send()
        .await?
        .json()
        .await?;
    let pat = created["token"].as_str().unwrap_or_default().to_owned();
    assert!(pat.starts_with("tolp_"), "{created}");
    let gateway = tokend(data_dir)
        .args([
            "service-token",
            "create",
            "--name",
            "gateway",
            "--permission",
            "introspect",
        ])
        .output()?;
    let gateway = String::from_utf8(gateway.stdout)?.trim().to_owned();
    let answer: serde_json::Value = client
        .post(format!("{base}/v1/introspect"))
        .bearer_auth(&gateway)
        .json(&serde_json::json!({"token": pat}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(answer["active"], true);
    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&pat)
        .send()
        .await?
        .text()
        .await?;
    assert!(me.contains("\"cli\"") && !me.contains(&pat[5..]));
    let managed = client
        .get(format!("{base}/v1/tokens"))
        .bearer_auth(&pat)
        .send()
        .await?;
    assert_eq!(managed.status(), 403);
    let in_url = client
        .get(format!("{base}/v1/tokens/{pat}?token={pat}"))
        .bearer_auth(&session)
        .send()
        .await?;
    assert_eq!(in_url.status(), 404);
    assert!(!in_url.text().await?.contains(&pat[5..]));
    Ok(pat)
}
