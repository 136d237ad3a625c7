//! Strategic merge patch for built-in kinds, behaving as upstream's `strategicpatch` package
//! does when the API server applies a patch. Entry point: [`strategic_merge_patch`].
//!
//! Maps merge recursively and `null` deletes a key. A list whose field has the `merge`
//! strategy merges: object items by their merge key, primitives as a set; other lists are
//! replaced. Directives: `$patch` (`replace`, `delete`, `merge`), `$retainKeys`,
//! `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`. Where the schema does not
//! know a field, maps still merge and lists are replaced.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::PatchError;
use super::meta::{PatchMeta, patch_meta};
use super::order::{Keyed, canonical_key, item_key, normalize_order};
use super::schema_nav::{SchemaNav, SchemaNode};

/// Values nest at most 128 levels when serde_json parses them; this bounds recursion for
/// values built some other way.
const MAX_DEPTH: usize = 256;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Applies the strategic merge patch `patch` to the object `doc`, using `schema` to find each
/// field's type and, through [`patch_meta`], its patch strategy.
pub fn strategic_merge_patch(
    doc: &Value,
    patch: &Value,
    schema: &SchemaNav,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::NotAnObject {
            what: "a strategic merge patch",
        });
    };
    let Value::Object(original) = doc else {
        return Err(PatchError::NotAnObject {
            what: "the object to patch",
        });
    };
    merge_map(original.clone(), patch, schema.root(), "", 0).map(Value::Object)
}

fn shown(path: &str) -> String {
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

fn field_meta(node: SchemaNode<'_>, field: &str) -> Option<PatchMeta> {
    node.type_name().and_then(|t| patch_meta(t, field))
}

fn check_depth(depth: usize) -> Result<(), PatchError> {
    if depth > MAX_DEPTH {
        Err(PatchError::TooDeep { max: MAX_DEPTH })
    } else {
        Ok(())
    }
}

fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    node: SchemaNode<'_>,
    path: &str,
    depth: usize,
) -> Result<Map<String, Value>, PatchError> {
    check_depth(depth)?;
    if let Some(directive) = patch.get(PATCH) {
        match directive.as_str() {
            Some("replace") => original = Map::new(),
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            _ => return Err(unknown_patch_directive(directive, path)),
        }
    }

    if let Some(keep) = patch.get(RETAIN_KEYS) {
        let keep = string_set(keep).ok_or_else(|| PatchError::InvalidDirective {
            directive: RETAIN_KEYS.to_string(),
            path: shown(path),
            expected: "a list of strings",
        })?;
        original.retain(|k, _| keep.contains(k.as_str()));
    }

    let mut ordered: HashSet<&str> = HashSet::new();
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER)
            && set_element_order(&mut original, patch, field, order, node, path, depth)?
        {
            ordered.insert(field);
        }
    }

    let mut deletions = Vec::new();
    for (key, value) in patch {
        if key == PATCH
            || key == RETAIN_KEYS
            || key.starts_with(SET_ELEMENT_ORDER)
            || ordered.contains(key.as_str())
        {
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((field, value));
            continue;
        }
        // Built-in field names never start with `$` unless the schema says so (JSONSchemaProps'
        // `$ref`), so such a key in a typed object is a directive this engine does not know.
        if key.starts_with('$') && node.has_properties() && !node.has_property(key) {
            return Err(PatchError::UnknownDirective {
                directive: key.clone(),
                path: shown(path),
            });
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let child_path = format!("{path}/{key}");
        let meta = field_meta(node, key);
        let child = node.field(key);
        match original.get_mut(key) {
            Some(slot) => {
                let current = std::mem::take(slot);
                *slot = merge_value(current, value, child, meta, &child_path, depth + 1)?;
            }
            None => {
                let fresh = fresh_value(value, child, meta, &child_path, depth + 1)?;
                original.insert(key.clone(), fresh);
            }
        }
    }

    for (field, remove) in deletions {
        let remove = match remove {
            Value::Array(items) => items.iter().map(canonical_key).collect::<HashSet<_>>(),
            _ => {
                return Err(PatchError::InvalidDirective {
                    directive: format!("{DELETE_FROM_PRIMITIVE_LIST}{field}"),
                    path: shown(path),
                    expected: "a list",
                });
            }
        };
        if let Some(Value::Array(list)) = original.get_mut(field) {
            list.retain(|v| !remove.contains(&canonical_key(v)));
        }
    }
    Ok(original)
}

fn unknown_patch_directive(directive: &Value, path: &str) -> PatchError {
    let shown_directive = match directive.as_str() {
        Some(s) => format!("{PATCH}: {s}"),
        None => format!("{PATCH}: {directive}"),
    };
    PatchError::UnknownDirective {
        directive: shown_directive,
        path: shown(path),
    }
}

fn string_set(value: &Value) -> Option<HashSet<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

