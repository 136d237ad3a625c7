//! What the scheduler believes is placed: the cache's bound pods plus its own decisions whose
//! binds the cache has not shown yet, kept as a reusable [`Snapshot`] that is rebuilt only when
//! something it counts has changed. Entry point: [`Placement::snapshot`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::snapshot::{Snapshot, is_terminal};

/// Even without a known change the snapshot is rebuilt this often, so label edits on bound
/// pods (which pod affinity reads) are picked up.
const MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Placement {
    /// Decided, bind pending or not yet visible: pod key -> (node, pod as bound).
    assumed: HashMap<String, (String, Arc<Pod>)>,
    /// Pods the current snapshot counts: key -> node.
    placed: HashMap<String, String>,
    snapshot: Option<(Snapshot, Instant)>,
}

impl Placement {
    pub fn is_assumed(&self, key: &str) -> bool {
        self.assumed.contains_key(key)
    }

    /// Something the snapshot counts changed (a node, a pod that freed resources).
    pub fn invalidate(&mut self) {
        self.snapshot = None;
    }

    /// The current view, rebuilt from `nodes` and `pods` (the caches) when stale.
    pub fn snapshot(
        &mut self,
        now: Instant,
        nodes: impl FnOnce() -> Vec<Arc<Node>>,
        pods: impl FnOnce() -> Vec<Arc<Pod>>,
    ) -> &mut Snapshot {
        if self
            .snapshot
            .as_ref()
            .is_some_and(|(_, built)| now.saturating_duration_since(*built) >= MAX_AGE)
        {
            self.snapshot = None;
        }
        let (assumed, placed) = (&self.assumed, &mut self.placed);
        let (snapshot, _) = self.snapshot.get_or_insert_with(|| {
            let all = pods();
            placed.clear();
            for p in all.iter().filter(|p| !is_terminal(p)) {
                if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
                    placed.insert(key_of(p), n.clone());
                }
            }
            let mut s = Snapshot::new(nodes(), all);
            for (key, (node, pod)) in assumed {
                if !placed.contains_key(key) {
                    s.assume(node, pod.clone());
                    placed.insert(key.clone(), node.clone());
                }
            }
            (s, now)
        });
        snapshot
    }

    /// Records a decision: counted from now on, in this snapshot and the next.
    pub fn assume(&mut self, key: &str, node: &str, pod: Arc<Pod>) {
        if let Some((s, _)) = self.snapshot.as_mut() {
            s.assume(node, pod.clone());
        }
        self.placed.insert(key.to_string(), node.to_string());
        self.assumed
            .insert(key.to_string(), (node.to_string(), pod));
    }

    /// The bind failed: the decision no longer holds.
    pub fn forget_assumed(&mut self, key: &str) {
        if self.assumed.remove(key).is_some() {
            self.placed.remove(key);
            self.invalidate();
        }
    }

    /// The cache shows `key` bound to `node`.
    pub fn observe_bound(&mut self, key: &str, node: &str, terminal: bool) {
        self.assumed.remove(key);
        if terminal {
            if self.placed.remove(key).is_some() {
                self.invalidate();
            }
        } else if self.placed.get(key).map(String::as_str) != Some(node) {
            self.invalidate();
        }
    }

    /// The pod is gone from the cache.
    pub fn observe_deleted(&mut self, key: &str) {
        self.assumed.remove(key);
        if self.placed.remove(key).is_some() {
            self.invalidate();
        }
    }
}

pub fn key_of(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "4", "pods": "10"}}})).unwrap())
    }

    fn pod(name: &str, node: Option<&str>) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}})).unwrap())
    }

    fn used(p: &mut Placement, pods: Vec<Arc<Pod>>, now: Instant) -> i64 {
        p.snapshot(now, || vec![node("a")], || pods).nodes[0]
            .requested
            .milli_cpu
    }

    #[test]
    fn assumed_pods_count_until_the_cache_shows_them() {
        let mut p = Placement::default();
        let t = Instant::now();
        assert_eq!(used(&mut p, vec![], t), 0);
        p.assume("default/x", "a", pod("x", Some("a")));
        assert_eq!(used(&mut p, vec![], t), 1000, "kept in the live snapshot");
        p.invalidate();
        assert_eq!(
            used(&mut p, vec![pod("x", None)], t),
            1000,
            "re-added on rebuild"
        );
        p.observe_bound("default/x", "a", false);
        assert!(!p.is_assumed("default/x"));
        assert_eq!(
            used(&mut p, vec![pod("x", Some("a"))], t),
            1000,
            "no rebuild needed, not counted twice"
        );
    }

    #[test]
    fn confirmations_of_our_binds_keep_the_snapshot() {
        let mut p = Placement::default();
        let t = Instant::now();
        used(&mut p, vec![], t);
        p.assume("default/x", "a", pod("x", Some("a")));
        p.observe_bound("default/x", "a", false);
        // A stale pod list would show 0 if the snapshot were rebuilt.
        assert_eq!(used(&mut p, vec![], t), 1000);
    }

    #[test]
    fn pods_bound_by_others_and_deletions_rebuild() {
        let mut p = Placement::default();
        let t = Instant::now();
        used(&mut p, vec![], t);
        p.observe_bound("default/y", "a", false);
        assert_eq!(used(&mut p, vec![pod("y", Some("a"))], t), 1000);
        p.observe_deleted("default/y");
        assert_eq!(used(&mut p, vec![], t), 0);
    }

    #[test]
    fn failed_binds_and_finished_pods_release_resources() {
        let mut p = Placement::default();
        let t = Instant::now();
        p.assume("default/x", "a", pod("x", Some("a")));
        assert_eq!(used(&mut p, vec![], t), 1000);
        p.forget_assumed("default/x");
        assert_eq!(used(&mut p, vec![], t), 0);
        used(&mut p, vec![pod("z", Some("a"))], t);
        p.observe_bound("default/z", "a", true);
        assert_eq!(used(&mut p, vec![], t), 0);
    }

    #[test]
    fn old_snapshots_are_rebuilt() {
        let mut p = Placement::default();
        let t = Instant::now();
        used(&mut p, vec![], t);
        assert_eq!(
            used(&mut p, vec![pod("q", Some("a"))], t),
            0,
            "fresh snapshot reused"
        );
        assert_eq!(used(&mut p, vec![pod("q", Some("a"))], t + MAX_AGE), 1000);
    }
}
