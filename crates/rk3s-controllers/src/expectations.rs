//! Expectations: the pod creations and deletions a controller has sent but not yet seen in its
//! watch cache. Until they are seen, the cache undercounts (or overcounts) the controller's pods,
//! and acting on it would create (or delete) a second time. Entry point: [`Expectations`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A controller's object: `(namespace, name)`.
pub type Key = (String, String);

/// Pending expectations are given up after this long (a missed watch event must not stall a
/// controller for good; upstream waits five minutes).
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug)]
struct Pending {
    creates: HashSet<String>,
    deletes: HashSet<String>,
    since: Instant,
}

/// What the cache says about one pod name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cached {
    Absent,
    Present,
    /// Present with a deletionTimestamp.
    Terminating,
}

/// Per-controller-object pending pod writes, keyed by pod name (controllers name pods
/// themselves, so the name is known before the create is sent).
#[derive(Debug, Default)]
pub struct Expectations {
    pending: Mutex<HashMap<Key, Pending>>,
}

impl Expectations {
    pub fn new() -> Expectations {
        Expectations::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Key, Pending>) -> R) -> R {
        // A poisoned lock only means another reconcile panicked mid-update; the sets stay usable.
        let mut guard = match self.pending.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }

    fn entry<'a>(map: &'a mut HashMap<Key, Pending>, key: &Key) -> &'a mut Pending {
        map.entry(key.clone()).or_insert_with(|| Pending {
            creates: HashSet::new(),
            deletes: HashSet::new(),
            since: Instant::now(),
        })
    }

    /// Records pods about to be created.
    pub fn expect_creates(&self, key: &Key, names: impl IntoIterator<Item = String>) {
        self.with(|m| {
            let p = Self::entry(m, key);
            p.creates.extend(names);
            p.since = Instant::now();
        });
    }

    /// Records pods about to be deleted.
    pub fn expect_deletes(&self, key: &Key, names: impl IntoIterator<Item = String>) {
        self.with(|m| {
            let p = Self::entry(m, key);
            p.deletes.extend(names);
            p.since = Instant::now();
        });
    }

    /// A write that failed will never be observed.
    pub fn cancel(&self, key: &Key, name: &str) {
        self.with(|m| {
            if let Some(p) = m.get_mut(key) {
                p.creates.remove(name);
                p.deletes.remove(name);
            }
        });
    }

    /// The watch delivered pod `name` of `key` (any change, including its deletion): a pending
    /// creation of it is fulfilled even if the pod is gone again by the next sync.
    pub fn observed(&self, key: &Key, name: &str) {
        self.with(|m| {
            if let Some(p) = m.get_mut(key) {
                p.creates.remove(name);
            }
        });
    }

    /// Whether the cache reflects every write sent for `key`, judged by `lookup` (the cache's
    /// view of a pod name). Fulfilled expectations are dropped; timed-out ones too.
    pub fn satisfied(&self, key: &Key, lookup: impl Fn(&str) -> Cached) -> bool {
        self.with(|m| {
            let Some(p) = m.get_mut(key) else {
                return true;
            };
            p.creates.retain(|n| lookup(n) == Cached::Absent);
            p.deletes.retain(|n| lookup(n) == Cached::Present);
            let done =
                (p.creates.is_empty() && p.deletes.is_empty()) || p.since.elapsed() > TIMEOUT;
            if done {
                m.remove(key);
            }
            done
        })
    }

    /// The object is gone; nothing is pending for it any more.
    pub fn forget(&self, key: &Key) {
        self.with(|m| {
            m.remove(key);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        ("default".into(), "web".into())
    }

    #[test]
    fn nothing_pending_is_satisfied() {
        let e = Expectations::new();
        assert!(e.satisfied(&key(), |_| Cached::Absent));
    }

    #[test]
    fn creation_is_pending_until_the_cache_has_the_pod() {
        let e = Expectations::new();
        e.expect_creates(&key(), ["web-a".to_string(), "web-b".to_string()]);
        assert!(!e.satisfied(&key(), |n| if n == "web-a" {
            Cached::Present
        } else {
            Cached::Absent
        }));
        assert!(e.satisfied(&key(), |_| Cached::Present));
        // Satisfied expectations are dropped: a later absent pod no longer blocks.
        assert!(e.satisfied(&key(), |_| Cached::Absent));
    }

    #[test]
    fn observed_creation_counts_even_when_the_pod_is_already_gone() {
        let e = Expectations::new();
        e.expect_creates(&key(), ["web-a".to_string()]);
        e.observed(&key(), "web-a");
        assert!(e.satisfied(&key(), |_| Cached::Absent));
    }

    #[test]
    fn deletion_is_pending_until_the_pod_is_gone_or_terminating() {
        let e = Expectations::new();
        e.expect_deletes(&key(), ["web-a".to_string(), "web-b".to_string()]);
        assert!(!e.satisfied(&key(), |_| Cached::Present));
        assert!(!e.satisfied(&key(), |n| if n == "web-a" {
            Cached::Terminating
        } else {
            Cached::Present
        }));
        assert!(e.satisfied(&key(), |n| if n == "web-a" {
            Cached::Present
        } else {
            Cached::Absent
        }));
    }

    #[test]
    fn a_failed_write_is_not_waited_for() {
        let e = Expectations::new();
        e.expect_creates(&key(), ["web-a".to_string()]);
        e.cancel(&key(), "web-a");
        assert!(e.satisfied(&key(), |_| Cached::Absent));
    }

    #[test]
    fn expectations_of_one_object_do_not_block_another() {
        let e = Expectations::new();
        e.expect_creates(&key(), ["web-a".to_string()]);
        let other = ("default".to_string(), "api".to_string());
        assert!(e.satisfied(&other, |_| Cached::Absent));
        assert!(!e.satisfied(&key(), |_| Cached::Absent));
        e.forget(&key());
        assert!(e.satisfied(&key(), |_| Cached::Absent));
    }
}
