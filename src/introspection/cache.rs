//! The verified-token cache: snapshots keyed by the digest under the current pepper, negative
//! entries for unknown digests, a TTL as the safety bound, and targeted invalidation.
//!
//! An entry past its TTL, or inserted before the invalidation listener last lost its
//! connection (*unconfirmed*), is not an answer: it is read again. It stays in the map for the
//! stale-if-error window so that, when that read fails because the database is unavailable,
//! it can still be served (DESIGN §10).

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

/// What the cache knows about a digest, and whether it may be answered from without asking
/// the database.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// Within its TTL and confirmed: the answer.
    Fresh(Cached),
    /// Past its TTL or unconfirmed: read again; serve it only if that read finds the database
    /// unavailable.
    Stale(Cached),
    /// Nothing cached.
    Miss,
}

/// What the cache holds for a digest.
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

/// A cached value, the end of its time to live, and the confirmation epoch it was read in.
#[derive(Debug, Clone)]
struct Timed<V> {
    value: V,
    until: Instant,
    epoch: u64,
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

/// One bounded map (S3-FIFO eviction, sharded locks) with a fixed time to live, whose entries
/// are kept `stale` longer for stale-if-error.
struct Bounded<V> {
    map: Cache<Key, Timed<V>, UnitWeighter, DefaultHashBuilder, CountEvictions>,
    ttl: Duration,
    stale: Duration,
}

impl<V: Clone> Bounded<V> {
    fn new(capacity: u64, ttl: Duration, stale: Duration) -> Self {
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
            stale,
        }
    }

    /// The value and whether it is fresh (within its TTL and read in `epoch`); an entry past
    /// its TTL by more than the stale window is removed.
    fn get(&self, key: &Key, epoch: u64) -> Option<(V, bool)> {
        let entry = self.map.get(key)?;
        let now = Instant::now();
        if entry.until > now {
            return Some((entry.value, entry.epoch == epoch));
        }
        if entry.until + self.stale > now {
            return Some((entry.value, false));
        }
        let stale = self.stale;
        self.map.remove_if(key, |entry| entry.until + stale <= now);
        None
    }

    fn insert(&self, key: Key, value: V, epoch: u64) {
        let until = Instant::now() + self.ttl;
        self.map.insert(
            key,
            Timed {
                value,
                until,
                epoch,
            },
        );
    }
}

/// The cache. With capacity 0 it holds nothing (every call is a miss).
pub struct TokenCache {
    known: Option<Bounded<Arc<Snapshot>>>,
    unknown: Option<Bounded<()>>,
    generation: AtomicU64,
    epoch: AtomicU64,
    origin: String,
}

impl TokenCache {
    /// A cache sized by the settings.
    #[must_use]
    pub fn new(settings: CacheSettings) -> Self {
        let enabled = settings.capacity > 0;
        Self {
            known: enabled
                .then(|| Bounded::new(settings.capacity, settings.ttl, settings.stale_if_error)),
            unknown: enabled.then(|| {
                Bounded::new(
                    settings.capacity,
                    settings.negative_ttl,
                    settings.stale_if_error,
                )
            }),
            generation: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            origin: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// What is cached for `key`, and whether it is fresh (expiry is checked by the caller on
    /// every answer).
    #[must_use]
    pub fn get(&self, key: &Key) -> Lookup {
        let epoch = self.epoch.load(Ordering::Acquire);
        let found = self
            .known
            .as_ref()
            .and_then(|c| c.get(key, epoch))
            .map(|(snapshot, fresh)| (Cached::Known(snapshot), fresh))
            .or_else(|| {
                let ((), fresh) = self.unknown.as_ref()?.get(key, epoch)?;
                Some((Cached::Unknown, fresh))
            });
        match found {
            Some((cached, true)) => Lookup::Fresh(cached),
            Some((cached, false)) => Lookup::Stale(cached),
            None => Lookup::Miss,
        }
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
        let epoch = self.epoch.load(Ordering::Acquire);
        match loaded {
            Some(snapshot) => {
                if let Some(cache) = &self.known {
                    cache.insert(key, snapshot, epoch);
                }
            }
            None => {
                if let Some(cache) = &self.unknown {
                    cache.insert(key, (), epoch);
                }
            }
        }
    }

    /// Marks every entry unconfirmed (the invalidation listener lost its connection, or has
    /// just regained it: changes may have been missed): each is read again on its next use, and
    /// kept for stale-if-error. Loads already under way will not be cached.
    pub fn unconfirm(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.epoch.fetch_add(1, Ordering::AcqRel);
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
            stale_if_error: Duration::ZERO,
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
        assert!(matches!(
            cache.get(&key(999)),
            Lookup::Fresh(Cached::Unknown)
        ));
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = TokenCache::new(settings(64, Duration::from_millis(30)));
        cache.insert(key(1), None, cache.generation());
        assert!(matches!(cache.get(&key(1)), Lookup::Fresh(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            matches!(cache.get(&key(1)), Lookup::Miss),
            "served past its TTL"
        );
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
        assert!(matches!(cache.get(&key(1)), Lookup::Miss));
    }

    #[test]
    fn an_expired_entry_is_stale_for_the_window_then_gone() {
        let cache = TokenCache::new(CacheSettings {
            stale_if_error: Duration::from_millis(80),
            ..settings(64, Duration::from_millis(30))
        });
        cache.insert(key(1), None, cache.generation());
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(cache.get(&key(1)), Lookup::Stale(Cached::Unknown)));
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(cache.get(&key(1)), Lookup::Miss));
        assert_eq!(cache.entry_count(), 0);
    }

    #[test]
    fn unconfirmed_entries_are_stale_until_read_again() {
        let cache = TokenCache::new(settings(64, Duration::from_secs(60)));
        cache.insert(key(1), None, cache.generation());
        let seen = cache.generation();
        cache.unconfirm();
        assert!(matches!(cache.get(&key(1)), Lookup::Stale(Cached::Unknown)));
        cache.insert(key(1), None, seen);
        assert!(
            matches!(cache.get(&key(1)), Lookup::Stale(_)),
            "a load begun before the listener's loss is not cached"
        );
        cache.insert(key(1), None, cache.generation());
        assert!(matches!(cache.get(&key(1)), Lookup::Fresh(Cached::Unknown)));
    }
}