/// Merges `patch` into the existing value of a field.
fn merge_value(
    current: Value,
    patch: &Value,
    node: SchemaNode<'_>,
    meta: Option<PatchMeta>,
    path: &str,
    depth: usize,
) -> Result<Value, PatchError> {
    let replaces = meta.is_some_and(|m| m.replaces());
    let merges_list = meta.is_some_and(|m| m.merges_list());
    match (current, patch) {
        (Value::Object(current), Value::Object(p)) if !replaces => {
            merge_map(current, p, node, path, depth).map(Value::Object)
        }
        (Value::Array(current), Value::Array(p)) if merges_list => {
            let merge_key = meta.and_then(|m| m.merge_key);
            merge_list(current, p, node.items(), merge_key, path, depth).map(Value::Array)
        }
        _ => fresh_value(patch, node, meta, path, depth),
    }
}

/// A patch value for a field the object lacks (or replaces): directives are applied to
/// nothing and `null`s dropped, so neither reaches the stored object.
fn fresh_value(
    patch: &Value,
    node: SchemaNode<'_>,
    meta: Option<PatchMeta>,
    path: &str,
    depth: usize,
) -> Result<Value, PatchError> {
    check_depth(depth)?;
    match patch {
        Value::Object(p) => merge_map(Map::new(), p, node, path, depth + 1).map(Value::Object),
        Value::Array(items) if meta.is_some_and(|m| m.merges_list()) => {
            let merge_key = meta.and_then(|m| m.merge_key);
            merge_list(Vec::new(), items, node.items(), merge_key, path, depth + 1)
                .map(Value::Array)
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                fresh_value(item, node.items(), None, &format!("{path}/{i}"), depth + 1)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        scalar => Ok(scalar.clone()),
    }
}

/// Merges a list whose field has the `merge` strategy.
fn merge_list(
    original: Vec<Value>,
    patch: &[Value],
    item_node: SchemaNode<'_>,
    merge_key: Option<&str>,
    path: &str,
    depth: usize,
) -> Result<Vec<Value>, PatchError> {
    check_depth(depth)?;
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let mut has_objects = false;
    let mut has_scalars = false;
    for item in original.iter().chain(patch) {
        match item {
            Value::Object(_) => has_objects = true,
            Value::Array(_) => return Err(PatchError::MixedListItems { path: shown(path) }),
            _ => has_scalars = true,
        }
    }
    if has_objects && has_scalars {
        return Err(PatchError::MixedListItems { path: shown(path) });
    }
    if has_scalars {
        return Ok(merge_scalar_list(original, patch));
    }
    let Some(merge_key) = merge_key else {
        return Err(PatchError::NoMergeKey { path: shown(path) });
    };
    merge_object_list(original, patch, item_node, merge_key, path, depth)
}

fn merge_scalar_list(original: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let server_order: Vec<String> = original.iter().map(canonical_key).collect();
    let patch_order: Vec<String> = patch.iter().map(canonical_key).collect();
    let in_patch: HashSet<&str> = patch_order.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for (key, value) in server_order
        .iter()
        .zip(original.iter())
        .chain(patch_order.iter().zip(patch))
    {
        if !seen.insert(key.clone()) {
            continue;
        }
        let keyed = Keyed {
            key: Some(key.clone()),
            value: value.clone(),
        };
        if in_patch.contains(key.as_str()) {
            patch_items.push(keyed)
        } else {
            server_only.push(keyed)
        }
    }
    normalize_order(patch_items, server_only, &patch_order, &server_order)
}

fn merge_object_list(
    mut original: Vec<Value>,
    patch: &[Value],
    item_node: SchemaNode<'_>,
    merge_key: &str,
    path: &str,
    depth: usize,
) -> Result<Vec<Value>, PatchError> {
    let missing_key = |i: usize| PatchError::MissingMergeKey {
        path: format!("{path}/{i}"),
        key: merge_key.to_string(),
    };
    let mut replace = false;
    let mut items = Vec::new();
    for (i, item) in patch.iter().enumerate() {
        let Value::Object(item) = item else {
            return Err(PatchError::MixedListItems { path: shown(path) });
        };
        let Some(directive) = item.get(PATCH) else {
            let key = item.get(merge_key).ok_or_else(|| missing_key(i))?;
            items.push((i, canonical_key(key), item));
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let key = item.get(merge_key).ok_or_else(|| missing_key(i))?;
                let key = canonical_key(key);
                original.retain(|o| {
                    item_key(o, Some(merge_key)).is_none_or(|k| canonical_key(k) != key)
                });
            }
            Some("replace") => replace = true,
            // Merging is what this list does anyway.
            Some("merge") => {}
            _ => return Err(unknown_patch_directive(directive, &format!("{path}/{i}"))),
        }
    }
    if replace {
        original.clear();
    }

    let server_order: Vec<String> = original
        .iter()
        .map(|o| {
            item_key(o, Some(merge_key))
                .map(canonical_key)
                .unwrap_or_default()
        })
        .collect();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (pos, key) in server_order.iter().enumerate().rev() {
        position.insert(key.clone(), pos);
    }
    for (i, key, item) in &items {
        let item_path = format!("{path}/{i}");
        match position.get(key) {
            Some(&pos) => {
                let current = std::mem::take(&mut original[pos]);
                original[pos] = match current {
                    Value::Object(current) => {
                        Value::Object(merge_map(current, item, item_node, &item_path, depth + 1)?)
                    }
                    _ => Value::Object(merge_map(
                        Map::new(),
                        item,
                        item_node,
                        &item_path,
                        depth + 1,
                    )?),
                };
            }
            None => {
                position.insert(key.clone(), original.len());
                original.push(Value::Object(merge_map(
                    Map::new(),
                    item,
                    item_node,
                    &item_path,
                    depth + 1,
                )?));
            }
        }
    }

    let patch_order: Vec<String> = items.into_iter().map(|(_, key, _)| key).collect();
    let in_patch: HashSet<&str> = patch_order.iter().map(String::as_str).collect();
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for value in original {
        let key = item_key(&value, Some(merge_key)).map(canonical_key);
        let from_patch = key.as_deref().is_some_and(|k| in_patch.contains(k));
        let keyed = Keyed { key, value };
        if from_patch {
            patch_items.push(keyed)
        } else {
            server_only.push(keyed)
        }
    }
    Ok(normalize_order(
        patch_items,
        server_only,
        &patch_order,
        &server_order,
    ))
}

