//! The scheduling queue: pods waiting for a decision (active: higher `spec.priority` first,
//! first in first out within a priority, as upstream's queue sorts) and pods that fit nowhere (parked until the cluster changes and their backoff has passed, or a minute has
//! gone by). Pure state over `Instant`s handed in by the caller. Entry point:
//! [`SchedulingQueue::observe_pending`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// A parked pod is retried at least this often even if nothing seems to change.
const MAX_PARKED: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Parked {
    attempts: u32,
    since: Instant,
    cluster_generation: u64,
    pod_generation: Option<i64>,
}

#[derive(Debug, Default)]
pub struct SchedulingQueue {
    /// (priority, arrival order, key); an entry counts only while `queued` holds its order,
    /// so removal is lazy.
    active: BinaryHeap<(i32, Reverse<u64>, String)>,
    /// Active pods: key -> arrival order of their live heap entry.
    queued: HashMap<String, u64>,
    next_order: u64,
    /// Last known priority of each pod the queue holds.
    priorities: HashMap<String, i32>,
    parked: HashMap<String, Parked>,
    /// Failed attempts so far, kept while a pod cycles between active and parked.
    attempts: HashMap<String, u32>,
    cluster_generation: u64,
}

impl SchedulingQueue {
    /// A pending pod was added or updated. A parked pod only comes back when its spec changed
    /// (a new generation): status writes, including ours, must not cause a retry loop.
    pub fn observe_pending(&mut self, key: &str, pod_generation: Option<i64>, priority: i32) {
        self.priorities.insert(key.to_string(), priority);
        if let Some(p) = self.parked.get(key) {
            if p.pod_generation == pod_generation {
                return;
            }
            self.parked.remove(key);
        }
        self.push(key);
    }

    fn push(&mut self, key: &str) {
        if self.queued.contains_key(key) {
            return;
        }
        let order = self.next_order;
        self.next_order = self.next_order.wrapping_add(1);
        self.queued.insert(key.to_string(), order);
        let priority = self.priorities.get(key).copied().unwrap_or(0);
        self.active
            .push((priority, Reverse(order), key.to_string()));
    }

    /// The pod was bound, deleted or is no longer ours.
    pub fn forget(&mut self, key: &str) {
        self.parked.remove(key);
        self.attempts.remove(key);
        self.priorities.remove(key);
        self.queued.remove(key);
        if self.queued.is_empty() {
            self.active.clear();
        }
    }

