//! Upstream's VolumeBinding checks for pods with PersistentVolumeClaims, as pure functions over
//! a [`VolumeCatalog`]: the pod-level pre-filter ([`pre_filter`]: missing, lost or deleting
//! claims, unbound Immediate claims) and the per-node check of bound volumes' node affinity
//! ([`check_node`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::affinity;
use crate::filter::Reason;

/// The annotation upstream's scheduler sets on a WaitForFirstConsumer claim it provisions for:
/// the node the pod was placed on, so the provisioner creates the volume where it can be used.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// Set by the PV controller once both sides of a binding are written.
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The pre-`storageClassName` way to name a class; upstream lets it win over the field.
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// Read access to the claims, volumes and storage classes the scheduler watches.
pub trait VolumeCatalog: Send + Sync {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>>;
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>>;
    fn class(&self, name: &str) -> Option<Arc<StorageClass>>;
}

/// A catalog held in maps (tests, and the empty default of a [`crate::Snapshot`]).
#[derive(Debug, Default, Clone)]
pub struct VolumeIndex {
    claims: HashMap<(String, String), Arc<PersistentVolumeClaim>>,
    volumes: HashMap<String, Arc<PersistentVolume>>,
    classes: HashMap<String, Arc<StorageClass>>,
}

impl VolumeIndex {
    pub fn add_claim(&mut self, claim: PersistentVolumeClaim) {
        let ns = claim.metadata.namespace.clone().unwrap_or_default();
        let name = claim.metadata.name.clone().unwrap_or_default();
        self.claims.insert((ns, name), Arc::new(claim));
    }

    pub fn add_volume(&mut self, volume: PersistentVolume) {
        let name = volume.metadata.name.clone().unwrap_or_default();
        self.volumes.insert(name, Arc::new(volume));
    }

    pub fn add_class(&mut self, class: StorageClass) {
        let name = class.metadata.name.clone().unwrap_or_default();
        self.classes.insert(name, Arc::new(class));
    }
}

impl VolumeCatalog for VolumeIndex {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(name).cloned()
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.get(name).cloned()
    }
}

/// The catalog a snapshot decides with; cheap to clone.
#[derive(Clone)]
pub struct Volumes(pub Arc<dyn VolumeCatalog>);

impl Default for Volumes {
    fn default() -> Self {
        Volumes(Arc::new(VolumeIndex::default()))
    }
}

impl fmt::Debug for Volumes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Volumes")
    }
}

/// What the pre-filter learned about a pod's claims that the node checks and the bind need.
#[derive(Debug, Clone, Default)]
pub struct PodVolumes {
    /// Each bound claim's volume, `None` when the volume is not in the cache.
    bound: Vec<Option<Arc<PersistentVolume>>>,
    /// Unbound WaitForFirstConsumer claims (names in the pod's namespace): they wait for the
    /// pod's node to be chosen.
    pub delayed: Vec<String>,
}

fn claim_names(pod: &Pod) -> Vec<(String, bool)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            if let Some(c) = v.persistent_volume_claim.as_ref() {
                Some((c.claim_name.clone(), false))
            } else {
                // A generic ephemeral volume's claim is named after the pod and the volume.
                v.ephemeral
                    .as_ref()
                    .map(|_| (format!("{pod_name}-{}", v.name), true))
            }
        })
        .collect()
}

fn is_fully_bound(claim: &PersistentVolumeClaim) -> bool {
    let volume = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref());
    // Upstream waits for the PV controller's annotation; rk3s runs no PV controller yet, so a
    // claim whose status says Bound (written by whoever bound it statically) counts as well.
    volume.is_some_and(|v| !v.is_empty())
        && (claim
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(BIND_COMPLETED))
            || claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound"))
}

fn class_name(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(BETA_CLASS))
        .map(String::as_str)
        .or_else(|| {
            claim
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
        })
        .filter(|c| !c.is_empty())
}

/// Whether the claim's class delays binding until a pod using it is scheduled; no class, or a
/// class not (yet) in the cache, means Immediate, as upstream.
fn delays_binding(claim: &PersistentVolumeClaim, catalog: &dyn VolumeCatalog) -> bool {
    class_name(claim)
        .and_then(|c| catalog.class(c))
        .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
}

