//! OpenAPI v3 validation of custom objects with upstream's field errors (the go-openapi texts
//! as kube-apiserver converts them). Entry point: [`validate_node`].

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::errors::{FieldError, go_quote};
use super::schema::{Additional, Node};
use super::{child, index};

/// Go's name of a JSON value's type, as the type errors print it.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if is_integer(n) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Integral floats count as integers, as upstream's JSON decoding makes them.
fn is_integer(n: &serde_json::Number) -> bool {
    n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

/// `spec.x in body`, or `body` alone at the root.
fn subject(path: &str) -> String {
    if path.is_empty() {
        "in body".to_owned()
    } else {
        format!("{path} in body")
    }
}

fn type_error(path: &str, value: &Value, expected: &str) -> FieldError {
    let actual = type_name(value);
    FieldError::invalid_str(
        path,
        actual,
        &format!(
            "{} must be of type {expected}: {}",
            subject(path),
            go_quote(actual)
        ),
    )
}

fn type_matches(type_: &str, value: &Value) -> bool {
    match (type_, value) {
        ("object", Value::Object(_)) => true,
        ("array", Value::Array(_)) => true,
        ("string", Value::String(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("number", Value::Number(_)) => true,
        ("integer", Value::Number(n)) => is_integer(n),
        // Unknown types are rejected when the CRD is validated; do not fail objects on them.
        ("object" | "array" | "string" | "boolean" | "number" | "integer", _) => false,
        _ => true,
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Validates `value` (at `path`) against `s`, appending errors.
pub(crate) fn validate_node(s: &Node, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if value.is_null() {
        if s.nullable {
            return;
        }
        if let Some(t) = &s.type_ {
            errs.push(type_error(path, value, t));
            return;
        }
        if s.int_or_string {
            errs.push(type_error(path, value, "integer,string"));
            return;
        }
    }
    if s.int_or_string {
        let ok =
            matches!(value, Value::String(_)) || matches!(value, Value::Number(n) if is_integer(n));
        if !ok {
            errs.push(type_error(path, value, "integer,string"));
            return;
        }
    } else if let Some(t) = &s.type_
        && !type_matches(t, value)
    {
        errs.push(type_error(path, value, t));
        return;
    }
    if let Some(values) = &s.enum_
        && !values.iter().any(|v| json_equal(v, value))
    {
        errs.push(FieldError::not_supported(path, value, values));
    }
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                number_checks(s, value, f, path, errs);
            }
        }
        Value::String(text) => string_checks(s, value, text, path, errs),
        Value::Array(list) => array_checks(s, value, list, path, errs),
        Value::Object(map) => object_checks(s, value, map, path, errs),
        _ => {}
    }
    junctor_checks(s, value, path, errs);
}

fn number_checks(s: &Node, value: &Value, f: f64, path: &str, errs: &mut Vec<FieldError>) {
    let subj = subject(path);
    if let Some(format) = s.format.as_deref() {
        let fits = match format {
            "int32" => f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX),
            "int64" => f >= i64::MIN as f64 && f <= i64::MAX as f64,
            _ => true,
        };
        if !fits {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!(
                    "{subj} must be of type {format}: {}",
                    go_quote(&value.to_string())
                ),
            ));
        }
    }
    if let Some(max) = s.maximum {
        if s.exclusive_maximum && f >= max {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!("{subj} should be less than {max}"),
            ));
        } else if f > max {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!("{subj} should be less than or equal to {max}"),
            ));
        }
    }
    if let Some(min) = s.minimum {
        if s.exclusive_minimum && f <= min {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!("{subj} should be greater than {min}"),
            ));
        } else if f < min {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!("{subj} should be greater than or equal to {min}"),
            ));
        }
    }
    if let Some(m) = s.multiple_of
        && m > 0.0
    {
        let q = f / m;
        if q.is_finite() && (q - q.round()).abs() > 1e-9 {
            errs.push(FieldError::invalid(
                path,
                value,
                &format!("{subj} should be a multiple of {m}"),
            ));
        }
    }
}

fn string_checks(s: &Node, value: &Value, text: &str, path: &str, errs: &mut Vec<FieldError>) {
    let subj = subject(path);
    let chars = text.chars().count() as u64;
    if let Some(max) = s.max_length
        && chars > max
    {
        errs.push(FieldError::too_long(path, max));
    }
    if let Some(min) = s.min_length
        && chars < min
    {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} should be at least {min} chars long"),
        ));
    }
    if let Some((source, re)) = &s.pattern
        && !re.is_match(text)
    {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} should match '{source}'"),
        ));
    }
    if let Some(format) = s.format.as_deref()
        && !super::formats::string_fits(format, text)
    {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} must be of type {format}: {}", go_quote(text)),
        ));
    }
}

