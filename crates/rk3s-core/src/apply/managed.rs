//! `metadata.managedFields` entries: reading them from an object, the identity that says which
//! entry an operation updates, their stored order, and writing them back. Entry point:
//! [`ManagedEntry`].

use serde_json::{Map, Value};

use super::fieldset::FieldSet;

pub(super) const APPLY: &str = "Apply";
pub(super) const UPDATE: &str = "Update";

/// At most this many `Update` entries are kept; older ones fold into [`ANCIENT_CHANGES`].
pub(super) const MAX_UPDATERS: usize = 10;
/// The manager that inherits the fields of the oldest updaters, one entry per API version.
pub(super) const ANCIENT_CHANGES: &str = "ancient-changes";

/// One `managedFields` entry with its field set decoded.
#[derive(Debug, Clone)]
pub(super) struct ManagedEntry {
    pub manager: String,
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub set: FieldSet,
}

impl ManagedEntry {
    pub fn new(manager: &str, operation: &str, api_version: &str) -> Self {
        ManagedEntry {
            manager: manager.to_string(),
            operation: operation.to_string(),
            api_version: api_version.to_string(),
            time: None,
            subresource: None,
            set: FieldSet::default(),
        }
    }

    /// Whether this entry is the one an operation by `manager` records into. Appliers have one
    /// entry whatever version they apply with; updaters have one per API version (upstream's
    /// manager identifier).
    pub fn is(&self, manager: &str, operation: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.is_none()
            && (operation == APPLY || self.api_version == api_version)
    }

    fn from_json(entry: &Value) -> Option<ManagedEntry> {
        let fields = entry.as_object()?;
        let text = |key: &str| fields.get(key).and_then(Value::as_str).map(str::to_string);
        let operation = text("operation").unwrap_or_default();
        Some(ManagedEntry {
            manager: text("manager").unwrap_or_default(),
            operation,
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            subresource: text("subresource").filter(|s| !s.is_empty()),
            set: fields
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("manager".into(), Value::from(self.manager.as_str()));
        out.insert("operation".into(), Value::from(self.operation.as_str()));
        out.insert("apiVersion".into(), Value::from(self.api_version.as_str()));
        if let Some(time) = &self.time {
            out.insert("time".into(), Value::from(time.as_str()));
        }
        out.insert("fieldsType".into(), Value::from("FieldsV1"));
        out.insert("fieldsV1".into(), self.set.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            out.insert("subresource".into(), Value::from(subresource.as_str()));
        }
        Value::Object(out)
    }
}

/// The stored `metadata.managedFields` of `object`, if it has a list there; entries that are
/// not objects are skipped.
pub(super) fn stored_entries(object: &Value) -> Option<Vec<ManagedEntry>> {
    let list = object.get("metadata")?.get("managedFields")?.as_array()?;
    Some(list.iter().filter_map(ManagedEntry::from_json).collect())
}

/// `object` without `metadata.managedFields`.
pub(super) fn without_managed_fields(object: &Value) -> Value {
    let mut out = object.clone();
    if let Some(Value::Object(metadata)) = out.get_mut("metadata") {
        metadata.shift_remove("managedFields");
    }
    out
}

/// Writes `entries` (empty ones dropped, in upstream's order: Apply before Update, then by
/// time, manager, version) into `object`'s metadata; no entries leave no `managedFields`.
pub(super) fn store_entries(object: &mut Value, mut entries: Vec<ManagedEntry>) {
    entries.retain(|e| !e.set.is_empty());
    cap_updaters(&mut entries);
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| seconds(a.time.as_deref()).cmp(&seconds(b.time.as_deref())))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Value::Object(root) = object else {
        return;
    };
    if entries.is_empty() {
        if let Some(Value::Object(metadata)) = root.get_mut("metadata") {
            metadata.shift_remove("managedFields");
        }
        return;
    }
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    if let Value::Object(metadata) = metadata {
        let list = entries.iter().map(ManagedEntry::to_json).collect();
        metadata.insert("managedFields".into(), Value::Array(list));
    }
}

fn seconds(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or(0)
}

/// Keeps the number of `Update` entries bounded, as upstream does, so an object written by
/// many short-lived clients does not grow without end: the oldest updater of an API version
/// becomes that version's `ancient-changes` entry, later ones fold into it.
fn cap_updaters(entries: &mut Vec<ManagedEntry>) {
    let is_bucket = |e: &ManagedEntry| e.manager == ANCIENT_CHANGES && e.subresource.is_none();
    loop {
        let updaters = entries.iter().filter(|e| e.operation == UPDATE).count();
        if updaters <= MAX_UPDATERS {
            return;
        }
        let oldest = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.operation == UPDATE && !is_bucket(e))
            .min_by_key(|(_, e)| seconds(e.time.as_deref()))
            .map(|(i, _)| i);
        let Some(oldest) = oldest else {
            return;
        };
        let victim = entries.remove(oldest);
        let bucket = entries
            .iter_mut()
            .find(|e| e.operation == UPDATE && is_bucket(e) && e.api_version == victim.api_version);
        match bucket {
            Some(bucket) => {
                bucket.set = bucket.set.union(&victim.set);
                if seconds(victim.time.as_deref()) > seconds(bucket.time.as_deref()) {
                    bucket.time = victim.time;
                }
            }
            None => entries.push(ManagedEntry {
                manager: ANCIENT_CHANGES.to_string(),
                subresource: None,
                ..victim
            }),
        }
    }
}
