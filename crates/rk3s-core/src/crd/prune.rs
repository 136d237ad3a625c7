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
        if !META_FIELDS.contains(&k.as_str()) {
            prune_field(root, k, v, pruned, k);
        }
    }
}

fn known(s: &Node, key: &str) -> bool {
    s.properties.contains_key(key) || !matches!(s.additional, Additional::Unset | Additional::Deny)
}

/// Prunes the value of map key `key` under the map's schema `s`.
fn prune_field(s: &Node, key: &str, v: &mut Value, pruned: &mut Vec<String>, path: &str) {
    match s.properties.get(key) {
        Some(p) => prune_value(v, p, pruned, path),
        None => match &s.additional {
            Additional::Schema(a) => prune_value(v, a, pruned, path),
            // `additionalProperties: true` keeps the key but gives its value no fields.
            Additional::Any => prune_everything(v, pruned, path),
            Additional::Unset | Additional::Deny => {}
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
    prune_node(value, s, s.preserve_unknown, pruned, path);
}

/// `preserve` keeps unknown keys at this level only; items of a preserving array preserve
/// too, as upstream's pruning skips them the same way.
fn prune_node(value: &mut Value, s: &Node, preserve: bool, pruned: &mut Vec<String>, path: &str) {
    match value {
        Value::Object(map) => {
            if !preserve {
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
                prune_field(s, k, v, pruned, &child(path, k));
            }
        }
        Value::Array(list) => match &s.items {
            Some(items) => {
                for (i, v) in list.iter_mut().enumerate() {
                    let keep = preserve || items.preserve_unknown;
                    prune_node(v, items, keep, pruned, &index(path, i));
                }
            }
            // Items of an array without an item schema have no fields to keep.
            None if !preserve => {
                for (i, v) in list.iter_mut().enumerate() {
                    prune_everything(v, pruned, &index(path, i));
                }
            }
            None => {}
        },
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
