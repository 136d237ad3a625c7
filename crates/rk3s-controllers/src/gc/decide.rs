//! Garbage-collection decisions without I/O: what to do with a dependent given the state of its
//! owners, and when an owner's `orphan`/`foregroundDeletion` finalizer may go.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// What an owner reference points at, as verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    Present,
    /// Not there, or there under another uid.
    Absent,
    /// Being deleted in the foreground: it waits for its dependents to go.
    WaitingForDependents,
    /// Could not be verified; nothing is deleted on a guess.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
}

#[derive(Debug, PartialEq)]
pub enum DependentAction {
    Keep,
    /// Drop the references with these uids (the object has a live owner left).
    RemoveRefs(Vec<String>),
    Delete(Propagation),
}

/// Decides a dependent's fate: kept while any owner is live (references to gone owners are
/// dropped), deleted once every owner is gone or waiting for it; a dependent that itself has
/// dependents goes in the foreground when an owner waits, so the wait covers the whole tree.
pub fn dependent_action(
    meta: &ObjectMeta,
    has_dependents: bool,
    state_of: impl Fn(&OwnerReference) -> OwnerState,
) -> DependentAction {
    let refs = meta.owner_references.as_deref().unwrap_or_default();
    if refs.is_empty() || meta.deletion_timestamp.is_some() {
        return DependentAction::Keep;
    }
    let states: Vec<(OwnerState, &OwnerReference)> =
        refs.iter().map(|r| (state_of(r), r)).collect();
    let unknown = states.iter().any(|(s, _)| *s == OwnerState::Unknown);
    let live = states.iter().any(|(s, _)| *s == OwnerState::Present);
    if unknown && !live {
        return DependentAction::Keep;
    }
    let of = |want: OwnerState| -> Vec<&OwnerReference> {
        states
            .iter()
            .filter(|(s, _)| *s == want)
            .map(|(_, r)| *r)
            .collect()
    };
    let solid = of(OwnerState::Present);
    let dangling = of(OwnerState::Absent);
    let waiting = of(OwnerState::WaitingForDependents);
    if !solid.is_empty() {
        if dangling.is_empty() && waiting.is_empty() {
            return DependentAction::Keep;
        }
        return DependentAction::RemoveRefs(
            dangling
                .iter()
                .chain(waiting.iter())
                .map(|r| r.uid.clone())
                .collect(),
        );
    }
    if !waiting.is_empty() && has_dependents {
        return DependentAction::Delete(Propagation::Foreground);
    }
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        Propagation::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    DependentAction::Delete(policy)
}

/// How an owner that is itself being deleted looks to its dependents.
pub fn state_of_live_owner(meta: &ObjectMeta) -> OwnerState {
    let foreground = meta
        .finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|f| f == FOREGROUND);
    if meta.deletion_timestamp.is_some() && foreground {
        OwnerState::WaitingForDependents
    } else {
        OwnerState::Present
    }
}

/// A dependent as the owner side sees it.
#[derive(Debug, Clone, Copy)]
pub struct DependentRef {
    /// The dependent's reference to this owner blocks the owner's foreground deletion.
    pub blocks: bool,
}

