//! The Endpoints and EndpointSlices a Service with a selector should have, from its pods
//! (no I/O): target ports resolved per pod, ready and not-ready addresses, slices per port set.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort as CorePort, EndpointSubset, ObjectReference, Pod, Service,
    ServicePort,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pods;

/// Label naming a slice's service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming who manages a slice; slices with another value are left alone.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
pub const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// Label set on the objects of headless services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Annotation upstream's controller puts on the Endpoints it writes; it marks them as managed,
/// so leftovers of services deleted while no controller ran can be told from hand-made ones.
pub const TRIGGER_TIME_ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// Upstream's limit of endpoints per slice.
pub const MAX_PER_SLICE: usize = 100;

/// True for the services this controller keeps endpoints for: with a non-empty selector, not
/// ExternalName, and not `default/kubernetes`, whose endpoints the API server writes.
pub fn is_managed(svc: &Service) -> bool {
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    if ns == "default" && name == "kubernetes" {
        return false;
    }
    let Some(spec) = svc.spec.as_ref() else {
        return false;
    };
    spec.type_.as_deref() != Some("ExternalName")
        && spec.selector.as_ref().is_some_and(|s| !s.is_empty())
}

/// The container port a service port reaches on `pod`: a number as is, a name through the
/// pod's container ports of the same protocol; `None` when the pod has no such port.
pub fn resolve_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    let valid = |n: i32| (1..=65535).contains(&n).then_some(n);
    match port.target_port.as_ref() {
        None => valid(port.port),
        Some(IntOrString::Int(0)) => valid(port.port),
        Some(IntOrString::Int(n)) => valid(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return valid(n);
            }
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            pod.spec
                .as_ref()?
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .and_then(|p| valid(p.container_port))
        }
    }
}

/// One pod as an endpoint of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub ip: String,
    pub node: Option<String>,
    pub hostname: Option<String>,
    pub target: ObjectReference,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    /// The pod's port for each service port it resolves (name, protocol, app protocol, port).
    pub ports: Vec<PortKey>,
}

/// A resolved port; ordered so equal port sets group together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortKey {
    pub name: String,
    pub protocol: String,
    pub port: i32,
    pub app_protocol: Option<String>,
}

/// The pod as a member of `svc`, if it has an IPv4 address and has not finished.
pub fn member(svc: &Service, pod: &Pod) -> Option<Member> {
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let ip = status
        .pod_ip
        .as_deref()?
        .parse::<Ipv4Addr>()
        .ok()?
        .to_string();
    let spec = svc.spec.as_ref()?;
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let ready = pods::is_ready(pod);
    let pod_spec = pod.spec.as_ref();
    let hostname = pod_spec
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
        .filter(|_| {
            pod_spec.and_then(|s| s.subdomain.as_deref()) == svc.metadata.name.as_deref()
                && pod.metadata.namespace == svc.metadata.namespace
        })
        .map(str::to_string);
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortKey {
                name: p.name.clone().unwrap_or_default(),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port: resolve_port(p, pod)?,
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect();
    Some(Member {
        ip,
        node: pod_spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        hostname,
        target: ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.metadata.namespace.clone(),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        ready: publish || (ready && !terminating),
        serving: publish || ready,
        terminating,
        ports,
    })
}

fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Members grouped by port set. A member resolving none of several ports is left out, as
/// upstream does, except for a headless service without ports.
fn grouped(svc: &Service, members: &[Member]) -> BTreeMap<Vec<PortKey>, Vec<Member>> {
    let portless = svc
        .spec
        .as_ref()
        .is_none_or(|s| s.ports.as_ref().is_none_or(Vec::is_empty));
    let mut out: BTreeMap<Vec<PortKey>, Vec<Member>> = BTreeMap::new();
    for m in members {
        if m.ports.is_empty() && !(portless && is_headless(svc)) {
            continue;
        }
        let mut key = m.ports.clone();
        key.sort();
        out.entry(key).or_default().push(m.clone());
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| {
            a.ip.cmp(&b.ip)
                .then_with(|| a.target.name.cmp(&b.target.name))
        });
    }
    out
}

