//! Schema defaulting of custom objects, upstream's algorithm: a missing field (or a `null` in a
//! non-nullable one) takes its `default`, then defaulting descends into it. Entry point: [`apply`].

use serde_json::Value;

use super::schema::{Additional, Node};

fn non_nullable_null(value: &Value, s: &Node) -> bool {
    value.is_null() && !s.nullable
}

pub(crate) fn apply(value: &mut Value, s: &Node) {
    match value {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                let missing = match map.get(k) {
                    None => true,
                    Some(v) => non_nullable_null(v, prop),
                };
                if missing {
                    map.insert(k.clone(), default.clone());
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    apply(v, prop);
                } else if let Additional::Schema(a) = &s.additional {
                    if let Some(default) = &a.default
                        && non_nullable_null(v, a)
                    {
                        *v = default.clone();
                    }
                    apply(v, a);
                }
            }
        }
        Value::Array(list) => {
            let Some(items) = &s.items else { return };
            for v in list.iter_mut() {
                if let Some(default) = &items.default
                    && non_nullable_null(v, items)
                {
                    *v = default.clone();
                }
                apply(v, items);
            }
        }
        _ => {}
    }
}
