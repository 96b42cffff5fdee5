//! Graceful shutdown of the real binary (DESIGN §10): SIGTERM under load turns `/readyz` to 503
//! while requests are still served, so that a load balancer watching it stops sending; then the
//! server stops accepting and lets requests in flight finish (one whose body is still arriving
//! gets its 200), flushes usage and exits 0. No request gets a connection reset.
//!
//! The load sends like a load balancer: new requests only while its last `/readyz` check (every
//! 50 ms) said ready. (A connection the kernel has queued but the server never accepted is reset
//! when the listener closes, whatever the server does; the delay exists so none is queued.)

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::deployment::{Deployment, Server};
use crate::helpers::{PgDatabase, TestResult};

/// How long `/readyz` answers 503 before the server stops accepting.
const DELAY: Duration = Duration::from_secs(1);

mod sigterm_during_load_resets_no_request {
    use super::*;

    #[actix_web::test]
    async fn sqlite() -> TestResult {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("tokend.db").display());
        drain(dir, url).await
    }

    #[actix_web::test]
    async fn postgres() -> TestResult {
        let Some((url, _database)) = PgDatabase::create()? else {
            return Ok(());
        };
        drain(tempfile::tempdir()?, url).await
    }
}

/// What the load saw.
#[derive(Default)]
struct Outcomes {
    answered: usize,
    broken: Vec<String>,
}

/// Checks `/readyz` every 50 ms, as a load balancer does, until it is not ready.
async fn watch(readyz: String, ready: Arc<AtomicBool>) {
    let client = reqwest::Client::new();
    loop {
        let up = client
            .get(&readyz)
            .send()
            .await
            .is_ok_and(|response| response.status() == 200);
        if !up {
            ready.store(false, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Introspects over a new connection each time while `ready`: an answer, or anything else (a
/// reset: the failure this test is about).
async fn load(server_url: String, caller: String, ready: Arc<AtomicBool>) -> Outcomes {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default();
    let mut outcomes = Outcomes::default();
    while ready.load(Ordering::Relaxed) {
        let sent = client
            .post(&server_url)
            .bearer_auth(&caller)
            .json(&json!({"token": "tolp_unknown"}))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 200 => outcomes.answered += 1,
            Ok(response) => outcomes
                .broken
                .push(format!("status {}", response.status())),
            Err(error) => outcomes.broken.push(format!("{error:?}")),
        }
    }
    outcomes
}

/// Starts an introspection whose body arrives in two parts, the second `after` the first, and
/// returns the raw response.
fn slow_introspection(address: &str, caller: &str, after: Duration) -> std::io::Result<String> {
    let body = json!({"token": "tolp_unknown"}).to_string();
    let mut stream = std::net::TcpStream::connect(address.trim_start_matches("http://"))?;
    write!(
        stream,
        "POST /v1/introspect HTTP/1.1\r\nHost: tokend\r\nAuthorization: Bearer {caller}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let (first, rest) = body.split_at(5);
    stream.write_all(first.as_bytes())?;
    std::thread::sleep(after);
    stream.write_all(rest.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

async fn drain(dir: tempfile::TempDir, url: String) -> TestResult {
    let deployment = Deployment {
        dir,
        url,
        settings: vec![("TOKEND_SHUTDOWN_DELAY_MS", DELAY.as_millis().to_string())],
    };
    let caller = deployment.mint("gateway", "introspect")?;
    let mut server: Server = deployment.start(0).await?;
    let ready = Arc::new(AtomicBool::new(true));
    let watcher = actix_web::rt::spawn(watch(server.url("/readyz"), Arc::clone(&ready)));
    let loads: Vec<_> = (0..4)
        .map(|_| {
            actix_web::rt::spawn(load(
                server.url("/v1/introspect"),
                caller.clone(),
                Arc::clone(&ready),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let slow = {
        let (address, caller) = (server.base.clone(), caller.clone());
        std::thread::spawn(move || slow_introspection(&address, &caller, DELAY * 2))
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()?;
    assert!(terminated.success());

    let client = reqwest::Client::new();
    // The signal reaches the server's task asynchronously: a check sent at once may be answered
    // before it lands, so /readyz gets a moment (well within the delay) to turn 503.
    let mut ready = client.get(server.url("/readyz")).send().await?.status();
    for _ in 0..20 {
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        ready = client.get(server.url("/readyz")).send().await?.status();
    }
    assert_eq!(ready, 503, "/readyz turns 503 first");
    let still = client
        .post(server.url("/v1/introspect"))
        .bearer_auth(&caller)
        .json(&json!({"token": "tolp_unknown"}))
        .send()
        .await?;
    assert_eq!(
        still.status(),
        200,
        "requests are still served during the delay"
    );

    let mut exit = None;
    for _ in 0..300 {
        if let Some(status) = server.child.try_wait()? {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = exit.ok_or("the server did not exit within 15 s of SIGTERM")?;
    watcher.await?;
    assert!(exit.success(), "exit status {exit}");

    let slow = slow.join().map_err(|_| "the slow client panicked")??;
    assert!(
        slow.starts_with("HTTP/1.1 200"),
        "the request in flight finished: {slow}"
    );
    let mut seen = Outcomes::default();
    for load in loads {
        let outcomes = load.await?;
        seen.answered += outcomes.answered;
        seen.broken.extend(outcomes.broken);
    }
    assert!(seen.answered > 0, "the load ran");
    assert!(
        seen.broken.is_empty(),
        "{} requests broken (answered {}): {:?}",
        seen.broken.len(),
        seen.answered,
        seen.broken
    );
    let log = std::fs::read_to_string(deployment.dir.path().join("serve-0.log"))?;
    assert!(
        log.contains("usage flushed at shutdown"),
        "usage is flushed on the way out:\n{log}"
    );
    eprintln!(
        "drain: {} answered under load, 0 reset; the request in flight across the stop \
         answered 200; exit 0 after the usage flush",
        seen.answered
    );
    Ok(())
}
