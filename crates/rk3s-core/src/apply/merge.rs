//! Merging an apply configuration into the live object, and pruning the fields an applier
//! dropped from its configuration. Entry points: [`merge`], [`prune`].

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path};
use super::members::{
    ListKind, MAX_DEPTH, declared_list_kind, field_meta, is_atomic_struct, is_ignored, item_steps,
    list_kind,
};
use crate::patch::{PatchMeta, SchemaNode};

/// Metadata fields the server assigns: an apply configuration never changes them.
const SERVER_METADATA: &[&str] = &[
    "creationTimestamp",
    "uid",
    "generation",
    "selfLink",
    "managedFields",
    "resourceVersion",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// `live` with `applied` merged in: objects merge field by field (`null` removes), associative
/// lists and sets merge item by item, everything else is replaced by the applied value.
/// Server-assigned metadata keeps its live value.
pub(super) fn merge(
    live: &Value,
    applied: &Map<String, Value>,
    root: SchemaNode<'_>,
) -> Result<Value, String> {
    let mut applied = applied.clone();
    if let Some(Value::Object(metadata)) = applied.get_mut("metadata") {
        metadata.retain(|key, _| !SERVER_METADATA.contains(&key.as_str()));
    }
    let live = match live {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_object(live, &applied, root, 0).map(Value::Object)
}

fn merge_object(
    mut out: Map<String, Value>,
    applied: &Map<String, Value>,
    node: SchemaNode<'_>,
    depth: usize,
) -> Result<Map<String, Value>, String> {
    for (key, value) in applied {
        if value.is_null() {
            out.shift_remove(key);
            continue;
        }
        let merged = merge_value(
            out.get(key),
            value,
            node.field(key),
            field_meta(node, key),
            depth + 1,
        )?;
        out.insert(key.clone(), merged);
    }
    Ok(out)
}

fn merge_value(
    live: Option<&Value>,
    applied: &Value,
    node: SchemaNode<'_>,
    meta: Option<PatchMeta>,
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "the configuration nests deeper than {MAX_DEPTH} levels"
        ));
    }
    match applied {
        Value::Object(fields) if !is_atomic_struct(node) => {
            let live = match live {
                Some(Value::Object(map)) => map.clone(),
                _ => Map::new(),
            };
            merge_object(live, fields, node, depth).map(Value::Object)
        }
        Value::Array(items) => {
            let kind = declared_list_kind(meta);
            if kind == ListKind::Atomic {
                return Ok(applied.clone());
            }
            let live = match live {
                Some(Value::Array(items)) => items.as_slice(),
                _ => &[],
            };
            merge_list(live, items, &kind, node.items(), depth).map(Value::Array)
        }
        _ => Ok(applied.clone()),
    }
}

/// Merges list items by identity. Applied items keep the applied order among themselves; live
/// items the configuration does not mention stay where they were.
fn merge_list(
    live: &[Value],
    applied: &[Value],
    kind: &ListKind,
    item_node: SchemaNode<'_>,
    depth: usize,
) -> Result<Vec<Value>, String> {
    let applied_steps = item_steps(kind, applied)?;
    // A stored list that cannot be keyed is replaced, as if it were atomic.
    let live_steps = item_steps(kind, live).unwrap_or_default();
    let live = if live_steps.len() == live.len() {
        live
    } else {
        &[]
    };
    let live_index: HashMap<&str, usize> = live_steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let applied_index: HashMap<&str, usize> = applied_steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();

    let mut out = Vec::with_capacity(live.len() + applied.len());
    let mut next_applied = 0;
    let emit = |out: &mut Vec<Value>, index: usize| -> Result<bool, String> {
        let step = applied_steps[index].as_str();
        let live_item = live_index.get(step).map(|&i| &live[i]);
        out.push(merge_value(
            live_item,
            &applied[index],
            item_node,
            None,
            depth + 1,
        )?);
        Ok(live_item.is_some())
    };
    for (live_item, step) in live.iter().zip(&live_steps) {
        if !applied_index.contains_key(step.as_str()) {
            out.push(live_item.clone());
            continue;
        }
        // A shared item: emit applied items up to the next shared one, so new applied items
        // land just before the shared item that follows them in the configuration.
        while next_applied < applied.len() {
            let shared = emit(&mut out, next_applied)?;
            next_applied += 1;
            if shared {
                break;
            }
        }
    }
    while next_applied < applied.len() {
        emit(&mut out, next_applied)?;
        next_applied += 1;
    }
    Ok(out)
}

/// Removes from `object` the fields in `last` (what the applier owned before) that nobody owns
/// now (`owned`: every manager's set, the applier's new one included). A removed field takes
/// everything below it along; fields nobody ever owned stay.
pub(super) fn prune(object: &mut Value, last: &FieldSet, owned: &FieldSet, root: SchemaNode<'_>) {
    if let Value::Object(map) = object {
        prune_object(map, last, owned, root, &mut Vec::new(), 0);
    }
}

fn prune_object(
    map: &mut Map<String, Value>,
    last: &FieldSet,
    owned: &FieldSet,
    node: SchemaNode<'_>,
    path: &mut Path,
    depth: usize,
) {
    let empty = FieldSet::default();
    let keys: Vec<String> = map.keys().cloned().collect();
    for key in keys {
        let step = format!("f:{key}");
        let Some(last_child) = last.child(&step) else {
            continue;
        };
        path.push(step);
        let owned_child = owned.child(&path[path.len() - 1]);
        if owned_child.is_none() && !is_ignored(path) {
            map.shift_remove(&key);
        } else if let Some(value) = map.get_mut(&key) {
            prune_value(
                value,
                last_child,
                owned_child.unwrap_or(&empty),
                node.field(&key),
                field_meta(node, &key),
                path,
                depth + 1,
            );
        }
        path.pop();
    }
}

fn prune_value(
    value: &mut Value,
    last: &FieldSet,
    owned: &FieldSet,
    node: SchemaNode<'_>,
    meta: Option<PatchMeta>,
    path: &mut Path,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) if !is_atomic_struct(node) => {
            prune_object(map, last, owned, node, path, depth);
        }
        Value::Array(items) => {
            let kind = list_kind(meta, items);
            if kind == ListKind::Atomic {
                return;
            }
            let Ok(steps) = item_steps(&kind, items) else {
                return;
            };
            let item_node = node.items();
            let mut kept = Vec::with_capacity(items.len());
            for (mut item, step) in std::mem::take(items).into_iter().zip(steps) {
                let Some(last_child) = last.child(&step) else {
                    kept.push(item);
                    continue;
                };
                let Some(owned_child) = owned.child(&step) else {
                    continue;
                };
                if let Value::Object(fields) = &mut item {
                    path.push(step);
                    prune_object(fields, last_child, owned_child, item_node, path, depth + 1);
                    path.pop();
                }
                kept.push(item);
            }
            *items = kept;
        }
        _ => {}
    }
}
