//! Item identity and result ordering for strategic merge of lists: patch items keep the
//! patch's order, items only the server had keep theirs, and the two are interleaved by where
//! the server had them (upstream's rule, so results match byte for byte).

use std::collections::HashMap;

use serde_json::Value;

/// A list item with its identity: the canonical form of its merge key (or of itself, for
/// primitives). `None` when an object item lacks the merge key.
pub(super) struct Keyed {
    pub key: Option<String>,
    pub value: Value,
}

/// What identifies an item: its merge-key value, or the item itself when there is no key.
pub(super) fn item_key<'v>(item: &'v Value, merge_key: Option<&str>) -> Option<&'v Value> {
    match merge_key {
        Some(key) => item.as_object()?.get(key),
        None => Some(item),
    }
}

/// A string equal for equal values; numbers compare by value (`80` equals `80.0`), as they do
/// in upstream's float64-decoded JSON. Never empty.
pub(super) fn canonical_key(value: &Value) -> String {
    match value {
        Value::String(s) => format!("s{s}"),
        Value::Number(n) => match n.as_f64() {
            Some(f) => format!("n{f}"),
            None => format!("n{n}"),
        },
        other => format!("j{other}"),
    }
}

fn positions(order: &[String]) -> HashMap<&str, usize> {
    let mut out = HashMap::with_capacity(order.len());
    for (i, key) in order.iter().enumerate() {
        out.entry(key.as_str()).or_insert(i);
    }
    out
}

fn position(map: &HashMap<&str, usize>, item: &Keyed) -> Option<usize> {
    item.key.as_deref().and_then(|k| map.get(k).copied())
}

/// Orders `patch_items` by `patch_order` and `server_only` by `server_order`, then interleaves
/// them: a server-only item goes before a patch item only when the server had both and had
/// it first. Items the server never had therefore come before later server-only items.
pub(super) fn normalize_order(
    mut patch_items: Vec<Keyed>,
    mut server_only: Vec<Keyed>,
    patch_order: &[String],
    server_order: &[String],
) -> Vec<Value> {
    let patch_pos = positions(patch_order);
    let server_pos = positions(server_order);
    patch_items.sort_by_key(|item| position(&patch_pos, item).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| position(&server_pos, item).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => match (position(&server_pos, l), position(&server_pos, r)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        if let Some(item) = next {
            out.push(item.value);
        }
    }
    out
}
