//! Quantities rewritten to upstream's canonical text (`1000m` is stored and shown as `1`,
//! `1024Mi` as `1Gi`), because upstream re-serialises every quantity it decodes.

use serde_json::{Map, Value};

use crate::quantity::Quantity;

/// Canonicalises every value of a resource map (`limits`, `requests`, `capacity`, ...). Values
/// that do not parse are left for validation to report.
pub(crate) fn resource_map(obj: &mut Map<String, Value>, key: &str) {
    if let Some(map) = obj.get_mut(key).and_then(Value::as_object_mut) {
        for v in map.values_mut() {
            one(v);
        }
    }
}

/// Canonicalises one quantity (JSON numbers become strings, as upstream writes them).
pub(crate) fn one(v: &mut Value) {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return,
    };
    if let Ok(q) = Quantity::parse(&text) {
        *v = Value::String(q.to_string());
    }
}
