//! The in-memory side: one entry per token used since the last flush.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{NaiveDate, NaiveDateTime};

/// Most distinct addresses kept per token between two flushes.
const MAX_IPS_PER_BATCH: usize = 64;

/// What one token did since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Uses.
    pub count: i64,
    /// The latest use.
    pub last_used_at: Option<NaiveDateTime>,
    /// The address of the latest use.
    pub last_ip: Option<String>,
    /// Per address: uses and the latest time.
    pub ips: HashMap<String, (i64, NaiveDateTime)>,
    /// Per UTC day: uses.
    pub days: HashMap<NaiveDate, i64>,
}

impl Pending {
    fn add(&mut self, ip: Option<&str>, at: NaiveDateTime, count: i64) {
        self.count += count;
        if self.last_used_at.is_none_or(|last| last <= at) {
            self.last_used_at = Some(at);
            if ip.is_some() && self.last_ip.as_deref() != ip {
                self.last_ip = ip.map(str::to_owned);
            }
        }
        if let Some(ip) = ip
            && (self.ips.len() < MAX_IPS_PER_BATCH || self.ips.contains_key(ip))
        {
            let entry = self.ips.entry(ip.to_owned()).or_insert((0, at));
            entry.0 += count;
            entry.1 = entry.1.max(at);
        }
        *self.days.entry(at.date()).or_default() += count;
    }

    fn merge(&mut self, other: Pending) {
        self.count += other.count;
        if let Some(at) = other.last_used_at
            && self.last_used_at.is_none_or(|last| last < at)
        {
            self.last_used_at = Some(at);
            self.last_ip = other.last_ip;
        }
        for (ip, (count, at)) in other.ips {
            let entry = self.ips.entry(ip).or_insert((0, at));
            entry.0 += count;
            entry.1 = entry.1.max(at);
        }
        for (day, count) in other.days {
            *self.days.entry(day).or_default() += count;
        }
    }
}

/// Counts uses without touching the database.
#[derive(Debug, Default)]
pub struct Recorder {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Recorder {
    /// Counts one use of `token_id` from `ip` at `at`.
    pub fn record(&self, token_id: &str, ip: Option<&str>, at: NaiveDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = pending.get_mut(token_id) {
            entry.add(ip, at, 1);
        } else {
            let mut entry = Pending::default();
            entry.add(ip, at, 1);
            pending.insert(token_id.to_owned(), entry);
        }
    }

    /// Takes everything counted so far (sorted by token id, the order writes take).
    pub fn take(&self) -> Vec<(String, Pending)> {
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut batch: Vec<(String, Pending)> = taken.into_iter().collect();
        batch.sort_by(|a, b| a.0.cmp(&b.0));
        batch
    }

    /// Puts a batch that could not be written back, so the next flush retries it.
    pub fn restore(&self, batch: Vec<(String, Pending)>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for (token_id, entry) in batch {
            pending.entry(token_id).or_default().merge(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .map(|d| d.naive_utc())
            .unwrap_or_default()
    }

    #[test]
    fn counts_per_token_ip_and_day() {
        let recorder = Recorder::default();
        recorder.record("t1", Some("10.0.0.1"), at(0));
        recorder.record("t1", Some("10.0.0.2"), at(5));
        recorder.record("t1", Some("10.0.0.1"), at(3));
        recorder.record("t2", None, at(1));
        let batch = recorder.take();
        assert_eq!(batch.len(), 2);
        let t1 = &batch[0].1;
        assert_eq!(
            (t1.count, t1.last_used_at, t1.last_ip.as_deref()),
            (3, Some(at(5)), Some("10.0.0.2"))
        );
        assert_eq!(t1.ips.get("10.0.0.1"), Some(&(2, at(3))));
        assert_eq!(t1.days.values().sum::<i64>(), 3);
        assert!(recorder.take().is_empty());
    }

    #[test]
    fn restored_batches_are_merged_not_lost() {
        let recorder = Recorder::default();
        recorder.record("t1", Some("10.0.0.1"), at(0));
        let batch = recorder.take();
        recorder.record("t1", Some("10.0.0.1"), at(9));
        recorder.restore(batch);
        let batch = recorder.take();
        assert_eq!(batch[0].1.count, 2);
        assert_eq!(batch[0].1.ips.get("10.0.0.1"), Some(&(2, at(9))));
        assert_eq!(batch[0].1.last_used_at, Some(at(9)));
    }
}
