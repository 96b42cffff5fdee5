//! The crash test of issue 13 (DESIGN.md §7 and §10): the real binary under concurrent creates
//! and revokes, killed with SIGKILL three times and restarted on the same database, on SQLite
//! and on PostgreSQL. Token and revocation writes are durable before their response, so no
//! acknowledged write may be missing after a crash and no token may be left half-written;
//! usage is counted in memory and written in batches, so a crash may lose at most about one
//! flush interval of it. Only a killed process shows this: a graceful stop flushes and commits
//! everything, and an in-process server cannot be killed without killing the test.
//!
//! Each run prints a one-line summary (for the release note).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::deployment::{Deployment, Server};
use crate::fixtures::session;
use crate::helpers::{PgDatabase, TestResult};

/// The usage flush interval of the deployment under test.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Concurrent clients creating and revoking tokens.
const CLIENTS: usize = 8;
/// SIGKILLs, each followed by a restart on the same database.
const KILLS: usize = 3;
/// How long the load runs before each kill.
const LOAD: Duration = Duration::from_millis(1500);
/// The user whose tokens the clients create and revoke.
const USER: &str = "member";
/// The scopes of a token, by its sequence number (a valid set for a member, as sent).
const SCOPE_SETS: [&[&str]; 3] = [
    &["read"],
    &["read:projects", "write:deployments"],
    &["write"],
];

mod three_sigkills_under_load_lose_no_acknowledged_write {
    use super::*;

    #[actix_web::test]
    async fn sqlite() -> TestResult {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}", dir.path().join("tokend.db").display());
        crash_three_times("SQLite", deployment(dir, url)).await
    }

    #[actix_web::test]
    async fn postgres() -> TestResult {
        let Some((url, _database)) = PgDatabase::create()? else {
            return Ok(());
        };
        let dir = tempfile::tempdir()?;
        crash_three_times("PostgreSQL", deployment(dir, url)).await
    }
}

/// A deployment whose usage is flushed every [`FLUSH_INTERVAL`].
fn deployment(dir: tempfile::TempDir, url: String) -> Deployment {
    Deployment {
        dir,
        url,
        settings: vec![(
            "TOKEND_USAGE_FLUSH_INTERVAL_MS",
            FLUSH_INTERVAL.as_millis().to_string(),
        )],
    }
}

/// A create a client sent: the token's name and the scopes it asked for.
struct Attempt {
    name: String,
    scopes: Vec<String>,
}

/// A create the server acknowledged (201).
struct Created {
    id: String,
    value: String,
    name: String,
}

/// What one client sent and what the server acknowledged.
#[derive(Default)]
struct Work {
    attempted: Vec<Attempt>,
    created: Vec<Created>,
    /// Ids whose revocation was sent.
    revoke_attempted: Vec<String>,
    /// Ids whose revocation was acknowledged (200).
    revoked: Vec<String>,
    /// Answers that were neither a success nor a lost connection (none expected).
    refused: Vec<String>,
}

impl Work {
    fn absorb(&mut self, other: Work) {
        self.attempted.extend(other.attempted);
        self.created.extend(other.created);
        self.revoke_attempted.extend(other.revoke_attempted);
        self.revoked.extend(other.revoked);
        self.refused.extend(other.refused);
    }
}

/// One client: creates personal tokens of [`USER`] with distinct names (`tag` and a sequence
/// number) and revokes every third right after creating it, until `stop`. A request that fails
/// (the server was killed under it) is simply not acknowledged; nothing is retried, so no
/// name is sent twice.
async fn create_and_revoke(base: String, tag: String, stop: Arc<AtomicBool>) -> Work {
    let mut work = Work::default();
    let (Ok(client), Ok(session)) = (
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build(),
        session(USER),
    ) else {
        work.refused.push(format!("{tag}: no client or session"));
        return work;
    };
    let mut sequence = 0;
    while !stop.load(Ordering::Relaxed) {
        sequence += 1;
        let name = format!("crash-{tag}-{sequence}");
        let scopes: Vec<String> = SCOPE_SETS[sequence % SCOPE_SETS.len()]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        work.attempted.push(Attempt {
            name: name.clone(),
            scopes: scopes.clone(),
        });
        let body = json!({"kind": "personal", "name": name, "organization_ids": ["acme"], "scopes": scopes});
        let Some(created) = send(
            client
                .post(format!("{base}/v1/tokens"))
                .bearer_auth(&session)
                .json(&body),
            201,
            &mut work.refused,
        )
        .await
        else {
            continue;
        };
        let (Some(id), Some(value)) = (created["id"].as_str(), created["token"].as_str()) else {
            work.refused
                .push(format!("a 201 without id or value: {created}"));
            continue;
        };
        let id = id.to_owned();
        work.created.push(Created {
            id: id.clone(),
            value: value.to_owned(),
            name,
        });
        if sequence % 3 == 0 {
            work.revoke_attempted.push(id.clone());
            let revoked = send(
                client
                    .post(format!("{base}/v1/tokens/{id}/revoke"))
                    .bearer_auth(&session),
                200,
                &mut work.refused,
            )
            .await;
            if revoked.is_some_and(|r| r["status"] == "revoked") {
                work.revoked.push(id);
            }
        }
    }
    work
}

