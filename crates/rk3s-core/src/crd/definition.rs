//! Validation and defaulting of CustomResourceDefinition objects (apiextensions.k8s.io/v1) with
//! upstream's rules and messages. Entry points: [`validate_crd`], [`default_crd`],
//! [`prepare_crd_create`], [`prepare_crd_update`].

use serde_json::{Map, Value, json};

use super::errors::FieldError;
use super::structural::check_schema;
use super::{child, index};
use crate::names::{is_dns1035_label, is_dns1123_subdomain};
use crate::printers::JsonPath;

const PRINTER_TYPES: [&str; 5] = ["integer", "number", "string", "boolean", "date"];
const PRINTER_FORMATS: [&str; 8] = [
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "date",
    "date-time",
    "password",
];
const APPROVAL_ANNOTATION: &str = "api-approved.kubernetes.io";

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn strs(items: &[&str]) -> Vec<Value> {
    items.iter().map(|s| Value::from(*s)).collect()
}

fn versions(crd: &Value) -> &[Value] {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The name of the version marked `storage: true` (the first, if a broken CRD marks several).
pub fn storage_version(crd: &Value) -> Option<&str> {
    versions(crd)
        .iter()
        .find(|v| v.get("storage") == Some(&Value::Bool(true)))
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
}

fn stored_versions(crd: &Value) -> Vec<String> {
    crd.pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn object_at<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// Upstream's defaults: `names.singular` is the lower-cased kind, `names.listKind` is
/// `<Kind>List`, conversion is `None`, a webhook service port is 443, and `storedVersions`
/// starts as the storage version. (The v1 API does not default `scope`: it is required.)
pub fn default_crd(crd: &mut Value) {
    let storage = storage_version(crd).map(str::to_owned);
    let Some(spec) = object_at(crd, "spec") else {
        return;
    };
    let kind = spec
        .get("names")
        .and_then(|n| n.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if let Some(Value::Object(names)) = spec.get_mut("names") {
        let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
        if empty(names.get("singular")) {
            names.insert("singular".into(), Value::from(kind.to_lowercase()));
        }
        if empty(names.get("listKind")) && !kind.is_empty() {
            names.insert("listKind".into(), Value::from(format!("{kind}List")));
        }
    }
    match spec.get_mut("conversion") {
        None | Some(Value::Null) => {
            spec.insert("conversion".into(), json!({"strategy": "None"}));
        }
        Some(conversion) => {
            if let Some(Value::Object(service)) =
                conversion.pointer_mut("/webhook/clientConfig/service")
                && !service.contains_key("port")
            {
                service.insert("port".into(), Value::from(443));
            }
        }
    }
    if let Some(storage) = storage
        && stored_versions(crd).is_empty()
        && let Some(status) = object_at(crd, "status")
    {
        status.insert("storedVersions".into(), json!([storage]));
    }
}

/// On create the status is the server's: it starts with the storage version stored.
pub fn prepare_crd_create(crd: &mut Value) {
    if let Some(map) = crd.as_object_mut() {
        map.remove("status");
    }
    default_crd(crd);
}

/// On update the status stays the old one, and a new storage version joins `storedVersions`
/// (upstream's strategy), so validation can refuse dropping a version still stored.
pub fn prepare_crd_update(old: &Value, new: &mut Value) {
    let mut status = old.get("status").cloned().unwrap_or(json!({}));
    let mut stored = stored_versions(old);
    if let Some(storage) = storage_version(new)
        && !stored.iter().any(|s| s == storage)
    {
        stored.push(storage.to_owned());
    }
    if let Some(map) = status.as_object_mut() {
        map.insert("storedVersions".into(), json!(stored));
    }
    if let Some(map) = new.as_object_mut() {
        map.insert("status".into(), status);
    }
}

/// Validates a CRD on create (`old` is `None`) or update, after [`default_crd`].
pub fn validate_crd(old: Option<&Value>, new: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = text(new, "/spec/group");
    let plural = text(new, "/spec/names/plural");
    let name = text(new, "/metadata/name");
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid_str(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    validate_group(new, group, &mut errs);
    validate_scope(new, &mut errs);
    validate_names(new, &mut errs);
    validate_versions(new, &mut errs);
    validate_conversion(new, &mut errs);
    if new.pointer("/spec/preserveUnknownFields") == Some(&Value::Bool(true)) {
        errs.push(FieldError::invalid(
            "spec.preserveUnknownFields",
            &Value::Bool(true),
            "must be false",
        ));
    }
    if let Some(old) = old {
        for (field, pointer) in [("spec.group", "/spec/group"), ("spec.scope", "/spec/scope")] {
            if old.pointer(pointer) != new.pointer(pointer) {
                errs.push(FieldError::invalid(
                    field,
                    new.pointer(pointer).unwrap_or(&Value::Null),
                    "field is immutable",
                ));
            }
        }
    }
    validate_stored_versions(old, new, &mut errs);
    errs
}

fn validate_group(crd: &Value, group: &str, errs: &mut Vec<FieldError>) {
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
        return;
    }
    let msgs = is_dns1123_subdomain(group);
    if !msgs.is_empty() {
        errs.push(FieldError::invalid_str(
            "spec.group",
            group,
            &msgs.join(","),
        ));
    }
    if group.split('.').count() < 2 {
        errs.push(FieldError::invalid_str(
            "spec.group",
            group,
            "should be a domain with at least one dot",
        ));
    }
    let protected = ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|p| group == *p || group.ends_with(&format!(".{p}")));
    let approval = crd
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(APPROVAL_ANNOTATION))
        .and_then(Value::as_str);
    if protected && approval.is_none_or(str::is_empty) {
        errs.push(FieldError::required(
            &format!("metadata.annotations[{APPROVAL_ANNOTATION}]"),
            &format!(
                "protected groups must have approval annotation {:?}, see https://github.com/kubernetes/enhancements/pull/1111",
                APPROVAL_ANNOTATION
            ),
        ));
    }
}

fn validate_scope(crd: &Value, errs: &mut Vec<FieldError>) {
    match crd.pointer("/spec/scope") {
        None | Some(Value::Null) => errs.push(FieldError::required("spec.scope", "")),
        Some(Value::String(s)) if s.is_empty() => {
            errs.push(FieldError::required("spec.scope", ""));
        }
        Some(Value::String(s)) if s == "Cluster" || s == "Namespaced" => {}
        Some(other) => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &strs(&["Cluster", "Namespaced"]),
        )),
    }
}

