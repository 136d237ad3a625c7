//! Server-side apply and field ownership (`metadata.managedFields`), behaving as upstream's
//! structured-merge-diff does behind the API server. Entry points: [`apply`] for
//! `application/apply-patch+yaml` PATCHes, [`track_update`] for every other write.
//!
//! Each manager owns a set of fields (`FieldsV1`). Applying merges the configuration into the
//! live object (associative lists by key, sets by value, atomic lists and structs whole),
//! removes fields the applier owned before but no longer applies and nobody else owns, and
//! fails with [`ApplyError::Conflicts`] when it would change a field another manager owns,
//! unless forced (then the field changes hands). Equal values are shared, not conflicts.
//!
//! Left to the caller: for kinds with a status subresource, written through the main resource,
//! remove `status` from the applied configuration (for [`apply`]) or copy the old `status`
//! into the new object (for [`track_update`]) first, as upstream resets those fields; status
//! then neither changes nor gets tracked. Likewise for writes through `/status`, with `spec`.
//! The caller also checks `metadata.resourceVersion` preconditions and that name and namespace
//! match the request; server-assigned metadata (uid, creationTimestamp, …) keeps its live value.

mod fieldset;
mod managed;
mod members;
mod merge;

use std::fmt;

use serde_json::{Map, Value};

use crate::patch::SchemaNav;
use fieldset::{FieldSet, display_path};
use managed::{APPLY, ManagedEntry, UPDATE, store_entries, stored_entries, without_managed_fields};
use members::{Comparison, compare, members, to_set};

/// The manager that takes over every field of an object that had no `managedFields` when it
/// is first applied to, as upstream does; applying different values then conflicts with it.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One server-side apply request.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    /// The current object, `metadata.managedFields` included; `None` to create.
    pub live: Option<&'a Value>,
    /// The apply configuration (the PATCH body).
    pub applied: &'a Value,
    /// The `fieldManager` query parameter.
    pub manager: &'a str,
    /// The `force` query parameter: take conflicting fields instead of failing.
    pub force: bool,
    /// The request's `group/version` (`v1` for the core group).
    pub api_version: &'a str,
    /// The time to record, RFC 3339 (`2024-05-01T12:00:00Z`).
    pub now: &'a str,
    /// The kind's schema; `SchemaNav::default()` for kinds without one (every list is then
    /// atomic).
    pub schema: &'a SchemaNav,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The configuration changes fields other managers own (HTTP 409, reason `Conflict`, one
    /// `FieldManagerConflict` cause per conflict).
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration is not an object, sets `managedFields`, or has a list whose items
    /// cannot be told apart (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

/// A field the applier would change but another manager owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owning manager's name.
    pub manager: String,
    /// The field, as upstream prints it: `.spec.replicas`,
    /// `.spec.template.spec.containers[name="web"].image`.
    pub field: String,
    /// The owner's operation, `Apply` or `Update`.
    pub operation: String,
    /// The API version the owner wrote with.
    pub api_version: String,
}

