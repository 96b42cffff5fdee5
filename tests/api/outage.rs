//! A database outage under load (DESIGN §10): PostgreSQL made unreachable for a few seconds
//! behind a TCP proxy the test controls (refused connections, established ones cut, as when the
//! server stops), and the SQLite file moved away and back. Cached introspection and forward auth keep answering 200 (stale-if-error),
//! everything that needs the database answers 503 problem+json, at once once the breaker is
//! open, never 500; `/readyz` is 503 during and 200 after; normal answers come back within 2 s of
//! the database accepting connections, without a restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::fixtures::{Directory, metric, personal, session};
use crate::helpers::{Backend, TestApp, TestResult};

/// The database's timeout in this test: a request that waited for the pool would take this long.
const TIMEOUT_MS: u64 = 2000;
/// How long the database stays unreachable.
const OUTAGE: Duration = Duration::from_secs(5);

/// A TCP proxy in front of PostgreSQL that can refuse and cut connections. It runs on a thread
/// of its own: the server's start-up connects (migrations) from the test's own thread.
struct Proxy {
    port: u16,
    target: String,
    runtime: tokio::runtime::Handle,
    accepting: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    fn start(target: String) -> TestResult<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        std::thread::spawn(move || runtime.block_on(std::future::pending::<()>()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let mut proxy = Self {
            port: listener.local_addr()?.port(),
            target,
            runtime: handle,
            accepting: None,
            links: Arc::default(),
        };
        proxy.accept(listener)?;
        Ok(proxy)
    }

    fn accept(&mut self, listener: std::net::TcpListener) -> TestResult {
        listener.set_nonblocking(true)?;
        let target = self.target.clone();
        let links = Arc::clone(&self.links);
        let runtime = self.runtime.clone();
        self.accepting = Some(self.runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let link = runtime.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(link);
            }
        }));
        Ok(())
    }

    /// The database stops: new connections are refused and open ones are cut.
    fn down(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
        }
        for link in self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            link.abort();
        }
    }

    /// The database accepts connections again, on the same port.
    fn up(&mut self) -> TestResult {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port))?;
        self.accept(listener)
    }
}

/// How the test takes the database away and brings it back.
enum Unreachable {
    /// PostgreSQL behind the proxy.
    Postgres(Proxy),
    /// The SQLite files (database, WAL, shared memory), moved aside.
    Sqlite(Vec<std::path::PathBuf>),
}

impl Unreachable {
    fn down(&mut self) -> TestResult {
        match self {
            Self::Postgres(proxy) => proxy.down(),
            Self::Sqlite(files) => {
                for file in files.iter().filter(|f| f.exists()) {
                    std::fs::rename(file, aside(file))?;
                }
            }
        }
        Ok(())
    }

