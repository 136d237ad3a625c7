//! Sets of field paths as a trie, in and out of the `FieldsV1` form that `metadata.managedFields`
//! stores, and the `.spec.containers[name="web"].image` form that conflict messages show.
//! Entry point: [`FieldSet`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Stored field sets nest at most this deep; deeper parts are dropped rather than recursed into.
const MAX_DEPTH: usize = 256;

/// One step of a path, spelled as in `FieldsV1`: `f:<field>`, `k:<key fields as JSON>`,
/// `v:<value as JSON>` or `i:<index>`.
pub(super) type Path = Vec<String>;

/// A set of paths. A node is a member when the field at its path itself belongs to the set;
/// nodes exist without being members when only fields below them do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

impl FieldSet {
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for step in path {
            node = node.children.entry(step.clone()).or_default();
        }
        node.member = true;
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    pub fn child(&self, step: &str) -> Option<&FieldSet> {
        self.children.get(step)
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.union_in(other);
        out
    }

    fn union_in(&mut self, other: &FieldSet) {
        self.member |= other.member;
        for (step, theirs) in &other.children {
            self.children
                .entry(step.clone())
                .or_default()
                .union_in(theirs);
        }
    }

    /// The members of `self` that are not members of `other` (not recursive: a member of
    /// `other` takes away only its own path, not the paths below it).
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (step, mine) in &self.children {
            let child = match other.children.get(step) {
                Some(theirs) => mine.difference(theirs),
                None => mine.clone(),
            };
            if !child.is_empty() {
                out.children.insert(step.clone(), child);
            }
        }
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (step, mine) in &self.children {
            if let Some(theirs) = other.children.get(step) {
                let child = mine.intersection(theirs);
                if !child.is_empty() {
                    out.children.insert(step.clone(), child);
                }
            }
        }
        out
    }

    /// Every member path, in sorted order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (step, child) in &self.children {
            prefix.push(step.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON of the set: `{}` for a leaf member, `"."` marking a member that also
    /// has members below it.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (step, child) in &self.children {
            map.insert(step.clone(), child.to_fields_v1());
        }
        Value::Object(map)
    }

    /// Reads a `FieldsV1` value; anything that is not an object of objects is skipped, and key
    /// and value steps are re-encoded canonically so they compare equal to computed ones.
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut out = FieldSet::default();
        if let Value::Object(map) = value {
            out.read(map, 0);
        }
        // The object itself is never a tracked field.
        out.member = false;
        out
    }

    fn read(&mut self, map: &Map<String, Value>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        for (step, child) in map {
            if step == "." {
                self.member = true;
                continue;
            }
            let Value::Object(child_map) = child else {
                continue;
            };
            let step = canonical_step(step);
            let node = self.children.entry(step.clone()).or_default();
            if child_map.is_empty() {
                node.member = true;
            } else {
                node.read(child_map, depth + 1);
            }
            // A node whose children were all unreadable holds nothing.
            if node.is_empty() {
                self.children.remove(&step);
            }
        }
    }
}

/// `k:` and `v:` steps carry JSON; parse and re-encode it so spacing, key order and `80.0`
/// against `80` do not make equal steps differ. Other steps are kept as they are.
fn canonical_step(step: &str) -> String {
    for prefix in ["k:", "v:"] {
        if let Some(json) = step.strip_prefix(prefix)
            && let Ok(value) = serde_json::from_str::<Value>(json)
        {
            return format!("{prefix}{}", canonical_json(&value));
        }
    }
    step.to_string()
}

/// JSON text with object keys sorted and integral floats written as integers.
pub(super) fn canonical_json(value: &Value) -> String {
    canonical_value(value, 0).to_string()
}

fn canonical_value(value: &Value, depth: usize) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Object(map) if depth < MAX_DEPTH => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), canonical_value(v, depth + 1));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) if depth < MAX_DEPTH => Value::Array(
            items
                .iter()
                .map(|item| canonical_value(item, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A path as upstream prints it in conflicts: `.spec.replicas`,
/// `.spec.template.spec.containers[name="web"].image`, `.metadata.finalizers[="a"]`.
pub(super) fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for step in path {
        if let Some(field) = step.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(json) = step.strip_prefix("k:") {
            match serde_json::from_str::<Value>(json) {
                Ok(Value::Object(keys)) => {
                    let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    out.push('[');
                    out.push_str(&parts.join(","));
                    out.push(']');
                }
                _ => out.push_str(&format!("[{json}]")),
            }
        } else if let Some(json) = step.strip_prefix("v:") {
            out.push_str(&format!("[={json}]"));
        } else if let Some(index) = step.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        } else {
            out.push_str(&format!("[{step}]"));
        }
    }
    out
}
