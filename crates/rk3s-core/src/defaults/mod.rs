//! Upstream's defaulting of built-in objects (the `SetDefaults_*` functions plus the few
//! admission plugins whose fields every object shows), applied in place to the API's JSON.
//! Entry point: [`apply`].
//!
//! Every default only fills a field that is absent or null, so applying twice changes nothing.

mod networking;
mod pod;
mod quantities;
mod storage;
mod workloads;

#[cfg(test)]
pub(crate) mod tests;

use serde_json::{Map, Value, json};

/// Fill in what upstream's defaulting fills in, for the kind (group, plural), in place.
pub fn apply(group: &str, plural: &str, obj: &mut Value) {
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    match (group, plural) {
        ("", "pods") => pod::pod(root),
        ("", "podtemplates") => {
            if let Some(t) = child(root, "template") {
                pod::template(t, pod::RestartDefault::Always);
            }
        }
        ("", "replicationcontrollers") => workloads::replication_controller(root),
        ("apps", "deployments") => workloads::deployment(root),
        ("apps", "replicasets") => workloads::replica_set(root),
        ("apps", "statefulsets") => workloads::stateful_set(root),
        ("apps", "daemonsets") => workloads::daemon_set(root),
        ("batch", "jobs") => workloads::job(root),
        ("batch", "cronjobs") => workloads::cron_job(root),
        ("", "services") => networking::service(root),
        ("", "endpoints") => networking::endpoints(root),
        ("discovery.k8s.io", "endpointslices") => networking::endpoint_slice(root),
        ("networking.k8s.io", "networkpolicies") => networking::network_policy(root),
        ("", "persistentvolumeclaims") => storage::pvc(root),
        ("", "persistentvolumes") => storage::pv(root),
        ("storage.k8s.io", "storageclasses") => storage::storage_class(root),
        ("", "limitranges") => storage::limit_range(root),
        ("", "secrets") => set_nonempty(root, "type", json!("Opaque")),
        ("", "namespaces") => namespace(root),
        ("", "nodes") => node(root),
        ("", "resourcequotas") => resource_quota(root),
        ("scheduling.k8s.io", "priorityclasses") => {
            set(root, "preemptionPolicy", json!("PreemptLowerPriority"))
        }
        ("autoscaling", "horizontalpodautoscalers") => hpa(root),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => role_binding(root),
        _ => {}
    }
}

/// Sets `key` unless it already holds a non-null value.
pub(crate) fn set(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            obj.insert(key.to_string(), value);
        }
    }
}

/// Like [`set`], but an empty string also counts as unset (Go's zero value for string enums).
pub(crate) fn set_nonempty(obj: &mut Map<String, Value>, key: &str, value: Value) {
    if is_empty_or_absent(obj, key) {
        obj.insert(key.to_string(), value);
    }
}

/// The object at `key`, created empty when absent or null; `None` when it holds something else.
pub(crate) fn child<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    set(obj, key, Value::Object(Map::new()));
    obj.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key` if it is one; never creates it.
pub(crate) fn existing<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    obj.get_mut(key).and_then(Value::as_object_mut)
}

/// The objects in the list at `key` (absent or non-list: none).
pub(crate) fn items<'a>(
    obj: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn is_empty_or_absent(obj: &Map<String, Value>, key: &str) -> bool {
    match obj.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

fn namespace(root: &mut Map<String, Value>) {
    let name = root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    if let (Some(name), Some(meta)) = (name, child(root, "metadata"))
        && let Some(labels) = child(meta, "labels")
    {
        // Upstream always overwrites this label so it can be trusted in selectors.
        labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
    }
    if let Some(spec) = child(root, "spec")
        && is_empty_or_absent(spec, "finalizers")
    {
        spec.insert("finalizers".to_string(), json!(["kubernetes"]));
    }
    if let Some(status) = child(root, "status") {
        set(status, "phase", json!("Active"));
    }
}

fn resource_quota(root: &mut Map<String, Value>) {
    if let Some(spec) = existing(root, "spec") {
        quantities::resource_map(spec, "hard");
    }
    if let Some(status) = existing(root, "status") {
        quantities::resource_map(status, "hard");
        quantities::resource_map(status, "used");
    }
}

fn node(root: &mut Map<String, Value>) {
    if let Some(status) = existing(root, "status") {
        quantities::resource_map(status, "capacity");
        quantities::resource_map(status, "allocatable");
        if let Some(capacity) = status.get("capacity").cloned()
            && is_empty_or_absent(status, "allocatable")
        {
            status.insert("allocatable".to_string(), capacity);
        }
    }
}

fn hpa(root: &mut Map<String, Value>) {
    let v1 = root.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set(spec, "minReplicas", json!(1));
    if !v1 && is_empty_or_absent(spec, "metrics") {
        spec.insert(
            "metrics".to_string(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
}

fn role_binding(root: &mut Map<String, Value>) {
    for subject in items(root, "subjects") {
        let is_user_or_group = matches!(
            subject.get("kind").and_then(Value::as_str),
            Some("User" | "Group")
        );
        // A service account's group is "", which upstream leaves out of the JSON.
        if is_user_or_group && is_empty_or_absent(subject, "apiGroup") {
            subject.insert("apiGroup".to_string(), json!("rbac.authorization.k8s.io"));
        }
    }
}