    fn up(&mut self) -> TestResult {
        match self {
            Self::Postgres(proxy) => proxy.up()?,
            Self::Sqlite(files) => {
                for file in files.iter() {
                    let away = aside(file);
                    if away.exists() {
                        std::fs::rename(away, file)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where a moved-aside file waits (`tokend.db-wal` → `tokend.db-wal.away`).
fn aside(file: &std::path::Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".away");
    name.into()
}

/// One answer seen during the run.
struct Seen {
    kind: &'static str,
    started: Instant,
    latency: Duration,
    status: u16,
    problem: bool,
}

/// The kinds of request the load makes, and whether each needs the database.
const KINDS: [(&str, bool); 6] = [
    ("cached introspection", false),
    ("cached forward auth", false),
    ("cached unknown value", false),
    ("uncached value introspection", true),
    ("token list (session)", true),
    ("readyz", true),
];

#[actix_web::test]
async fn postgres_stopped_under_load() -> TestResult {
    match TestApp::spawn(Backend::Postgres)? {
        Some(app) => outage_under_load(app, Backend::Postgres).await,
        None => Ok(()),
    }
}

#[actix_web::test]
async fn sqlite_file_gone_under_load() -> TestResult {
    match TestApp::spawn(Backend::Sqlite)? {
        Some(app) => outage_under_load(app, Backend::Sqlite).await,
        None => Ok(()),
    }
}

async fn outage_under_load(mut app: TestApp, backend: Backend) -> TestResult {
    Directory::new(&app)?.acme().await?;
    let gateway = crate::fixtures::introspector(&app)?;
    let (_, cached) = personal(&app, "member", "cached", &["acme"], &["read"]).await?;
    let fresh_value = || {
        tokend::tokens::secret::generate(
            &tokend::tokens::kind::Prefixes::default(),
            tokend::tokens::kind::TokenKind::Personal,
        )
        .expose()
        .to_owned()
    };
    let unknown = fresh_value();

    let timeout = TIMEOUT_MS.to_string();
    let mut settings = vec![
        ("TOKEND_DATABASE_TIMEOUT_MS", timeout.as_str()),
        // Entries expire during the outage: the stale path for entries past their TTL too.
        ("TOKEND_CACHE_TTL_MS", "1500"),
        ("TOKEND_CACHE_NEGATIVE_TTL_MS", "1500"),
    ];
    let through_proxy;
    let mut database = if backend == Backend::Postgres {
        let target = app
            .database_url
            .split('@')
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .ok_or("no host in the database URL")?
            .to_owned();
        let proxy = Proxy::start(target)?;
        through_proxy = app.database_url.replacen(
            &format!("@{}/", proxy.target),
            &format!("@127.0.0.1:{}/", proxy.port),
            1,
        );
        settings.push(("TOKEND_DATABASE_URL", through_proxy.as_str()));
        Unreachable::Postgres(proxy)
    } else {
        let file = app.data_dir.path().join("tokend.db");
        Unreachable::Sqlite(vec![
            file.clone(),
            file.with_extension("db-wal"),
            file.with_extension("db-shm"),
        ])
    };
    app.restart_with(&settings).await?;
    app.listening(1).await?;

    let member = session("member")?;
    let ask = |kind: &'static str| {
        let client = &app.client;
        let request = match kind {
            "cached introspection" => client
                .post(app.url("/v1/introspect"))
                .bearer_auth(&gateway)
                .json(&json!({"token": cached})),
            "cached forward auth" => client
                .get(app.url("/v1/forward-auth"))
                .header("Tokend-Gateway", format!("Bearer {gateway}"))
                .bearer_auth(&cached),
            "cached unknown value" => client
                .post(app.url("/v1/introspect"))
                .bearer_auth(&gateway)
                .json(&json!({"token": unknown})),
            "uncached value introspection" => client
                .post(app.url("/v1/introspect"))
                .bearer_auth(&gateway)
                .json(&json!({"token": fresh_value()})),
            "token list (session)" => client.get(app.url("/v1/tokens")).bearer_auth(&member),
            _ => client.get(app.url("/readyz")),
        };
        async move {
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status().as_u16();
            let problem = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes() == b"application/problem+json");
            let retry_after = response.headers().get("retry-after").cloned();
            let body = response.text().await?;
            if status == 503 {
                assert_eq!(
                    retry_after
                        .as_ref()
                        .map(reqwest::header::HeaderValue::as_bytes),
                    Some(&b"1"[..]),
                    "{kind}: a 503 says when to retry"
                );
            }
            if kind == "cached introspection" && status == 200 {
                assert!(body.contains("\"active\":true"), "{kind}: {body}");
            }
            if kind == "cached unknown value" && status == 200 {
                assert!(body.contains("\"active\":false"), "{kind}: {body}");
            }
            Ok::<_, Box<dyn std::error::Error>>(Seen {
                kind,
                started,
                latency: started.elapsed(),
                status,
                problem,
            })
        }
    };

    // Warm the cache: the cached kinds were answered once from the database.
    for (kind, _) in &KINDS[..3] {
        assert_eq!(ask(kind).await?.status, 200, "{kind} before the outage");
    }
    let stale_before = metric(&app, "tokend_cache_stale_answers_total").await?;

    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = KINDS.iter().map(|(kind, _)| {
        let seen = Arc::clone(&seen);
        let stop = Arc::clone(&stop);
        let ask = &ask;
        async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = ask(kind).await?;
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(answer);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        }
    });
    let load = futures_util::future::try_join_all(load);

    let timeline = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let down_at = Instant::now();
        database.down()?;
        tokio::time::sleep(OUTAGE).await;
        database.up()?;
        let up_at = Instant::now();
        // Recovered: a read that needs the database and readiness both answer 200.
        let recovered_at = loop {
            let introspected = ask("uncached value introspection").await?.status;
            let ready = ask("readyz").await?.status;
            if introspected == 200 && ready == 200 {
                break Instant::now();
            }
            if up_at.elapsed() > Duration::from_secs(10) {
                return Err("no recovery within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok::<_, Box<dyn std::error::Error>>((down_at, up_at, recovered_at))
    };
    let ((down_at, up_at, recovered_at), _) =
        futures_util::future::try_join(timeline, load).await?;
    let stale = metric(&app, "tokend_cache_stale_answers_total").await? - stale_before;

    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(seen.iter().all(|s| s.status != 500), "no 500, ever");
    // The breaker has surely opened once the first requests' deadline has passed.
    let open_from = down_at + Duration::from_millis(TIMEOUT_MS + 500);
    let mut report = BTreeMap::new();
    for (kind, needs_database) in KINDS {
        let during: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.kind == kind && s.started >= down_at && s.started < up_at)
            .collect();
        assert!(!during.is_empty(), "{kind}: asked during the outage");
        let mut statuses = BTreeMap::new();
        for s in &during {
            *statuses.entry(s.status).or_insert(0) += 1;
        }
        let open: Vec<&&Seen> = during.iter().filter(|s| s.started >= open_from).collect();
        let slowest_open = open.iter().map(|s| s.latency).max().unwrap_or_default();
        let slowest = during.iter().map(|s| s.latency).max().unwrap_or_default();
        if needs_database {
            assert!(
                during.iter().all(|s| s.status == 503 && s.problem),
                "{kind}: 503 problem+json during the outage: {statuses:?}"
            );
            assert!(!open.is_empty(), "{kind}: asked while the breaker was open");
            assert!(
                slowest_open <= Duration::from_millis(250),
                "{kind}: answered at once while the breaker was open, not after the pool's \
                 timeout ({slowest_open:?})"
            );
        } else {
            assert!(
                during.iter().all(|s| s.status == 200),
                "{kind}: answered from the cache during the outage: {statuses:?}"
            );
        }
        assert!(
            slowest < Duration::from_millis(TIMEOUT_MS + 250),
            "{kind}: no request waited longer than the timeout in all ({slowest:?})"
        );
        report.insert(kind, (statuses, slowest, slowest_open, during.len()));
    }
    let recovery = recovered_at.duration_since(up_at);
    assert!(
        recovery <= Duration::from_secs(2),
        "normal answers within 2 s of the database accepting connections ({recovery:?})"
    );
    assert!(stale >= 1.0, "stale answers were served and counted");
    let after: Vec<&Seen> = seen.iter().filter(|s| s.started >= recovered_at).collect();
    assert!(
        after.iter().all(|s| s.status == 200),
        "after recovery everything answers 200"
    );
    for (kind, (statuses, slowest, slowest_open, asked)) in &report {
        eprintln!(
            "outage ({backend:?}): {kind}: {asked} asked, statuses {statuses:?}, slowest {slowest:?}, \
             slowest once the breaker was open {slowest_open:?}"
        );
    }
    eprintln!(
        "outage ({backend:?}): recovery {recovery:?} after the database came back; {stale} stale answers"
    );
    app.stop().await?;
    if let Unreachable::Postgres(proxy) = &mut database {
        proxy.down();
    }
    Ok(())
}
