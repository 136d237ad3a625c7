//! PersistentVolumeClaim and PersistentVolume validation: access modes, storage sizes and the
//! claim spec's update rule.

use serde_json::Value;

use super::FieldError;
use super::json::{arr_at, get, obj_at, str_at};
use super::pod::check_enum;
use crate::quantity::Quantity;

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const PVC_UPDATE_MSG: &str = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims";

fn access_modes(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let modes = arr_at(spec, &["accessModes"]);
    if modes.is_empty() {
        errs.push(FieldError::required(
            format!("{path}.accessModes"),
            "at least 1 access mode is required",
        ));
    }
    for m in modes {
        let m = m.as_str().unwrap_or_default();
        if !ACCESS_MODES.contains(&m) {
            errs.push(FieldError::not_supported(
                format!("{path}.accessModes"),
                m,
                ACCESS_MODES,
            ));
        }
    }
    if modes.iter().any(|m| m == "ReadWriteOncePod") && modes.len() > 1 {
        errs.push(FieldError::forbidden(
            format!("{path}.accessModes"),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
}

fn positive_storage(value: &Value, path: &str, errs: &mut Vec<FieldError>) -> Option<Quantity> {
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    match Quantity::parse(&text) {
        Err(e) => {
            errs.push(FieldError::invalid_str(path, &text, &e.to_string()));
            None
        }
        Ok(q) if q.to_nanos() <= 0 => {
            errs.push(FieldError::invalid_str(
                path,
                &q.to_string(),
                "must be greater than zero",
            ));
            None
        }
        Ok(q) => Some(q),
    }
}

/// A claim's spec at `path` (a PVC's `spec`, or a StatefulSet's claim template spec); returns
/// the requested size when it is valid.
pub(super) fn validate_claim_spec(
    spec: &Value,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Option<Quantity> {
    access_modes(spec, path, errs);
    let size = match get(spec, &["resources", "requests", "storage"]) {
        None => {
            errs.push(FieldError::required(
                format!("{path}.resources[storage]"),
                "",
            ));
            None
        }
        Some(v) => positive_storage(v, &format!("{path}.resources[storage]"), errs),
    };
    if let Some(m) = str_at(spec, &["volumeMode"]) {
        check_enum(
            m,
            &["Block", "Filesystem"],
            &format!("{path}.volumeMode"),
            errs,
        );
    }
    size
}

pub(super) fn validate_pvc(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    let new_size = validate_claim_spec(spec, "spec", errs);
    let Some(old) = old else { return };
    let frozen = |o: &Value, keep_volume_name: bool| -> Value {
        let mut s = get(o, &["spec"]).cloned().unwrap_or(Value::Null);
        if let Some(m) = s.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if !keep_volume_name {
                m.remove("volumeName");
            }
            if let Some(Value::Object(r)) = m.get_mut("resources") {
                r.remove("requests");
                if r.is_empty() {
                    m.remove("resources");
                }
            }
        }
        s
    };
    // Binding fills in volumeName once; after that it is frozen like the rest.
    let bound = str_at(old, &["spec", "volumeName"]).is_some_and(|v| !v.is_empty());
    if frozen(old, bound) != frozen(new, bound) {
        errs.push(FieldError::forbidden("spec", PVC_UPDATE_MSG));
    }
    let old_size = get(old, &["spec", "resources", "requests", "storage"])
        .and_then(Value::as_str)
        .and_then(|s| Quantity::parse(s).ok());
    if let (Some(o), Some(n)) = (old_size, new_size)
        && n < o
    {
        errs.push(FieldError::forbidden(
            "spec.resources.requests.storage",
            "field can not be less than status.capacity",
        ));
    }
}

pub(super) fn validate_pv(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    access_modes(spec, "spec", errs);
    match get(spec, &["capacity", "storage"]) {
        None if obj_at(spec, &["capacity"]).is_none_or(|c| c.is_empty()) => {
            errs.push(FieldError::required("spec.capacity", ""))
        }
        None => errs.push(FieldError::required("spec.capacity[storage]", "")),
        Some(v) => {
            positive_storage(v, "spec.capacity[storage]", errs);
        }
    }
    if let Some(p) = str_at(spec, &["persistentVolumeReclaimPolicy"]) {
        check_enum(
            p,
            &["Delete", "Recycle", "Retain"],
            "spec.persistentVolumeReclaimPolicy",
            errs,
        );
    }
    if let Some(m) = str_at(spec, &["volumeMode"]) {
        check_enum(m, &["Block", "Filesystem"], "spec.volumeMode", errs);
    }
    const NOT_SOURCES: &[&str] = &[
        "accessModes",
        "capacity",
        "claimRef",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "mountOptions",
        "volumeMode",
        "nodeAffinity",
        "volumeAttributesClassName",
    ];
    let sources = spec
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, v)| !NOT_SOURCES.contains(&k.as_str()) && !v.is_null())
                .count()
        })
        .unwrap_or(0);
    if sources == 0 {
        errs.push(FieldError::required("spec", "must specify a volume type"));
    } else if sources > 1 {
        errs.push(FieldError::forbidden(
            "spec",
            "may not specify more than 1 volume type",
        ));
    }
}

pub(super) fn validate_storage_class(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    match str_at(new, &["provisioner"]).unwrap_or_default() {
        "" => errs.push(FieldError::required("provisioner", "")),
        p => {
            for msg in crate::names::is_qualified_name(&p.to_lowercase()) {
                errs.push(FieldError::invalid_str("provisioner", p, &msg));
            }
        }
    }
    if let Some(p) = str_at(new, &["reclaimPolicy"]) {
        check_enum(p, &["Delete", "Retain"], "reclaimPolicy", errs);
    }
    if let Some(m) = str_at(new, &["volumeBindingMode"]) {
        check_enum(
            m,
            &["Immediate", "WaitForFirstConsumer"],
            "volumeBindingMode",
            errs,
        );
    }
    let Some(old) = old else { return };
    for key in ["parameters", "provisioner", "reclaimPolicy"] {
        if get(old, &[key]) != get(new, &[key]) {
            errs.push(FieldError::forbidden(
                key,
                &format!("updates to {key} are forbidden."),
            ));
        }
    }
    if get(old, &["volumeBindingMode"]) != get(new, &["volumeBindingMode"]) {
        let shown = super::fmt::go_quote(str_at(new, &["volumeBindingMode"]).unwrap_or_default());
        errs.push(FieldError::invalid(
            "volumeBindingMode",
            shown,
            "field is immutable",
        ));
    }
}
