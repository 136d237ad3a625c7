//! The Node authorizer: what a kubelet (`system:node:<name>` in `system:nodes`) may do, narrowed
//! to the objects its own pods reference. Entry point: [`NodeGraph::authorize`].
//!
//! Upstream keeps a full object graph; this keeps what answers the same questions: for each
//! node, the secrets, config maps, claims and service accounts its bound pods reference (with
//! counts, so pods sharing a reference can come and go), and each claim's bound volume.

use std::collections::HashMap;

use serde_json::Value;

use super::attributes::{Attributes, Decision};
use super::bootstrap::default_cluster_role_rules;
use super::evaluator::rule_allows;
use super::policy::PolicyRule;

const NODE_USER_PREFIX: &str = "system:node:";
const NODES_GROUP: &str = "system:nodes";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a caller speaks for, if it is a node identity with a non-empty name.
pub fn node_name<'a>(user: &'a str, groups: &[String]) -> Option<&'a str> {
    let name = user.strip_prefix(NODE_USER_PREFIX)?;
    (!name.is_empty() && groups.iter().any(|g| g == NODES_GROUP)).then_some(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RefKind {
    Secret,
    ConfigMap,
    Claim,
    ServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Ref {
    kind: RefKind,
    namespace: String,
    name: String,
}

#[derive(Debug, Clone)]
struct IndexedPod {
    node: String,
    refs: Vec<Ref>,
}

/// The pods bound to nodes and what they reference; see the module doc.
#[derive(Debug, Clone)]
pub struct NodeGraph {
    /// `<ns>/<name>` → the pod's node and references.
    pods: HashMap<String, IndexedPod>,
    /// node → reference → number of the node's pods holding it.
    by_node: HashMap<String, HashMap<Ref, usize>>,
    /// `<ns>/<claim>` → the bound PersistentVolume's name.
    claim_volumes: HashMap<String, String>,
    /// Upstream's system:node rules, which apply to nodes whatever the bindings say.
    node_rules: Vec<PolicyRule>,
}

impl Default for NodeGraph {
    fn default() -> Self {
        NodeGraph::new()
    }
}

impl NodeGraph {
    pub fn new() -> NodeGraph {
        NodeGraph {
            pods: HashMap::new(),
            by_node: HashMap::new(),
            claim_volumes: HashMap::new(),
            node_rules: default_cluster_role_rules("system:node"),
        }
    }

    /// Indexes a pod (replacing its previous version); pods not bound to a node hold nothing.
    pub fn put_pod(&mut self, namespace: &str, name: &str, pod: &Value) {
        self.remove_pod(namespace, name);
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if node.is_empty() {
            return;
        }
        let refs = pod_references(namespace, name, pod);
        let counts = self.by_node.entry(node.to_string()).or_default();
        for r in &refs {
            *counts.entry(r.clone()).or_default() += 1;
        }
        self.pods.insert(
            format!("{namespace}/{name}"),
            IndexedPod {
                node: node.to_string(),
                refs,
            },
        );
    }

    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let Some(old) = self.pods.remove(&format!("{namespace}/{name}")) else {
            return;
        };
        let Some(counts) = self.by_node.get_mut(&old.node) else {
            return;
        };
        for r in old.refs {
            if let Some(n) = counts.get_mut(&r) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    counts.remove(&r);
                }
            }
        }
        if counts.is_empty() {
            self.by_node.remove(&old.node);
        }
    }

    pub fn clear_pods(&mut self) {
        self.pods.clear();
        self.by_node.clear();
    }

    /// Records a claim's bound volume (`spec.volumeName`), which its users' nodes may read.
    pub fn put_claim(&mut self, namespace: &str, name: &str, claim: &Value) {
        let key = format!("{namespace}/{name}");
        match claim.pointer("/spec/volumeName").and_then(Value::as_str) {
            Some(v) if !v.is_empty() => {
                self.claim_volumes.insert(key, v.to_string());
            }
            _ => {
                self.claim_volumes.remove(&key);
            }
        }
    }

    pub fn remove_claim(&mut self, namespace: &str, name: &str) {
        self.claim_volumes.remove(&format!("{namespace}/{name}"));
    }

    pub fn clear_claims(&mut self) {
        self.claim_volumes.clear();
    }

    /// The Node authorizer's answer for `node`: `Some(allowed)` grants; `Some(denied)` means
    /// "not through the node authorizer" with the reason (upstream's no-opinion: RBAC may still
    /// allow); `None` when the request is nothing the node authorizer knows about.
    pub fn authorize(&self, node: &str, attrs: &Attributes) -> Option<Decision> {
        if attrs.path.is_some() {
            return None;
        }
        let verb = attrs.verb.as_str();
        let decision = match (
            attrs.api_group.as_str(),
            attrs.resource.as_str(),
            attrs.subresource.as_str(),
        ) {
            ("", "secrets", "") => self.read_referenced(node, RefKind::Secret, attrs, true),
            ("", "configmaps", "") => self.read_referenced(node, RefKind::ConfigMap, attrs, true),
            ("", "persistentvolumeclaims", "") => {
                self.read_referenced(node, RefKind::Claim, attrs, false)
            }
            ("", "persistentvolumes", "") => self.read_volume(node, attrs),
            ("", "serviceaccounts", "token") => {
                if verb != "create" {
                    Decision::deny("can only create tokens for individual service accounts")
                } else {
                    self.related(node, RefKind::ServiceAccount, attrs)
                }
            }
            ("", "pods", "status") if matches!(verb, "update" | "patch") => self.own_pod(
                node,
                attrs,
                "can only update the status of pods bound to it",
            ),
            ("", "pods", "") if verb == "delete" => {
                self.own_pod(node, attrs, "can only delete pods bound to it")
            }
            ("", "nodes", "" | "status") if matches!(verb, "update" | "patch") => {
                if attrs.name == node {
                    Decision::allow("")
                } else {
                    Decision::deny(format!("node {node:?} can only modify its own Node object"))
                }
            }
            ("coordination.k8s.io", "leases", "") => {
                if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
                    Decision::deny("can only get, create, update, patch, or delete a node lease")
                } else if attrs.namespace != NODE_LEASE_NAMESPACE
                    || !(attrs.name == node || (verb == "create" && attrs.name.is_empty()))
                {
                    Decision::deny(
                        "can only access node lease with the same name as the requesting node",
                    )
                } else {
                    Decision::allow("")
                }
            }
            ("storage.k8s.io", "csinodes", "") => {
                if !matches!(verb, "get" | "create" | "update" | "patch" | "delete") {
                    Decision::deny("can only get, create, update, patch, or delete a CSINode")
                } else if attrs.name == node || (verb == "create" && attrs.name.is_empty()) {
                    Decision::allow("")
                } else {
                    Decision::deny(
                        "can only access CSINode with the same name as the requesting node",
                    )
                }
            }
            _ => {
                return self
                    .node_rules
                    .iter()
                    .any(|r| rule_allows(attrs, r))
                    .then(|| Decision::allow(""));
            }
        };
        Some(decision)
    }

    /// Reads of a namespaced object the node's pods reference: a single object by name only
    /// (a list or watch narrowed by `metadata.name` carries the name too).
    fn read_referenced(
        &self,
        node: &str,
        kind: RefKind,
        attrs: &Attributes,
        list_watch: bool,
    ) -> Decision {
        let verb_ok =
            attrs.verb == "get" || (list_watch && matches!(attrs.verb.as_str(), "list" | "watch"));
        if !verb_ok {
            return Decision::deny("can only read resources of this type");
        }
        if attrs.name.is_empty() {
            return Decision::deny("can only get individual resources of this type");
        }
        self.related(node, kind, attrs)
    }

    fn related(&self, node: &str, kind: RefKind, attrs: &Attributes) -> Decision {
        let r = Ref {
            kind,
            namespace: attrs.namespace.clone(),
            name: attrs.name.clone(),
        };
        let found = self
            .by_node
            .get(node)
            .is_some_and(|refs| refs.contains_key(&r));
        if found {
            Decision::allow("")
        } else {
            no_relationship(node)
        }
    }

    fn read_volume(&self, node: &str, attrs: &Attributes) -> Decision {
        if attrs.verb != "get" {
            return Decision::deny("can only get individual resources of this type");
        }
        if attrs.name.is_empty() {
            return Decision::deny("can only get individual resources of this type");
        }
        let found = self.by_node.get(node).is_some_and(|refs| {
            refs.keys().any(|r| {
                r.kind == RefKind::Claim
                    && self
                        .claim_volumes
                        .get(&format!("{}/{}", r.namespace, r.name))
                        .is_some_and(|v| *v == attrs.name)
            })
        });
        if found {
            Decision::allow("")
        } else {
            no_relationship(node)
        }
    }

    fn own_pod(&self, node: &str, attrs: &Attributes, refusal: &str) -> Decision {
        let key = format!("{}/{}", attrs.namespace, attrs.name);
        match self.pods.get(&key) {
            Some(p) if p.node == node => Decision::allow(""),
            _ => Decision::deny(format!("node {node:?} {refusal}")),
        }
    }
}

