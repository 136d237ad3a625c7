//! The default RBAC policy (upstream's bootstrap ClusterRoles and ClusterRoleBindings), kept as
//! YAML data beside this file and turned into storable objects by [`bootstrap_objects`].

use serde_json::{Map, Value, json};

use super::aggregate::aggregate;

const CLUSTER_ROLES: &str = include_str!("bootstrap/cluster-roles.yaml");
const CLUSTER_ROLE_BINDINGS: &str = include_str!("bootstrap/cluster-role-bindings.yaml");

const API_VERSION: &str = "rbac.authorization.k8s.io/v1";
const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// Every default ClusterRole then ClusterRoleBinding, with its storage key, ready to be
/// created when absent. Aggregated roles (admin, edit, view) already carry their aggregated
/// rules, so they grant what they should before any aggregation controller has run.
pub fn bootstrap_objects() -> Vec<(String, Value)> {
    let mut roles: Vec<Value> = parse_list(CLUSTER_ROLES)
        .into_iter()
        .map(|r| stamp(r, "ClusterRole"))
        .collect();
    let aggregated = aggregate(&roles);
    for role in &mut roles {
        let name = metadata_name(role).to_string();
        if let Some((_, rules)) = aggregated.iter().find(|(n, _)| *n == name)
            && let Some(obj) = role.as_object_mut()
        {
            obj.insert("rules".into(), rules.clone());
        }
    }
    let bindings = parse_list(CLUSTER_ROLE_BINDINGS).into_iter().map(|b| {
        let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
        let subjects: Vec<Value> = match b.get("subjects") {
            Some(Value::Array(items)) => items.iter().map(with_subject_api_group).collect(),
            _ => Vec::new(),
        };
        let mut obj = json!({
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
        });
        // Upstream leaves `subjects` out of a binding that has none (system:node).
        if !subjects.is_empty()
            && let Some(m) = obj.as_object_mut()
        {
            m.insert("subjects".into(), Value::Array(subjects));
        }
        stamp(obj, "ClusterRoleBinding")
    });
    let roles = roles.into_iter().map(|r| {
        let key = format!("/registry/clusterroles/{}", metadata_name(&r));
        (key, r)
    });
    let bindings = bindings.map(|b| {
        let key = format!("/registry/clusterrolebindings/{}", metadata_name(&b));
        (key, b)
    });
    roles.chain(bindings).collect()
}

fn parse_list(text: &str) -> Vec<Value> {
    match serde_saphyr::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(_) => {
            tracing::error!("bootstrap RBAC policy is not a list");
            Vec::new()
        }
        Err(e) => {
            tracing::error!(error = %e, "bootstrap RBAC policy does not parse");
            Vec::new()
        }
    }
}

fn metadata_name(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Users and groups are RBAC subjects; service accounts belong to the core group.
fn with_subject_api_group(subject: &Value) -> Value {
    let mut s = subject.clone();
    let kind = s.get("kind").and_then(Value::as_str).unwrap_or_default();
    if matches!(kind, "User" | "Group")
        && let Some(m) = s.as_object_mut()
    {
        m.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
    }
    s
}

/// Adds what every bootstrap object carries: type, identity, the bootstrapping label and the
/// autoupdate annotation (which tells a reconciler it may restore the defaults).
fn stamp(mut obj: Value, kind: &str) -> Value {
    let Some(m) = obj.as_object_mut() else {
        return obj;
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind));
    out.insert("apiVersion".into(), json!(API_VERSION));
    let mut meta = match m.remove("metadata") {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert(
        "creationTimestamp".into(),
        json!(crate::objects::now_rfc3339()),
    );
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(BOOTSTRAPPING_LABEL.into(), json!("rbac-defaults"));
    }
    meta.insert(
        "annotations".into(),
        json!({ AUTOUPDATE_ANNOTATION: "true" }),
    );
    out.insert("metadata".into(), Value::Object(meta));
    for (k, v) in std::mem::take(m) {
        out.insert(k, v);
    }
    Value::Object(out)
}

/// The rules of one default ClusterRole as the data defines them (before aggregation).
pub(super) fn default_cluster_role_rules(name: &str) -> Vec<super::policy::PolicyRule> {
    parse_list(CLUSTER_ROLES)
        .iter()
        .find(|r| metadata_name(r) == name)
        .map(|r| super::policy::rules_from_json(r.get("rules")))
        .unwrap_or_default()
}
