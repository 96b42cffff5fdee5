//! One shared copy of each value that many cached snapshots hold alike: scope lists (most
//! tokens carry one of a few sets), and owner and organization ids (an owner has many tokens,
//! an organization more). With 100,000 cached tokens a copy each costs about 15 MB for the
//! scope lists and 7 MB for the ids.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use foldhash::fast::RandomState;

/// The values handed out, each kept until `most` are held; then those no snapshot holds any
/// more are forgotten, and if half or more are still held the memory starts over (the copies
/// already handed out stay shared among their holders), so that a lookup stays O(1).
pub struct Interner<T: ?Sized + 'static> {
    held: LazyLock<Mutex<HashSet<Arc<T>, RandomState>>>,
    most: usize,
}

impl<T: ?Sized + Eq + Hash> Interner<T> {
    const fn new(most: usize) -> Self {
        Self {
            held: LazyLock::new(Mutex::default),
            most,
        }
    }

    /// The shared copy of `value`, made from it if none is held.
    pub fn shared<V>(&self, value: V) -> Arc<T>
    where
        V: Borrow<T>,
        Arc<T>: From<V>,
    {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(copy) = held.get(value.borrow()) {
            return Arc::clone(copy);
        }
        if held.len() >= self.most {
            held.retain(|copy| Arc::strong_count(copy) > 1);
            if held.len() >= self.most / 2 {
                held.clear();
            }
        }
        let made = Arc::<T>::from(value);
        held.insert(Arc::clone(&made));
        made
    }
}

/// Scope lists (and the scopes a role leaves of them).
pub static SCOPE_SETS: Interner<[String]> = Interner::new(4_096);

/// Owner and organization ids.
pub static IDS: Interner<str> = Interner::new(65_536);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy() {
        let scopes = ["read", "write:projects"].map(String::from);
        let first = SCOPE_SETS.shared(scopes.to_vec());
        let second = SCOPE_SETS.shared(scopes.to_vec());
        assert!(Arc::ptr_eq(&first, &second));
        let other = SCOPE_SETS.shared(vec!["read".to_owned()]);
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(&*other, ["read".to_owned()]);
        let owner = IDS.shared("interned-test-owner".to_owned());
        assert!(Arc::ptr_eq(
            &owner,
            &IDS.shared("interned-test-owner".to_owned())
        ));
        assert_eq!(&*owner, "interned-test-owner");
    }

    #[test]
    fn a_full_memory_forgets_what_no_one_holds_and_stays_bounded() {
        let small: Interner<str> = Interner::new(4);
        let kept = small.shared("kept".to_owned());
        for n in 0..3 {
            drop(small.shared(format!("dropped-{n}")));
        }
        let again = small.shared("new".to_owned());
        let held = small.held.lock().map(|held| held.len()).unwrap_or_default();
        assert_eq!(held, 2, "the three no one held are forgotten");
        assert!(Arc::ptr_eq(&kept, &small.shared("kept".to_owned())));
        for n in 0..20 {
            let _still_held = small.shared(format!("busy-{n}"));
        }
        let held = small.held.lock().map(|held| held.len()).unwrap_or_default();
        assert!(held <= 4, "{held} held");
        drop(again);
    }
}
