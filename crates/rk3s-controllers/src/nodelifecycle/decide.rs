//! What the node lifecycle controller does to one node and its pods (no I/O): when a silent
//! node's conditions go `Unknown`, which condition taints the node carries, which pods lose
//! their Ready condition and when a pod under a NoExecute taint must go.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rk3s_scheduler::affinity;

pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

const NO_EXECUTE: &str = "NoExecute";
const NO_SCHEDULE: &str = "NoSchedule";

/// The conditions a kubelet reports that go `Unknown` when it falls silent, as upstream.
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// Timing of the node lifecycle controller, with upstream's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeLifecycleOptions {
    /// How long a node may stay silent (no Lease renewal, no Ready heartbeat) before its
    /// conditions go `Unknown` (kube-controller-manager `--node-monitor-grace-period`).
    pub node_monitor_grace_period: Duration,
    /// The same for a node that never posted a Ready condition, counted from its creation
    /// (`--node-startup-grace-period`).
    pub node_startup_grace_period: Duration,
}

impl Default for NodeLifecycleOptions {
    fn default() -> Self {
        NodeLifecycleOptions {
            node_monitor_grace_period: Duration::from_secs(40),
            node_startup_grace_period: Duration::from_secs(60),
        }
    }
}

pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

/// The status of the node's Ready condition (`None` when never posted).
pub fn ready_status(node: &Node) -> Option<&str> {
    condition(node, "Ready").map(|c| c.status.as_str())
}

/// The last sign of life of a node: its creation, its Lease renewal, its Ready heartbeat.
pub fn last_heard(node: &Node, lease_renewed: Option<Timestamp>) -> Option<Timestamp> {
    let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let heartbeat = condition(node, "Ready")
        .and_then(|c| c.last_heartbeat_time.as_ref())
        .map(|t| t.0);
    [created, lease_renewed, heartbeat]
        .into_iter()
        .flatten()
        .max()
}

fn grace(node: &Node, opts: &NodeLifecycleOptions) -> Duration {
    if condition(node, "Ready").is_some() {
        opts.node_monitor_grace_period
    } else {
        opts.node_startup_grace_period
    }
}