impl Conflict {
    /// The owner as upstream names it in messages: `"kubectl"` for an applier,
    /// `"kubectl-client-side-apply" using apps/v1` for an updater. The cause of a 409 has
    /// message `conflict with <this>` and field [`Conflict::field`].
    pub fn owner(&self) -> String {
        if self.operation == UPDATE {
            format!("{:?} using {}", self.manager, self.api_version)
        } else {
            format!("{:?}", self.manager)
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict with {}: {}", self.owner(), self.field)
    }
}

fn conflicts_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!("Apply failed with 1 conflict: {only}");
    }
    let mut owners: Vec<String> = conflicts.iter().map(Conflict::owner).collect();
    owners.sort();
    owners.dedup();
    let mut lines = Vec::new();
    for owner in owners {
        lines.push(format!("conflicts with {owner}:"));
        for conflict in conflicts.iter().filter(|c| c.owner() == owner) {
            lines.push(format!("- {}", conflict.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Applies `req.applied` for `req.manager` and returns the new object with its
/// `metadata.managedFields` updated. An apply that changes nothing returns the live object
/// unchanged, times included (the manager's field set may still change, e.g. to share a field).
pub fn apply(req: &ApplyRequest<'_>) -> Result<Value, ApplyError> {
    let Value::Object(applied) = req.applied else {
        return Err(ApplyError::Invalid(
            "the apply configuration must be an object".to_string(),
        ));
    };
    if applied.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApplyError::Invalid(
            "metadata must be an object".to_string(),
        ));
    }
    let managed = applied.get("metadata").and_then(|m| m.get("managedFields"));
    if managed.is_some_and(|m| !(m.is_null() || m.as_array().is_some_and(Vec::is_empty))) {
        return Err(ApplyError::Invalid(
            "metadata.managedFields must be nil".to_string(),
        ));
    }
    let root = req.schema.root();
    let applied_set = to_set(&members(req.applied, root, true).map_err(ApplyError::Invalid)?);

    let live = match req.live {
        Some(live) => without_managed_fields(live),
        None => Value::Object(Map::new()),
    };
    let live_members = members(&live, root, false).unwrap_or_default();
    let mut entries = req.live.and_then(stored_entries).unwrap_or_default();
    if req.live.is_some() && entries.is_empty() {
        let mut seed = ManagedEntry::new(BEFORE_FIRST_APPLY, UPDATE, req.api_version);
        seed.set = to_set(&live_members);
        seed.time = Some(req.now.to_string());
        entries.push(seed);
    }

    let mut result = merge::merge(&live, applied, root).map_err(ApplyError::Invalid)?;
    let me = match entries
        .iter()
        .position(|e| e.is(req.manager, APPLY, req.api_version))
    {
        Some(i) => i,
        None => {
            entries.push(ManagedEntry::new(req.manager, APPLY, req.api_version));
            entries.len() - 1
        }
    };
    let last = std::mem::replace(&mut entries[me].set, applied_set);
    entries[me].api_version = req.api_version.to_string();
    let owned = entries
        .iter()
        .fold(FieldSet::default(), |all, e| all.union(&e.set));
    merge::prune(&mut result, &last, &owned, root);

    let result_members = members(&result, root, false).unwrap_or_default();
    let comparison = compare(&live_members, &result_members);
    let conflicts = conflicting(&entries, &comparison, Some(me));
    if !req.force && !conflicts.is_empty() {
        return Err(ApplyError::Conflicts(describe(&entries, &conflicts)));
    }
    drop(result_members);
    hand_over(&mut entries, &comparison, &conflicts, Some(me));

    if result != live || entries[me].time.is_none() {
        entries[me].time = Some(req.now.to_string());
    }
    store_entries(&mut result, entries);
    Ok(result)
}

/// Records a non-apply write (create, update, patch) by `manager`: the fields that differ
/// between `old` (`None` for a create) and `new` become `manager`'s (operation `Update`, one
/// entry per API version) and leave every other manager's set. Returns `new` with its
/// `metadata.managedFields` updated.
///
/// `managedFields` sent in `new` replace the stored ones (how clients reset them); when `new`
/// has none, `old`'s are kept. An existing object without any is left untracked, as upstream
/// leaves objects that predate field management.
pub fn track_update(
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    now: &str,
    schema: &SchemaNav,
) -> Value {
    if !new.is_object() {
        return new.clone();
    }
    let root = schema.root();
    let mut result = without_managed_fields(new);
    let mut entries = match stored_entries(new) {
        Some(sent) if !sent.is_empty() => sent,
        _ => {
            let stored = old.and_then(stored_entries).unwrap_or_default();
            if old.is_some() && stored.is_empty() {
                return result;
            }
            stored
        }
    };
    let old = match old {
        Some(old) => without_managed_fields(old),
        None => Value::Object(Map::new()),
    };
    let old_members = members(&old, root, false).unwrap_or_default();
    let new_members = members(&result, root, false).unwrap_or_default();
    let comparison = compare(&old_members, &new_members);
    drop((old_members, new_members));

    // The manager's own entry loses what it removed like any other, then gains what changed.
    let conflicts = conflicting(&entries, &comparison, None);
    hand_over(&mut entries, &comparison, &conflicts, None);
    let gained = comparison.changed();
    if !gained.is_empty() {
        match entries
            .iter_mut()
            .find(|e| e.is(manager, UPDATE, api_version))
        {
            Some(entry) => {
                entry.set = entry.set.union(&gained);
                entry.time = Some(now.to_string());
            }
            None => {
                let mut entry = ManagedEntry::new(manager, UPDATE, api_version);
                entry.set = gained;
                entry.time = Some(now.to_string());
                entries.push(entry);
            }
        }
    }
    store_entries(&mut result, entries);
    result
}

/// For each entry other than `me`, the fields it owns that the write changes.
fn conflicting(
    entries: &[ManagedEntry],
    comparison: &Comparison,
    me: Option<usize>,
) -> Vec<(usize, FieldSet)> {
    let changed = comparison.changed();
    entries
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != me)
        .map(|(i, e)| (i, e.set.intersection(&changed)))
        .filter(|(_, set)| !set.is_empty())
        .collect()
}

/// Takes the changed fields from their previous owners, and removed fields from everyone.
fn hand_over(
    entries: &mut [ManagedEntry],
    comparison: &Comparison,
    conflicts: &[(usize, FieldSet)],
    me: Option<usize>,
) {
    for (i, taken) in conflicts {
        if let Some(entry) = entries.get_mut(*i) {
            entry.set = entry.set.difference(taken);
        }
    }
    for (i, entry) in entries.iter_mut().enumerate() {
        if Some(i) != me {
            entry.set = entry.set.difference(&comparison.removed);
        }
    }
}

fn describe(entries: &[ManagedEntry], conflicts: &[(usize, FieldSet)]) -> Vec<Conflict> {
    let mut out: Vec<Conflict> = conflicts
        .iter()
        .filter_map(|(i, set)| entries.get(*i).map(|e| (e, set)))
        .flat_map(|(entry, set)| {
            set.paths().into_iter().map(move |path| Conflict {
                manager: entry.manager.clone(),
                field: display_path(&path),
                operation: entry.operation.clone(),
                api_version: entry.api_version.clone(),
            })
        })
        .collect();
    out.sort_by_key(Conflict::owner);
    out
}

#[cfg(test)]
mod tests;
