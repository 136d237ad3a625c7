//! A point-in-time view of the cluster for one scheduling batch: every node with the pods
//! bound to it and what they use. Entry point: [`Snapshot::new`], then [`Snapshot::assume`]
//! for each decision so later pods of the batch see earlier ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::affinity;
use crate::resources::{self, Resources};
use crate::volumes::Volumes;

/// A host port a pod claims: (host IP, protocol, port). An empty or `0.0.0.0` IP claims the
/// port on every address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    fn wildcard(&self) -> bool {
        self.ip.is_empty() || self.ip == "0.0.0.0" || self.ip == "::"
    }

    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.wildcard() || other.wildcard() || self.ip == other.ip)
    }
}

pub fn pod_host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|p| *p > 0)?;
            Some(HostPort {
                ip: p.host_ip.clone().unwrap_or_default(),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port,
            })
        })
        .collect()
}

/// One node and what is placed on it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    pub pods: Vec<Arc<Pod>>,
    /// Sum of the pods' requests, for the fit check.
    pub requested: Resources,
    /// Sum with empty requests counted as the defaults, for the scores.
    pub non_zero_requested: Resources,
    pub allocatable: Resources,
    pub allowed_pods: i64,
    pub used_ports: Vec<HostPort>,
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> NodeInfo {
        let (allocatable, allowed_pods) = resources::allocatable(&node);
        NodeInfo {
            node,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            allocatable,
            allowed_pods,
            used_ports: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or("")
    }

    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.requested.add(&resources::pod_requests(&pod, false));
        self.non_zero_requested
            .add(&resources::pod_requests(&pod, true));
        self.used_ports.extend(pod_host_ports(&pod));
        self.pods.push(pod);
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        affinity::node_labels(&self.node)
            .get(key)
            .map(String::as_str)
    }
}

/// Pods that no longer hold resources on their node.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// Where the next search over the nodes starts (upstream's `nextStartNodeIndex`): a decision
/// examines only part of a large cluster, and rotating the start spreads it over all nodes.
#[derive(Debug, Default)]
pub(crate) struct NextStart(AtomicUsize);

impl NextStart {
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, v: usize) {
        self.0.store(v, Ordering::Relaxed);
    }
}

impl Clone for NextStart {
    fn clone(&self) -> Self {
        NextStart(AtomicUsize::new(self.get()))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeInfo>,
    pub(crate) next_start: NextStart,
    index: HashMap<String, usize>,
    /// (node index, pod) for placed pods with required anti-affinity, which every incoming pod
    /// must respect; kept apart so most pods need not scan all pods.
    pub(crate) anti_affinity_pods: Vec<(usize, Arc<Pod>)>,
    /// Claims, volumes and classes, read live rather than copied: few pods have claims.
    pub volumes: Volumes,
}

impl Snapshot {
    /// Builds the view; pods bound to unknown nodes and terminal pods are left out.
    pub fn new(
        nodes: impl IntoIterator<Item = Arc<Node>>,
        pods: impl IntoIterator<Item = Arc<Pod>>,
    ) -> Snapshot {
        let mut s = Snapshot::default();
        for node in nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            if s.index.contains_key(&name) {
                continue;
            }
            s.index.insert(name, s.nodes.len());
            s.nodes.push(NodeInfo::new(node));
        }
        for pod in pods {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
                continue;
            };
            if is_terminal(&pod) {
                continue;
            }
            s.assume(&node, pod);
        }
        s
    }

    /// Places `pod` on `node` in this view (no-op for an unknown node).
    pub fn assume(&mut self, node: &str, pod: Arc<Pod>) {
        let Some(&i) = self.index.get(node) else {
            return;
        };
        if affinity::has_required_anti_affinity(&pod) {
            self.anti_affinity_pods.push((i, pod.clone()));
        }
        self.nodes[i].add_pod(pod);
    }

    /// This view with node `i` holding exactly `pods` (preemption's what-if).
    pub fn with_node_pods(&self, i: usize, pods: &[Arc<Pod>]) -> Snapshot {
        let mut s = self.clone();
        let Some(info) = s.nodes.get_mut(i) else {
            return s;
        };
        *info = NodeInfo::new(info.node.clone());
        let name = info.name().to_string();
        s.anti_affinity_pods.retain(|(n, _)| *n != i);
        for p in pods {
            s.assume(&name, p.clone());
        }
        s
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}, "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "10"}}})).unwrap())
    }

    fn pod(name: &str, node: &str, phase: &str) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"requests": {"cpu": "500m"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]}]},
            "status": {"phase": phase}
        })).unwrap())
    }

    #[test]
    fn pods_are_counted_on_their_node_and_terminal_ones_are_not() {
        let s = Snapshot::new(
            [node("a"), node("b")],
            [
                pod("p1", "a", "Running"),
                pod("p2", "a", "Succeeded"),
                pod("p3", "ghost", "Running"),
            ],
        );
        let a = s.node("a").unwrap();
        assert_eq!(a.pods.len(), 1);
        assert_eq!(a.requested.milli_cpu, 500);
        assert_eq!(a.used_ports.len(), 1);
        assert_eq!(s.node("b").unwrap().pods.len(), 0);
    }

    #[test]
    fn host_port_conflicts_respect_ip_and_protocol() {
        let hp = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(hp("", "TCP", 80).conflicts(&hp("10.0.0.1", "TCP", 80)));
        assert!(hp("10.0.0.1", "TCP", 80).conflicts(&hp("10.0.0.1", "TCP", 80)));
        assert!(!hp("10.0.0.1", "TCP", 80).conflicts(&hp("10.0.0.2", "TCP", 80)));
        assert!(!hp("", "TCP", 80).conflicts(&hp("", "UDP", 80)));
        assert!(!hp("", "TCP", 80).conflicts(&hp("", "TCP", 81)));
    }
}
