//! The fields an object sets, as structured-merge-diff sees them: which paths it has, which of
//! them are leaves (scalars, atomic lists and structs) and their values; and how list items
//! are identified. Entry points: [`members`], [`list_kind`], [`item_step`].

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::fieldset::{FieldSet, Path, canonical_json};
use crate::patch::{PatchMeta, SchemaNode, patch_meta};

/// Objects nest at most this deep; deeper input is refused (apply) or left untracked.
pub(super) const MAX_DEPTH: usize = 256;

/// Structs that upstream marks `+structType=atomic`: owned and replaced as a whole.
const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.ConfigMapEnvSource",
    "io.k8s.api.core.v1.SecretEnvSource",
    "io.k8s.api.core.v1.NodeSelector",
];

/// List-map key fields the API server defaults, so an applied item that omits them still
/// matches the stored (defaulted) item: `ports` are keyed on `containerPort`/`port` and
/// `protocol`, and manifests rarely spell out `protocol: TCP`.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// Fields never tracked, as upstream strips them from every set: the object's identity and
/// the fields the server owns. A path equal to one of these, or below one, is dropped.
const IGNORED_SUBTREES: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:clusterName"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
];

/// Whether a path is never tracked (see [`IGNORED_SUBTREES`]; `.metadata` itself neither).
pub(super) fn is_ignored(path: &[String]) -> bool {
    if path.len() == 1 && path[0] == "f:metadata" {
        return true;
    }
    IGNORED_SUBTREES.iter().any(|ignored| {
        path.len() >= ignored.len() && ignored.iter().zip(path).all(|(a, b)| *a == b.as_str())
    })
}

/// How the items of a list are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ListKind {
    /// The list is one value, owned and replaced whole.
    Atomic,
    /// Items are scalars identified by their value (`v:` steps).
    Set,
    /// Items are objects identified by these fields (`k:` steps).
    Map(Vec<&'static str>),
}

/// The list kind a field's metadata declares; lists without metadata are atomic, as upstream
/// treats lists without `x-kubernetes-list-type`.
pub(super) fn declared_list_kind(meta: Option<PatchMeta>) -> ListKind {
    let Some(meta) = meta else {
        return ListKind::Atomic;
    };
    match meta.list_type {
        Some("atomic") => ListKind::Atomic,
        Some("set") => ListKind::Set,
        Some("map") if !meta.list_map_keys.is_empty() => ListKind::Map(meta.list_map_keys.to_vec()),
        Some("map") => match meta.merge_key {
            Some(key) => ListKind::Map(vec![key]),
            None => ListKind::Atomic,
        },
        _ if meta.merges_list() => match meta.merge_key {
            Some(key) => ListKind::Map(vec![key]),
            None => ListKind::Set,
        },
        _ => ListKind::Atomic,
    }
}

/// Why a list cannot be treated as its declared kind.
pub(super) type ListProblem = String;

/// The step naming `item` in a list of `kind` (`None` for atomic lists), or why the item
/// cannot be identified.
pub(super) fn item_step(kind: &ListKind, item: &Value) -> Result<Option<String>, ListProblem> {
    match kind {
        ListKind::Atomic => Ok(None),
        ListKind::Set => match item {
            Value::Object(_) | Value::Array(_) => {
                Err("a set list may hold only scalar values".to_string())
            }
            scalar => Ok(Some(format!("v:{}", canonical_json(scalar)))),
        },
        ListKind::Map(keys) => {
            let Value::Object(fields) = item else {
                return Err("an associative list may hold only objects".to_string());
            };
            let mut key = Map::new();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            for name in sorted {
                let value = match fields.get(name) {
                    Some(v) if !v.is_null() => v.clone(),
                    _ => match KEY_DEFAULTS.iter().find(|(field, _)| *field == name) {
                        Some((_, default)) => Value::from(*default),
                        None => {
                            return Err(format!(
                                "an associative list item lacks its key field {name:?}"
                            ));
                        }
                    },
                };
                if value.is_object() || value.is_array() {
                    return Err(format!("the key field {name:?} must be a scalar"));
                }
                key.insert(name.to_string(), value);
            }
            Ok(Some(format!("k:{}", canonical_json(&Value::Object(key)))))
        }
    }
}

/// The steps of every item, in order, or why the list cannot be keyed as declared (an item
/// without its key, two items with the same key).
pub(super) fn item_steps(kind: &ListKind, items: &[Value]) -> Result<Vec<String>, ListProblem> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(step) = item_step(kind, item)? else {
            return Ok(Vec::new());
        };
        if !seen.insert(step.clone()) {
            return Err(format!("duplicate entries for key {}", &step[2..]));
        }
        out.push(step);
    }
    Ok(out)
}

/// The declared kind of a list, or `Atomic` when its items do not fit it (stored objects are
/// tracked as best they can be; the applied configuration is checked by [`members`] instead).
pub(super) fn list_kind(meta: Option<PatchMeta>, items: &[Value]) -> ListKind {
    let kind = declared_list_kind(meta);
    match item_steps(&kind, items) {
        Ok(_) => kind,
        Err(_) => ListKind::Atomic,
    }
}