/// Kinds may have mixed case but must otherwise be DNS-1035 labels.
fn dns1035(path: &str, value: &str, prefix: &str, errs: &mut Vec<FieldError>) {
    let msgs = is_dns1035_label(&value.to_lowercase());
    if !msgs.is_empty() {
        errs.push(FieldError::invalid_str(
            path,
            value,
            &format!("{prefix}{}", msgs.join(",")),
        ));
    }
}

fn validate_names(crd: &Value, errs: &mut Vec<FieldError>) {
    let plural = text(crd, "/spec/names/plural");
    let singular = text(crd, "/spec/names/singular");
    let kind = text(crd, "/spec/names/kind");
    let list_kind = text(crd, "/spec/names/listKind");
    for (field, value) in [("plural", plural), ("singular", singular)] {
        let path = format!("spec.names.{field}");
        if value.is_empty() {
            errs.push(FieldError::required(&path, ""));
        } else {
            let msgs = is_dns1035_label(value);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid_str(&path, value, &msgs.join(",")));
            }
        }
    }
    const MIXED: &str = "may have mixed case, but should otherwise match: ";
    for (field, value) in [("kind", kind), ("listKind", list_kind)] {
        let path = format!("spec.names.{field}");
        if value.is_empty() {
            errs.push(FieldError::required(&path, ""));
        } else {
            dns1035(&path, value, MIXED, errs);
        }
    }
    if !kind.is_empty() && kind == list_kind {
        errs.push(FieldError::invalid_str(
            "spec.names.listKind",
            list_kind,
            "kind and listKind may not be the same",
        ));
    }
    for field in ["shortNames", "categories"] {
        let list = crd
            .pointer(&format!("/spec/names/{field}"))
            .and_then(Value::as_array);
        for (i, v) in list.into_iter().flatten().enumerate() {
            let path = index(&format!("spec.names.{field}"), i);
            match v.as_str() {
                Some(s) => {
                    let msgs = is_dns1035_label(s);
                    if !msgs.is_empty() {
                        errs.push(FieldError::invalid_str(&path, s, &msgs.join(",")));
                    }
                }
                None => errs.push(FieldError::invalid(&path, v, "must be a string")),
            }
        }
    }
}

