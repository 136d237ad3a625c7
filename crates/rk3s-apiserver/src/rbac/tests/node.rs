use serde_json::{Value, json};

use super::groups;
use crate::rbac::{Attributes, NodeGraph, node_name};

fn pod(node: &str, spec_extra: Value) -> Value {
    let mut spec = json!({"nodeName": node, "containers": [{"name": "c", "image": "i"}]});
    if let (Some(s), Value::Object(extra)) = (spec.as_object_mut(), spec_extra) {
        s.extend(extra);
    }
    json!({"metadata": {"name": "p"}, "spec": spec})
}

fn get(resource: &str, ns: &str, name: &str) -> Attributes {
    Attributes::resource("get", "", resource, ns).with_name(name)
}

fn allowed(g: &NodeGraph, node: &str, a: &Attributes) -> Option<bool> {
    g.authorize(node, a).map(|d| d.allowed)
}

fn graph_with_web_pod() -> NodeGraph {
    let mut g = NodeGraph::new();
    g.put_pod(
        "app",
        "web",
        &pod(
            "n1",
            json!({
                "serviceAccountName": "web-sa",
                "imagePullSecrets": [{"name": "regcred"}],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "tls"}},
                    {"name": "c", "configMap": {"name": "settings"}},
                    {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "p", "projected": {"sources": [{"secret": {"name": "proj-s"}}, {"configMap": {"name": "proj-c"}}]}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                ],
                "containers": [{
                    "name": "c",
                    "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-s", "key": "k"}}}],
                    "envFrom": [{"configMapRef": {"name": "env-c"}}],
                }],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-s"}}]}],
            }),
        ),
    );
    g.put_claim("app", "data", &json!({"spec": {"volumeName": "pv-1"}}));
    g
}

#[test]
fn node_identity_needs_the_prefix_a_name_and_the_nodes_group() {
    assert_eq!(
        node_name("system:node:n1", &groups(&["system:nodes"])),
        Some("n1")
    );
    assert_eq!(
        node_name("system:node:n1", &groups(&["system:authenticated"])),
        None
    );
    assert_eq!(node_name("system:node:", &groups(&["system:nodes"])), None);
    assert_eq!(node_name("alice", &groups(&["system:nodes"])), None);
}

#[test]
fn node_reads_only_what_its_pods_reference() {
    let g = graph_with_web_pod();
    for (res, name) in [
        ("secrets", "tls"),
        ("secrets", "regcred"),
        ("secrets", "proj-s"),
        ("secrets", "env-s"),
        ("secrets", "init-s"),
        ("configmaps", "settings"),
        ("configmaps", "proj-c"),
        ("configmaps", "env-c"),
        ("persistentvolumeclaims", "data"),
        ("persistentvolumeclaims", "web-scratch"),
    ] {
        assert_eq!(
            allowed(&g, "n1", &get(res, "app", name)),
            Some(true),
            "{res}/{name}"
        );
        assert_eq!(
            allowed(&g, "n2", &get(res, "app", name)),
            Some(false),
            "{res}/{name} on n2"
        );
    }
    assert_eq!(
        allowed(&g, "n1", &get("secrets", "app", "other")),
        Some(false)
    );
    assert_eq!(
        allowed(&g, "n1", &get("secrets", "other-ns", "tls")),
        Some(false)
    );
    // A secret named like a config map is not referenced as a secret.
    assert_eq!(
        allowed(&g, "n1", &get("secrets", "app", "settings")),
        Some(false)
    );
    let d = g.authorize("n2", &get("secrets", "app", "tls")).unwrap();
    assert_eq!(
        d.reason,
        "no relationship found between node 'n2' and this object"
    );
}

#[test]
fn node_cannot_list_or_write_secrets_wholesale() {
    let g = graph_with_web_pod();
    let list = Attributes::resource("list", "", "secrets", "app");
    assert_eq!(allowed(&g, "n1", &list), Some(false));
    assert_eq!(
        allowed(&g, "n1", &list.clone().with_name("tls")),
        Some(true)
    );
    let update = Attributes::resource("update", "", "secrets", "app").with_name("tls");
    assert_eq!(allowed(&g, "n1", &update), Some(false));
    let list_claims =
        Attributes::resource("list", "", "persistentvolumeclaims", "app").with_name("data");
    assert_eq!(allowed(&g, "n1", &list_claims), Some(false));
}

#[test]
fn node_reads_volumes_bound_to_its_claims() {
    let mut g = graph_with_web_pod();
    assert_eq!(
        allowed(&g, "n1", &get("persistentvolumes", "", "pv-1")),
        Some(true)
    );
    assert_eq!(
        allowed(&g, "n1", &get("persistentvolumes", "", "pv-2")),
        Some(false)
    );
    assert_eq!(
        allowed(&g, "n2", &get("persistentvolumes", "", "pv-1")),
        Some(false)
    );
    g.remove_claim("app", "data");
    assert_eq!(
        allowed(&g, "n1", &get("persistentvolumes", "", "pv-1")),
        Some(false)
    );
}