pub(super) fn field_meta(node: SchemaNode<'_>, field: &str) -> Option<PatchMeta> {
    node.type_name().and_then(|t| patch_meta(t, field))
}

pub(super) fn is_atomic_struct(node: SchemaNode<'_>) -> bool {
    node.type_name()
        .is_some_and(|t| ATOMIC_STRUCTS.contains(&t))
}

/// A tracked path: a leaf carries its value (compared to see whether it changed); a node is
/// a list item, a map entry or another container whose own existence is tracked.
#[derive(Debug, Clone, Copy)]
pub(super) enum Member<'v> {
    Leaf(&'v Value),
    Node,
}

/// Every tracked path of an object.
pub(super) type Members<'v> = BTreeMap<Path, Member<'v>>;

/// The tracked paths of `object` (ignored fields left out). `strict` refuses lists whose items
/// cannot be keyed as their schema declares and too-deep values; otherwise such lists count
/// as atomic and deep parts as leaves.
pub(super) fn members<'v>(
    object: &'v Value,
    root: SchemaNode<'_>,
    strict: bool,
) -> Result<Members<'v>, String> {
    let mut out = Members::new();
    if let Value::Object(map) = object {
        let mut walker = Walker {
            out: &mut out,
            strict,
        };
        walker.object(map, root, &mut Vec::new(), 0)?;
    }
    out.retain(|path, _| !is_ignored(path));
    Ok(out)
}

/// The members of `members` as a field set.
pub(super) fn to_set(members: &Members<'_>) -> FieldSet {
    let mut set = FieldSet::default();
    for path in members.keys() {
        set.insert(path);
    }
    set
}

struct Walker<'o, 'v> {
    out: &'o mut Members<'v>,
    strict: bool,
}

impl<'v> Walker<'_, 'v> {
    fn object(
        &mut self,
        map: &'v Map<String, Value>,
        node: SchemaNode<'_>,
        path: &mut Path,
        depth: usize,
    ) -> Result<(), String> {
        for (key, value) in map {
            // Declared struct fields exist implicitly; entries of maps (and fields a schema
            // does not know) are tracked themselves, as upstream does.
            let entry = !(node.has_properties() && node.has_property(key));
            path.push(format!("f:{key}"));
            let result = self.value(
                value,
                node.field(key),
                field_meta(node, key),
                entry,
                path,
                depth + 1,
            );
            path.pop();
            result?;
        }
        Ok(())
    }

    fn value(
        &mut self,
        value: &'v Value,
        node: SchemaNode<'_>,
        meta: Option<PatchMeta>,
        entry: bool,
        path: &mut Path,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            if self.strict {
                return Err(format!(
                    "the configuration nests deeper than {MAX_DEPTH} levels"
                ));
            }
            self.out.insert(path.clone(), Member::Leaf(value));
            return Ok(());
        }
        match value {
            Value::Object(map) if !map.is_empty() && !is_atomic_struct(node) => {
                if entry {
                    self.out.insert(path.clone(), Member::Node);
                }
                self.object(map, node, path, depth)
            }
            Value::Array(items) => {
                let declared = declared_list_kind(meta);
                let steps = match item_steps(&declared, items) {
                    Ok(steps) => steps,
                    Err(problem) if self.strict => {
                        return Err(format!(
                            "{}: {problem}",
                            super::fieldset::display_path(path)
                        ));
                    }
                    Err(_) => Vec::new(),
                };
                if declared == ListKind::Atomic || steps.len() != items.len() {
                    self.out.insert(path.clone(), Member::Leaf(value));
                    return Ok(());
                }
                if entry {
                    self.out.insert(path.clone(), Member::Node);
                }
                let item_node = node.items();
                for (item, step) in items.iter().zip(steps) {
                    path.push(step);
                    match (item, &declared) {
                        (Value::Object(fields), ListKind::Map(_)) => {
                            self.out.insert(path.clone(), Member::Node);
                            self.object(fields, item_node, path, depth + 1)?;
                        }
                        _ => {
                            self.out.insert(path.clone(), Member::Leaf(item));
                        }
                    }
                    path.pop();
                }
                Ok(())
            }
            _ => {
                self.out.insert(path.clone(), Member::Leaf(value));
                Ok(())
            }
        }
    }
}

/// What changed between two objects' members.
#[derive(Debug, Default)]
pub(super) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

impl Comparison {
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

pub(super) fn compare(old: &Members<'_>, new: &Members<'_>) -> Comparison {
    let mut out = Comparison::default();
    for (path, member) in new {
        match (old.get(path), member) {
            (None, _) => out.added.insert(path),
            (Some(Member::Leaf(a)), Member::Leaf(b)) if !same_value(a, b) => {
                out.modified.insert(path)
            }
            (Some(Member::Leaf(_)), Member::Node) | (Some(Member::Node), Member::Leaf(_)) => {
                out.modified.insert(path)
            }
            _ => {}
        }
    }
    for path in old.keys() {
        if !new.contains_key(path) {
            out.removed.insert(path);
        }
    }
    out
}

/// Equality where `80` and `80.0` are the same number, as after upstream's decoding.
pub(super) fn same_value(a: &Value, b: &Value) -> bool {
    a == b || canonical_json(a) == canonical_json(b)
}