/// The labels of the service's Endpoints and slices: the service's own plus the headless mark.
pub fn labels(svc: &Service) -> BTreeMap<String, String> {
    let mut l = svc.metadata.labels.clone().unwrap_or_default();
    l.remove(SERVICE_NAME_LABEL);
    l.remove(MANAGED_BY_LABEL);
    if is_headless(svc) {
        l.insert(HEADLESS_LABEL.into(), String::new());
    }
    l
}

/// The subsets of the service's Endpoints object; terminating pods are left out unless the
/// service publishes not-ready addresses.
pub fn subsets(svc: &Service, members: &[Member]) -> Vec<EndpointSubset> {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let kept: Vec<Member> = members
        .iter()
        .filter(|m| publish || !m.terminating)
        .cloned()
        .collect();
    grouped(svc, &kept)
        .into_iter()
        .map(|(ports, list)| {
            let address = |m: &Member| EndpointAddress {
                ip: m.ip.clone(),
                node_name: m.node.clone(),
                hostname: m.hostname.clone(),
                target_ref: Some(m.target.clone()),
            };
            let ready: Vec<EndpointAddress> =
                list.iter().filter(|m| m.ready).map(address).collect();
            let not_ready: Vec<EndpointAddress> =
                list.iter().filter(|m| !m.ready).map(address).collect();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .iter()
                        .map(|p| CorePort {
                            name: (!p.name.is_empty()).then(|| p.name.clone()),
                            port: p.port,
                            protocol: Some(p.protocol.clone()),
                            app_protocol: p.app_protocol.clone(),
                        })
                        .collect()
                }),
            }
        })
        .collect()
}

/// The content of one EndpointSlice.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceContent {
    pub ports: Vec<EndpointPort>,
    pub endpoints: Vec<Endpoint>,
}