fn validate_versions(crd: &Value, errs: &mut Vec<FieldError>) {
    let list = versions(crd);
    let names: Vec<&str> = list
        .iter()
        .map(|v| v.get("name").and_then(Value::as_str).unwrap_or(""))
        .collect();
    let shown = Value::from(names.clone());
    if list.is_empty() {
        errs.push(FieldError::invalid(
            "spec.versions",
            &shown,
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    for (i, v) in list.iter().enumerate() {
        validate_version(crd, v, &format!("spec.versions[{i}]"), errs);
    }
    let flag = |v: &Value, k: &str| v.get(k) == Some(&Value::Bool(true));
    if !list.iter().any(|v| flag(v, "served")) {
        errs.push(FieldError::invalid(
            "spec.versions",
            &shown,
            "must have at least one version marked as served",
        ));
    }
    if list.iter().filter(|v| flag(v, "storage")).count() != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            &shown,
            "must have exactly one version marked as storage version",
        ));
    }
    let unique = names
        .iter()
        .enumerate()
        .all(|(i, n)| !names[..i].contains(n));
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            &shown,
            "must contain unique version names",
        ));
    }
}

fn validate_version(crd: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    let name_path = child(path, "name");
    if name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        let msgs = is_dns1035_label(name);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid_str(&name_path, name, &msgs.join(",")));
        }
    }
    for flag in ["served", "storage"] {
        match v.get(flag) {
            Some(Value::Bool(_)) => {}
            None => errs.push(FieldError::required(&child(path, flag), "")),
            Some(other) => errs.push(FieldError::invalid(
                &child(path, flag),
                other,
                "must be a boolean",
            )),
        }
    }
    let schema_path = format!("{path}.schema.openAPIV3Schema");
    match v.pointer("/schema/openAPIV3Schema") {
        None | Some(Value::Null) => {
            errs.push(FieldError::required(&schema_path, "schemas are required"));
        }
        Some(schema) => errs.extend(check_schema(schema, &schema_path)),
    }
    if let Some(scale) = v.pointer("/subresources/scale") {
        validate_scale(scale, &format!("{path}.subresources.scale"), errs);
    }
    if crd.pointer("/spec/subresources").is_some() {
        errs.push(FieldError::forbidden(
            "spec.subresources",
            "not supported in apiextensions.k8s.io/v1: use spec.versions[*].subresources",
        ));
    }
    if let Some(Value::Array(cols)) = v.get("additionalPrinterColumns") {
        for (i, col) in cols.iter().enumerate() {
            validate_column(
                col,
                &index(&child(path, "additionalPrinterColumns"), i),
                errs,
            );
        }
    }
}

/// `.a.b.c`: a dot-separated path of field names, no arrays or filters.
fn is_simple_json_path(p: &str) -> bool {
    p.strip_prefix('.').is_some_and(|rest| {
        rest.split('.')
            .all(|seg| !seg.is_empty() && !seg.contains(['[', ']', '*', '@', '?', ' ']))
    })
}

fn validate_scale(scale: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let rules: [(&str, &[&str], &str, bool); 3] = [
        (
            "specReplicasPath",
            &[".spec."],
            "should be a json path under .spec",
            true,
        ),
        (
            "statusReplicasPath",
            &[".status."],
            "should be a json path under .status",
            true,
        ),
        (
            "labelSelectorPath",
            &[".spec.", ".status."],
            "should be a json path under either .spec or .status",
            false,
        ),
    ];
    for (field, prefixes, msg, required) in rules {
        let p = child(path, field);
        let value = scale.get(field).and_then(Value::as_str).unwrap_or("");
        if value.is_empty() {
            if required {
                errs.push(FieldError::required(&p, ""));
            }
            continue;
        }
        if !is_simple_json_path(value) {
            errs.push(FieldError::invalid_str(
                &p,
                value,
                "must be a simple json path starting with .",
            ));
        } else if !prefixes.iter().any(|pre| value.starts_with(pre)) {
            errs.push(FieldError::invalid_str(&p, value, msg));
        }
    }
}

