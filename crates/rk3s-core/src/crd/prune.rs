//! Pruning: removes the fields of a custom object its structural schema does not specify, as
//! upstream does on decode. Entry point: [`prune_root`].

use serde_json::Value;

use super::schema::{Additional, Node};
use super::{child, index};

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes a whole object. The root is a resource: `apiVersion`, `kind` and `metadata` are always
/// kept, and nothing inside `metadata` is pruned (ObjectMeta is checked elsewhere).
pub(crate) fn prune_root(obj: &mut Value, root: &Node, pruned: &mut Vec<String>) {
    let Value::Object(map) = obj else { return };
    if !root.preserve_unknown {
        map.retain(|k, _| {
            let keep = META_FIELDS.contains(&k.as_str()) || known(root, k);
            if !keep {
                pruned.push(k.clone());
            }
            keep
        });
    }
    for (k, v) in map.iter_mut() {
        if META_FIELDS.contains(&k.as_str()) {
            continue;
        }
        if let Some(s) = field_schema(root, k) {
            prune_value(v, s, pruned, k);
        }
    }
}

fn known(s: &Node, key: &str) -> bool {
    s.properties.contains_key(key)
        || matches!(s.additional, Additional::Any | Additional::Schema(_))
}

/// The schema of `key` in a map, if the schema constrains it.
fn field_schema<'a>(s: &'a Node, key: &str) -> Option<&'a Node> {
    match s.properties.get(key) {
        Some(p) => Some(p),
        None => match &s.additional {
            Additional::Schema(a) => Some(a),
            _ => None,
        },
    }
}

/// An embedded resource keeps its `apiVersion`/`kind` strings and its `metadata` map.
fn embedded_meta(key: &str, value: &Value) -> bool {
    match key {
        "apiVersion" | "kind" => value.is_string(),
        "metadata" => value.is_object(),
        _ => false,
    }
}

/// Prunes `value` against `s`; `path` is where `value` sits.
pub(crate) fn prune_value(value: &mut Value, s: &Node, pruned: &mut Vec<String>, path: &str) {
    match value {
        Value::Object(map) => {
            if !s.preserve_unknown && !matches!(s.additional, Additional::Any) {
                map.retain(|k, v| {
                    let keep = (s.embedded && embedded_meta(k, v)) || known(s, k);
                    if !keep {
                        pruned.push(child(path, k));
                    }
                    keep
                });
            }
            for (k, v) in map.iter_mut() {
                if s.embedded && embedded_meta(k, v) {
                    continue;
                }
                if let Some(fs) = field_schema(s, k) {
                    prune_value(v, fs, pruned, &child(path, k));
                }
            }
        }
        Value::Array(list) => {
            if let Some(items) = &s.items {
                for (i, v) in list.iter_mut().enumerate() {
                    prune_value(v, items, pruned, &index(path, i));
                }
            } else if !s.preserve_unknown {
                // Items of an array without an item schema have no fields to keep.
                for (i, v) in list.iter_mut().enumerate() {
                    prune_everything(v, pruned, &index(path, i));
                }
            }
        }
        _ => {}
    }
}

fn prune_everything(value: &mut Value, pruned: &mut Vec<String>, path: &str) {
    match value {
        Value::Object(map) => {
            pruned.extend(map.keys().map(|k| child(path, k)));
            map.clear();
        }
        Value::Array(list) => {
            for (i, v) in list.iter_mut().enumerate() {
                prune_everything(v, pruned, &index(path, i));
            }
        }
        _ => {}
    }
}
