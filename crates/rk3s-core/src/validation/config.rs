//! ConfigMap and Secret validation: key syntax, the 1 MiB size cap, type-specific required keys,
//! and the `immutable` flag.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::FieldError;
use super::fmt::go_quote;
use super::json::{bool_at, get, obj_at, str_at};

/// Upstream's `MaxSecretSize`, shared by ConfigMaps.
pub const MAX_SIZE: usize = 1024 * 1024;
const KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const IMMUTABLE_MSG: &str = "field is immutable when `immutable` is set";

/// Upstream's `IsConfigMapKey`.
pub fn config_key_errors(key: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters");
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        errs.push(KEY_MSG);
    }
    if key == "." {
        errs.push("must not be '.'");
    } else if key == ".." {
        errs.push("must not be '..'");
    } else if key.starts_with("..") {
        errs.push("must not start with '..'");
    }
    errs
}

fn check_keys(map: Option<&Map<String, Value>>, field: &str, errs: &mut Vec<FieldError>) {
    // Sorted so the errors come out in a stable order whatever the map's own order.
    let mut keys: Vec<&String> = map.into_iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    for key in keys {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid_str(format!("{field}[{key}]"), key, msg));
        }
    }
}

/// Length of base64 text once decoded (the JSON form of secret data is base64).
fn decoded_len(b64: &str) -> usize {
    let trimmed = b64.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

fn immutable_checks(old: &Value, new: &Value, fields: &[&str], errs: &mut Vec<FieldError>) {
    if !bool_at(old, &["immutable"]) {
        return;
    }
    for f in fields {
        if get(old, &[f]) != get(new, &[f]) {
            errs.push(FieldError::forbidden(*f, IMMUTABLE_MSG));
        }
    }
    if !bool_at(new, &["immutable"]) {
        errs.push(FieldError::forbidden("immutable", IMMUTABLE_MSG));
    }
}

pub(super) fn validate_configmap(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let data = obj_at(new, &["data"]);
    let binary = obj_at(new, &["binaryData"]);
    check_keys(data, "data", errs);
    check_keys(binary, "binaryData", errs);
    let data_keys: HashSet<&String> = data.into_iter().flat_map(|m| m.keys()).collect();
    for key in binary.into_iter().flat_map(|m| m.keys()) {
        if data_keys.contains(key) {
            errs.push(FieldError::invalid_str(
                format!("data[{key}]"),
                key,
                "duplicate of key present in binaryData",
            ));
        }
    }
    let mut total = 0usize;
    for (k, v) in data.into_iter().flatten() {
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    for (k, v) in binary.into_iter().flatten() {
        total += k.len() + v.as_str().map_or(0, decoded_len);
    }
    if total > MAX_SIZE {
        errs.push(FieldError::too_long("", MAX_SIZE));
    }
    if let Some(old) = old {
        immutable_checks(old, new, &["data", "binaryData"], errs);
    }
}

pub(super) fn validate_secret(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let data = obj_at(new, &["data"]);
    check_keys(data, "data", errs);
    let total: usize = data
        .into_iter()
        .flatten()
        .map(|(_, v)| v.as_str().map_or(0, decoded_len))
        .sum();
    if total > MAX_SIZE {
        errs.push(FieldError::too_long("data", MAX_SIZE));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let ty = str_at(new, &["type"]).unwrap_or("Opaque");
    let required_keys: &[&str] = match ty {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for k in required_keys {
        if !has(k) {
            errs.push(FieldError::required(format!("data[{k}]"), ""));
        }
    }
    if ty == "kubernetes.io/basic-auth" && !has("username") && !has("password") {
        errs.push(FieldError::required("data[username]", ""));
        errs.push(FieldError::required("data[password]", ""));
    }
    if ty == "kubernetes.io/service-account-token"
        && str_at(
            new,
            &[
                "metadata",
                "annotations",
                "kubernetes.io/service-account.name",
            ],
        )
        .unwrap_or_default()
        .is_empty()
    {
        errs.push(FieldError::required(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "",
        ));
    }
    if let Some(old) = old {
        let old_ty = str_at(old, &["type"]).unwrap_or("Opaque");
        if old_ty != ty {
            errs.push(FieldError::invalid(
                "type",
                go_quote(ty),
                "field is immutable",
            ));
        }
        immutable_checks(old, new, &["data"], errs);
    }
}
