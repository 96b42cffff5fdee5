//! `spawn_app()`: the real server on port 0 over a fresh database, on either backend.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use tokend::auth::Permission;
use tokend::config::RawConfig;
use tokend::db::{DatabaseUrl, DbConnection};
use tokend::tokens::issue::{self, Spec};
use tokend::tokens::kind::TokenKind;
use tokend::tokens::service::{self, NewServiceToken, Operator};

/// Test result: `?` on anything.
pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The two storage engines every test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Peppers of the test deployment (`current` first).
pub const TEST_PEPPERS: &str = "current:test-pepper-current-0123456789abcdefghij";
/// The HS256 session secret of the test deployment.
pub const TEST_SESSION_SECRET: &str = "test-session-secret-0123456789abcdefghij";

/// A running server over its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub data_dir: tempfile::TempDir,
    handle: Option<ServerHandle>,
    task: Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
    pg: Option<PgDatabase>,
}

/// A PostgreSQL database created for one test and dropped after it.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates a fresh database on the test server; returns its URL and the guard that drops
    /// it. `None` when PostgreSQL tests are skipped (see [`postgres_admin_url`]).
    pub fn create() -> TestResult<Option<(String, Self)>> {
        let Some(admin_url) = postgres_admin_url()? else {
            return Ok(None);
        };
        let name = format!("tokend_test_{}", uuid::Uuid::now_v7().simple());
        let DbConnection::Pg(mut admin) =
            DatabaseUrl::Postgres(admin_url.clone()).connect(false)?
        else {
            return Err("expected a PostgreSQL connection".into());
        };
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Ok(Some((format!("{base}/{name}"), Self { admin_url, name })))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(DbConnection::Pg(mut conn)) =
            DatabaseUrl::Postgres(self.admin_url.clone()).connect(false)
        {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The admin URL of the test PostgreSQL server. Under `CI=true` a missing URL is an error;
/// elsewhere PostgreSQL tests are skipped (with a note on stderr).
pub fn postgres_admin_url() -> TestResult<Option<String>> {
    match std::env::var("TOKEND_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            Err("CI=true but TOKEND_TEST_POSTGRES_URL is not set: PostgreSQL tests must run".into())
        }
        _ => {
            eprintln!("skipping PostgreSQL test: TOKEND_TEST_POSTGRES_URL is not set");
            Ok(None)
        }
    }
}

impl TestApp {
    /// Starts a server on `backend` over a fresh database; `None` when PostgreSQL tests are
    /// skipped.
    pub fn spawn(backend: Backend) -> TestResult<Option<Self>> {
        Self::spawn_with(backend, &[])
    }

    /// [`TestApp::spawn`] with extra `TOKEND_*` settings.
    pub fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestResult<Option<Self>> {
        let data_dir = tempfile::tempdir()?;
        let (database_url, pg) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", data_dir.path().join("tokend.db").display()),
                None,
            ),
            Backend::Postgres => match PgDatabase::create()? {
                Some((url, pg)) => (url, Some(pg)),
                None => return Ok(None),
            },
        };
        let mut app = Self {
            address: String::new(),
            client: reqwest::Client::new(),
            database_url,
            data_dir,
            handle: None,
            task: None,
            pg,
        };
        app.start(extra)?;
        Ok(Some(app))
    }

    /// A second server over the same database (several instances of one deployment).
    pub fn second_instance(&self, extra: &[(&str, &str)]) -> TestResult<Self> {
        let mut other = Self {
            address: String::new(),
            client: reqwest::Client::new(),
            database_url: self.database_url.clone(),
            data_dir: tempfile::tempdir()?,
            handle: None,
            task: None,
            pg: None,
        };
        other.start(extra)?;
        Ok(other)
    }

    fn settings(&self, extra: &[(&str, &str)]) -> TestResult<tokend::config::Settings> {
        let mut pairs = vec![
            (
                "TOKEND_DATA_DIR".to_owned(),
                self.data_dir.path().display().to_string(),
            ),
            ("TOKEND_DATABASE_URL".to_owned(), self.database_url.clone()),
            ("TOKEND_PEPPERS".to_owned(), TEST_PEPPERS.to_owned()),
            (
                "TOKEND_SESSION_JWT_SECRET".to_owned(),
                TEST_SESSION_SECRET.to_owned(),
            ),
            ("TOKEND_DATABASE_TIMEOUT_MS".to_owned(), "1000".to_owned()),
            ("TOKEND_DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
        ];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Ok(RawConfig::from_sources(None, pairs)?
            .into_settings()?
            .settings)
    }

    fn start(&mut self, extra: &[(&str, &str)]) -> TestResult {
        let settings = self.settings(extra)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let running = tokend::app::start(settings, listener)?;
        self.address = format!("http://127.0.0.1:{}", running.port);
        self.handle = Some(running.handle);
        self.task = Some(actix_web::rt::spawn(running.task));
        Ok(())
    }

    /// Stops the server gracefully and starts a new one over the same database with `extra`
    /// settings.
    pub async fn restart_with(&mut self, extra: &[(&str, &str)]) -> TestResult {
        self.stop().await?;
        self.start(extra)
    }

    /// Stops the server gracefully and waits for its final usage flush.
    pub async fn stop(&mut self) -> TestResult {
        if let Some(handle) = self.handle.take() {
            handle.stop(true).await;
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }

    /// A direct connection to the test database (for checking rows).
    pub fn connection(&self) -> TestResult<DbConnection> {
        Ok(DatabaseUrl::parse(&self.database_url)?.connect(false)?)
    }

    /// Mints a service token with `permissions` and returns its value.
    pub fn service_token(&self, name: &str, permissions: &[Permission]) -> TestResult<String> {
        let settings = self.settings(&[])?;
        let mut conn = self.connection()?;
        let (_, value) = diesel::Connection::transaction(&mut conn, |conn| {
            service::create(
                conn,
                &settings.peppers,
                &settings.prefixes,
                &NewServiceToken {
                    name,
                    permissions,
                    ..NewServiceToken::default()
                },
                &Operator::cli(),
            )
        })?;
        Ok(value.into_exposed())
    }

    /// The shared state of another instance over this database, without its server or cache
    /// (for driving library pieces such as the usage flush directly).
    pub fn state(&self) -> TestResult<actix_web::web::Data<tokend::state::AppState>> {
        Ok(tokend::app::state(
            self.settings(&[("TOKEND_CACHE_CAPACITY", "0")])?,
        )?)
    }

    /// Issues `count` personal tokens of `owner` directly through the library (faster than
    /// the API for hundreds of tokens) and returns their ids.
    pub fn issue_tokens(&self, owner: &str, count: usize) -> TestResult<Vec<String>> {
        let settings = self.settings(&[])?;
        let mut conn = self.connection()?;
        let scopes = ["read".to_owned()];
        let ids = diesel::Connection::transaction(&mut conn, |conn| {
            (0..count)
                .map(|i| {
                    issue::issue(
                        conn,
                        &settings.peppers,
                        &settings.prefixes,
                        &Spec {
                            kind: TokenKind::Personal,
                            name: &format!("bulk-{i}"),
                            description: None,
                            scopes: &scopes,
                            organization_ids: &[],
                            project_ids: &[],
                            owner_type: tokend::tokens::kind::OwnerType::User,
                            owner_id: owner,
                            created_by: Some(owner),
                            expires_at: None,
                        },
                    )
                    .map(|(row, _)| row.id)
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(ids)
    }

    /// The PostgreSQL database's name (the last segment of its URL).
    pub fn database_name(&self) -> &str {
        self.database_url.rsplit('/').next().unwrap_or_default()
    }

    /// Waits until every instance on this PostgreSQL database has its invalidation listener up
    /// (each clears its cache once when it starts listening); immediate on SQLite.
    pub async fn listening(&self, instances: i64) -> TestResult {
        if self.pg.is_none() {
            return Ok(());
        }
        let query = format!(
            "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = '{}' \
             AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
            self.database_name()
        );
        let mut conn = self.connection()?;
        for _ in 0..100 {
            let up: Listeners =
                diesel::RunQueryDsl::get_result(diesel::sql_query(&query), &mut conn)?;
            if up.n >= instances {
                // The cache is cleared right after LISTEN returns.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err("the invalidation listener did not start within 5 s".into())
    }

    /// A URL on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Makes the database unreachable: drops the PostgreSQL database, or deletes the SQLite
    /// files.
    pub fn break_database(&mut self) -> TestResult {
        match self.pg.take() {
            Some(pg) => drop(pg),
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let path = self.data_dir.path().join(format!("tokend.db{suffix}"));
                    if path.exists() {
                        std::fs::remove_file(path)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A row count.
#[derive(diesel::QueryableByName)]
struct Listeners {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The value of header `name` as text; empty when absent or not text.
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Reads a problem+json response and checks its status, content type and `code`.
pub async fn expect_problem(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> TestResult<serde_json::Value> {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = header(&response, "content-type");
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = response.json().await?;
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(
        body["type"].is_string() && body["title"].is_string(),
        "{body}"
    );
    Ok(body)
}

/// Declares each listed `async fn name(app: TestApp) -> TestResult` as two tests,
/// `name::sqlite` and `name::postgres` (optionally with extra `settings = &[(KEY, VALUE)];`).
#[macro_export]
macro_rules! on_both_backends {
    (settings = $settings:expr; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() -> $crate::helpers::TestResult {
                    match $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Sqlite, $settings)? {
                        Some(app) => super::$name(app).await,
                        None => Ok(()),
                    }
                }

                #[actix_web::test]
                async fn postgres() -> $crate::helpers::TestResult {
                    match $crate::helpers::TestApp::spawn_with($crate::helpers::Backend::Postgres, $settings)? {
                        Some(app) => super::$name(app).await,
                        None => Ok(()),
                    }
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() -> $crate::helpers::TestResult {
                    match $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite)? {
                        Some(app) => super::$name(app).await,
                        None => Ok(()),
                    }
                }

                #[actix_web::test]
                async fn postgres() -> $crate::helpers::TestResult {
                    match $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres)? {
                        Some(app) => super::$name(app).await,
                        None => Ok(()),
                    }
                }
            }
        )*
    };
}
