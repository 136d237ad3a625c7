use serde_json::{Value, json};

mod hostile;
mod limit_ranges;
mod quotas;

/// A pod with `(name, requests, limits)` containers.
fn pod(name: &str, containers: &[(&str, Value, Value)]) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(n, req, lim)| {
            let mut resources = serde_json::Map::new();
            if !req.is_null() {
                resources.insert("requests".into(), req.clone());
            }
            if !lim.is_null() {
                resources.insert("limits".into(), lim.clone());
            }
            json!({"name": n, "image": "nginx", "resources": resources})
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": "7"},
        "spec": {"containers": containers},
    })
}

fn quota(name: &str, hard: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"hard": hard},
    })
}
