//! Tests of the RBAC evaluator, aggregation, bootstrap policy, node and live authorizers.

mod aggregation;
mod bootstrap_policy;
mod evaluator;
mod live;
mod node;
mod reconcile;

use serde_json::{Value, json};

pub(super) fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| s.to_string()).collect()
}

pub(super) fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

pub(super) fn role(ns: &str, name: &str, rules: Value) -> Value {
    json!({"kind": "Role", "metadata": {"name": name, "namespace": ns}, "rules": rules})
}

pub(super) fn binding(ns: &str, name: &str, role_kind: &str, role: &str, subjects: Value) -> Value {
    let mut meta = json!({"name": name});
    if !ns.is_empty() {
        meta["namespace"] = json!(ns);
    }
    json!({
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    })
}