/// How long until the node counts as silent; zero when it already does.
pub fn until_stale(
    node: &Node,
    lease_renewed: Option<Timestamp>,
    opts: &NodeLifecycleOptions,
    now: Timestamp,
) -> Duration {
    let Some(last) = last_heard(node, lease_renewed) else {
        return Duration::ZERO;
    };
    let grace = SignedDuration::try_from(grace(node, opts)).unwrap_or(SignedDuration::MAX);
    let left = grace.saturating_sub(now.duration_since(last));
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

pub fn is_stale(
    node: &Node,
    lease_renewed: Option<Timestamp>,
    opts: &NodeLifecycleOptions,
    now: Timestamp,
) -> bool {
    until_stale(node, lease_renewed, opts, now).is_zero()
}

/// The conditions of a silent node: each kubelet condition not yet `Unknown` turns `Unknown`
/// (a missing one is added), the rest stay. `None` when nothing changes.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Option<Vec<NodeCondition>> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut changed = false;
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                conditions.push(NodeCondition {
                    type_: type_.into(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(conditions)
}

fn condition_is(node: &Node, type_: &str, status: &str) -> bool {
    condition(node, type_).is_some_and(|c| c.status == status)
}

/// The `(key, effect)` taints the node's conditions and spec call for. Upstream splits this
/// between the NoExecute pass (eviction) and TaintNodesByCondition (NoSchedule).
pub fn wanted_taints(node: &Node) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    match ready_status(node) {
        Some("False") => {
            out.push((TAINT_NOT_READY, NO_EXECUTE));
            out.push((TAINT_NOT_READY, NO_SCHEDULE));
        }
        Some("Unknown") => {
            out.push((TAINT_UNREACHABLE, NO_EXECUTE));
            out.push((TAINT_UNREACHABLE, NO_SCHEDULE));
        }
        _ => {}
    }
    for (type_, key) in [
        ("MemoryPressure", TAINT_MEMORY_PRESSURE),
        ("DiskPressure", TAINT_DISK_PRESSURE),
        ("PIDPressure", TAINT_PID_PRESSURE),
        ("NetworkUnavailable", TAINT_NETWORK_UNAVAILABLE),
    ] {
        if condition_is(node, type_, "True") {
            out.push((key, NO_SCHEDULE));
        }
    }
    if node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
    {
        out.push((TAINT_UNSCHEDULABLE, NO_SCHEDULE));
    }
    out
}

fn is_managed(taint: &Taint) -> bool {
    match taint.effect.as_str() {
        NO_EXECUTE => matches!(taint.key.as_str(), TAINT_NOT_READY | TAINT_UNREACHABLE),
        NO_SCHEDULE => matches!(
            taint.key.as_str(),
            TAINT_NOT_READY
                | TAINT_UNREACHABLE
                | TAINT_UNSCHEDULABLE
                | TAINT_MEMORY_PRESSURE
                | TAINT_DISK_PRESSURE
                | TAINT_PID_PRESSURE
                | TAINT_NETWORK_UNAVAILABLE
        ),
        _ => false,
    }
}

/// The node's taints after adding the wanted condition taints (NoExecute ones stamped with
/// `timeAdded`, which starts the tolerationSeconds clock) and dropping managed ones no longer
/// called for; other taints are kept in place. `None` when nothing changes.
pub fn reconcile_taints(node: &Node, now: Timestamp) -> Option<Vec<Taint>> {
    let wanted = wanted_taints(node);
    let current = affinity::node_taints(node);
    let mut out: Vec<Taint> = current
        .iter()
        .filter(|t| !is_managed(t) || wanted.iter().any(|(k, e)| t.key == *k && t.effect == *e))
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !out.iter().any(|t| t.key == *key && t.effect == *effect) {
            out.push(Taint {
                key: (*key).into(),
                effect: (*effect).into(),
                value: None,
                time_added: (*effect == NO_EXECUTE).then_some(Time(now)),
            });
        }
    }
    (out.as_slice() != current).then_some(out)
}

/// The pod's conditions with Ready turned False, as upstream marks the pods of a node that went
/// silent; `None` when there is no Ready condition to turn or it is already False.
pub fn not_ready_conditions(pod: &Pod, now: Timestamp) -> Option<Vec<PodCondition>> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let mut conditions = pod.status.as_ref()?.conditions.clone()?;
    let ready = conditions.iter_mut().find(|c| c.type_ == "Ready")?;
    if ready.status == "False" {
        return None;
    }
    ready.status = "False".into();
    ready.last_transition_time = Some(Time(now));
    Some(conditions)
}

/// What a pod on a node with NoExecute taints has coming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// No NoExecute taint, or every one tolerated without a time limit.
    Stay,
    /// Untolerated, or its tolerationSeconds are up.
    Now,
    /// Tolerated until then.
    At(Timestamp),
}

/// Upstream's taint manager rule: each NoExecute taint must be tolerated (the first matching
/// toleration counts); the pod may stay for that toleration's `tolerationSeconds` from the
/// taint's `timeAdded` (`now` when missing), forever without a limit; the earliest deadline wins.
pub fn eviction(pod: &Pod, taints: &[Taint], now: Timestamp) -> Eviction {
    let tolerations = affinity::pod_tolerations(pod);
    let mut deadline: Option<Timestamp> = None;
    for taint in taints.iter().filter(|t| t.effect == NO_EXECUTE) {
        let Some(tol) = tolerations.iter().find(|t| affinity::tolerates(t, taint)) else {
            return Eviction::Now;
        };
        let Some(seconds) = tol.toleration_seconds else {
            continue;
        };
        let start = taint.time_added.as_ref().map_or(now, |t| t.0);
        let at = start
            .checked_add(SignedDuration::from_secs(seconds.max(0)))
            .unwrap_or(Timestamp::MAX);
        deadline = Some(deadline.map_or(at, |d| d.min(at)));
    }
    match deadline {
        None => Eviction::Stay,
        Some(d) if d <= now => Eviction::Now,
        Some(d) => Eviction::At(d),
    }
}

/// Whether the node carries a taint that can evict pods.
pub fn has_no_execute_taint(node: &Node) -> bool {
    affinity::node_taints(node)
        .iter()
        .any(|t| t.effect == NO_EXECUTE)
}

/// The condition upstream adds to a pod just before the taint manager deletes it.
pub fn disruption_condition(now: Timestamp) -> PodCondition {
    PodCondition {
        type_: "DisruptionTarget".into(),
        status: "True".into(),
        reason: Some("DeletionByTaintManager".into()),
        message: Some("Taint manager: deleting due to NoExecute taint".into()),
        last_transition_time: Some(Time(now)),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