/// Handles `$setElementOrder/<field>`: merges the field's patch list (if any) and orders the
/// result. Returns whether the field's patch list was consumed.
fn set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    field: &str,
    order: &Value,
    node: SchemaNode<'_>,
    path: &str,
    depth: usize,
) -> Result<bool, PatchError> {
    let directive = || format!("{SET_ELEMENT_ORDER}{field}");
    let Value::Array(order) = order else {
        return Err(PatchError::InvalidDirective {
            directive: directive(),
            path: shown(path),
            expected: "a list",
        });
    };
    let patch_value = patch.get(field);
    let patch_list = match patch_value {
        Some(Value::Array(list)) => Some(list),
        None => None,
        // A non-list patch value replaces or deletes the field; there is nothing to order.
        Some(_) => return Ok(false),
    };
    let original_list = match original.get(field) {
        Some(Value::Array(list)) => Some(list),
        _ => None,
    };
    let meta = field_meta(node, field);
    let merge_key = meta.and_then(|m| m.merge_key);
    let field_path = format!("{path}/{field}");

    let mut order_keys = Vec::with_capacity(order.len());
    for (i, item) in order.iter().enumerate() {
        let key = item_key(item, merge_key).ok_or_else(|| PatchError::MissingMergeKey {
            path: format!("{path}/{}/{i}", directive()),
            key: merge_key.unwrap_or_default().to_string(),
        })?;
        order_keys.push(canonical_key(key));
    }
    if let Some(patch_list) = patch_list {
        check_patch_follows_order(patch_list, &order_keys, merge_key, &field_path)?;
    }

    let child = node.field(field);
    let merged = match (original_list, patch_list) {
        (None, None) => return Ok(false),
        (Some(existing), None) => existing.clone(),
        (existing, Some(_)) => {
            let current = Value::Array(existing.cloned().unwrap_or_default());
            let patch_value = patch_value.unwrap_or(&Value::Null);
            match merge_value(current, patch_value, child, meta, &field_path, depth + 1)? {
                Value::Array(list) => list,
                _ => return Ok(false),
            }
        }
    };
    let server_order: Vec<String> = original_list
        .map(|l| {
            l.iter()
                .map(|v| {
                    item_key(v, merge_key)
                        .map(canonical_key)
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();

    let in_order: HashSet<&str> = order_keys.iter().map(String::as_str).collect();
    let mut patch_items = Vec::new();
    let mut server_only = Vec::new();
    for value in merged {
        let key = item_key(&value, merge_key).map(canonical_key);
        let listed = key.as_deref().is_some_and(|k| in_order.contains(k));
        let keyed = Keyed { key, value };
        if listed {
            patch_items.push(keyed)
        } else {
            server_only.push(keyed)
        }
    }
    let ordered = normalize_order(patch_items, server_only, &order_keys, &server_order);
    match original.get_mut(field) {
        Some(slot) => *slot = Value::Array(ordered),
        None => {
            original.insert(field.to_string(), Value::Array(ordered));
        }
    }
    Ok(true)
}

/// The items of a patch list must appear in the same relative order as in its
/// `$setElementOrder` list, or the intended order is ambiguous.
fn check_patch_follows_order(
    patch_list: &[Value],
    order_keys: &[String],
    merge_key: Option<&str>,
    path: &str,
) -> Result<(), PatchError> {
    let mut keys = Vec::new();
    for (i, item) in patch_list.iter().enumerate() {
        if item.get(PATCH).is_some() {
            continue;
        }
        let key = item_key(item, merge_key).ok_or_else(|| PatchError::MissingMergeKey {
            path: format!("{path}/{i}"),
            key: merge_key.unwrap_or_default().to_string(),
        })?;
        keys.push(canonical_key(key));
    }
    if keys.is_empty() || order_keys.is_empty() {
        return Ok(());
    }
    let mut next = 0;
    for key in order_keys {
        if next < keys.len() && keys[next] == *key {
            next += 1;
        }
    }
    if next < keys.len() {
        Err(PatchError::SetElementOrderMismatch { path: shown(path) })
    } else {
        Ok(())
    }
}
