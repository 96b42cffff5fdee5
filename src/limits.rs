//! tokend's own rate limits (DESIGN §10), in memory per instance: failed authentications per
//! client address (beyond the budget, 429 until a cell is free again, whatever the credential),
//! and, when configured, introspections per service token. GCRA by `governor`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The budgets (0 turns a limit off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Failed authentications one client address may make per minute.
    pub auth_failures_per_minute: u32,
    /// Introspections (and forward-auth checks) one service token may ask per second.
    pub introspection_per_second: u32,
}

/// How long to wait before trying again (`Retry-After`, whole seconds, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl RetryAfter {
    fn of(wait: Duration) -> Self {
        Self((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
    }
}

/// Clients seen this many times between two sweeps of idle keys.
const SWEEP_EVERY: u32 = 4096;

/// The limiters of one instance.
pub struct Limits {
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    blocked: quick_cache::sync::Cache<IpAddr, Instant>,
    introspection: Option<DefaultKeyedRateLimiter<String>>,
    since_sweep: AtomicU32,
}

impl Limits {
    /// Limiters with these budgets.
    #[must_use]
    pub fn new(settings: LimitSettings) -> Self {
        Self {
            failures: NonZeroU32::new(settings.auth_failures_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            blocked: quick_cache::sync::Cache::new(100_000),
            introspection: NonZeroU32::new(settings.introspection_per_second)
                .map(|n| RateLimiter::keyed(Quota::per_second(n))),
            since_sweep: AtomicU32::new(0),
        }
    }

    /// Whether `client` may try to authenticate now: not while it is over its failure budget.
    pub fn admit(&self, client: Option<IpAddr>) -> Result<(), RetryAfter> {
        let (Some(_), Some(client)) = (&self.failures, client) else {
            return Ok(());
        };
        match self.blocked.get(&client) {
            Some(until) => {
                let now = Instant::now();
                if until > now {
                    Err(RetryAfter::of(until - now))
                } else {
                    self.blocked.remove(&client);
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Counts a failed authentication of `client`; beyond the budget it is refused (and so is
    /// everything it tries until a cell is free again).
    pub fn failed(&self, client: Option<IpAddr>) -> Result<(), RetryAfter> {
        let (Some(limiter), Some(client)) = (&self.failures, client) else {
            return Ok(());
        };
        self.sweep(limiter);
        limiter.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            self.blocked.insert(client, Instant::now() + wait);
            crate::metrics::count("tokend_rate_limited_total");
            RetryAfter::of(wait)
        })
    }

    /// Counts one introspection by the service token `token_id`; beyond its rate it is refused.
    pub fn introspection(&self, token_id: &str) -> Result<(), RetryAfter> {
        let Some(limiter) = &self.introspection else {
            return Ok(());
        };
        self.sweep(limiter);
        limiter
            .check_key(&token_id.to_owned())
            .map_err(|not_until| {
                crate::metrics::count("tokend_rate_limited_total");
                RetryAfter::of(not_until.wait_time_from(DefaultClock::default().now()))
            })
    }

    /// Now and then forgets keys whose budget is full again, so memory follows the clients of
    /// the last minute, not every client ever seen.
    fn sweep<K: std::hash::Hash + Eq + Clone>(&self, limiter: &DefaultKeyedRateLimiter<K>) {
        if self.since_sweep.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(failures: u32, introspection: u32) -> Limits {
        Limits::new(LimitSettings {
            auth_failures_per_minute: failures,
            introspection_per_second: introspection,
        })
    }

    #[test]
    fn a_client_over_its_failure_budget_waits_and_others_do_not() {
        let limits = limits(3, 0);
        let a = Some(IpAddr::from([203, 0, 113, 1]));
        let b = Some(IpAddr::from([203, 0, 113, 2]));
        for _ in 0..3 {
            assert_eq!(limits.admit(a), Ok(()));
            assert_eq!(limits.failed(a), Ok(()));
        }
        let Err(RetryAfter(wait)) = limits.failed(a) else {
            panic!("the fourth failure in a minute is refused");
        };
        assert!((1..=20).contains(&wait), "{wait} s");
        assert!(
            limits.admit(a).is_err(),
            "blocked whatever it presents next"
        );
        assert_eq!(limits.admit(b), Ok(()));
        assert_eq!(limits.failed(b), Ok(()));
        assert_eq!(limits.admit(None), Ok(()), "no address, no limit");
    }

    #[test]
    fn zero_turns_a_limit_off_and_introspection_is_per_token() {
        let off = limits(0, 0);
        let a = Some(IpAddr::from([203, 0, 113, 1]));
        for _ in 0..1000 {
            assert_eq!(off.failed(a), Ok(()));
            assert_eq!(off.introspection("t1"), Ok(()));
        }
        let on = limits(0, 2);
        assert_eq!(on.introspection("t1"), Ok(()));
        assert_eq!(on.introspection("t1"), Ok(()));
        assert_eq!(on.introspection("t1"), Err(RetryAfter(1)));
        assert_eq!(on.introspection("t2"), Ok(()));
    }
}