#[test]
fn node_creates_tokens_only_for_service_accounts_of_its_pods() {
    let g = graph_with_web_pod();
    let token = |ns: &str, sa: &str| {
        Attributes::resource("create", "", "serviceaccounts", ns)
            .with_name(sa)
            .with_subresource("token")
    };
    assert_eq!(allowed(&g, "n1", &token("app", "web-sa")), Some(true));
    assert_eq!(allowed(&g, "n1", &token("app", "default")), Some(false));
    assert_eq!(allowed(&g, "n2", &token("app", "web-sa")), Some(false));
    let mut g2 = NodeGraph::new();
    g2.put_pod("x", "p", &pod("n1", json!({})));
    assert_eq!(allowed(&g2, "n1", &token("x", "default")), Some(true));
}

#[test]
fn references_follow_pods_moving_and_going_away() {
    let mut g = graph_with_web_pod();
    g.put_pod(
        "app",
        "other",
        &pod(
            "n1",
            json!({"volumes": [{"name": "s", "secret": {"secretName": "tls"}}]}),
        ),
    );
    g.remove_pod("app", "web");
    // Still referenced by the other pod.
    assert_eq!(allowed(&g, "n1", &get("secrets", "app", "tls")), Some(true));
    assert_eq!(
        allowed(&g, "n1", &get("configmaps", "app", "settings")),
        Some(false)
    );
    // Rebinding the pod elsewhere moves its references.
    g.put_pod(
        "app",
        "other",
        &pod(
            "n2",
            json!({"volumes": [{"name": "s", "secret": {"secretName": "tls"}}]}),
        ),
    );
    assert_eq!(
        allowed(&g, "n1", &get("secrets", "app", "tls")),
        Some(false)
    );
    assert_eq!(allowed(&g, "n2", &get("secrets", "app", "tls")), Some(true));
    // Unscheduled pods give no node anything.
    g.put_pod(
        "app",
        "pending",
        &pod(
            "",
            json!({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}),
        ),
    );
    assert_eq!(allowed(&g, "", &get("secrets", "app", "x")), Some(false));
}

#[test]
fn node_updates_only_its_own_node_lease_and_pod_statuses() {
    let g = graph_with_web_pod();
    let node_update = |name: &str, sub: &str| {
        Attributes::resource("update", "", "nodes", "")
            .with_name(name)
            .with_subresource(sub)
    };
    assert_eq!(allowed(&g, "n1", &node_update("n1", "")), Some(true));
    assert_eq!(allowed(&g, "n1", &node_update("n1", "status")), Some(true));
    assert_eq!(allowed(&g, "n1", &node_update("n2", "status")), Some(false));
    let lease = |verb: &str, ns: &str, name: &str| {
        Attributes::resource(verb, "coordination.k8s.io", "leases", ns).with_name(name)
    };
    assert_eq!(
        allowed(&g, "n1", &lease("update", "kube-node-lease", "n1")),
        Some(true)
    );
    assert_eq!(
        allowed(&g, "n1", &lease("create", "kube-node-lease", "")),
        Some(true)
    );
    assert_eq!(
        allowed(&g, "n1", &lease("update", "kube-node-lease", "n2")),
        Some(false)
    );
    assert_eq!(
        allowed(&g, "n1", &lease("update", "default", "n1")),
        Some(false)
    );
    assert_eq!(
        allowed(&g, "n1", &lease("list", "kube-node-lease", "")),
        Some(false)
    );
    let status = |node_pod: &str| {
        Attributes::resource("patch", "", "pods", "app")
            .with_name(node_pod)
            .with_subresource("status")
    };
    assert_eq!(allowed(&g, "n1", &status("web")), Some(true));
    assert_eq!(allowed(&g, "n2", &status("web")), Some(false));
    assert_eq!(allowed(&g, "n1", &status("unknown")), Some(false));
}

#[test]
fn node_rules_cover_reads_and_events_and_leave_the_rest_to_rbac() {
    let g = NodeGraph::new();
    let ok = |verb: &str, group: &str, res: &str| {
        allowed(&g, "n1", &Attributes::resource(verb, group, res, "default"))
    };
    for res in ["pods", "services"] {
        assert_eq!(ok("list", "", res), Some(true));
        assert_eq!(ok("watch", "", res), Some(true));
    }
    assert_eq!(ok("get", "", "nodes"), Some(true));
    assert_eq!(ok("create", "", "events"), Some(true));
    assert_eq!(ok("create", "events.k8s.io", "events"), Some(true));
    assert_eq!(ok("get", "", "endpoints"), Some(true));
    assert_eq!(ok("delete", "", "services"), None);
    assert_eq!(ok("list", "apps", "deployments"), None);
    assert_eq!(
        allowed(&g, "n1", &Attributes::non_resource("get", "/healthz")),
        None
    );
}

#[test]
fn hostile_pod_json_indexes_nothing_and_does_not_panic() {
    let mut g = NodeGraph::new();
    for (i, p) in [
        json!(null),
        json!({"spec": []}),
        json!({"spec": {"nodeName": 5}}),
        json!({"spec": {"nodeName": "n1", "volumes": {"a": 1}, "containers": "x"}}),
        json!({"spec": {"nodeName": "n1", "volumes": [1, {"secret": 2}, {"secret": {"secretName": ""}}], "containers": [{"env": [null, {"valueFrom": 3}]}]}}),
    ]
    .iter()
    .enumerate()
    {
        g.put_pod("ns", &format!("p{i}"), p);
    }
    assert_eq!(allowed(&g, "n1", &get("secrets", "ns", "")), Some(false));
    assert_eq!(
        allowed(&g, "n1", &get("secrets", "ns", "default")),
        Some(false)
    );
}