fn no_relationship(node: &str) -> Decision {
    Decision::deny(format!(
        "no relationship found between node '{node}' and this object"
    ))
}

/// Everything a pod makes its node read: volume sources, env and envFrom references of every
/// container kind, image pull secrets, its service account and ephemeral volumes' claims.
fn pod_references(namespace: &str, pod_name: &str, pod: &Value) -> Vec<Ref> {
    let mut refs = Vec::new();
    let mut add = |kind: RefKind, name: Option<&Value>| {
        if let Some(name) = name.and_then(Value::as_str)
            && !name.is_empty()
        {
            let r = Ref {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
            };
            if !refs.contains(&r) {
                refs.push(r);
            }
        }
    };
    let spec = pod.get("spec");
    let get = |path: &str| spec.and_then(|s| s.pointer(path));
    let sa = get("/serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    add(
        RefKind::ServiceAccount,
        Some(&Value::String(sa.to_string())),
    );
    for s in array(get("/imagePullSecrets")) {
        add(RefKind::Secret, s.get("name"));
    }
    for v in array(get("/volumes")) {
        add(RefKind::Secret, v.pointer("/secret/secretName"));
        add(RefKind::ConfigMap, v.pointer("/configMap/name"));
        add(
            RefKind::Claim,
            v.pointer("/persistentVolumeClaim/claimName"),
        );
        for source in array(v.pointer("/projected/sources")) {
            add(RefKind::Secret, source.pointer("/secret/name"));
            add(RefKind::ConfigMap, source.pointer("/configMap/name"));
        }
        add(RefKind::Secret, v.pointer("/azureFile/secretName"));
        for plugin in [
            "cephfs",
            "cinder",
            "flexVolume",
            "iscsi",
            "rbd",
            "scaleIO",
            "storageos",
        ] {
            add(
                RefKind::Secret,
                v.get(plugin).and_then(|p| p.pointer("/secretRef/name")),
            );
        }
        add(RefKind::Secret, v.pointer("/csi/nodePublishSecretRef/name"));
        if v.get("ephemeral").is_some()
            && let Some(volume) = v.get("name").and_then(Value::as_str)
        {
            // A generic ephemeral volume's claim is named after the pod and the volume.
            add(
                RefKind::Claim,
                Some(&Value::String(format!("{pod_name}-{volume}"))),
            );
        }
    }
    for list in ["/containers", "/initContainers", "/ephemeralContainers"] {
        for c in array(get(list)) {
            for e in array(c.get("env")) {
                add(RefKind::Secret, e.pointer("/valueFrom/secretKeyRef/name"));
                add(
                    RefKind::ConfigMap,
                    e.pointer("/valueFrom/configMapKeyRef/name"),
                );
            }
            for e in array(c.get("envFrom")) {
                add(RefKind::Secret, e.pointer("/secretRef/name"));
                add(RefKind::ConfigMap, e.pointer("/configMapRef/name"));
            }
        }
    }
    refs
}

fn array(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}