#[derive(Debug, PartialEq)]
pub enum OwnerAction {
    Nothing,
    /// Remove this owner's reference from every dependent (the `orphan` finalizer at work).
    UnlinkDependents,
    /// All done; take this finalizer off the owner.
    RemoveFinalizer(&'static str),
}

/// Decides for an owner under deletion: `orphan` unlinks its dependents and then goes;
/// `foregroundDeletion` goes once no blocking dependent is left.
pub fn owner_action(meta: &ObjectMeta, dependents: &[DependentRef]) -> OwnerAction {
    if meta.deletion_timestamp.is_none() {
        return OwnerAction::Nothing;
    }
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    if finalizers.iter().any(|f| f == ORPHAN) {
        return if dependents.is_empty() {
            OwnerAction::RemoveFinalizer(ORPHAN)
        } else {
            OwnerAction::UnlinkDependents
        };
    }
    if finalizers.iter().any(|f| f == FOREGROUND) && !dependents.iter().any(|d| d.blocks) {
        return OwnerAction::RemoveFinalizer(FOREGROUND);
    }
    OwnerAction::Nothing
}

/// The finalizer list without `finalizer`.
pub fn without_finalizer(meta: &ObjectMeta, finalizer: &str) -> Vec<String> {
    meta.finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect()
}

/// The owner references without those to the given uids.
pub fn without_refs(meta: &ObjectMeta, uids: &[String]) -> Vec<OwnerReference> {
    meta.owner_references
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|r| !uids.contains(&r.uid))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn oref(uid: &str, blocks: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: format!("rs-{uid}"),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(blocks),
        }
    }

    fn meta(refs: Vec<OwnerReference>, finalizers: &[&str]) -> ObjectMeta {
        ObjectMeta {
            name: Some("dep".into()),
            owner_references: Some(refs),
            finalizers: Some(finalizers.iter().map(|f| f.to_string()).collect()),
            ..Default::default()
        }
    }

    fn states(
        pairs: &'static [(&'static str, OwnerState)],
    ) -> impl Fn(&OwnerReference) -> OwnerState {
        move |r| {
            pairs
                .iter()
                .find(|(u, _)| *u == r.uid)
                .map(|(_, s)| *s)
                .unwrap_or(OwnerState::Unknown)
        }
    }

    #[test]
    fn a_dependent_of_a_gone_owner_is_deleted_in_the_background() {
        let m = meta(vec![oref("a", true)], &[]);
        let got = dependent_action(&m, false, states(&[("a", OwnerState::Absent)]));
        assert_eq!(got, DependentAction::Delete(Propagation::Background));
    }

    #[test]
    fn a_dependent_with_a_live_owner_only_loses_the_dangling_reference() {
        let m = meta(vec![oref("a", true), oref("b", false)], &[]);
        let got = dependent_action(
            &m,
            false,
            states(&[("a", OwnerState::Absent), ("b", OwnerState::Present)]),
        );
        assert_eq!(got, DependentAction::RemoveRefs(vec!["a".into()]));
        let all_live = dependent_action(
            &m,
            false,
            states(&[("a", OwnerState::Present), ("b", OwnerState::Present)]),
        );
        assert_eq!(all_live, DependentAction::Keep);
    }

    #[test]
    fn an_unverifiable_owner_keeps_the_dependent() {
        let m = meta(vec![oref("a", true), oref("x", true)], &[]);
        let got = dependent_action(&m, false, states(&[("a", OwnerState::Absent)]));
        assert_eq!(got, DependentAction::Keep);
    }

    #[test]
    fn a_waiting_owner_takes_its_dependents_and_their_dependents_in_the_foreground() {
        let m = meta(vec![oref("a", true)], &[]);
        let leaf = dependent_action(
            &m,
            false,
            states(&[("a", OwnerState::WaitingForDependents)]),
        );
        assert_eq!(leaf, DependentAction::Delete(Propagation::Background));
        let inner = dependent_action(&m, true, states(&[("a", OwnerState::WaitingForDependents)]));
        assert_eq!(inner, DependentAction::Delete(Propagation::Foreground));
    }

    #[test]
    fn the_dependents_own_finalizers_pick_the_policy() {
        let m = meta(vec![oref("a", true)], &[ORPHAN]);
        let got = dependent_action(&m, false, states(&[("a", OwnerState::Absent)]));
        assert_eq!(got, DependentAction::Delete(Propagation::Orphan));
    }

    #[test]
    fn objects_without_owners_or_already_deleting_are_left_alone() {
        let none = meta(vec![], &[]);
        assert_eq!(
            dependent_action(&none, false, |_| OwnerState::Absent),
            DependentAction::Keep
        );
        let mut deleting = meta(vec![oref("a", true)], &[]);
        deleting.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            dependent_action(&deleting, false, |_| OwnerState::Absent),
            DependentAction::Keep
        );
    }

    #[test]
    fn an_orphaning_owner_unlinks_then_drops_its_finalizer() {
        let mut m = meta(vec![], &[ORPHAN, "custom"]);
        assert_eq!(
            owner_action(&m, &[DependentRef { blocks: true }]),
            OwnerAction::Nothing
        );
        m.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            owner_action(&m, &[DependentRef { blocks: true }]),
            OwnerAction::UnlinkDependents
        );
        assert_eq!(owner_action(&m, &[]), OwnerAction::RemoveFinalizer(ORPHAN));
        assert_eq!(without_finalizer(&m, ORPHAN), vec!["custom".to_string()]);
    }

    #[test]
    fn a_foreground_owner_waits_only_for_blocking_dependents() {
        let mut m = meta(vec![], &[FOREGROUND]);
        m.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert_eq!(
            owner_action(&m, &[DependentRef { blocks: true }]),
            OwnerAction::Nothing
        );
        assert_eq!(
            owner_action(&m, &[DependentRef { blocks: false }]),
            OwnerAction::RemoveFinalizer(FOREGROUND)
        );
        assert_eq!(state_of_live_owner(&m), OwnerState::WaitingForDependents);
    }

    #[test]
    fn removing_references_keeps_the_others() {
        let m = meta(vec![oref("a", true), oref("b", false)], &[]);
        let left = without_refs(&m, &["a".to_string()]);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].uid, "b");
    }
}