fn array_checks(s: &Node, value: &Value, list: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let subj = subject(path);
    if let Some(max) = s.max_items
        && list.len() as u64 > max
    {
        errs.push(FieldError::too_many(path, list.len(), max));
    }
    if let Some(min) = s.min_items
        && (list.len() as u64) < min
    {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} should have at least {min} items"),
        ));
    }
    if s.unique_items && has_duplicates(list) {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} shouldn't contain duplicates"),
        ));
    }
    match s.list_type.as_deref() {
        Some("set") => {
            for (i, v) in list.iter().enumerate() {
                if list[..i].iter().any(|w| json_equal(v, w)) {
                    errs.push(FieldError::duplicate(&index(path, i), v));
                }
            }
        }
        Some("map") => {
            let keys: Vec<Option<Value>> = list.iter().map(|v| map_key(s, v)).collect();
            for (i, key) in keys.iter().enumerate() {
                if let Some(key) = key
                    && keys[..i]
                        .iter()
                        .any(|k| k.as_ref().is_some_and(|k| json_equal(k, key)))
                {
                    errs.push(FieldError::duplicate(&index(path, i), key));
                }
            }
        }
        _ => {}
    }
    if let Some(items) = &s.items {
        for (i, v) in list.iter().enumerate() {
            validate_node(items, v, &index(path, i), errs);
        }
    }
}

/// The identity of a list-map entry: its key fields (missing keys take their schema default).
fn map_key(s: &Node, item: &Value) -> Option<Value> {
    let Value::Object(map) = item else {
        return None;
    };
    let mut key = Map::new();
    for k in &s.list_map_keys {
        let found = map.get(k).cloned().or_else(|| {
            s.items
                .as_ref()
                .and_then(|i| i.properties.get(k))
                .and_then(|p| p.default.clone())
        });
        if let Some(v) = found {
            key.insert(k.clone(), v);
        }
    }
    Some(Value::Object(key))
}

fn has_duplicates(list: &[Value]) -> bool {
    // Canonical text makes the common case linear; json_equal catches 1 vs 1.0.
    let mut seen = HashSet::new();
    for v in list {
        if !seen.insert(v.to_string()) {
            return true;
        }
    }
    list.iter()
        .enumerate()
        .any(|(i, v)| list[..i].iter().any(|w| json_equal(v, w)))
}

fn object_checks(
    s: &Node,
    value: &Value,
    map: &Map<String, Value>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let subj = subject(path);
    if let Some(max) = s.max_properties
        && map.len() as u64 > max
    {
        errs.push(FieldError::too_many(path, map.len(), max));
    }
    if let Some(min) = s.min_properties
        && (map.len() as u64) < min
    {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{subj} should have at least {min} properties"),
        ));
    }
    for r in &s.required {
        if !map.contains_key(r) {
            errs.push(FieldError::required(&child(path, r), ""));
        }
    }
    if s.embedded && !map.is_empty() {
        for k in ["apiVersion", "kind"] {
            match map.get(k) {
                Some(Value::String(v)) if !v.is_empty() => {}
                _ => errs.push(FieldError::required(&child(path, k), "must not be empty")),
            }
        }
    }
    for (k, v) in map {
        let p = child(path, k);
        if let Some(prop) = s.properties.get(k) {
            validate_node(prop, v, &p, errs);
            continue;
        }
        match &s.additional {
            Additional::Schema(a) => validate_node(a, v, &p, errs),
            Additional::Deny if !(path.is_empty() && is_meta_field(k)) => {
                errs.push(FieldError::invalid(
                    &p,
                    v,
                    &format!("{} is a forbidden property", subject(&p)),
                ));
            }
            _ => {}
        }
    }
}

fn is_meta_field(k: &str) -> bool {
    matches!(k, "apiVersion" | "kind" | "metadata")
}

fn passes(s: &Node, value: &Value, path: &str) -> bool {
    let mut errs = Vec::new();
    validate_node(s, value, path, &mut errs);
    errs.is_empty()
}

fn junctor_checks(s: &Node, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let subj = if path.is_empty() { "body" } else { path };
    let shown = Value::String(type_name(value).to_owned());
    if !s.all_of.is_empty() {
        let before = errs.len();
        for sub in &s.all_of {
            validate_node(sub, value, path, errs);
        }
        if errs.len() > before {
            errs.push(FieldError::invalid(
                path,
                &shown,
                &format!("{subj} must validate all the schemas (allOf)"),
            ));
        }
    }
    if !s.any_of.is_empty() && !s.any_of.iter().any(|sub| passes(sub, value, path)) {
        errs.push(FieldError::invalid(
            path,
            &shown,
            &format!("{subj} must validate at least one schema (anyOf)"),
        ));
    }
    if !s.one_of.is_empty() {
        let n = s
            .one_of
            .iter()
            .filter(|sub| passes(sub, value, path))
            .count();
        if n != 1 {
            errs.push(FieldError::invalid(
                path,
                &shown,
                &format!("{subj} must validate one and only one schema (oneOf)"),
            ));
        }
    }
    if let Some(not) = &s.not
        && passes(not, value, path)
    {
        errs.push(FieldError::invalid(
            path,
            &shown,
            &format!("{subj} must not validate the schema (not)"),
        ));
    }
}
