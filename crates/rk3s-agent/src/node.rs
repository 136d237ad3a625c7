//! What a simulated node says about itself: the Node object with its status, its Lease, and
//! the fake addresses it owns. Pure builders; entry points: [`node_object`], [`node_status`],
//! [`node_lease`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Event, EventSource, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec,
    NodeStatus, NodeSystemInfo, ObjectReference, Pod,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference, Time};

use crate::options::SimulateOptions;
use crate::pod_worker::PodEvent;

pub const LEASE_NAMESPACE: &str = "kube-node-lease";
pub const KUBELET_VERSION: &str = "v1.33.0+rk3s";
pub const RUNTIME_VERSION: &str = "simulated://1.0";
/// Upstream kubelet's lease duration (the node lifecycle controller's grace is longer).
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// The node's InternalIP: 172.16.0.0/12 from .10 on, one per node.
pub fn internal_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 10)).wrapping_add(index as u32))
}

/// The fallback pod network of node `index` when its spec carries no podCIDR:
/// 10.<42 + index/256>.<index%256>.0/24.
pub fn fallback_pod_cidr(index: usize) -> (Ipv4Addr, u8) {
    let second = 42 + (index / 256) as u32;
    let third = (index % 256) as u32;
    (
        Ipv4Addr::from((10 << 24) | (second.min(255) << 16) | (third << 8)),
        24,
    )
}

fn labels(opts: &SimulateOptions, name: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("node.rk3s.io/simulated".to_string(), "true".to_string()),
    ]);
    l.extend(opts.labels.iter().cloned());
    l
}

pub fn node_object(opts: &SimulateOptions, index: usize, now: jiff::Timestamp) -> Node {
    let name = opts.node_name(index);
    Node {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels(opts, &name)),
            annotations: Some(BTreeMap::from([(
                "node.alpha.kubernetes.io/ttl".to_string(),
                "0".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(node_status(opts, index, now, None)),
    }
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Time,
    since: Option<&NodeStatus>,
) -> NodeCondition {
    // A condition keeps its transition time while its status stays the same.
    let last_transition = since
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == status))
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(last_transition),
    }
}

/// The full status, with heartbeats at `now`; `previous` keeps transition times.
pub fn node_status(
    opts: &SimulateOptions,
    index: usize,
    now: jiff::Timestamp,
    previous: Option<&NodeStatus>,
) -> NodeStatus {
    let now = Time(now);
    let resources = BTreeMap::from([
        ("cpu".to_string(), Quantity(opts.cpu.clone())),
        ("memory".to_string(), Quantity(opts.memory.clone())),
        (
            "ephemeral-storage".to_string(),
            Quantity(opts.ephemeral_storage.clone()),
        ),
        ("pods".to_string(), Quantity(opts.pods.to_string())),
        ("hugepages-2Mi".to_string(), Quantity("0".into())),
    ]);
    let name = opts.node_name(index);
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: internal_ip(index).to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name,
            },
        ]),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
                now.clone(),
                previous,
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
                now.clone(),
                previous,
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
                now.clone(),
                previous,
            ),
            condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
                now,
                previous,
            ),
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint { port: 10250 }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            boot_id: format!("sim-boot-{index}"),
            container_runtime_version: RUNTIME_VERSION.into(),
            kernel_version: "6.1.0-rk3s-simulated".into(),
            kube_proxy_version: String::new(),
            kubelet_version: KUBELET_VERSION.into(),
            machine_id: format!("5e{index:030x}"),
            operating_system: "linux".into(),
            os_image: "rk3s simulated node".into(),
            system_uuid: format!("5e000000-0000-4000-8000-{index:012x}"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The node's Lease in kube-node-lease, owned by the Node so it goes when the node does.
pub fn node_lease(node_name: &str, node_uid: Option<&str>, now: jiff::Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(node_name.to_string()),
            namespace: Some(LEASE_NAMESPACE.into()),
            owner_references: node_uid.map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node_name.to_string(),
                    uid: uid.to_string(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node_name.to_string()),
            lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        }),
    }
}

