//! Revision bookkeeping without I/O: revision annotations, which Deployment annotations a
//! ReplicaSet inherits, and which old ReplicaSets the history limit lets go.

use std::collections::BTreeMap;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `kubectl apply` bookkeeping; a ReplicaSet must not look like it was applied itself.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";
/// Upstream bounds the revision-history annotation; older entries fall off the front.
const MAX_HISTORY_CHARS: usize = 2000;

/// The revision recorded on an object; absent or garbage counts as 0.
pub fn revision(annotations: Option<&BTreeMap<String, String>>) -> i64 {
    annotations
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0)
}

/// Annotations a ReplicaSet takes from its Deployment (e.g. `kubernetes.io/change-cause`, which
/// `kubectl rollout history` shows).
pub fn inherited(deployment: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    deployment
        .into_iter()
        .flatten()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                LAST_APPLIED
                    | REVISION
                    | REVISION_HISTORY
                    | DESIRED_REPLICAS
                    | MAX_REPLICAS
                    | ROLLBACK_TO
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The annotations the new ReplicaSet should carry: inherited ones, the new revision (a set
/// brought back by a rollback remembers its previous revisions), and the replica counts.
pub fn new_rs_annotations(
    current: Option<&BTreeMap<String, String>>,
    deployment: Option<&BTreeMap<String, String>>,
    new_revision: i64,
    replicas: i32,
    max_replicas: i32,
) -> BTreeMap<String, String> {
    let mut out = current.cloned().unwrap_or_default();
    out.extend(inherited(deployment));
    let old = revision(current);
    if old < new_revision {
        if old > 0 {
            let mut history = out.get(REVISION_HISTORY).cloned().unwrap_or_default();
            if !history.is_empty() {
                history.push(',');
            }
            history.push_str(&old.to_string());
            while history.len() > MAX_HISTORY_CHARS {
                match history.find(',') {
                    Some(i) => history.drain(..=i),
                    None => history.drain(..),
                };
            }
            out.insert(REVISION_HISTORY.into(), history);
        }
        out.insert(REVISION.into(), new_revision.to_string());
    }
    out.insert(DESIRED_REPLICAS.into(), replicas.to_string());
    out.insert(MAX_REPLICAS.into(), max_replicas.to_string());
    out
}

/// What the cleanup needs of an old ReplicaSet.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub name: String,
    pub revision: i64,
    pub spec_replicas: i32,
    pub status_replicas: i32,
    pub deleting: bool,
    /// The set's controller has not yet seen its latest spec.
    pub unobserved: bool,
}

/// Old ReplicaSets to delete so at most `limit` remain, oldest revisions first; sets that still
/// have pods are kept whatever their age.
pub fn beyond_history_limit(old: &[HistoryEntry], limit: i32) -> Vec<String> {
    let mut candidates: Vec<&HistoryEntry> = old.iter().filter(|e| !e.deleting).collect();
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    if candidates.len() <= limit {
        return Vec::new();
    }
    let surplus = candidates.len() - limit;
    candidates.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| a.name.cmp(&b.name))
    });
    candidates
        .into_iter()
        .take(surplus)
        .filter(|e| e.spec_replicas == 0 && e.status_replicas == 0 && !e.unobserved)
        .map(|e| e.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn entry(name: &str, revision: i64, replicas: i32) -> HistoryEntry {
        HistoryEntry {
            name: name.into(),
            revision,
            spec_replicas: replicas,
            status_replicas: replicas,
            deleting: false,
            unobserved: false,
        }
    }

    #[test]
    fn garbage_revisions_count_as_zero() {
        assert_eq!(revision(Some(&ann(&[(REVISION, "7")]))), 7);
        assert_eq!(revision(Some(&ann(&[(REVISION, "seven")]))), 0);
        assert_eq!(revision(Some(&ann(&[(REVISION, "-2")]))), 0);
        assert_eq!(revision(None), 0);
    }

    #[test]
    fn change_cause_is_inherited_but_bookkeeping_is_not() {
        let d = ann(&[
            ("kubernetes.io/change-cause", "set image"),
            (REVISION, "4"),
            (LAST_APPLIED, "{}"),
        ]);
        let got = inherited(Some(&d));
        assert_eq!(got, ann(&[("kubernetes.io/change-cause", "set image")]));
    }

    #[test]
    fn a_rolled_back_set_gets_a_new_revision_and_remembers_the_old() {
        let current = ann(&[(REVISION, "1")]);
        let got = new_rs_annotations(Some(&current), None, 3, 3, 4);
        assert_eq!(got[REVISION], "3");
        assert_eq!(got[REVISION_HISTORY], "1");
        assert_eq!(got[DESIRED_REPLICAS], "3");
        assert_eq!(got[MAX_REPLICAS], "4");
        let again = new_rs_annotations(Some(&got), None, 5, 3, 4);
        assert_eq!(again[REVISION_HISTORY], "1,3");
    }

    #[test]
    fn a_current_revision_is_not_lowered() {
        let current = ann(&[(REVISION, "9")]);
        let got = new_rs_annotations(Some(&current), None, 4, 1, 2);
        assert_eq!(got[REVISION], "9");
        assert!(!got.contains_key(REVISION_HISTORY));
    }

    #[test]
    fn a_huge_history_is_trimmed_from_the_front() {
        let long = (1..2000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let current = ann(&[(REVISION, "2000"), (REVISION_HISTORY, &long)]);
        let got = new_rs_annotations(Some(&current), None, 2001, 1, 1);
        let h = &got[REVISION_HISTORY];
        assert!(h.len() <= MAX_HISTORY_CHARS);
        assert!(h.ends_with(",2000"));
    }

    #[test]
    fn the_oldest_empty_sets_beyond_the_limit_are_deleted() {
        let old = [entry("r3", 3, 0), entry("r1", 1, 0), entry("r2", 2, 0)];
        assert_eq!(
            beyond_history_limit(&old, 1),
            vec!["r1".to_string(), "r2".to_string()]
        );
        assert!(beyond_history_limit(&old, 3).is_empty());
        assert_eq!(beyond_history_limit(&old, -1).len(), 3);
    }

    #[test]
    fn sets_with_pods_or_being_deleted_are_not_deleted() {
        let mut gone = entry("r0", 0, 0);
        gone.deleting = true;
        let old = [gone, entry("r1", 1, 2), entry("r2", 2, 0)];
        assert!(beyond_history_limit(&old, 1).is_empty());
        assert_eq!(beyond_history_limit(&old, 0), vec!["r2".to_string()]);
    }
}
