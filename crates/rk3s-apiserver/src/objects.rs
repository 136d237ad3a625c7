//! Object plumbing between the wire and the store: resourceVersion from the store revision,
//! server-owned metadata, and checking a submitted object against its kind.

use rk3s_core::ResourceType;
use rk3s_store::KeyValue;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult, Cause};

/// Parse a stored value and stamp `metadata.resourceVersion` from the row's revision
/// (the stored bytes never carry it: the revision is the truth).
pub fn from_kv(kv: &KeyValue) -> ApiResult<Value> {
    let mut obj: Value = serde_json::from_slice(&kv.value).map_err(|e| {
        ApiError::Internal(format!("stored object {} is not valid JSON: {e}", kv.key))
    })?;
    set_resource_version(&mut obj, kv.mod_revision);
    Ok(obj)
}

pub fn set_resource_version(obj: &mut Value, rev: i64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
}

/// Read a stored row as the served form of `rt` (versions sharing storage are converted).
pub fn read_as(rt: &ResourceType, kv: &KeyValue) -> ApiResult<Value> {
    let mut obj = from_kv(kv)?;
    if rt.custom.is_some() {
        // Custom resources convert between versions with the None strategy: apiVersion only.
        rk3s_core::crd::convert_none(&mut obj, &rt.group, &rt.version);
        return Ok(obj);
    }
    Ok(rk3s_core::conversion::from_storage(
        &rt.group,
        &rt.version,
        &rt.plural,
        obj,
    ))
}

/// The bytes to store for an object in the served form of `rt`.
pub fn encode_as(rt: &ResourceType, obj: &Value) -> ApiResult<Vec<u8>> {
    let stored = rk3s_core::conversion::to_storage(&rt.group, &rt.version, &rt.plural, obj.clone());
    to_stored_bytes(&stored)
}