fn owned_by(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    claim.metadata.owner_references.iter().flatten().any(|o| {
        o.controller == Some(true) && Some(&o.uid) == pod.metadata.uid.as_ref() && o.kind == "Pod"
    })
}

/// Upstream's VolumeBinding pre-filter: the pod's claims must exist, not be lost or deleting,
/// and be bound unless their class waits for the first consumer. `Err` carries upstream's
/// message, which fails the pod on every node at once and which preemption cannot fix.
pub fn pre_filter(pod: &Pod, catalog: &dyn VolumeCatalog) -> Result<PodVolumes, String> {
    let names = claim_names(pod);
    if names.is_empty() {
        return Ok(PodVolumes::default());
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut claims = Vec::with_capacity(names.len());
    for (name, ephemeral) in names {
        let Some(claim) = catalog.claim(ns, &name) else {
            return Err(if ephemeral {
                format!(
                    "waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}"
                )
            } else {
                format!("persistentvolumeclaim {name:?} not found")
            });
        };
        if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Lost") {
            let volume = claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .unwrap_or_default();
            return Err(format!(
                "persistentvolumeclaim {name:?} bound to non-existent persistentvolume {volume:?}"
            ));
        }
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim {name:?} is being deleted"));
        }
        if ephemeral && !owned_by(&claim, pod) {
            let pod_name = pod.metadata.name.as_deref().unwrap_or("");
            return Err(format!(
                "PVC {ns}/{name} was not created for pod {ns}/{pod_name} (pod is not owner)"
            ));
        }
        claims.push((name, claim));
    }
    let mut found = PodVolumes::default();
    let mut unbound_immediate = false;
    for (name, claim) in claims {
        let volume_name = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref());
        if is_fully_bound(&claim) {
            found
                .bound
                .push(volume_name.and_then(|v| catalog.volume(v)));
        } else if delays_binding(&claim, catalog) && volume_name.is_none_or(str::is_empty) {
            // Provisioning for the chosen node (and matching of unbound static volumes) is not
            // done yet: such a pod may go anywhere the other filters allow.
            found.delayed.push(name);
        } else {
            // A pre-bound claim (volumeName set, binding not completed) waits as Immediate.
            unbound_immediate = true;
        }
    }
    if unbound_immediate {
        return Err("pod has unbound immediate PersistentVolumeClaims".into());
    }
    Ok(found)
}

/// Whether the node satisfies the required node affinity of every bound volume.
pub fn check_node(volumes: &PodVolumes, node: &Node) -> Result<(), Reason> {
    for volume in &volumes.bound {
        let Some(pv) = volume else {
            return Err(Reason::VolumeMissing);
        };
        let required = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref());
        if let Some(sel) = required
            && !sel
                .node_selector_terms
                .iter()
                .any(|t| affinity::node_selector_term_matches(t, node))
        {
            return Err(Reason::VolumeNodeAffinityConflict);
        }
    }
    Ok(())
}

/// The pod's WaitForFirstConsumer claims that do not yet name `node` as selected.
pub fn claims_to_select(pod: &Pod, catalog: &dyn VolumeCatalog, node: &str) -> Vec<String> {
    let Ok(found) = pre_filter(pod, catalog) else {
        return Vec::new();
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    found
        .delayed
        .into_iter()
        .filter(|name| {
            catalog.claim(ns, name).is_some_and(|c| {
                c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SELECTED_NODE))
                    .map(String::as_str)
                    != Some(node)
            })
        })
        .collect()
}

