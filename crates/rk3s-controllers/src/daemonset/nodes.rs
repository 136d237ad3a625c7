//! Which nodes a DaemonSet's pod belongs on, and the pod made for one node (no I/O): node
//! selector, required node affinity, and taints against the pod's tolerations plus the ones
//! every daemon pod gets.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodTemplateSpec, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rk3s_scheduler::affinity;

use crate::replicaset::decide::controller_ref;
use crate::statefulset::revision::REVISION_LABEL;

/// Deprecated pod label upstream still sets to the DaemonSet's generation.
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PodError {
    #[error("daemon set has no name, namespace or uid")]
    MissingIdentity,
}

/// Whether a daemon pod should be started on a node, and whether one already there may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eligibility {
    pub should_run: bool,
    pub should_continue_running: bool,
}

/// The tolerations upstream adds to every daemon pod, so that node conditions do not evict or
/// keep out the very agents that may fix them.
pub fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let exists = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut out = vec![
        exists("node.kubernetes.io/not-ready", "NoExecute"),
        exists("node.kubernetes.io/unreachable", "NoExecute"),
        exists("node.kubernetes.io/disk-pressure", "NoSchedule"),
        exists("node.kubernetes.io/memory-pressure", "NoSchedule"),
        exists("node.kubernetes.io/pid-pressure", "NoSchedule"),
        exists("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        out.push(exists(
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
        ));
    }
    out
}

/// `tolerations` plus the defaults it lacks (same key, operator and effect count as present).
pub fn with_default_tolerations(tolerations: &[Toleration], host_network: bool) -> Vec<Toleration> {
    let mut out = tolerations.to_vec();
    for d in default_tolerations(host_network) {
        let present = out
            .iter()
            .any(|t| t.key == d.key && t.operator == d.operator && t.effect == d.effect);
        if !present {
            out.push(d);
        }
    }
    out
}

/// The template as a pod with the default tolerations, the shape eligibility is judged on.
pub fn template_pod(template: &PodTemplateSpec) -> Pod {
    let mut spec = template.spec.clone().unwrap_or_default();
    let host_network = spec.host_network.unwrap_or(false);
    spec.tolerations = Some(with_default_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        host_network,
    ));
    Pod {
        metadata: template.metadata.clone().unwrap_or_default(),
        spec: Some(spec),
        status: None,
    }
}

/// Upstream's rule: the node selector and required affinity must match, then an untolerated
/// NoSchedule or NoExecute taint keeps new pods off while only NoExecute evicts running ones.
pub fn eligibility(pod: &Pod, node: &Node) -> Eligibility {
    if !affinity::node_matches_pod_selector(pod, node) {
        return Eligibility {
            should_run: false,
            should_continue_running: false,
        };
    }
    let taints = affinity::node_taints(node);
    let tolerations = affinity::pod_tolerations(pod);
    Eligibility {
        should_run: affinity::first_untolerated(taints, tolerations, &["NoSchedule", "NoExecute"])
            .is_none(),
        should_continue_running: affinity::first_untolerated(taints, tolerations, &["NoExecute"])
            .is_none(),
    }
}

/// The daemon pod for `node`: the template with the revision labels, the default tolerations,
/// and a required node affinity that pins it to the node, for the scheduler to bind.
pub fn pod_for(
    ds: &DaemonSet,
    template: &PodTemplateSpec,
    node: &str,
    hash: &str,
) -> Result<Pod, PodError> {
    let (Some(name), Some(ns), Some(uid)) = (
        ds.metadata.name.as_deref(),
        ds.metadata.namespace.as_deref(),
        ds.metadata.uid.as_deref(),
    ) else {
        return Err(PodError::MissingIdentity);
    };
    let mut pod = template_pod(template);
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), hash.into());
    if let Some(g) = ds.metadata.generation {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g.to_string());
    }
    pod.metadata = ObjectMeta {
        generate_name: Some(format!("{name}-")),
        namespace: Some(ns.into()),
        labels: Some(labels),
        annotations: tmeta.annotations,
        finalizers: tmeta.finalizers,
        owner_references: Some(vec![controller_ref("apps/v1", "DaemonSet", name, uid)]),
        ..Default::default()
    };
    if let Some(spec) = pod.spec.as_mut() {
        pin_to_node(spec.affinity.get_or_insert_with(Affinity::default), node);
    }
    Ok(pod)
}

