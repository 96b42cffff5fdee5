//! A slow client cannot hold tokend (DESIGN §10): with a single worker, a connection whose
//! request head never ends and one whose body never ends do not keep anyone else waiting; the
//! first is answered 408 and closed after 5 s, the second 408 `request_timeout` after 10 s.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::fixtures::introspector;
use crate::helpers::{TestApp, TestResult};
use crate::on_both_backends;

on_both_backends!(
    settings = &[("TOKEND_WORKERS", "1")];
    a_slow_client_holds_no_worker
);

/// Sends `start` on a new connection, then waits for the answer (or the close): what came back
/// and how long after sending it took.
fn stall(address: &str, start: &str) -> std::io::Result<(String, Duration)> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(start.as_bytes())?;
    let sent = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok((
        String::from_utf8_lossy(&answer).into_owned(),
        sent.elapsed(),
    ))
}

async fn a_slow_client_holds_no_worker(app: TestApp) -> TestResult {
    let gateway = introspector(&app)?;
    let address = app.address.trim_start_matches("http://").to_owned();
    let slow_head = {
        let address = address.clone();
        std::thread::spawn(move || {
            stall(&address, "POST /v1/introspect HTTP/1.1\r\nHost: tokend\r\n")
        })
    };
    let slow_body = {
        let address = address.clone();
        std::thread::spawn(move || {
            stall(
                &address,
                &format!(
                    "POST /v1/introspect HTTP/1.1\r\nHost: tokend\r\nAuthorization: Bearer \
                     {gateway}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n\
                     {{\"tok"
                ),
            )
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let started = Instant::now();
        let served = app.client.get(app.url("/healthz")).send().await?;
        assert_eq!(served.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "another client is served at once ({:?})",
            started.elapsed()
        );
    }

    let (head_answer, head_after) = slow_head.join().map_err(|_| "slow head panicked")??;
    assert!(
        head_answer.is_empty() || head_answer.starts_with("HTTP/1.1 408"),
        "an unfinished head is answered 408 or closed: {head_answer:?}"
    );
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(8)).contains(&head_after),
        "after the 5 s head timeout ({head_after:?})"
    );
    let (body_answer, body_after) = slow_body.join().map_err(|_| "slow body panicked")??;
    assert!(
        body_answer.starts_with("HTTP/1.1 408"),
        "an unfinished body is answered 408: {body_answer:?}"
    );
    assert!(
        body_answer.contains("\"code\":\"request_timeout\""),
        "{body_answer:?}"
    );
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(13)).contains(&body_after),
        "after the 10 s body timeout ({body_after:?})"
    );
    Ok(())
}
