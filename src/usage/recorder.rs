//! The in-memory side: one entry per token used since the last flush. Recording a use of a
//! token already counted allocates nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{NaiveDate, NaiveDateTime};
use foldhash::fast::RandomState;
use smallvec::SmallVec;

/// Most distinct addresses kept per token between two flushes.
const MAX_IPS_PER_BATCH: usize = 64;

/// Uses from one address: how many, and the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpUse {
    /// The address.
    pub ip: IpAddr,
    /// Uses.
    pub count: i64,
    /// The latest use.
    pub last_seen_at: NaiveDateTime,
}

/// What one token did since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Uses.
    pub count: i64,
    /// The latest use.
    pub last_used_at: Option<NaiveDateTime>,
    /// The address of the latest use.
    pub last_ip: Option<IpAddr>,
    /// Per address (usually one).
    pub ips: SmallVec<[IpUse; 1]>,
    /// Per UTC day: uses (usually one day).
    pub days: SmallVec<[(NaiveDate, i64); 1]>,
}

impl Pending {
    fn add(&mut self, ip: Option<IpAddr>, at: NaiveDateTime, count: i64) {
        self.count += count;
        if self.last_used_at.is_none_or(|last| last <= at) {
            self.last_used_at = Some(at);
            if ip.is_some() {
                self.last_ip = ip;
            }
        }
        if let Some(ip) = ip {
            self.add_ip(IpUse {
                ip,
                count,
                last_seen_at: at,
            });
        }
        self.add_day(at.date(), count);
    }

    fn add_ip(&mut self, used: IpUse) {
        if let Some(known) = self.ips.iter_mut().find(|known| known.ip == used.ip) {
            known.count += used.count;
            known.last_seen_at = known.last_seen_at.max(used.last_seen_at);
        } else if self.ips.len() < MAX_IPS_PER_BATCH {
            self.ips.push(used);
        }
    }

    fn add_day(&mut self, day: NaiveDate, count: i64) {
        if let Some(known) = self.days.iter_mut().find(|(known, _)| *known == day) {
            known.1 += count;
        } else {
            self.days.push((day, count));
        }
    }

    /// Adds what `other` counted (the same token, another interval).
    pub(super) fn merge(&mut self, other: Pending) {
        self.count += other.count;
        if let Some(at) = other.last_used_at
            && self.last_used_at.is_none_or(|last| last < at)
        {
            self.last_used_at = Some(at);
            self.last_ip = other.last_ip;
        }
        for used in other.ips {
            self.add_ip(used);
        }
        for (day, count) in other.days {
            self.add_day(day, count);
        }
    }
}

/// One token's counts: its id (the cached snapshot's own) and what it did.
pub type Counted = (Arc<str>, Pending);

/// What was counted, per token: what the recorder hands over and gets back, the journal
/// stores and the store writes (sorted with [`sort_by_token`] first).
pub type Batch = Vec<Counted>;

/// Counts uses without touching the database.
#[derive(Debug, Default)]
pub struct Recorder {
    pending: Mutex<HashMap<Arc<str>, Pending, RandomState>>,
}

impl Recorder {
    /// Counts one use of `token_id` from `ip` at `at`. The id is the cached snapshot's own:
    /// a new entry shares it instead of copying it.
    pub fn record(&self, token_id: &Arc<str>, ip: Option<IpAddr>, at: NaiveDateTime) {
        let mut pending = self.lock();
        if let Some(entry) = pending.get_mut(&**token_id) {
            entry.add(ip, at, 1);
        } else {
            let mut entry = Pending::default();
            entry.add(ip, at, 1);
            pending.insert(Arc::clone(token_id), entry);
        }
    }

    /// Takes everything counted so far, in no order. The next interval starts with room for
    /// as many tokens as this one had, so that a busy interval's recording does not grow (and
    /// rehash) its table again from empty.
    pub fn take(&self) -> Batch {
        let room = self.lock().len();
        let next = HashMap::with_capacity_and_hasher(room, RandomState::default());
        let taken = std::mem::replace(&mut *self.lock(), next);
        taken.into_iter().collect()
    }

    /// Puts a batch that could not be written back, so the next flush retries it.
    pub fn restore(&self, batch: Batch) {
        let mut pending = self.lock();
        for (token_id, entry) in batch {
            pending.entry(token_id).or_default().merge(entry);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Pending, RandomState>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Orders a batch by token id: the order every write takes, so that concurrent writers lock
/// rows in one order and neighbouring ids share pages. Ids are unique, so an unstable sort
/// orders them the same, with fewer moves.
pub fn sort_by_token(batch: &mut Batch) {
    batch.sort_unstable_by(|a, b| a.0.cmp(&b.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    fn uses_of(pending: &Pending, address: &str) -> Option<(i64, NaiveDateTime)> {
        pending
            .ips
            .iter()
            .find(|used| Some(used.ip) == ip(address))
            .map(|used| (used.count, used.last_seen_at))
    }

    #[test]
    fn counts_per_token_ip_and_day() {
        let recorder = Recorder::default();
        recorder.record(&"t1".into(), ip("10.0.0.1"), at(0));
        recorder.record(&"t1".into(), ip("10.0.0.2"), at(5));
        recorder.record(&"t1".into(), ip("10.0.0.1"), at(3));
        recorder.record(&"t2".into(), None, at(1));
        let mut batch = recorder.take();
        sort_by_token(&mut batch);
        assert_eq!(batch.len(), 2);
        let t1 = &batch[0].1;
        assert_eq!(
            (t1.count, t1.last_used_at, t1.last_ip),
            (3, Some(at(5)), ip("10.0.0.2"))
        );
        assert_eq!(uses_of(t1, "10.0.0.1"), Some((2, at(3))));
        assert_eq!(t1.days.iter().map(|(_, n)| n).sum::<i64>(), 3);
        assert!(recorder.take().is_empty());
    }

    #[test]
    fn addresses_beyond_the_cap_are_counted_but_not_kept() {
        let recorder = Recorder::default();
        for i in 0..100u8 {
            recorder.record(
                &"t1".into(),
                Some(IpAddr::from([10, 0, 1, i])),
                at(i.into()),
            );
        }
        let batch = recorder.take();
        assert_eq!(batch[0].1.count, 100);
        assert_eq!(batch[0].1.ips.len(), MAX_IPS_PER_BATCH);
    }

    #[test]
    fn restored_batches_are_merged_not_lost() {
        let recorder = Recorder::default();
        recorder.record(&"t1".into(), ip("10.0.0.1"), at(0));
        let batch = recorder.take();
        recorder.record(&"t1".into(), ip("10.0.0.1"), at(9));
        recorder.restore(batch);
        let batch = recorder.take();
        assert_eq!(batch[0].1.count, 2);
        assert_eq!(uses_of(&batch[0].1, "10.0.0.1"), Some((2, at(9))));
        assert_eq!(batch[0].1.last_used_at, Some(at(9)));
    }
}
