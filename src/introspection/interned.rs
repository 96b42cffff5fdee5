//! One shared copy of each scope list the cached snapshots hold. Most tokens carry one of a
//! few scope sets; with 100,000 cached tokens a copy each costs about 15 MB.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// Most distinct sets remembered; beyond it (after forgetting those no snapshot holds any
/// more) a list is not shared.
const MOST: usize = 4_096;

/// Each list, and the copy snapshots share while any holds it.
type Sets = HashMap<Box<[String]>, Weak<[String]>>;

static SETS: LazyLock<Mutex<Sets>> = LazyLock::new(Mutex::default);

/// The shared copy of `scopes`, made now if no cached snapshot holds one.
#[must_use]
pub fn shared(scopes: Vec<String>) -> Arc<[String]> {
    let mut sets = SETS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(held) = sets.get(scopes.as_slice()).and_then(Weak::upgrade) {
        return held;
    }
    if sets.len() >= MOST {
        sets.retain(|_, held| held.strong_count() > 0);
    }
    let made: Arc<[String]> = scopes.into();
    if sets.len() < MOST {
        sets.insert(made.to_vec().into_boxed_slice(), Arc::downgrade(&made));
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn equal_lists_share_one_copy_while_it_is_held() {
        let first = shared(set(&["read", "write:projects"]));
        let second = shared(set(&["read", "write:projects"]));
        assert!(Arc::ptr_eq(&first, &second));
        let other = shared(set(&["read"]));
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(&*other, ["read".to_owned()]);
        drop((first, second));
        let again = shared(set(&["read", "write:projects"]));
        assert_eq!(&*again, set(&["read", "write:projects"]));
    }
}