    /// Up to `max` active pods, most important first.
    pub fn pop_batch(&mut self, max: usize) -> Vec<String> {
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some((_, Reverse(order), key)) = self.active.pop() else {
                break;
            };
            if self.queued.get(&key) == Some(&order) {
                self.queued.remove(&key);
                batch.push(key);
            }
        }
        batch
    }

    pub fn has_active(&self) -> bool {
        !self.queued.is_empty()
    }

    /// The pod fit nowhere (or its bind failed): park it until something changes.
    pub fn park(&mut self, key: &str, pod_generation: Option<i64>, now: Instant) {
        let attempts = self.attempts.entry(key.to_string()).or_default();
        *attempts += 1;
        let attempts = *attempts;
        self.parked.insert(
            key.to_string(),
            Parked {
                attempts,
                since: now,
                cluster_generation: self.cluster_generation,
                pod_generation,
            },
        );
    }

    /// Park and retry after the backoff regardless of cluster changes (a failed API call).
    pub fn retry_later(&mut self, key: &str, pod_generation: Option<i64>, now: Instant) {
        self.park(key, pod_generation, now);
        if let Some(p) = self.parked.get_mut(key) {
            p.cluster_generation = p.cluster_generation.wrapping_sub(1);
        }
    }

    /// Nodes or pods changed in a way that may let parked pods fit.
    pub fn cluster_changed(&mut self) {
        self.cluster_generation = self.cluster_generation.wrapping_add(1);
    }

    pub fn backoff(attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(8);
        (INITIAL_BACKOFF * (1u32 << shift)).min(MAX_BACKOFF)
    }

    /// Moves parked pods whose retry is due back to active; returns how many moved.
    pub fn requeue_due(&mut self, now: Instant) -> usize {
        let generation = self.cluster_generation;
        let due: Vec<String> = self
            .parked
            .iter()
            .filter(|(_, p)| {
                let waited = now.saturating_duration_since(p.since);
                (p.cluster_generation != generation && waited >= Self::backoff(p.attempts))
                    || waited >= MAX_PARKED
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.parked.remove(k);
            self.push(k);
        }
        due.len()
    }

    pub fn parked_len(&self) -> usize {
        self.parked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_pods_come_out_in_order_once() {
        let mut q = SchedulingQueue::default();
        q.observe_pending("a", Some(1), 0);
        q.observe_pending("b", Some(1), 0);
        q.observe_pending("a", Some(1), 0);
        assert_eq!(q.pop_batch(10), vec!["a", "b"]);
        assert!(!q.has_active());
    }

    #[test]
    fn batches_are_bounded() {
        let mut q = SchedulingQueue::default();
        for i in 0..5 {
            q.observe_pending(&i.to_string(), None, 0);
        }
        assert_eq!(q.pop_batch(2).len(), 2);
        assert_eq!(q.pop_batch(10).len(), 3);
    }

    #[test]
    fn parked_pod_ignores_status_updates_but_not_spec_changes() {
        let mut q = SchedulingQueue::default();
        q.observe_pending("p", Some(1), 0);
        q.pop_batch(1);
        q.park("p", Some(1), Instant::now());
        q.observe_pending("p", Some(1), 0);
        assert!(!q.has_active());
        q.observe_pending("p", Some(2), 0);
        assert_eq!(q.pop_batch(1), vec!["p"]);
    }

    #[test]
    fn parked_pod_waits_for_a_change_and_its_backoff() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.park("p", None, t0);
        assert_eq!(
            q.requeue_due(t0 + Duration::from_secs(5)),
            0,
            "nothing changed"
        );
        q.cluster_changed();
        assert_eq!(
            q.requeue_due(t0 + Duration::from_millis(500)),
            0,
            "backoff not over"
        );
        assert_eq!(q.requeue_due(t0 + Duration::from_secs(1)), 1);
        assert_eq!(q.pop_batch(1), vec!["p"]);
    }

    #[test]
    fn parked_pod_is_retried_after_a_minute_anyway() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.park("p", None, t0);
        assert_eq!(q.requeue_due(t0 + MAX_PARKED), 1);
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        assert_eq!(SchedulingQueue::backoff(1), Duration::from_secs(1));
        assert_eq!(SchedulingQueue::backoff(2), Duration::from_secs(2));
        assert_eq!(SchedulingQueue::backoff(4), Duration::from_secs(8));
        assert_eq!(SchedulingQueue::backoff(5), MAX_BACKOFF);
        assert_eq!(SchedulingQueue::backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn failed_call_is_retried_without_a_cluster_change() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.retry_later("p", None, t0);
        assert_eq!(q.requeue_due(t0 + Duration::from_secs(1)), 1);
    }

    #[test]
    fn forgotten_pod_leaves_every_list() {
        let mut q = SchedulingQueue::default();
        q.observe_pending("a", None, 0);
        q.park("b", None, Instant::now());
        q.forget("a");
        q.forget("b");
        assert!(!q.has_active());
        assert_eq!(q.parked_len(), 0);
    }

    #[test]
    fn higher_priority_pods_come_out_first_and_fifo_within_a_priority() {
        let mut q = SchedulingQueue::default();
        q.observe_pending("low", None, 0);
        q.observe_pending("high", None, 1000);
        q.observe_pending("low2", None, 0);
        q.observe_pending("negative", None, -5);
        q.observe_pending("high2", None, 1000);
        assert_eq!(q.pop_batch(2), vec!["high", "high2"]);
        assert_eq!(q.pop_batch(10), vec!["low", "low2", "negative"]);
    }

    #[test]
    fn forgotten_pods_leave_no_stale_heap_entry() {
        let mut q = SchedulingQueue::default();
        q.observe_pending("a", None, 5);
        q.observe_pending("b", None, 1);
        q.forget("a");
        assert!(q.has_active());
        assert_eq!(q.pop_batch(10), vec!["b"]);
        // Re-added after being forgotten: one entry, at its new priority.
        q.observe_pending("a", None, 9);
        q.observe_pending("c", None, 7);
        assert_eq!(q.pop_batch(10), vec!["a", "c"]);
        assert!(!q.has_active());
    }

    #[test]
    fn requeued_pods_keep_their_priority() {
        let mut q = SchedulingQueue::default();
        let t0 = Instant::now();
        q.observe_pending("vip", None, 100);
        q.pop_batch(1);
        q.retry_later("vip", None, t0);
        q.observe_pending("plain", None, 0);
        q.requeue_due(t0 + Duration::from_secs(1));
        assert_eq!(q.pop_batch(10), vec!["vip", "plain"]);
    }
}
