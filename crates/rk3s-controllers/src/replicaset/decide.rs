//! ReplicaSet decisions without I/O: which pods to claim, create or delete, and the status to report.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use rk3s_core::selectors::LabelSelector;

use crate::pods;

/// Upstream creates and deletes at most this many pods per sync, so one huge scale-up cannot
/// flood the API in a single pass.
pub const BURST_REPLICAS: usize = 500;

/// Annotation a user sets to steer which pods a scale-down removes first (lower cost first).
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecideError {
    #[error("replica set has no name, namespace or uid")]
    MissingIdentity,
    #[error("replica set has no pod template")]
    MissingTemplate,
}

/// How the pods matching a selector relate to one controller.
#[derive(Debug, Default)]
pub struct Claim<'a> {
    /// Pods already controlled by the owner.
    pub owned: Vec<&'a Pod>,
    /// Orphans that match and should be adopted.
    pub adopt: Vec<&'a Pod>,
}

/// Splits `pods` (already filtered by the selector) into owned and adoptable ones.
/// Pods controlled by someone else are left alone; an owner being deleted adopts nothing.
pub fn claim<'a>(
    owner_uid: &str,
    selector: &LabelSelector,
    owner_deleting: bool,
    pods: impl IntoIterator<Item = &'a Pod>,
) -> Claim<'a> {
    let mut out = Claim::default();
    for pod in pods {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        match controller_of(&pod.metadata) {
            Some(r) if r.uid == owner_uid => out.owned.push(pod),
            Some(_) => {}
            None => {
                if !owner_deleting
                    && pod.metadata.deletion_timestamp.is_none()
                    && selector.matches(&labels)
                {
                    out.adopt.push(pod);
                }
            }
        }
    }
    out
}

/// The controller reference of an object, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()
        .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
}

/// The owner reference a controller puts on what it creates or adopts.
pub fn controller_ref(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What a sync should do about the number of pods.
#[derive(Debug, PartialEq)]
pub enum ScaleAction {
    Nothing,
    Create(usize),
    /// Names of the pods to delete, most expendable first.
    Delete(Vec<String>),
}

/// Compares the active pods with the wanted count.
pub fn scale_action(replicas: i32, active: &[&Pod], now: Timestamp) -> ScaleAction {
    let want = usize::try_from(replicas.max(0)).unwrap_or(0);
    match active.len().cmp(&want) {
        Ordering::Equal => ScaleAction::Nothing,
        Ordering::Less => ScaleAction::Create((want - active.len()).min(BURST_REPLICAS)),
        Ordering::Greater => {
            let surplus = (active.len() - want).min(BURST_REPLICAS);
            let ranked = rank_for_deletion(active, now);
            ScaleAction::Delete(
                ranked
                    .into_iter()
                    .take(surplus)
                    .filter_map(|p| p.metadata.name.clone())
                    .collect(),
            )
        }
    }
}

/// Orders pods so that the cheapest to lose come first, as upstream does: unscheduled before
/// scheduled, pending before unknown before running, not ready before ready, lower deletion cost
/// first, pods doubled up on a node first, recently ready before long ready, more restarts first,
/// newer before older.
pub fn rank_for_deletion<'a>(pods: &[&'a Pod], now: Timestamp) -> Vec<&'a Pod> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for p in pods {
        if let Some(n) = node_of(p) {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let mut ranked: Vec<&Pod> = pods.to_vec();
    ranked.sort_by(|a, b| compare_for_deletion(a, b, &per_node, now));
    ranked
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn phase_rank(p: &Pod) -> u8 {
    match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 3,
    }
}

fn deletion_cost(p: &Pod) -> i64 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse::<i32>().ok())
        .map(i64::from)
        .unwrap_or(0)
}

fn restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