/// The merge patch that records the chosen node on a claim.
pub fn selected_node_patch(node: &str) -> serde_json::Value {
    serde_json::json!({"metadata": {"annotations": {SELECTED_NODE: node}}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(volumes: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "pod-uid"},
            "spec": {"containers": [{"name": "c"}], "volumes": volumes}
        }))
        .unwrap()
    }

    fn claim_vol(claim: &str) -> Value {
        json!({"name": claim, "persistentVolumeClaim": {"claimName": claim}})
    }

    fn claim(v: Value) -> PersistentVolumeClaim {
        serde_json::from_value(v).unwrap()
    }

    fn bound_claim(name: &str, pv: &str) -> PersistentVolumeClaim {
        claim(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"volumeName": pv},
            "status": {"phase": "Bound"}
        }))
    }

    fn local_pv(name: &str, terms: Value) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": terms}}}
        }))
        .unwrap()
    }

    fn node(name: &str) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}),
        )
        .unwrap()
    }

    fn class(name: &str, mode: &str) -> StorageClass {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "provisioner": "x", "volumeBindingMode": mode}),
        )
        .unwrap()
    }

    #[test]
    fn pods_without_claims_pass_without_lookups() {
        let p = pod(json!([{"name": "e", "emptyDir": {}}]));
        let found = pre_filter(&p, &VolumeIndex::default()).unwrap();
        assert!(found.bound.is_empty() && found.delayed.is_empty());
        assert!(check_node(&found, &node("a")).is_ok());
    }

    #[test]
    fn missing_claim_gives_upstreams_message() {
        let p = pod(json!([claim_vol("data")]));
        assert_eq!(
            pre_filter(&p, &VolumeIndex::default()).unwrap_err(),
            "persistentvolumeclaim \"data\" not found"
        );
    }

    #[test]
    fn claim_in_another_namespace_does_not_count() {
        let mut idx = VolumeIndex::default();
        let mut c = bound_claim("data", "pv1");
        c.metadata.namespace = Some("other".into());
        idx.add_claim(c);
        let p = pod(json!([claim_vol("data")]));
        assert!(pre_filter(&p, &idx).unwrap_err().contains("not found"));
    }

    #[test]
    fn deleting_and_lost_claims_are_refused() {
        let mut idx = VolumeIndex::default();
        let mut c = bound_claim("data", "pv1");
        c.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH,
        ));
        idx.add_claim(c);
        let mut lost = bound_claim("old", "gone");
        lost.status.as_mut().unwrap().phase = Some("Lost".into());
        idx.add_claim(lost);
        assert_eq!(
            pre_filter(&pod(json!([claim_vol("data")])), &idx).unwrap_err(),
            "persistentvolumeclaim \"data\" is being deleted"
        );
        assert_eq!(
            pre_filter(&pod(json!([claim_vol("old")])), &idx).unwrap_err(),
            "persistentvolumeclaim \"old\" bound to non-existent persistentvolume \"gone\""
        );
    }

    #[test]
    fn unbound_claims_without_a_delaying_class_are_immediate() {
        let mut idx = VolumeIndex::default();
        idx.add_class(class("fast", "Immediate"));
        idx.add_claim(claim(
            json!({"metadata": {"name": "none", "namespace": "default"}}),
        ));
        idx.add_claim(claim(
            json!({"metadata": {"name": "imm", "namespace": "default"}, "spec": {"storageClassName": "fast"}}),
        ));
        idx.add_claim(claim(
            json!({"metadata": {"name": "ghost", "namespace": "default"}, "spec": {"storageClassName": "missing"}}),
        ));
        // volumeName set but never confirmed: upstream treats it as an unbound Immediate claim.
        idx.add_claim(claim(
            json!({"metadata": {"name": "pre", "namespace": "default"}, "spec": {"volumeName": "pv1"}}),
        ));
        for c in ["none", "imm", "ghost", "pre"] {
            assert_eq!(
                pre_filter(&pod(json!([claim_vol(c)])), &idx).unwrap_err(),
                "pod has unbound immediate PersistentVolumeClaims",
                "{c}"
            );
        }
    }

    #[test]
    fn wait_for_first_consumer_claims_are_left_for_the_node_choice() {
        let mut idx = VolumeIndex::default();
        idx.add_class(class("local", "WaitForFirstConsumer"));
        idx.add_claim(claim(
            json!({"metadata": {"name": "late", "namespace": "default", "annotations": {"volume.beta.kubernetes.io/storage-class": "local"}}, "spec": {"storageClassName": "other"}}),
        ));
        let p = pod(json!([claim_vol("late")]));
        let found = pre_filter(&p, &idx).unwrap();
        assert_eq!(found.delayed, vec!["late".to_string()]);
        assert!(check_node(&found, &node("a")).is_ok());
        assert_eq!(claims_to_select(&p, &idx, "a"), vec!["late".to_string()]);
    }

    #[test]
    fn claims_already_naming_the_node_need_no_patch() {
        let mut idx = VolumeIndex::default();
        idx.add_class(class("local", "WaitForFirstConsumer"));
        idx.add_claim(claim(
            json!({"metadata": {"name": "late", "namespace": "default", "annotations": {SELECTED_NODE: "a"}}, "spec": {"storageClassName": "local"}}),
        ));
        let p = pod(json!([claim_vol("late")]));
        assert!(claims_to_select(&p, &idx, "a").is_empty());
        assert_eq!(claims_to_select(&p, &idx, "b"), vec!["late".to_string()]);
        assert_eq!(
            selected_node_patch("b"),
            json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "b"}}})
        );
    }

    #[test]
    fn bound_volume_affinity_admits_only_matching_nodes() {
        let mut idx = VolumeIndex::default();
        idx.add_claim(bound_claim("data", "pv1"));
        idx.add_volume(local_pv(
            "pv1",
            json!([{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["b"]}]}]),
        ));
        let found = pre_filter(&pod(json!([claim_vol("data")])), &idx).unwrap();
        assert!(check_node(&found, &node("b")).is_ok());
        assert_eq!(
            check_node(&found, &node("a")),
            Err(Reason::VolumeNodeAffinityConflict)
        );
    }

    #[test]
    fn volume_affinity_by_node_name_field_and_any_term() {
        let mut idx = VolumeIndex::default();
        idx.add_claim(bound_claim("data", "pv1"));
        idx.add_volume(local_pv(
            "pv1",
            json!([
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]},
                {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}]}
            ]),
        ));
        let found = pre_filter(&pod(json!([claim_vol("data")])), &idx).unwrap();
        assert!(check_node(&found, &node("a")).is_ok());
        assert!(check_node(&found, &node("c")).is_ok());
        assert!(check_node(&found, &node("b")).is_err());
    }

    #[test]
    fn volumes_without_affinity_fit_anywhere_and_missing_ones_nowhere() {
        let mut idx = VolumeIndex::default();
        idx.add_claim(bound_claim("data", "pv1"));
        idx.add_claim(bound_claim("orphan", "nope"));
        idx.add_volume(
            serde_json::from_value(json!({"metadata": {"name": "pv1"}, "spec": {}})).unwrap(),
        );
        let found = pre_filter(&pod(json!([claim_vol("data")])), &idx).unwrap();
        assert!(check_node(&found, &node("a")).is_ok());
        let found = pre_filter(&pod(json!([claim_vol("orphan")])), &idx).unwrap();
        assert_eq!(check_node(&found, &node("a")), Err(Reason::VolumeMissing));
    }

    #[test]
    fn bind_completed_annotation_counts_as_bound() {
        let mut idx = VolumeIndex::default();
        idx.add_claim(claim(json!({
            "metadata": {"name": "data", "namespace": "default", "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
            "spec": {"volumeName": "pv1"}
        })));
        let found = pre_filter(&pod(json!([claim_vol("data")])), &idx).unwrap();
        assert_eq!(found.bound.len(), 1);
    }

    #[test]
    fn ephemeral_volumes_need_their_own_claim() {
        let vols = json!([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]);
        assert_eq!(
            pre_filter(&pod(vols.clone()), &VolumeIndex::default()).unwrap_err(),
            "waiting for ephemeral volume controller to create the persistentvolumeclaim \"p-scratch\""
        );
        let mut idx = VolumeIndex::default();
        idx.add_claim(bound_claim("p-scratch", "pv1"));
        assert_eq!(
            pre_filter(&pod(vols.clone()), &idx).unwrap_err(),
            "PVC default/p-scratch was not created for pod default/p (pod is not owner)"
        );
        let mut owned = bound_claim("p-scratch", "pv1");
        owned.metadata.owner_references =
            Some(vec![serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "pod-uid", "controller": true
        })).unwrap()]);
        idx.add_claim(owned);
        assert!(pre_filter(&pod(vols), &idx).is_ok());
    }

    #[test]
    fn first_failing_claim_in_volume_order_is_reported() {
        let mut idx = VolumeIndex::default();
        idx.add_claim(claim(
            json!({"metadata": {"name": "unbound", "namespace": "default"}}),
        ));
        // Existence is checked for every claim before binding is looked at.
        let p = pod(json!([claim_vol("unbound"), claim_vol("missing")]));
        assert_eq!(
            pre_filter(&p, &idx).unwrap_err(),
            "persistentvolumeclaim \"missing\" not found"
        );
    }
}
