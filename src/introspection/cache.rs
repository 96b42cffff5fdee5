//! The verified-token cache: snapshots keyed by the digest under the current pepper, negative
//! entries for unknown digests, a TTL as the safety bound, and targeted invalidation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, UnitWeighter};

use super::snapshot::Snapshot;
use crate::changes::Change;
use crate::config::CacheSettings;
use crate::tokens::kind::OwnerType;

/// A digest (HMAC-SHA256 under the current pepper).
pub type Key = [u8; 32];

/// What the cache knows about a digest.
#[derive(Debug, Clone)]
pub enum Cached {
    /// A token and its surroundings.
    Known(Arc<Snapshot>),
    /// No token has this digest.
    Unknown,
}

/// Whether a cached snapshot depends on what changed.
fn affects(change: &Change, snapshot: &Snapshot) -> bool {
    let token = &snapshot.token;
    let in_org = |org: &str| snapshot.grants.iter().any(|g| &*g.organization_id == org);
    match change {
        Change::Token(id) => *token.id == **id,
        Change::User(user) => token.owned_by_user(user),
        Change::Organization(org) => {
            in_org(org) || (token.owner_type == OwnerType::Organization && *token.owner_id == **org)
        }
        Change::Membership {
            organization_id,
            user_id,
        } => token.owned_by_user(user_id) && in_org(organization_id),
        Change::Everything => true,
    }
}

/// A cached value and the end of its time to live.
#[derive(Debug, Clone)]
struct Timed<V> {
    value: V,
    until: Instant,
}

/// Counts evictions for the metrics.
#[derive(Debug, Clone, Default)]
struct CountEvictions;

impl<K, V> Lifecycle<K, V> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, (): &mut (), _key: K, _value: V) {
        crate::metrics::count("tokend_token_cache_evictions_total");
    }
}

/// One bounded map (S3-FIFO eviction, sharded locks) with a fixed time to live.
struct Bounded<V> {
    map: Cache<Key, Timed<V>, UnitWeighter, DefaultHashBuilder, CountEvictions>,
    ttl: Duration,
}

impl<V: Clone> Bounded<V> {
    fn new(capacity: u64, ttl: Duration) -> Self {
        let items = usize::try_from(capacity).unwrap_or(usize::MAX);
        Self {
            map: Cache::with(
                items,
                capacity,
                UnitWeighter,
                DefaultHashBuilder::default(),
                CountEvictions,
            ),
            ttl,
        }
    }

    fn get(&self, key: &Key) -> Option<V> {
        let entry = self.map.get(key)?;
        let now = Instant::now();
        if entry.until > now {
            return Some(entry.value);
        }
        self.map.remove_if(key, |entry| entry.until <= now);
        None
    }

    fn insert(&self, key: Key, value: V) {
        let until = Instant::now() + self.ttl;
        self.map.insert(key, Timed { value, until });
    }
}

/// The cache. With capacity 0 it holds nothing (every call is a miss).
pub struct TokenCache {
    known: Option<Bounded<Arc<Snapshot>>>,
    unknown: Option<Bounded<()>>,
    generation: AtomicU64,
    origin: String,
}

impl TokenCache {
    /// A cache sized by the settings.
    #[must_use]
    pub fn new(settings: CacheSettings) -> Self {
        let enabled = settings.capacity > 0;
        Self {
            known: enabled.then(|| Bounded::new(settings.capacity, settings.ttl)),
            unknown: enabled.then(|| Bounded::new(settings.capacity, settings.negative_ttl)),
            generation: AtomicU64::new(0),
            origin: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// What is cached for `key`, if anything (expiry is checked by the caller on every hit).
    #[must_use]
    pub fn get(&self, key: &Key) -> Option<Cached> {
        if let Some(snapshot) = self.known.as_ref().and_then(|c| c.get(key)) {
            return Some(Cached::Known(snapshot));
        }
        self.unknown
            .as_ref()
            .and_then(|c| c.get(key))
            .map(|()| Cached::Unknown)
    }

    /// This instance's name on the invalidation channel (unique per cache).
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The invalidation generation; read it before loading from the database.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches what was loaded, unless something changed since `seen` (the load may be stale).
    pub fn insert(&self, key: Key, loaded: Option<Arc<Snapshot>>, seen: u64) {
        if self.generation() != seen {
            return;
        }
        match loaded {
            Some(snapshot) => {
                if let Some(cache) = &self.known {
                    cache.insert(key, snapshot);
                }
            }
            None => {
                if let Some(cache) = &self.unknown {
                    cache.insert(key, ());
                }
            }
        }
    }

    /// Drops every entry the changes of one commit affect, in one pass over the cache; loads
    /// already under way will not be cached.
    pub fn apply(&self, changes: &[Change]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let Some(known) = &self.known else {
            return;
        };
        if changes.contains(&Change::Everything) {
            known.map.clear();
        } else {
            known
                .map
                .retain(|_, entry| !changes.iter().any(|change| affects(change, &entry.value)));
        }
    }

    /// Entries held, for the metrics gauge.
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        let len = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.known.as_ref().map_or(0, |c| len(c.map.len()))
            + self.unknown.as_ref().map_or(0, |c| len(c.map.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(capacity: u64, ttl: Duration) -> CacheSettings {
        CacheSettings {
            capacity,
            ttl,
            negative_ttl: ttl,
        }
    }

    fn key(i: u32) -> Key {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&i.to_le_bytes());
        key
    }

    #[test]
    fn capacity_bounds_the_entries() {
        let cache = TokenCache::new(settings(64, Duration::from_secs(60)));
        for i in 0..1000 {
            cache.insert(key(i), None, cache.generation());
        }
        let held = cache.entry_count();
        assert!((1..=64).contains(&held), "{held} entries");
        assert!(matches!(cache.get(&key(999)), Some(Cached::Unknown)));
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = TokenCache::new(settings(64, Duration::from_millis(30)));
        cache.insert(key(1), None, cache.generation());
        assert!(cache.get(&key(1)).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get(&key(1)).is_none(), "served past its TTL");
        assert_eq!(
            cache.entry_count(),
            0,
            "an expired entry is removed when read"
        );
    }

    #[test]
    fn a_load_older_than_a_change_is_not_cached() {
        let cache = TokenCache::new(settings(64, Duration::from_secs(60)));
        let seen = cache.generation();
        cache.apply(&[Change::Everything]);
        cache.insert(key(1), None, seen);
        assert!(cache.get(&key(1)).is_none());
    }
}