/// The slices the service should have: one per port set, at most [`MAX_PER_SLICE`] endpoints
/// each; a service without endpoints keeps one empty slice, as upstream does.
pub fn slices(svc: &Service, members: &[Member]) -> Vec<SliceContent> {
    let mut out = Vec::new();
    for (ports, list) in grouped(svc, members) {
        let ports: Vec<EndpointPort> = ports
            .iter()
            .map(|p| EndpointPort {
                name: Some(p.name.clone()),
                port: Some(p.port),
                protocol: Some(p.protocol.clone()),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        for chunk in list.chunks(MAX_PER_SLICE) {
            out.push(SliceContent {
                ports: ports.clone(),
                endpoints: chunk
                    .iter()
                    .map(|m| Endpoint {
                        addresses: vec![m.ip.clone()],
                        conditions: Some(EndpointConditions {
                            ready: Some(m.ready),
                            serving: Some(m.serving),
                            terminating: Some(m.terminating),
                        }),
                        node_name: m.node.clone(),
                        hostname: m.hostname.clone(),
                        target_ref: Some(m.target.clone()),
                        ..Default::default()
                    })
                    .collect(),
            });
        }
    }
    if out.is_empty() {
        out.push(SliceContent {
            ports: Vec::new(),
            endpoints: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::pod;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn svc(ports: Vec<ServicePort>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some(BTreeMap::from([("app".into(), "web".into())])),
                ports: Some(ports),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn sport(name: &str, port: i32, target: Option<IntOrString>) -> ServicePort {
        ServicePort {
            name: Some(name.into()),
            port,
            target_port: target,
            protocol: Some("TCP".into()),
            ..Default::default()
        }
    }

    fn web_pod(name: &str, ip: &str, ready: bool) -> Pod {
        let mut p = pod(name, 0, "Running", ready.then_some(0));
        p.metadata.namespace = Some("ns".into());
        p.spec = Some(PodSpec {
            node_name: Some("node-1".into()),
            containers: vec![Container {
                name: "c".into(),
                ports: Some(vec![
                    ContainerPort {
                        name: Some("http".into()),
                        container_port: 8080,
                        ..Default::default()
                    },
                    ContainerPort {
                        name: Some("dns".into()),
                        container_port: 5353,
                        protocol: Some("UDP".into()),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            }],
            ..Default::default()
        });
        if let Some(s) = p.status.as_mut() {
            s.pod_ip = Some(ip.into());
        }
        p
    }

    #[test]
    fn target_ports_resolve_by_number_by_name_and_default_to_the_port() {
        let p = web_pod("a", "10.42.0.5", true);
        assert_eq!(resolve_port(&sport("x", 80, None), &p), Some(80));
        assert_eq!(
            resolve_port(&sport("x", 80, Some(IntOrString::Int(9090))), &p),
            Some(9090)
        );
        assert_eq!(
            resolve_port(
                &sport("x", 80, Some(IntOrString::String("http".into()))),
                &p
            ),
            Some(8080)
        );
        assert_eq!(
            resolve_port(
                &sport("x", 80, Some(IntOrString::String("8081".into()))),
                &p
            ),
            Some(8081)
        );
        assert_eq!(
            resolve_port(
                &sport("x", 80, Some(IntOrString::String("nope".into()))),
                &p
            ),
            None
        );
        // The named port exists only for UDP.
        assert_eq!(
            resolve_port(&sport("x", 53, Some(IntOrString::String("dns".into()))), &p),
            None
        );
        let mut udp = sport("x", 53, Some(IntOrString::String("dns".into())));
        udp.protocol = Some("UDP".into());
        assert_eq!(resolve_port(&udp, &p), Some(5353));
        assert_eq!(
            resolve_port(&sport("x", 80, Some(IntOrString::Int(70000))), &p),
            None
        );
        assert_eq!(
            resolve_port(&sport("x", 80, Some(IntOrString::Int(-1))), &p),
            None
        );
    }

    #[test]
    fn ready_and_not_ready_pods_land_in_their_address_lists() {
        let s = svc(vec![sport(
            "http",
            80,
            Some(IntOrString::String("http".into())),
        )]);
        let pods = [
            web_pod("a", "10.42.0.5", true),
            web_pod("b", "10.42.0.6", false),
        ];
        let members: Vec<Member> = pods.iter().filter_map(|p| member(&s, p)).collect();
        let subs = subsets(&s, &members);
        assert_eq!(subs.len(), 1);
        let ips = |l: &Option<Vec<EndpointAddress>>| {
            l.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>()
        };
        assert_eq!(ips(&subs[0].addresses), vec!["10.42.0.5"]);
        assert_eq!(ips(&subs[0].not_ready_addresses), vec!["10.42.0.6"]);
        let ports = subs[0].ports.clone().unwrap_or_default();
        assert_eq!(ports[0].port, 8080);
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        let addr = &subs[0].addresses.as_ref().unwrap()[0];
        assert_eq!(addr.node_name.as_deref(), Some("node-1"));
        assert_eq!(
            addr.target_ref.as_ref().and_then(|r| r.name.as_deref()),
            Some("a")
        );

        let sl = slices(&s, &members);
        assert_eq!(sl.len(), 1);
        assert_eq!(sl[0].endpoints.len(), 2);
        let cond = |i: usize| sl[0].endpoints[i].conditions.clone().unwrap_or_default();
        assert_eq!(cond(0).ready, Some(true));
        assert_eq!(cond(1).ready, Some(false));
        assert_eq!(cond(1).serving, Some(false));
        assert_eq!(sl[0].ports[0].port, Some(8080));
    }

    #[test]
    fn terminating_pods_stay_in_slices_but_leave_endpoints() {
        let s = svc(vec![sport("", 80, None)]);
        let mut p = web_pod("a", "10.42.0.5", true);
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let members: Vec<Member> = member(&s, &p).into_iter().collect();
        assert!(subsets(&s, &members).is_empty());
        let sl = slices(&s, &members);
        let c = sl[0].endpoints[0].conditions.clone().unwrap_or_default();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
        assert_eq!(sl[0].ports[0].name.as_deref(), Some(""));
    }

    #[test]
    fn pods_without_ipv4_or_finished_are_not_members() {
        let s = svc(vec![sport("", 80, None)]);
        let mut no_ip = web_pod("a", "10.0.0.1", true);
        if let Some(st) = no_ip.status.as_mut() {
            st.pod_ip = None;
        }
        assert!(member(&s, &no_ip).is_none());
        assert!(member(&s, &web_pod("b", "fd00::1", true)).is_none());
        assert!(member(&s, &web_pod("c", "10.0.0.999", true)).is_none());
        let mut done = web_pod("d", "10.0.0.2", false);
        if let Some(st) = done.status.as_mut() {
            st.phase = Some("Succeeded".into());
        }
        assert!(member(&s, &done).is_none());
    }

    #[test]
    fn pods_resolving_different_ports_get_different_subsets_and_slices() {
        let s = svc(vec![sport(
            "http",
            80,
            Some(IntOrString::String("http".into())),
        )]);
        let a = web_pod("a", "10.42.0.5", true);
        let mut b = web_pod("b", "10.42.0.6", true);
        if let Some(c) = b
            .spec
            .as_mut()
            .and_then(|sp| sp.containers[0].ports.as_mut())
        {
            c[0].container_port = 9000;
        }
        let mut c = web_pod("c", "10.42.0.7", true);
        if let Some(sp) = c.spec.as_mut() {
            sp.containers[0].ports = None;
        }
        let members: Vec<Member> = [a, b, c].iter().filter_map(|p| member(&s, p)).collect();
        assert_eq!(subsets(&s, &members).len(), 2);
        assert_eq!(slices(&s, &members).len(), 2);
    }

    #[test]
    fn large_services_split_into_slices_of_at_most_a_hundred() {
        let s = svc(vec![sport("", 80, None)]);
        let members: Vec<Member> = (0..250)
            .filter_map(|i| {
                member(
                    &s,
                    &web_pod(
                        &format!("p{i}"),
                        &format!("10.42.{}.{}", i / 200, i % 200),
                        true,
                    ),
                )
            })
            .collect();
        let sl = slices(&s, &members);
        assert_eq!(
            sl.iter().map(|x| x.endpoints.len()).collect::<Vec<_>>(),
            vec![100, 100, 50]
        );
    }

    #[test]
    fn a_service_without_endpoints_keeps_one_empty_slice() {
        let s = svc(vec![sport("", 80, None)]);
        let sl = slices(&s, &[]);
        assert_eq!(sl.len(), 1);
        assert!(sl[0].endpoints.is_empty() && sl[0].ports.is_empty());
        assert!(subsets(&s, &[]).is_empty());
    }

    #[test]
    fn the_kubernetes_service_selectorless_and_external_name_services_are_not_managed() {
        assert!(is_managed(&svc(vec![])));
        let mut k = svc(vec![]);
        k.metadata.name = Some("kubernetes".into());
        k.metadata.namespace = Some("default".into());
        assert!(!is_managed(&k));
        let mut bare = svc(vec![]);
        if let Some(sp) = bare.spec.as_mut() {
            sp.selector = Some(BTreeMap::new());
        }
        assert!(!is_managed(&bare));
        let mut ext = svc(vec![]);
        if let Some(sp) = ext.spec.as_mut() {
            sp.type_ = Some("ExternalName".into());
        }
        assert!(!is_managed(&ext));
    }

    #[test]
    fn headless_services_publish_portless_addresses_and_pod_hostnames() {
        let mut s = svc(vec![]);
        if let Some(sp) = s.spec.as_mut() {
            sp.cluster_ip = Some("None".into());
        }
        let mut p = web_pod("web-0", "10.42.0.9", true);
        if let Some(sp) = p.spec.as_mut() {
            sp.hostname = Some("web-0".into());
            sp.subdomain = Some("web".into());
        }
        let members: Vec<Member> = member(&s, &p).into_iter().collect();
        let subs = subsets(&s, &members);
        assert_eq!(subs.len(), 1);
        assert!(subs[0].ports.is_none());
        let addr = &subs[0].addresses.as_ref().unwrap()[0];
        assert_eq!(addr.hostname.as_deref(), Some("web-0"));
        assert_eq!(labels(&s).get(HEADLESS_LABEL).map(String::as_str), Some(""));
    }
}
