//! Upstream-like validation of built-in objects on create and update, as pure functions over the
//! API's JSON. Entry point: [`validate`].
//!
//! Each [`FieldError`] carries upstream's field path and detail text because clients (and
//! people) match on them. Names, labels and annotations are validated by the server elsewhere.

mod config;
mod cron;
mod fmt;
mod networking;
mod pod;
mod policy;
mod service;
mod storage;
mod workloads;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use fmt::{go_quote, go_string_map};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The status cause type: `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// Upstream's detail, e.g. `Required value` or `Invalid value: 0: must be greater than 0`.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: &str) -> Self {
        Self::new("FieldValueRequired", field, "Required value", detail)
    }

    /// `value` is already in upstream's printed form (see [`go_quote`] for strings).
    pub fn invalid(field: impl Into<String>, value: impl std::fmt::Display, detail: &str) -> Self {
        Self::new(
            "FieldValueInvalid",
            field,
            &format!("Invalid value: {value}"),
            detail,
        )
    }

    /// Invalid with a string value, quoted as upstream quotes it.
    pub fn invalid_str(field: impl Into<String>, value: &str, detail: &str) -> Self {
        Self::invalid(field, go_quote(value), detail)
    }

    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
        Self::new(
            "FieldValueNotSupported",
            field,
            &format!("Unsupported value: {}", go_quote(value)),
            &format!("supported values: {}", list.join(", ")),
        )
    }

    pub fn duplicate(field: impl Into<String>, value: impl std::fmt::Display) -> Self {
        Self::new(
            "FieldValueDuplicate",
            field,
            &format!("Duplicate value: {value}"),
            "",
        )
    }

    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self::new("FieldValueForbidden", field, "Forbidden", detail)
    }

    pub fn not_found(field: impl Into<String>, value: impl std::fmt::Display) -> Self {
        Self::new(
            "FieldValueNotFound",
            field,
            &format!("Not found: {value}"),
            "",
        )
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        Self::new(
            "FieldValueTooLong",
            field,
            "Too long",
            &format!("may not be more than {max} {unit}"),
        )
    }

    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        Self::new(
            "FieldValueTooMany",
            field,
            &format!("Too many: {actual}"),
            &format!("must have at most {max} items"),
        )
    }

    fn new(reason: &'static str, field: impl Into<String>, head: &str, detail: &str) -> Self {
        let message = if detail.is_empty() {
            head.to_string()
        } else {
            format!("{head}: {detail}")
        };
        FieldError {
            reason,
            field: field.into(),
            message,
        }
    }
}

/// Validate a create (old = None) or an update (old = Some(previous object)).
pub fn validate(group: &str, plural: &str, old: Option<&Value>, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (group, plural) {
        ("", "pods") => pod::validate_pod(old, new, &mut errs),
        ("", "podtemplates") => pod::validate_pod_template(new, &mut errs),
        ("", "replicationcontrollers") => workloads::validate_rc(new, &mut errs),
        ("apps", "deployments") => workloads::validate_deployment(old, new, &mut errs),
        ("apps", "replicasets") => workloads::validate_replicaset(old, new, &mut errs),
        ("apps", "statefulsets") => workloads::validate_statefulset(old, new, &mut errs),
        ("apps", "daemonsets") => workloads::validate_daemonset(old, new, &mut errs),
        ("batch", "jobs") => workloads::validate_job(old, new, &mut errs),
        ("batch", "cronjobs") => workloads::validate_cronjob(new, &mut errs),
        ("", "services") => service::validate_service(old, new, &mut errs),
        ("", "configmaps") => config::validate_configmap(old, new, &mut errs),
        ("", "secrets") => config::validate_secret(old, new, &mut errs),
        ("", "persistentvolumeclaims") => storage::validate_pvc(old, new, &mut errs),
        ("", "persistentvolumes") => storage::validate_pv(new, &mut errs),
        ("storage.k8s.io", "storageclasses") => {
            storage::validate_storage_class(old, new, &mut errs)
        }
        ("networking.k8s.io", "ingresses") => networking::validate_ingress(new, &mut errs),
        ("networking.k8s.io", "networkpolicies") => {
            networking::validate_network_policy(new, &mut errs)
        }
        ("autoscaling", "horizontalpodautoscalers") => policy::validate_hpa(new, &mut errs),
        ("policy", "poddisruptionbudgets") => policy::validate_pdb(new, &mut errs),
        ("scheduling.k8s.io", "priorityclasses") => {
            policy::validate_priority_class(old, new, &mut errs)
        }
        ("", "resourcequotas") => policy::validate_resource_quota(new, &mut errs),
        ("", "limitranges") => policy::validate_limit_range(new, &mut errs),
        _ => {}
    }
    errs
}

/// Small accessors over JSON that treat a wrong type as absent (the schema check ran earlier).
pub(crate) mod json {
    use serde_json::{Map, Value};

    pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
        let mut cur = v;
        for key in path {
            cur = cur.get(*key)?;
        }
        if cur.is_null() { None } else { Some(cur) }
    }

    pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
        get(v, path).and_then(Value::as_str)
    }

    pub fn i64_at(v: &Value, path: &[&str]) -> Option<i64> {
        get(v, path).and_then(Value::as_i64)
    }

    pub fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
        get(v, path)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
        get(v, path).and_then(Value::as_object)
    }

    pub fn bool_at(v: &Value, path: &[&str]) -> bool {
        get(v, path).and_then(Value::as_bool).unwrap_or(false)
    }
}
