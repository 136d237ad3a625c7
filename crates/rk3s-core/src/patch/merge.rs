//! JSON merge patch (RFC 7386). Entry point: [`merge_patch`].

use serde_json::{Map, Value};

/// Applies the RFC 7386 merge patch `patch` to `doc`: objects merge key by key, `null` removes
/// a key, anything else (lists included) replaces the target.
pub fn merge_patch(doc: &Value, patch: &Value) -> Value {
    let mut out = doc.clone();
    apply(&mut out, patch);
    out
}

fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            apply(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