/// Sends `request`: its JSON body when the answer is `expected`; `None` when the connection
/// failed (not acknowledged), or when the answer was another status (noted in `refused`).
async fn send(
    request: reqwest::RequestBuilder,
    expected: u16,
    refused: &mut Vec<String>,
) -> Option<Value> {
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let body = response.text().await.ok()?;
    if status != expected {
        refused.push(format!("{status}: {body}"));
        return None;
    }
    let parsed = serde_json::from_str(&body).ok();
    if parsed.is_none() {
        refused.push(format!("{status} with a body that is not JSON: {body}"));
    }
    parsed
}

/// Usage of the probe token around one kill.
struct UsageAroundKill {
    /// Introspections answered active before the kill.
    acknowledged: usize,
    /// Uses the database holds after the restart.
    recorded: usize,
    /// The most uses the kill may lose: acknowledgments in the last flush interval before it,
    /// plus the allowance for one batch in flight.
    bound: usize,
}

/// Introspects `value` sequentially as `gateway` until `duration` has passed; returns the time
/// of each acknowledged (active) answer. The server is up throughout, so any failure is one.
async fn introspect_for(
    client: &reqwest::Client,
    server: &Server,
    gateway: &str,
    value: &str,
    duration: Duration,
) -> TestResult<Vec<Instant>> {
    let mut acknowledged = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let answer: Value = client
            .post(server.url("/v1/introspect"))
            .bearer_auth(gateway)
            .json(&json!({"token": value}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(answer["active"], true, "the probe token: {answer}");
        acknowledged.push(Instant::now());
    }
    Ok(acknowledged)
}

/// `GET path` as [`USER`]: the status and the JSON body.
async fn get(client: &reqwest::Client, server: &Server, path: &str) -> TestResult<(u16, Value)> {
    let response = client
        .get(server.url(path))
        .bearer_auth(session(USER)?)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// The probe token's `usage_count` as stored.
async fn usage_count(client: &reqwest::Client, server: &Server, id: &str) -> TestResult<usize> {
    let (status, token) = get(client, server, &format!("/v1/tokens/{id}")).await?;
    assert_eq!(status, 200, "{token}");
    Ok(usize::try_from(
        token["usage_count"].as_i64().ok_or("no usage_count")?,
    )?)
}

/// Every token listed for [`USER`], read page by page, by id.
async fn every_listed_token(
    client: &reqwest::Client,
    server: &Server,
) -> TestResult<HashMap<String, Value>> {
    let mut listed = HashMap::new();
    let mut path = "/v1/tokens?limit=100".to_owned();
    loop {
        let (status, page) = get(client, server, &path).await?;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().ok_or("no items")? {
            let id = item["id"].as_str().ok_or("an item without id")?;
            listed.insert(id.to_owned(), item.clone());
        }
        let total = usize::try_from(page["total_count"].as_i64().ok_or("no total_count")?)?;
        match page["page_info"]["end_cursor"].as_str() {
            Some(cursor) if page["page_info"]["has_next_page"] == true => {
                path = format!("/v1/tokens?limit=100&after={cursor}");
            }
            _ => {
                assert_eq!(listed.len(), total, "pages hold every listed token once");
                return Ok(listed);
            }
        }
    }
}

/// Sets up the directory, then three times: load, SIGKILL, restart on the same database; then
/// checks every acknowledged write and every stored token, and the usage lost at each kill.
async fn crash_three_times(backend: &str, deployment: Deployment) -> TestResult {
    let began = Instant::now();
    let directory = deployment.mint("directory-sync", "directory")?;
    let gateway = deployment.mint("gateway", "introspect")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let mut server = deployment.start(0).await?;
    for (path, body) in [
        (
            "/v1/directory/organizations/acme".to_owned(),
            json!({"name": "Acme", "api_tokens_enabled": true}),
        ),
        (
            format!("/v1/directory/users/{USER}"),
            json!({"email": format!("{USER}@example.com"), "email_verified": true}),
        ),
        (
            format!("/v1/directory/organizations/acme/members/{USER}"),
            json!({"role": "member"}),
        ),
    ] {
        let response = client
            .put(server.url(&path))
            .bearer_auth(&directory)
            .json(&body)
            .send()
            .await?;
        assert!(response.status().is_success(), "PUT {path}");
    }
    let probe: Value = client
        .post(server.url("/v1/tokens"))
        .bearer_auth(session(USER)?)
        .json(&json!({"kind": "personal", "name": "usage-probe", "organization_ids": ["acme"], "scopes": ["read"]}))
        .send()
        .await?
        .json()
        .await?;
    let probe_id = probe["id"].as_str().ok_or("the probe was not created")?;
    let probe_value = probe["token"].as_str().ok_or("the probe has no value")?;

    let mut work = Work::default();
    let mut usage = Vec::new();
    let mut recorded_before = 0;
    for kill in 1..=KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                tokio::spawn(create_and_revoke(
                    server.base.clone(),
                    format!("{kill}-{c}"),
                    Arc::clone(&stop),
                ))
            })
            .collect();
        // Meanwhile, uses of the probe, one at a time: none is in flight at the kill, so every
        // use the server counted was acknowledged.
        let acknowledged = introspect_for(&client, &server, &gateway, probe_value, LOAD).await?;
        let killed_at = Instant::now();
        server.child.kill()?;
        stop.store(true, Ordering::Relaxed);
        server.child.wait()?;
        for handle in clients {
            work.absorb(handle.await?);
        }
        server = deployment.start(kill).await?;

        // What the last committed flush held. Its batch was taken at most one interval before
        // the kill, or, when the next flush's transaction was in flight at the kill (its batch
        // is lost too), at most one interval before that flush began. Hence the window: one
        // interval, plus half of one for a batch in flight (its transaction waits for its turn
        // behind the token writes on SQLite) and for the flusher's timer running late on a
        // busy machine. A use is counted before its answer is sent, so a use counted after the
        // batch was taken was acknowledged after it too, inside the window.
        let recorded_total = usage_count(&client, &server, probe_id).await?;
        let window = FLUSH_INTERVAL + FLUSH_INTERVAL / 2;
        usage.push(UsageAroundKill {
            acknowledged: acknowledged.len(),
            recorded: recorded_total - recorded_before,
            bound: acknowledged
                .iter()
                .filter(|at| killed_at.duration_since(**at) <= window)
                .count(),
        });
        recorded_before = recorded_total;
    }

    // Every acknowledged write, and every stored token, after the last restart.
    assert!(
        work.refused.is_empty(),
        "{} unexpected answers, e.g. {:?}",
        work.refused.len(),
        work.refused.iter().take(5).collect::<Vec<_>>()
    );
    let listed = every_listed_token(&client, &server).await?;
    let attempted: HashMap<&str, &[String]> = work
        .attempted
        .iter()
        .map(|a| (a.name.as_str(), a.scopes.as_slice()))
        .collect();
    // Every stored token, acknowledged or not (a create the kill cut off may have committed):
    // one the clients sent, whole (name, scopes, organization, hint) and in one state. Those
    // acknowledged are introspected below; the others' values never reached a client.
    let mut incomplete = Vec::new();
    for (id, token) in &listed {
        if id == probe_id {
            continue;
        }
        let name = token["name"].as_str().unwrap_or_default();
        let complete = attempted.get(name).is_some_and(|scopes| {
            token["scopes"] == json!(scopes_as_stored(scopes))
                && token["organization_ids"] == json!(["acme"])
                && token["kind"] == "personal"
                && token["hint"].as_str().is_some_and(|h| !h.is_empty())
        }) && match token["status"].as_str() {
            Some("active") => token["is_active"] == true && token["revoked_at"].is_null(),
            Some("revoked") => token["is_active"] == false && token["revoked_at"].is_string(),
            Some("expired") => token["is_active"] == false,
            _ => false,
        };
        if !complete {
            incomplete.push(token.clone());
        }
    }
    assert!(
        incomplete.is_empty(),
        "{} of {} stored tokens are half-written or in no state, e.g. {:#?}",
        incomplete.len(),
        listed.len(),
        incomplete.iter().take(3).collect::<Vec<_>>()
    );

    let revoked: HashSet<&str> = work.revoked.iter().map(String::as_str).collect();
    let revoke_sent: HashSet<&str> = work.revoke_attempted.iter().map(String::as_str).collect();
    let lost_creates: Vec<&str> = work
        .created
        .iter()
        .filter(|c| !listed.contains_key(&c.id))
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        lost_creates.is_empty(),
        "{} of {} acknowledged creates are missing from the list: {lost_creates:?}",
        lost_creates.len(),
        work.created.len()
    );
    let lost_revokes: Vec<&str> = work
        .revoked
        .iter()
        .filter(|id| listed[id.as_str()]["status"] != "revoked")
        .map(String::as_str)
        .collect();
    assert!(
        lost_revokes.is_empty(),
        "{} of {} acknowledged revokes are not revoked: {lost_revokes:?}",
        lost_revokes.len(),
        work.revoked.len()
    );
    // Each acknowledged token, read and introspected, eight at a time.
    let mismatches: Vec<String> = futures_util::stream::iter(&work.created)
        .map(|created| {
            let (client, server, gateway) = (&client, &server, &gateway);
            let expected_active = if revoked.contains(created.id.as_str()) {
                Some(false)
            } else if revoke_sent.contains(created.id.as_str()) {
                // Revoked or not: the kill interrupted the revocation; either is whole.
                None
            } else {
                Some(true)
            };
            let listed_active = listed[&created.id]["status"] == "active";
            async move {
                let (status, token) =
                    get(client, server, &format!("/v1/tokens/{}", created.id)).await?;
                let answer: Value = client
                    .post(server.url("/v1/introspect"))
                    .bearer_auth(gateway)
                    .json(&json!({"token": created.value}))
                    .send()
                    .await?
                    .json()
                    .await?;
                let introspected = if answer["active"] == true {
                    Some(true)
                } else if answer == json!({"active": false}) {
                    Some(false)
                } else {
                    None
                };
                let consistent = status == 200
                    && token["name"] == created.name.as_str()
                    && introspected == Some(listed_active)
                    && expected_active.is_none_or(|active| introspected == Some(active));
                TestResult::Ok((!consistent).then(|| {
                    format!(
                        "{}: GET {status} {}, introspected {answer}, expected active {expected_active:?}",
                        created.name, token["status"]
                    )
                }))
            }
        })
        .buffer_unordered(8)
        .filter_map(|checked| async move { checked.transpose() })
        .collect::<Vec<TestResult<String>>>()
        .await
        .into_iter()
        .collect::<TestResult<_>>()?;
    assert!(
        mismatches.is_empty(),
        "{} of {} acknowledged creates are not what their acknowledgments promise: {:#?}",
        mismatches.len(),
        work.created.len(),
        mismatches.iter().take(5).collect::<Vec<_>>()
    );

    // Usage: nothing counted twice, at most one flush interval lost at each kill.
    for (kill, around) in usage.iter().enumerate() {
        assert!(
            around.recorded <= around.acknowledged,
            "kill {}: {} uses recorded, only {} acknowledged",
            kill + 1,
            around.recorded,
            around.acknowledged
        );
        let lost = around.acknowledged - around.recorded;
        assert!(
            lost <= around.bound,
            "kill {}: {lost} of {} acknowledged uses lost, more than the {} acknowledged in the \
             last flush interval",
            kill + 1,
            around.acknowledged,
            around.bound
        );
    }

    let stored_unacknowledged = listed.len() - 1 - work.created.len();
    let sum = |field: fn(&UsageAroundKill) -> usize| usage.iter().map(field).sum::<usize>();
    eprintln!(
        "crash summary ({backend}, {KILLS} SIGKILLs, {CLIENTS} clients, flush {} ms, {:.1} s): \
         acknowledged creates {}, acknowledged revokes {}, lost creates {}, lost revokes {}, \
         stored without acknowledgment {stored_unacknowledged}; usage acknowledged {} / \
         recorded {} / lost {} / bound {} (lost per kill {:?}, bound per kill {:?})",
        FLUSH_INTERVAL.as_millis(),
        began.elapsed().as_secs_f64(),
        work.created.len(),
        work.revoked.len(),
        lost_creates.len(),
        lost_revokes.len(),
        sum(|u| u.acknowledged),
        sum(|u| u.recorded),
        sum(|u| u.acknowledged - u.recorded),
        sum(|u| u.bound),
        usage
            .iter()
            .map(|u| u.acknowledged - u.recorded)
            .collect::<Vec<_>>(),
        usage.iter().map(|u| u.bound).collect::<Vec<_>>(),
    );
    Ok(())
}

/// Scopes as a token resource shows them: sorted, without duplicates.
fn scopes_as_stored(scopes: &[String]) -> Vec<String> {
    let mut sorted = scopes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
}