/// The stored bytes with `metadata.resourceVersion` spliced in, without parsing the object:
/// the fast path for plain lists. `None` when the bytes are not the shape we store (a JSON
/// object with a top-level `metadata` object), so the caller falls back to parsing.
pub fn raw_with_resource_version(stored: &[u8], rev: i64) -> Option<Vec<u8>> {
    let at = top_level_metadata_open_brace(stored)?;
    let mut out = Vec::with_capacity(stored.len() + 32);
    out.extend_from_slice(&stored[..=at]);
    out.extend_from_slice(b"\"resourceVersion\":\"");
    out.extend_from_slice(rev.to_string().as_bytes());
    out.push(b'"');
    let rest = &stored[at + 1..];
    let next = rest
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| rest[i]);
    if next != Some(b'}') {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// The index of the `{` that opens the value of the top-level `"metadata"` key.
fn top_level_metadata_open_brace(b: &[u8]) -> Option<usize> {
    let mut depth = 0i32;
    let mut i = 0;
    let mut expecting_key = false;
    while i < b.len() {
        match b[i] {
            b'{' => {
                depth += 1;
                expecting_key = depth == 1;
            }
            b'}' | b']' => depth -= 1,
            b'[' => depth += 1,
            b',' => expecting_key = depth == 1,
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
                let is_metadata_key = expecting_key && depth == 1 && &b[start..i] == b"metadata";
                expecting_key = false;
                if is_metadata_key {
                    let mut j = i + 1;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b.get(j) != Some(&b':') {
                        return None;
                    }
                    j += 1;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    return (b.get(j) == Some(&b'{')).then_some(j);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The bytes to store: the object without `resourceVersion`.
pub fn to_stored_bytes(obj: &Value) -> ApiResult<Vec<u8>> {
    let mut copy = obj.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
    serde_json::to_vec(&copy).map_err(|e| ApiError::Internal(format!("encoding object: {e}")))
}

pub fn meta(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

pub fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    obj.get_mut("metadata").and_then(Value::as_object_mut)
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    meta(obj).and_then(|m| m.get(field)).and_then(Value::as_str)
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    meta(obj)
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
}

/// Current time as Kubernetes writes timestamps (RFC 3339, seconds precision, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What to do with fields the kind does not know (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    /// Upstream's default when the parameter is absent is `Warn`.
    pub fn from_query(v: Option<&str>) -> Self {
        match v {
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            _ => FieldValidation::Warn,
        }
    }
}

/// The outcome of checking a submitted object: the normalized object and any warnings.
#[derive(Debug)]
pub struct Checked {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Check `obj` against the kind: it must be an object of this kind and apiVersion, typed kinds
/// must deserialize into their k8s-openapi type; unknown fields follow `validation`. The result
/// is the normalized object (unknown fields dropped, as upstream drops them).
pub fn check_kind(
    rt: &ResourceType,
    mut obj: Value,
    validation: FieldValidation,
) -> ApiResult<Checked> {
    let Value::Object(map) = &mut obj else {
        return Err(ApiError::BadRequest(format!(
            "the object provided is unrecognized (must be of type {}): the body must be a JSON object",
            rt.kind
        )));
    };
    let expected_version = rt.api_version();
    // Like upstream's decoder, a missing kind or apiVersion defaults to the endpoint's; only a
    // different one is an error (clients such as the Python client omit them).
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(rt.kind.clone()));
        }
        Some(k) if k != rt.kind => {
            return Err(ApiError::BadRequest(format!(
                "the object provided is unrecognized (must be of type {}): kind {k:?} does not match",
                rt.kind
            )));
        }
        Some(_) => {}
    }
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(expected_version.clone()));
        }
        Some(v) if v == expected_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected_version})"
            )));
        }
    }
    match map.get("metadata") {
        None | Some(Value::Object(_)) => {}
        Some(_) => return Err(ApiError::BadRequest("metadata: must be an object".into())),
    }
    let Some(codec) = rt.codec else {
        return Ok(Checked {
            object: obj,
            warnings: Vec::new(),
        });
    };
    let normalized = (codec.roundtrip)(obj.clone()).map_err(|e| {
        ApiError::BadRequest(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            rt.kind, rt.version, rt.kind
        ))
    })?;
    let mut unknown = Vec::new();
    if validation != FieldValidation::Ignore {
        unknown_fields(&obj, &normalized, "", &mut unknown);
    }
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            Err(ApiError::BadRequest(format!(
                "strict decoding error: {}",
                list.join(", ")
            )))
        }
        FieldValidation::Warn => Ok(Checked {
            object: normalized,
            warnings: unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect(),
        }),
        _ => Ok(Checked {
            object: normalized,
            warnings: Vec::new(),
        }),
    }
}