fn validate_column(col: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let field = |k: &str| col.get(k).and_then(Value::as_str).unwrap_or("");
    if field("name").is_empty() {
        errs.push(FieldError::required(&child(path, "name"), ""));
    }
    let type_ = field("type");
    if type_.is_empty() {
        errs.push(FieldError::required(&child(path, "type"), ""));
    } else if !PRINTER_TYPES.contains(&type_) {
        errs.push(FieldError::not_supported(
            &child(path, "type"),
            &Value::from(type_),
            &strs(&PRINTER_TYPES),
        ));
    }
    let format = field("format");
    if !format.is_empty() && !PRINTER_FORMATS.contains(&format) {
        errs.push(FieldError::not_supported(
            &child(path, "format"),
            &Value::from(format),
            &strs(&PRINTER_FORMATS),
        ));
    }
    let json_path = field("jsonPath");
    if json_path.is_empty() {
        errs.push(FieldError::required(&child(path, "jsonPath"), ""));
    } else if JsonPath::parse(json_path).is_err() {
        errs.push(FieldError::invalid_str(
            &child(path, "jsonPath"),
            json_path,
            "must be a valid JSON path",
        ));
    }
    if col
        .get("priority")
        .and_then(Value::as_i64)
        .is_some_and(|p| p < 0)
    {
        errs.push(FieldError::invalid(
            &child(path, "priority"),
            col.get("priority").unwrap_or(&Value::Null),
            "must be greater than or equal to 0",
        ));
    }
}

fn validate_conversion(crd: &Value, errs: &mut Vec<FieldError>) {
    let Some(conversion) = crd.pointer("/spec/conversion") else {
        return;
    };
    let strategy = conversion.get("strategy").unwrap_or(&Value::Null);
    let webhook = conversion.get("webhook").filter(|w| !w.is_null());
    match strategy.as_str() {
        Some("None") => {
            if webhook.is_some() {
                errs.push(FieldError::forbidden(
                    "spec.conversion.webhook",
                    "should not be set when strategy is not set to Webhook",
                ));
            }
        }
        Some("Webhook") => match webhook {
            None => errs.push(FieldError::required(
                "spec.conversion.webhook",
                "required when strategy is set to Webhook",
            )),
            Some(w) => {
                if w.get("clientConfig").is_none_or(Value::is_null) {
                    errs.push(FieldError::required(
                        "spec.conversion.webhook.clientConfig",
                        "required when strategy is set to Webhook",
                    ));
                }
                let has_review = w
                    .get("conversionReviewVersions")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|v| v == "v1" || v == "v1beta1"));
                if !has_review {
                    errs.push(FieldError::required(
                        "spec.conversion.webhook.conversionReviewVersions",
                        "must include at least one of v1, v1beta1",
                    ));
                }
            }
        },
        Some("") | None => errs.push(FieldError::required("spec.conversion.strategy", "")),
        Some(_) => errs.push(FieldError::not_supported(
            "spec.conversion.strategy",
            strategy,
            &strs(&["None", "Webhook"]),
        )),
    }
}

/// Versions still stored may not leave `spec.versions`, and the storage version must be stored.
/// The status comes from `new` (after [`prepare_crd_update`]) or else from `old`.
fn validate_stored_versions(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let mut stored = stored_versions(new);
    let from_new = !stored.is_empty();
    if !from_new && let Some(old) = old {
        stored = stored_versions(old);
    }
    if stored.is_empty() {
        return;
    }
    let names: Vec<&str> = versions(new)
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    for (i, s) in stored.iter().enumerate() {
        if !names.contains(&s.as_str()) {
            errs.push(FieldError::invalid_str(
                &index("status.storedVersions", i),
                s,
                "must appear in spec.versions",
            ));
        }
    }
    if from_new
        && let Some(storage) = storage_version(new)
        && !stored.iter().any(|s| s == storage)
    {
        errs.push(FieldError::invalid(
            "status.storedVersions",
            &Value::from(stored.clone()),
            &format!("must have the storage version {storage}"),
        ));
    }
}
