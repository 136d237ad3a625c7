//! Resource arithmetic: a pod's effective requests (as upstream's `PodRequests`) and a node's
//! allocatable, in milli-cpu, bytes and counts. Entry points: [`pod_requests`], [`allocatable`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use rk3s_core::quantity::Quantity;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// What the least-allocated and balanced scores assume for a container that requests nothing,
/// so that such pods still spread (upstream's `DefaultMilliCPURequest`/`DefaultMemoryRequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Amounts by resource: cpu in millicores, everything else in whole units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources (`nvidia.com/gpu`, `hugepages-2Mi`, ...), by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_add(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_add(*v);
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self
            .ephemeral_storage
            .saturating_sub(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = e.saturating_sub(*v);
        }
    }

    /// Per-resource maximum, as an init container's request competes with the rest.
    pub fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }

    /// Reads a `requests`/`capacity` map; unparsable quantities count as zero (the API server
    /// validated them, and a bad one must not take the scheduler down).
    pub fn from_map(map: Option<&BTreeMap<String, K8sQuantity>>) -> Resources {
        let mut r = Resources::default();
        let Some(map) = map else { return r };
        for (name, q) in map {
            let Ok(q) = Quantity::parse(&q.0) else {
                continue;
            };
            match name.as_str() {
                CPU => r.milli_cpu = clamp(q.to_millis().unwrap_or(0)),
                MEMORY => r.memory = clamp(q.to_units()),
                EPHEMERAL_STORAGE => r.ephemeral_storage = clamp(q.to_units()),
                PODS => {}
                other if is_scalar(other) => {
                    r.scalar.insert(other.to_string(), clamp(q.to_units()));
                }
                _ => {}
            }
        }
        r
    }
}

fn clamp(v: i128) -> i64 {
    v.clamp(0, i64::MAX as i128) as i64
}

/// Extended resources are fully-qualified names outside `kubernetes.io/`, plus hugepages and
/// attachable volumes; those are the ones the fit check compares.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

fn container_requests(c: &Container) -> Resources {
    let res = c.resources.as_ref();
    let requests = res.and_then(|r| r.requests.as_ref());
    // An unset request defaults to the limit (upstream defaulting does this at admission, but
    // objects written before defaulting existed may still lack it).
    let mut r = Resources::from_map(requests);
    let limits = Resources::from_map(res.and_then(|r| r.limits.as_ref()));
    let has = |k: &str| requests.is_some_and(|m| m.contains_key(k));
    if !has(CPU) {
        r.milli_cpu = limits.milli_cpu;
    }
    if !has(MEMORY) {
        r.memory = limits.memory;
    }
    if !has(EPHEMERAL_STORAGE) {
        r.ephemeral_storage = limits.ephemeral_storage;
    }
    for (k, v) in limits.scalar {
        r.scalar.entry(k).or_insert(v);
    }
    r
}

/// The pod's effective requests: the sum of its containers and restartable (sidecar) init
/// containers, or the largest regular init container plus the sidecars started before it if
/// that is more, plus the pod overhead. With `non_zero`, containers that request no cpu or
/// memory count as the scoring defaults.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let adjust = |mut r: Resources| {
        if non_zero {
            if r.milli_cpu == 0 {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if r.memory == 0 {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&adjust(container_requests(c)));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = adjust(container_requests(c));
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            init_peak.max_with(&sidecars);
        } else {
            let mut during = sidecars.clone();
            during.add(&r);
            init_peak.max_with(&during);
        }
    }
    total.add(&sidecars);
    total.max_with(&init_peak);
    total.add(&Resources::from_map(spec.overhead.as_ref()));
    total
}

/// The node's allocatable resources (capacity when allocatable is absent) and its pod limit.
pub fn allocatable(node: &Node) -> (Resources, i64) {
    let status = node.status.as_ref();
    let map = status
        .and_then(|s| s.allocatable.as_ref())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    let pods = map
        .and_then(|m| m.get(PODS))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .map(|q| clamp(q.to_units()))
        .unwrap_or(0);
    (Resources::from_map(map), pods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn containers_sum_and_init_containers_take_the_max() {
        let p = pod(json!({
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "100Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m", "memory": "2Gi"}}}
            ]
        }));
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 2000);
        assert_eq!(r.memory, (2048 + 100) * 1024 * 1024);
    }

    #[test]
    fn sidecars_add_to_the_containers() {
        let p = pod(json!({
            "initContainers": [{"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}}}]
        }));
        assert_eq!(pod_requests(&p, false).milli_cpu, 600);
    }

    #[test]
    fn overhead_is_added() {
        let p = pod(json!({
            "overhead": {"cpu": "50m"},
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]
        }));
        assert_eq!(pod_requests(&p, false).milli_cpu, 1050);
    }

    #[test]
    fn empty_requests_use_scoring_defaults_only_when_asked() {
        let p = pod(json!({"containers": [{"name": "a"}]}));
        assert!(pod_requests(&p, false).is_zero());
        let nz = pod_requests(&p, true);
        assert_eq!(nz.milli_cpu, DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(nz.memory, DEFAULT_MEMORY_REQUEST);
    }

    #[test]
    fn limits_stand_in_for_missing_requests() {
        let p = pod(
            json!({"containers": [{"name": "a", "resources": {"limits": {"cpu": "3", "example.com/dongle": "2"}}}]}),
        );
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 3000);
        assert_eq!(r.scalar.get("example.com/dongle"), Some(&2));
    }

    #[test]
    fn garbage_quantities_count_as_zero() {
        let p = pod(
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "lots", "memory": "1e999"}}}]}),
        );
        assert!(pod_requests(&p, false).is_zero());
    }

    #[test]
    fn allocatable_falls_back_to_capacity() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
        }))
        .unwrap();
        let (r, pods) = allocatable(&n);
        assert_eq!(r.milli_cpu, 4000);
        assert_eq!(r.memory, 8 * 1024 * 1024 * 1024);
        assert_eq!(pods, 110);
    }
}
