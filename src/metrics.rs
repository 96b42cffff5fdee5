//! Prometheus metrics (served at `/metrics` by the HTTP layer): requests per route and status
//! with latency, introspection results, cache hits/misses/evictions, pool connections, usage
//! flushes, invalidations and pruned audit events. Counters only: a leaf that imports nothing
//! of the crate.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use foldhash::fast::RandomState;
use metrics::{Counter, Histogram, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it).
pub fn install() {
    HANDLE.get_or_init(|| match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => {
            describe();
            Some(handle)
        }
        Err(error) => {
            tracing::warn!(%error, "metrics recorder not installed");
            None
        }
    });
}

/// How often the latency samples recorded since are folded into their summaries.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds the latency samples recorded since the last call into their summaries. The exporter
/// otherwise keeps every sample (8 bytes a request) until `/metrics` is scraped: for ever when
/// nothing scrapes it.
pub fn upkeep() {
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        handle.run_upkeep();
    }
}

/// Runs `upkeep` every `UPKEEP_EVERY` until the task is aborted (at shutdown): the exporter
/// leaves this to whoever installs it as tokend does.
pub async fn run_upkeep() {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        every.tick().await;
        upkeep();
    }
}

/// The `# HELP` text of every series tokend exports (units are in the names).
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "tokend_http_requests_total",
        "HTTP requests answered, by route pattern, method and status."
    );
    describe_histogram!(
        "tokend_http_request_duration_seconds",
        "Time from reading a request to its response, by route pattern, method and status."
    );
    describe_counter!(
        "tokend_introspections_total",
        "Introspection answers, by result: active, or the reason the token is inactive."
    );
    describe_counter!(
        "tokend_token_cache_hits_total",
        "Token lookups answered from the verified-token cache."
    );
    describe_counter!(
        "tokend_token_cache_misses_total",
        "Token lookups that had to read the database."
    );
    describe_counter!(
        "tokend_token_cache_evictions_total",
        "Cache entries dropped to stay within TOKEND_CACHE_CAPACITY."
    );
    describe_gauge!(
        "tokend_token_cache_entries",
        "Entries in the verified-token cache (tokens and unknown digests) at scrape time."
    );
    describe_gauge!(
        "tokend_db_pool_connections",
        "Database connections at scrape time, by state: in_use or idle."
    );
    describe_counter!(
        "tokend_usage_flush_batches_total",
        "Usage batches written to the database."
    );
    describe_histogram!(
        "tokend_usage_flush_duration_seconds",
        "Time to write one usage batch."
    );
    describe_counter!(
        "tokend_invalidations_sent_total",
        "Cache invalidations announced to other instances (PostgreSQL NOTIFY)."
    );
    describe_counter!(
        "tokend_invalidations_received_total",
        "Cache invalidations received from other instances and applied."
    );
    describe_counter!(
        "tokend_cache_stale_answers_total",
        "Token lookups answered from an expired or unconfirmed cache entry because the \
         database was unavailable (stale-if-error)."
    );
    describe_counter!(
        "tokend_database_breaker_opened_total",
        "Times the database circuit breaker opened after consecutive connection failures."
    );
    describe_counter!(
        "tokend_rate_limited_total",
        "Requests refused with 429: failed authentications over a client's budget, or \
         introspections over a service token's rate."
    );
    describe_counter!(
        "tokend_audit_events_pruned_total",
        "Audit events deleted for being older than TOKEND_AUDIT_RETENTION_DAYS."
    );
}

/// The request counter and latency histogram of one route, method and status.
type RequestHandles = (Counter, Histogram);

/// Counters by the address and length of their name and label value (static strings:
/// comparing and hashing those is cheaper than comparing and hashing the text; two equal texts at
/// different addresses only resolve the same series twice).
type CounterKey = (usize, usize, usize, usize);

thread_local! {
    /// Metric handles resolved once per worker thread, so the hot path neither builds label
    /// sets nor hashes them into the registry on every request.
    static REQUESTS: RefCell<HashMap<(String, &'static str, u16), RequestHandles, RandomState>> =
        RefCell::new(HashMap::with_hasher(RandomState::default()));
    static COUNTERS: RefCell<HashMap<CounterKey, Counter, RandomState>> =
        RefCell::new(HashMap::with_hasher(RandomState::default()));
}

/// Counts one request and its latency by route pattern, method and status.
pub fn record_request(route: String, method: &'static str, status: u16, elapsed: f64) {
    REQUESTS.with_borrow_mut(|handles| {
        let (requests, latency) =
            handles
                .entry((route, method, status))
                .or_insert_with_key(|(route, method, status)| {
                    let labels = [
                        ("route", SharedString::from(route.clone())),
                        ("method", SharedString::const_str(method)),
                        ("status", SharedString::from(status.to_string())),
                    ];
                    (
                        metrics::counter!("tokend_http_requests_total", &labels),
                        metrics::histogram!("tokend_http_request_duration_seconds", &labels),
                    )
                });
        requests.increment(1);
        latency.record(elapsed);
    });
}

/// Adds one to the counter `name`, or to its series with `label` set to `value`.
fn increment(name: &'static str, label: &'static str, value: &'static str) {
    COUNTERS.with_borrow_mut(|counters| {
        counters
            .entry((
                name.as_ptr() as usize,
                name.len(),
                value.as_ptr() as usize,
                value.len(),
            ))
            .or_insert_with(|| {
                if label.is_empty() {
                    metrics::counter!(name)
                } else {
                    metrics::counter!(name, label => value)
                }
            })
            .increment(1);
    });
}

/// Adds one to an unlabelled counter.
pub fn count(name: &'static str) {
    increment(name, "", "");
}

/// Counts one introspection answer by result (`active` or the inactive reason).
pub fn count_introspection(result: &'static str) {
    increment("tokend_introspections_total", "result", result);
}

/// Counts audit events the daily retention prune deleted (a sum over batches, so it is added
/// to directly rather than through the per-thread handles of the hot path).
pub fn count_audit_events_pruned(events: u64) {
    metrics::counter!("tokend_audit_events_pruned_total").increment(events);
}

/// The Prometheus text exposition, after setting the gauges read at scrape time: pool
/// connections in use and idle, and cache entries.
#[must_use]
pub fn render(in_use: u32, idle: u32, cache_entries: u64) -> String {
    metrics::gauge!("tokend_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("tokend_db_pool_connections", "state" => "idle").set(f64::from(idle));
    #[expect(clippy::cast_precision_loss, reason = "an entry count as a gauge")]
    metrics::gauge!("tokend_token_cache_entries").set(cache_entries as f64);
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}