/// A core/v1 event from the kubelet of `node` about `pod`; `seq` keeps names of events made
/// in the same instant apart.
pub fn kubelet_event(
    pod: &Pod,
    node: &str,
    e: &PodEvent,
    seq: usize,
    now: jiff::Timestamp,
) -> Event {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}{seq:02x}", now.as_nanosecond())),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: Some(ns),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        reason: Some(e.reason.into()),
        message: Some(e.message.clone()),
        type_: Some(e.type_.into()),
        source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some(node.into()),
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        reporting_component: Some("kubelet".into()),
        reporting_instance: Some(node.into()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_cidrs_differ_per_node() {
        assert_eq!(internal_ip(0), Ipv4Addr::new(172, 16, 0, 10));
        assert_eq!(internal_ip(300), Ipv4Addr::new(172, 16, 1, 54));
        assert_eq!(fallback_pod_cidr(0), (Ipv4Addr::new(10, 42, 0, 0), 24));
        assert_eq!(fallback_pod_cidr(257), (Ipv4Addr::new(10, 43, 1, 0), 24));
    }

    #[test]
    fn node_reports_capacity_version_and_ready() {
        let opts = SimulateOptions::default();
        let n = serde_json::to_value(node_object(&opts, 2, jiff::Timestamp::UNIX_EPOCH)).unwrap();
        assert_eq!(n["metadata"]["name"], "sim-node-2");
        assert_eq!(
            n["metadata"]["labels"]["kubernetes.io/hostname"],
            "sim-node-2"
        );
        assert_eq!(n["status"]["capacity"]["cpu"], "4");
        assert_eq!(n["status"]["allocatable"]["pods"], "110");
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(
            n["status"]["nodeInfo"]["containerRuntimeVersion"],
            RUNTIME_VERSION
        );
        let ready = n["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert_eq!(
            n["status"]["addresses"][0],
            serde_json::json!({"type": "InternalIP", "address": "172.16.0.12"})
        );
        assert!(
            n["metadata"]["labels"]
                .get("node-role.kubernetes.io/control-plane")
                .is_none()
        );
    }

    #[test]
    fn heartbeat_keeps_transition_time() {
        let opts = SimulateOptions::default();
        let t0 = jiff::Timestamp::UNIX_EPOCH;
        let t1 = t0 + jiff::SignedDuration::from_secs(60);
        let first = node_status(&opts, 0, t0, None);
        let second = node_status(&opts, 0, t1, Some(&first));
        let ready = second
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.last_heartbeat_time, Some(Time(t1)));
        assert_eq!(ready.last_transition_time, Some(Time(t0)));
    }

    #[test]
    fn kubelet_events_name_the_node_and_differ_by_sequence() {
        let pod: Pod = serde_json::from_value(
            serde_json::json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u"}}),
        )
        .unwrap();
        let e = PodEvent {
            type_: "Normal",
            reason: "Started",
            message: "Started container c".into(),
        };
        let a = kubelet_event(&pod, "n1", &e, 0, jiff::Timestamp::UNIX_EPOCH);
        let b = kubelet_event(&pod, "n1", &e, 1, jiff::Timestamp::UNIX_EPOCH);
        assert_ne!(a.metadata.name, b.metadata.name);
        assert_eq!(a.source.unwrap().host.as_deref(), Some("n1"));
        assert_eq!(a.involved_object.uid.as_deref(), Some("u"));
        assert_eq!(a.reason.as_deref(), Some("Started"));
    }

    #[test]
    fn lease_is_held_by_the_node_and_owned_by_it() {
        let l = node_lease("n1", Some("uid-1"), jiff::Timestamp::UNIX_EPOCH);
        let spec = l.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("n1"));
        assert_eq!(spec.lease_duration_seconds, Some(LEASE_DURATION_SECONDS));
        assert_eq!(l.metadata.owner_references.unwrap()[0].uid, "uid-1");
        assert_eq!(l.metadata.namespace.as_deref(), Some(LEASE_NAMESPACE));
    }
}