/// Every required term gets `metadata.name In [node]` as its only field requirement (a term
/// that matched other nodes' names no longer can); with no terms, that is the one term.
fn pin_to_node(affinity: &mut Affinity, node: &str) {
    let field = NodeSelectorRequirement {
        key: "metadata.name".into(),
        operator: "In".into(),
        values: Some(vec![node.into()]),
    };
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let required = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if required.node_selector_terms.is_empty() {
        required
            .node_selector_terms
            .push(NodeSelectorTerm::default());
    }
    for term in &mut required.node_selector_terms {
        term.match_fields = Some(vec![field.clone()]);
    }
}

/// The node a daemon pod is meant for: where it runs, else the name its affinity pins.
pub fn node_of(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| match r.values.as_deref() {
            Some([one]) => Some(one.as_str()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, PodSpec, Taint};
    use std::collections::BTreeMap;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(
                    taints
                        .iter()
                        .map(|(k, e)| Taint {
                            key: k.to_string(),
                            effect: e.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn template(spec: PodSpec) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(BTreeMap::from([("app".into(), "agent".into())])),
                ..Default::default()
            }),
            spec: Some(spec),
        }
    }

    const RUN: Eligibility = Eligibility {
        should_run: true,
        should_continue_running: true,
    };

    #[test]
    fn a_plain_node_is_eligible_and_a_no_schedule_taint_only_keeps_new_pods_off() {
        let p = template_pod(&template(PodSpec::default()));
        assert_eq!(eligibility(&p, &node("a", &[], &[])), RUN);
        assert_eq!(
            eligibility(&p, &node("a", &[], &[("dedicated", "NoSchedule")])),
            Eligibility {
                should_run: false,
                should_continue_running: true
            }
        );
        assert_eq!(
            eligibility(&p, &node("a", &[], &[("dedicated", "NoExecute")])),
            Eligibility {
                should_run: false,
                should_continue_running: false
            }
        );
        // PreferNoSchedule does not count.
        assert_eq!(
            eligibility(&p, &node("a", &[], &[("x", "PreferNoSchedule")])),
            RUN
        );
    }

    #[test]
    fn default_tolerations_cover_node_conditions() {
        let p = template_pod(&template(PodSpec::default()));
        for (key, effect) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ] {
            assert_eq!(
                eligibility(&p, &node("a", &[], &[(key, effect)])),
                RUN,
                "{key}"
            );
        }
        let unavailable = node(
            "a",
            &[],
            &[("node.kubernetes.io/network-unavailable", "NoSchedule")],
        );
        assert!(!eligibility(&p, &unavailable).should_run);
        let host = template_pod(&template(PodSpec {
            host_network: Some(true),
            ..Default::default()
        }));
        assert_eq!(eligibility(&host, &unavailable), RUN);
    }

    #[test]
    fn own_tolerations_node_selector_and_affinity_are_honoured() {
        let tolerant = template_pod(&template(PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            node_selector: Some(BTreeMap::from([("disk".into(), "ssd".into())])),
            ..Default::default()
        }));
        let tainted_ssd = node("a", &[("disk", "ssd")], &[("dedicated", "NoSchedule")]);
        assert_eq!(eligibility(&tolerant, &tainted_ssd), RUN);
        assert_eq!(
            eligibility(&tolerant, &node("b", &[("disk", "hdd")], &[])),
            Eligibility {
                should_run: false,
                should_continue_running: false
            }
        );
    }

    #[test]
    fn defaults_are_not_added_twice() {
        let once = with_default_tolerations(&[], false);
        assert_eq!(with_default_tolerations(&once, false).len(), once.len());
    }

    #[test]
    fn the_pod_is_pinned_to_its_node_and_labelled_with_the_revision() {
        let ds = DaemonSet {
            metadata: ObjectMeta {
                name: Some("agent".into()),
                namespace: Some("kube-system".into()),
                uid: Some("u".into()),
                generation: Some(3),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = pod_for(&ds, &template(PodSpec::default()), "node-1", "h1").unwrap();
        assert_eq!(node_of(&p), Some("node-1"));
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(REVISION_LABEL).map(String::as_str), Some("h1"));
        assert_eq!(
            labels.get(TEMPLATE_GENERATION_LABEL).map(String::as_str),
            Some("3")
        );
        assert_eq!(labels.get("app").map(String::as_str), Some("agent"));
        assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
        assert!(eligibility(&p, &node("node-1", &[], &[])).should_run);
        assert!(!eligibility(&p, &node("node-2", &[], &[])).should_run);
        let mut anonymous = ds.clone();
        anonymous.metadata.uid = None;
        assert_eq!(
            pod_for(&anonymous, &PodTemplateSpec::default(), "n", "h").unwrap_err(),
            PodError::MissingIdentity
        );
    }
}