fn compare_for_deletion(
    a: &Pod,
    b: &Pod,
    per_node: &HashMap<&str, usize>,
    _now: Timestamp,
) -> Ordering {
    let scheduled = |p: &Pod| node_of(p).is_some();
    let colocated = |p: &Pod| {
        node_of(p)
            .and_then(|n| per_node.get(n))
            .copied()
            .unwrap_or(0)
    };
    scheduled(a)
        .cmp(&scheduled(b))
        .then_with(|| phase_rank(a).cmp(&phase_rank(b)))
        .then_with(|| pods::is_ready(a).cmp(&pods::is_ready(b)))
        .then_with(|| deletion_cost(a).cmp(&deletion_cost(b)))
        // More pods of this set on the same node: that node loses one first.
        .then_with(|| colocated(b).cmp(&colocated(a)))
        // Ready more recently goes first; a missing time counts as the most recent.
        .then_with(|| match (pods::ready_since(a), pods::ready_since(b)) {
            (Some(x), Some(y)) => y.cmp(&x),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| restarts(b).cmp(&restarts(a)))
        .then_with(|| {
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            match (created(a), created(b)) {
                (Some(x), Some(y)) => y.cmp(&x),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        })
}

/// The status a ReplicaSet reports for its active pods. Upstream keeps conditions it does not
/// manage, so they are carried over.
pub fn status(rs: &ReplicaSet, active: &[&Pod], now: Timestamp) -> ReplicaSetStatus {
    let spec = rs.spec.as_ref();
    let min_ready = spec.and_then(|s| s.min_ready_seconds).unwrap_or(0);
    let template_labels: BTreeMap<String, String> = spec
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            template_labels
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .count();
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    ReplicaSetStatus {
        replicas: count(active.len()),
        fully_labeled_replicas: Some(count(fully_labeled)),
        ready_replicas: Some(count(active.iter().filter(|p| pods::is_ready(p)).count())),
        available_replicas: Some(count(
            active
                .iter()
                .filter(|p| pods::is_available(p, min_ready, now))
                .count(),
        )),
        observed_generation: rs.metadata.generation,
        conditions: rs.status.as_ref().and_then(|s| s.conditions.clone()),
        terminating_replicas: rs.status.as_ref().and_then(|s| s.terminating_replicas),
    }
}

/// Condition type a set shows while it cannot create the pods it needs (quota, admission).
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Sets the `ReplicaFailure` condition (reason `FailedCreate`) after a failed creation, and
/// removes it after a sync that needed none or succeeded.
pub fn set_replica_failure(status: &mut ReplicaSetStatus, failure: Option<&str>, now: Timestamp) {
    let mut conds: Vec<ReplicaSetCondition> = status.conditions.take().unwrap_or_default();
    match failure {
        Some(message) => {
            let unchanged = conds
                .iter()
                .any(|c| c.type_ == REPLICA_FAILURE && c.message.as_deref() == Some(message));
            if !unchanged {
                conds.retain(|c| c.type_ != REPLICA_FAILURE);
                conds.push(ReplicaSetCondition {
                    type_: REPLICA_FAILURE.into(),
                    status: "True".into(),
                    reason: Some("FailedCreate".into()),
                    message: Some(message.into()),
                    last_transition_time: Some(Time(now)),
                });
            }
        }
        None => conds.retain(|c| c.type_ != REPLICA_FAILURE),
    }
    status.conditions = (!conds.is_empty()).then_some(conds);
}

/// The earliest time a ready pod becomes available, so the status can be refreshed then.
pub fn next_availability_check(
    rs: &ReplicaSet,
    active: &[&Pod],
    now: Timestamp,
) -> Option<std::time::Duration> {
    let min_ready = rs
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    active
        .iter()
        .filter_map(|p| pods::until_available(p, min_ready, now))
        .min()
}

/// A new pod from the ReplicaSet's template, controlled by the set.
pub fn pod_from_template(rs: &ReplicaSet) -> Result<Pod, DecideError> {
    let (Some(name), Some(ns), Some(uid)) = (
        rs.metadata.name.as_deref(),
        rs.metadata.namespace.as_deref(),
        rs.metadata.uid.as_deref(),
    ) else {
        return Err(DecideError::MissingIdentity);
    };
    let template = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .ok_or(DecideError::MissingTemplate)?;
    let tmeta = template.metadata.clone().unwrap_or_default();
    let meta = ObjectMeta {
        generate_name: Some(format!("{name}-")),
        namespace: Some(ns.into()),
        labels: tmeta.labels,
        annotations: tmeta.annotations,
        finalizers: tmeta.finalizers,
        owner_references: Some(vec![controller_ref("apps/v1", "ReplicaSet", name, uid)]),
        ..Default::default()
    };
    Ok(Pod {
        metadata: meta,
        spec: template.spec.clone(),
        status: None,
    })
}

/// A pod controlled by the set with `owner_uid` whose labels the set no longer selects.
pub fn should_release(pod: &Pod, owner_uid: &str, selector: &LabelSelector) -> bool {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    controller_of(&pod.metadata).is_some_and(|r| r.uid == owner_uid) && !selector.matches(&labels)
}

/// The owner references of `pod` without the one to `owner_uid`.
pub fn released_refs(pod: &Pod, owner_uid: &str) -> Vec<OwnerReference> {
    pod.metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner_uid)
        .collect()
}

/// The owner references of `pod` after `owner` adopts it (other, non-controller references kept).
pub fn adopted_refs(pod: &Pod, owner: OwnerReference) -> Vec<OwnerReference> {
    let mut refs: Vec<OwnerReference> = pod
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.uid != owner.uid)
        .collect();
    refs.push(owner);
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::{pod, ts};
    use k8s_openapi::api::apps::v1::ReplicaSetSpec;
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

    fn on_node(mut p: Pod, node: &str) -> Pod {
        p.spec.get_or_insert_with(PodSpec::default).node_name = Some(node.into());
        p
    }

    fn names(pods: &[&Pod]) -> Vec<String> {
        pods.iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    }

    fn labeled(mut p: Pod, k: &str, v: &str) -> Pod {
        p.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        p
    }

    fn rs(replicas: i32) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web-abc".into());
        rs.metadata.namespace = Some("default".into());
        rs.metadata.uid = Some("rs-uid".into());
        rs.metadata.generation = Some(4);
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "web".to_string());
        rs.spec = Some(ReplicaSetSpec {
            replicas: Some(replicas),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec::default()),
            }),
            ..Default::default()
        });
        rs
    }

    #[test]
    fn unscheduled_pending_unready_pods_are_deleted_first() {
        let running_ready = on_node(pod("running-ready", 1, "Running", Some(2)), "n1");
        let running = on_node(pod("running", 1, "Running", None), "n2");
        let pending = on_node(pod("pending", 1, "Pending", None), "n3");
        let unscheduled = pod("unscheduled", 1, "Pending", None);
        let all = [&running_ready, &running, &pending, &unscheduled];
        let ranked = rank_for_deletion(&all, ts(10));
        assert_eq!(
            names(&ranked),
            ["unscheduled", "pending", "running", "running-ready"]
        );
    }

    #[test]
    fn among_equal_pods_the_newer_goes_first() {
        let old = on_node(pod("old", 1, "Running", Some(5)), "n1");
        let new = on_node(pod("new", 3, "Running", Some(5)), "n2");
        let ranked = rank_for_deletion(&[&old, &new], ts(10));
        assert_eq!(names(&ranked), ["new", "old"]);
    }

    #[test]
    fn recently_ready_goes_before_long_ready() {
        let long = on_node(pod("long", 5, "Running", Some(6)), "n1");
        let recent = on_node(pod("recent", 1, "Running", Some(9)), "n2");
        let ranked = rank_for_deletion(&[&long, &recent], ts(10));
        assert_eq!(names(&ranked), ["recent", "long"]);
    }

    #[test]
    fn deletion_cost_and_doubled_up_nodes_are_honoured() {
        let mut cheap = on_node(pod("cheap", 1, "Running", Some(2)), "n1");
        cheap
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_DELETION_COST.into(), "-5".into());
        let alone = on_node(pod("alone", 9, "Running", Some(2)), "n2");
        let twin_a = on_node(pod("twin-a", 1, "Running", Some(2)), "n3");
        let twin_b = on_node(pod("twin-b", 1, "Running", Some(2)), "n3");
        let ranked = rank_for_deletion(&[&alone, &twin_a, &cheap, &twin_b], ts(10));
        assert_eq!(names(&ranked)[0], "cheap");
        assert!(names(&ranked)[1].starts_with("twin"));
        assert_eq!(names(&ranked)[3], "alone");
    }

    #[test]
    fn a_garbage_deletion_cost_counts_as_zero() {
        let mut p = pod("p", 1, "Running", None);
        p.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_DELETION_COST.into(), "lots".into());
        assert_eq!(deletion_cost(&p), 0);
    }

    #[test]
    fn scale_action_creates_the_missing_and_deletes_the_surplus() {
        let a = pod("a", 1, "Running", None);
        let b = pod("b", 2, "Pending", None);
        assert_eq!(scale_action(3, &[&a, &b], ts(5)), ScaleAction::Create(1));
        assert_eq!(scale_action(2, &[&a, &b], ts(5)), ScaleAction::Nothing);
        assert_eq!(
            scale_action(1, &[&a, &b], ts(5)),
            ScaleAction::Delete(vec!["b".into()])
        );
        assert_eq!(
            scale_action(-4, &[&a], ts(5)),
            ScaleAction::Delete(vec!["a".into()])
        );
        assert_eq!(
            scale_action(100_000, &[], ts(5)),
            ScaleAction::Create(BURST_REPLICAS)
        );
    }

    #[test]
    fn claim_adopts_matching_orphans_but_not_pods_of_other_controllers() {
        let sel = LabelSelector::parse("app=web").unwrap();
        let mine = {
            let mut p = labeled(pod("mine", 1, "Running", None), "app", "web");
            p.metadata.owner_references =
                Some(vec![controller_ref("apps/v1", "ReplicaSet", "x", "rs-uid")]);
            p
        };
        let theirs = {
            let mut p = labeled(pod("theirs", 1, "Running", None), "app", "web");
            p.metadata.owner_references =
                Some(vec![controller_ref("apps/v1", "ReplicaSet", "y", "other")]);
            p
        };
        let orphan = labeled(pod("orphan", 1, "Running", None), "app", "web");
        let stranger = labeled(pod("stranger", 1, "Running", None), "app", "db");
        let all = [mine, theirs, orphan, stranger];
        let c = claim("rs-uid", &sel, false, &all);
        assert_eq!(names(&c.owned), ["mine"]);
        assert_eq!(names(&c.adopt), ["orphan"]);
        let deleting = claim("rs-uid", &sel, true, &all);
        assert!(deleting.adopt.is_empty());
    }

    #[test]
    fn status_counts_ready_available_and_fully_labeled_pods() {
        let mut set = rs(3);
        if let Some(s) = set.spec.as_mut() {
            s.min_ready_seconds = Some(10);
        }
        let a = labeled(pod("a", 1, "Running", Some(0)), "app", "web");
        let b = labeled(pod("b", 1, "Running", Some(95)), "app", "web");
        let c = pod("c", 1, "Pending", None);
        let st = status(&set, &[&a, &b, &c], ts(100));
        assert_eq!(st.replicas, 3);
        assert_eq!(st.fully_labeled_replicas, Some(2));
        assert_eq!(st.ready_replicas, Some(2));
        assert_eq!(st.available_replicas, Some(1));
        assert_eq!(st.observed_generation, Some(4));
        assert_eq!(
            next_availability_check(&set, &[&a, &b, &c], ts(100)),
            Some(std::time::Duration::from_secs(5))
        );
    }

    #[test]
    fn pods_from_the_template_are_controlled_by_the_set() {
        let p = pod_from_template(&rs(1)).unwrap();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        let r = controller_of(&p.metadata).unwrap();
        assert_eq!((r.uid.as_str(), r.kind.as_str()), ("rs-uid", "ReplicaSet"));
        assert_eq!(r.block_owner_deletion, Some(true));
        assert_eq!(p.metadata.labels.unwrap()["app"], "web");
    }

    #[test]
    fn a_set_without_template_or_identity_makes_no_pods() {
        let mut no_template = rs(1);
        if let Some(s) = no_template.spec.as_mut() {
            s.template = None;
        }
        assert_eq!(
            pod_from_template(&no_template).unwrap_err(),
            DecideError::MissingTemplate
        );
        let mut anonymous = rs(1);
        anonymous.metadata.uid = None;
        assert_eq!(
            pod_from_template(&anonymous).unwrap_err(),
            DecideError::MissingIdentity
        );
    }

    #[test]
    fn a_failed_creation_sets_replica_failure_until_a_clean_sync() {
        let mut st = ReplicaSetStatus::default();
        set_replica_failure(&mut st, Some("exceeded quota: q"), ts(1));
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.reason.as_deref()),
            (REPLICA_FAILURE, Some("FailedCreate"))
        );
        // The same failure again keeps the original time.
        set_replica_failure(&mut st, Some("exceeded quota: q"), ts(9));
        assert_eq!(
            st.conditions.as_ref().unwrap()[0].last_transition_time,
            Some(Time(ts(1)))
        );
        set_replica_failure(&mut st, None, ts(10));
        assert_eq!(st.conditions, None);
    }

    #[test]
    fn a_relabelled_pod_is_released_but_a_matching_or_foreign_one_is_not() {
        let sel = LabelSelector::parse("app=web").unwrap();
        let mut p = labeled(pod("p", 1, "Running", None), "app", "debug");
        p.metadata.owner_references =
            Some(vec![controller_ref("apps/v1", "ReplicaSet", "x", "rs-uid")]);
        assert!(should_release(&p, "rs-uid", &sel));
        assert!(!should_release(&p, "other-uid", &sel));
        assert!(released_refs(&p, "rs-uid").is_empty());
        let matching = labeled(p.clone(), "app", "web");
        assert!(!should_release(&matching, "rs-uid", &sel));
    }

    #[test]
    fn adoption_replaces_a_stale_reference_to_the_same_owner() {
        let mut p = pod("p", 1, "Running", None);
        let mut stale = controller_ref("apps/v1", "ReplicaSet", "x", "rs-uid");
        stale.controller = Some(false);
        let other = OwnerReference {
            uid: "cm".into(),
            kind: "ConfigMap".into(),
            name: "c".into(),
            api_version: "v1".into(),
            ..Default::default()
        };
        p.metadata.owner_references = Some(vec![stale, other]);
        let refs = adopted_refs(&p, controller_ref("apps/v1", "ReplicaSet", "x", "rs-uid"));
        assert_eq!(refs.len(), 2);
        assert_eq!(
            refs.iter().filter(|r| r.controller == Some(true)).count(),
            1
        );
    }
}
