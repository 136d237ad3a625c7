//! Storage-side defaults: claims, volumes, storage classes and limit ranges.

use serde_json::{Map, Value, json};

use super::{child, existing, items, quantities, set, set_nonempty};

pub(crate) fn pvc(root: &mut Map<String, Value>) {
    if let Some(spec) = child(root, "spec") {
        set(spec, "volumeMode", json!("Filesystem"));
        if let Some(res) = existing(spec, "resources") {
            quantities::resource_map(res, "requests");
            quantities::resource_map(res, "limits");
        }
    }
    if let Some(status) = child(root, "status") {
        set(status, "phase", json!("Pending"));
        quantities::resource_map(status, "capacity");
        quantities::resource_map(status, "allocatedResources");
    }
}

pub(crate) fn pv(root: &mut Map<String, Value>) {
    if let Some(spec) = child(root, "spec") {
        set_nonempty(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set(spec, "volumeMode", json!("Filesystem"));
        quantities::resource_map(spec, "capacity");
        if let Some(h) = existing(spec, "hostPath") {
            set(h, "type", json!(""));
        }
    }
    if let Some(status) = child(root, "status") {
        set(status, "phase", json!("Pending"));
    }
}

pub(crate) fn storage_class(root: &mut Map<String, Value>) {
    set(root, "reclaimPolicy", json!("Delete"));
    set(root, "volumeBindingMode", json!("Immediate"));
}

/// Container limit ranges: the default limit falls back to the max, the default request to
/// the default limit and then to the min.
pub(crate) fn limit_range(root: &mut Map<String, Value>) {
    let Some(spec) = existing(root, "spec") else {
        return;
    };
    for item in items(spec, "limits") {
        for key in [
            "max",
            "min",
            "default",
            "defaultRequest",
            "maxLimitRequestRatio",
        ] {
            quantities::resource_map(item, key);
        }
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        let map_of = |item: &Map<String, Value>, k: &str| {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let mut default = map_of(item, "default");
        for (k, v) in map_of(item, "max") {
            default.entry(k).or_insert(v);
        }
        let mut request = map_of(item, "defaultRequest");
        for (k, v) in default.iter().chain(map_of(item, "min").iter()) {
            request.entry(k.clone()).or_insert(v.clone());
        }
        if !default.is_empty() {
            item.insert("default".to_string(), Value::Object(default));
        }
        if !request.is_empty() {
            item.insert("defaultRequest".to_string(), Value::Object(request));
        }
    }
}