/// Paths present in `original` that the typed round trip dropped: the fields the kind does not
/// know. Explicit nulls are not unknown (they mean "unset").
fn unknown_fields(original: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(o), Value::Object(t)) => {
            for (k, v) in o {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match t.get(k) {
                    Some(tv) => unknown_fields(v, tv, &p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(o), Value::Array(t)) if o.len() == t.len() => {
            for (i, (ov, tv)) in o.iter().zip(t).enumerate() {
                unknown_fields(ov, tv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Validate the object name (from `metadata.name`) for the kind; upstream's messages.
pub fn validate_name(rt: &ResourceType, name: &str) -> ApiResult<()> {
    if name.is_empty() {
        return Err(ApiError::invalid(
            &rt.kind,
            &rt.group,
            "",
            vec![Cause {
                reason: "FieldValueRequired",
                field: "metadata.name".into(),
                message: "Required value: name or generateName is required".into(),
            }],
        ));
    }
    if let Err(msgs) = rk3s_core::names::validate_name(&rt.group, &rt.plural, name) {
        let causes = msgs
            .into_iter()
            .map(|m| Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: format!("Invalid value: {name:?}: {m}"),
            })
            .collect();
        return Err(ApiError::invalid(&rt.kind, &rt.group, name, causes));
    }
    Ok(())
}

/// Validate labels and annotations syntax (upstream's ObjectMeta validation).
pub fn validate_meta(rt: &ResourceType, obj: &Value) -> ApiResult<()> {
    let Some(m) = meta(obj) else { return Ok(()) };
    let string_map = |field: &str| -> ApiResult<std::collections::BTreeMap<String, String>> {
        let mut out = std::collections::BTreeMap::new();
        match m.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(o)) => {
                for (k, v) in o {
                    let Some(s) = v.as_str() else {
                        return Err(ApiError::BadRequest(format!(
                            "metadata.{field}.{k}: must be a string"
                        )));
                    };
                    out.insert(k.clone(), s.to_string());
                }
            }
            Some(_) => {
                return Err(ApiError::BadRequest(format!(
                    "metadata.{field}: must be a map of strings"
                )));
            }
        }
        Ok(out)
    };
    let mut causes = Vec::new();
    for msg in rk3s_core::names::validate_labels(&string_map("labels")?) {
        causes.push(cause_from_message(&msg));
    }
    for msg in rk3s_core::names::validate_annotations(&string_map("annotations")?) {
        causes.push(cause_from_message(&msg));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.kind, &rt.group, name(obj), causes))
    }
}

/// Split an upstream-style field error (`<path>: <detail>`) into a Status cause.
fn cause_from_message(msg: &str) -> Cause {
    match msg.split_once(": ") {
        Some((field, detail)) => Cause {
            reason: "FieldValueInvalid",
            field: field.to_string(),
            message: detail.to_string(),
        },
        None => Cause {
            reason: "FieldValueInvalid",
            field: String::new(),
            message: msg.to_string(),
        },
    }
}

/// The `List` wrapper for a set of objects.
pub fn list_object(
    rt: &ResourceType,
    items: Vec<Value>,
    revision: i64,
    continue_token: Option<String>,
    remaining: Option<i64>,
) -> Value {
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = continue_token {
        meta["continue"] = Value::String(c);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    json!({
        "kind": rt.list_kind(),
        "apiVersion": rt.api_version(),
        "metadata": meta,
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_reported_with_their_path() {
        let original = json!({"spec": {"replicas": 1, "bogus": 2, "template": {"x": 1}}, "metadata": {"name": "a", "n": null}});
        let typed = json!({"spec": {"replicas": 1, "template": {}}, "metadata": {"name": "a"}});
        let mut out = Vec::new();
        unknown_fields(&original, &typed, "", &mut out);
        assert_eq!(
            out,
            vec!["spec.bogus".to_string(), "spec.template.x".to_string()]
        );
    }

    #[test]
    fn resource_version_is_spliced_into_the_top_level_metadata_only() {
        let cases = [
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"metadata": "{\"metadata\":{", "k": "v"}, "metadata": {"name": "a"}}),
            json!({"metadata": {}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}),
            json!({"items": [{"metadata": {"x": 1}}], "metadata": {"name": "n", "labels": {"metadata": "x"}}}),
        ];
        for obj in cases {
            let stored = serde_json::to_vec(&obj).unwrap();
            let raw = raw_with_resource_version(&stored, 42).unwrap();
            let back: Value = serde_json::from_slice(&raw).unwrap();
            let mut expected = obj.clone();
            set_resource_version(&mut expected, 42);
            assert_eq!(back, expected);
        }
        assert!(raw_with_resource_version(b"{\"metadata\": 3}", 1).is_none());
        assert!(raw_with_resource_version(b"not json", 1).is_none());
        assert!(raw_with_resource_version(b"{\"a\":\"unterminated", 1).is_none());
    }

    #[test]
    fn stored_bytes_never_carry_the_resource_version() {
        let obj = json!({"metadata": {"name": "a", "resourceVersion": "7"}});
        let bytes = to_stored_bytes(&obj).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(back["metadata"].get("resourceVersion").is_none());
    }
}
