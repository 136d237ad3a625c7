//! StatefulSet decisions without I/O: ordinals, the pods and claims of each ordinal, what a sync
//! does next (OrderedReady or Parallel, RollingUpdate with a partition, OnDelete) and status.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use super::revision::REVISION_LABEL;
use crate::pods;
use crate::replicaset::decide::{BURST_REPLICAS, controller_ref};

/// Pod label with the pod's own name, so a Service can select one member.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Pod label with the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("stateful set has no name, namespace or uid")]
    MissingIdentity,
    #[error("stateful set has no spec")]
    MissingSpec,
}

/// The ordinal of a pod named `<set>-<ordinal>`, if the name has that shape.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros would give two names for one ordinal.
    if rest.len() > 1 && rest.starts_with('0') {
        return None;
    }
    rest.parse::<i32>().ok()
}

/// How a set updates its pods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    RollingUpdate { partition: i32 },
    OnDelete,
}

/// The settings of a set a sync works from, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub replicas: i32,
    pub start: i32,
    pub parallel: bool,
    pub strategy: Strategy,
    pub min_ready_seconds: i32,
    pub delete_claims_on_scale_down: bool,
    pub delete_claims_with_set: bool,
}

impl Settings {
    pub fn of(sts: &StatefulSet) -> Settings {
        let spec = sts.spec.as_ref();
        let strategy = spec.and_then(|s| s.update_strategy.as_ref());
        let policy = spec.and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
        Settings {
            replicas: spec.and_then(|s| s.replicas).unwrap_or(1).max(0),
            start: spec
                .and_then(|s| s.ordinals.as_ref())
                .and_then(|o| o.start)
                .unwrap_or(0)
                .max(0),
            parallel: spec.and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel"),
            strategy: match strategy.and_then(|s| s.type_.as_deref()) {
                Some("OnDelete") => Strategy::OnDelete,
                _ => Strategy::RollingUpdate {
                    partition: strategy
                        .and_then(|s| s.rolling_update.as_ref())
                        .and_then(|r| r.partition)
                        .unwrap_or(0)
                        .max(0),
                },
            },
            min_ready_seconds: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
            delete_claims_on_scale_down: policy.and_then(|p| p.when_scaled.as_deref())
                == Some("Delete"),
            delete_claims_with_set: policy.and_then(|p| p.when_deleted.as_deref())
                == Some("Delete"),
        }
    }

    fn end(&self) -> i32 {
        self.start.saturating_add(self.replicas)
    }
}

/// The revision a pod was made from (the value of its `controller-revision-hash` label).
pub fn revision_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
}

fn terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

fn finished(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed" | "Succeeded")
    )
}

/// Running and Ready, the bar OrderedReady sets before touching the next ordinal.
pub fn healthy(p: &Pod) -> bool {
    !terminating(p)
        && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
        && pods::is_ready(p)
}

/// One step of a sync.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create the pod (and its missing claims) of an ordinal, from the current revision when
    /// `current` (below the partition) or else the update revision.
    Create { ordinal: i32, current: bool },
    /// Delete a pod: finished, condemned by a scale-down, or outdated in a rolling update.
    Delete {
        name: String,
        ordinal: i32,
        condemned: bool,
    },
}

/// What this sync does, in order. OrderedReady stops at the first pod that is not yet Running
/// and Ready; Parallel does every create and delete at once. Rolling updates replace one pod at
/// a time, highest ordinal first, down to the partition.
pub fn plan(
    s: &Settings,
    owned: &[(i32, &Pod)],
    current_revision: &str,
    update_revision: &str,
) -> Vec<Step> {
    let mut slots: BTreeMap<i32, &Pod> = BTreeMap::new();
    let mut condemned: Vec<(i32, &Pod)> = Vec::new();
    for &(ord, pod) in owned {
        if ord >= s.start && ord < s.end() {
            // Two pods cannot share a name, so one per ordinal.
            slots.insert(ord, pod);
        } else {
            condemned.push((ord, pod));
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut steps = Vec::new();
    let below_partition = |ord: i32| match s.strategy {
        Strategy::RollingUpdate { partition } => {
            ord < s.start.saturating_add(partition) && current_revision != update_revision
        }
        Strategy::OnDelete => false,
    };
    for ord in s.start..s.end() {
        // A huge Parallel set is filled over several syncs, as upstream's burst limit does.
        if steps.len() >= BURST_REPLICAS {
            return steps;
        }
        match slots.get(&ord) {
            None => {
                steps.push(Step::Create {
                    ordinal: ord,
                    current: below_partition(ord),
                });
                if !s.parallel {
                    return steps;
                }
            }
            Some(p) if finished(p) && !terminating(p) => {
                steps.push(Step::Delete {
                    name: p.metadata.name.clone().unwrap_or_default(),
                    ordinal: ord,
                    condemned: false,
                });
                if !s.parallel {
                    return steps;
                }
            }
            Some(p) if !healthy(p) && !s.parallel => return steps,
            Some(_) => {}
        }
    }
    for (ord, pod) in &condemned {
        if terminating(pod) {
            if !s.parallel {
                return steps;
            }
            continue;
        }
        steps.push(Step::Delete {
            name: pod.metadata.name.clone().unwrap_or_default(),
            ordinal: *ord,
            condemned: true,
        });
        if !s.parallel {
            return steps;
        }
    }
    let Strategy::RollingUpdate { partition } = s.strategy else {
        return steps;
    };
    if !steps.is_empty() {
        return steps;
    }
    let floor = s.start.saturating_add(partition);
    for ord in (s.start..s.end()).rev() {
        if ord < floor {
            break;
        }
        let Some(p) = slots.get(&ord) else {
            return steps;
        };
        if revision_of(p) != Some(update_revision) && !terminating(p) {
            steps.push(Step::Delete {
                name: p.metadata.name.clone().unwrap_or_default(),
                ordinal: ord,
                condemned: false,
            });
            return steps;
        }
        if !healthy(p) {
            return steps;
        }
    }
    steps
}

/// Name of the claim of `template` for one ordinal.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

/// The pod of one ordinal made from `template` at `revision`.
pub fn pod_for(
    sts: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Result<Pod, PlanError> {
    let (Some(set), Some(ns), Some(uid)) = (
        sts.metadata.name.as_deref(),
        sts.metadata.namespace.as_deref(),
        sts.metadata.uid.as_deref(),
    ) else {
        return Err(PlanError::MissingIdentity);
    };
    let spec = sts.spec.as_ref().ok_or(PlanError::MissingSpec)?;
    let name = format!("{set}-{ordinal}");
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut pod_spec = template.spec.clone().unwrap_or_default();
    pod_spec.hostname = Some(name.clone());
    if let Some(svc) = spec.service_name.as_deref().filter(|s| !s.is_empty()) {
        pod_spec.subdomain = Some(svc.into());
    }
    let claims = spec.volume_claim_templates.as_deref().unwrap_or(&[]);
    if !claims.is_empty() {
        let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
        for c in claims {
            let Some(tname) = c.metadata.name.as_deref() else {
                continue;
            };
            // A claim template replaces a template volume of the same name, as upstream does.
            volumes.retain(|v| v.name != tname);
            volumes.push(Volume {
                name: tname.into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim_name(tname, set, ordinal),
                    read_only: None,
                }),
                ..Default::default()
            });
        }
    }
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(ns.into()),
            labels: Some(labels),
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref("apps/v1", "StatefulSet", set, uid)]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    })
}

/// The claims of one ordinal, owned by the set only when its retention policy deletes them
/// with the set (the default, Retain, leaves them unowned).
pub fn claims_for(
    sts: &StatefulSet,
    ordinal: i32,
) -> Result<Vec<PersistentVolumeClaim>, PlanError> {
    let (Some(set), Some(ns), Some(uid)) = (
        sts.metadata.name.as_deref(),
        sts.metadata.namespace.as_deref(),
        sts.metadata.uid.as_deref(),
    ) else {
        return Err(PlanError::MissingIdentity);
    };
    let spec = sts.spec.as_ref().ok_or(PlanError::MissingSpec)?;
    let owned = Settings::of(sts).delete_claims_with_set;
    let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
    let mut out = Vec::new();
    for t in spec.volume_claim_templates.as_deref().unwrap_or(&[]) {
        let Some(tname) = t.metadata.name.as_deref() else {
            continue;
        };
        let mut labels = t.metadata.labels.clone().unwrap_or_default();
        labels.extend(selector_labels.clone());
        out.push(PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim_name(tname, set, ordinal)),
                namespace: Some(ns.into()),
                labels: Some(labels),
                annotations: t.metadata.annotations.clone(),
                owner_references: owned
                    .then(|| vec![controller_ref("apps/v1", "StatefulSet", set, uid)]),
                ..Default::default()
            },
            spec: t.spec.clone(),
            status: None,
        });
    }
    Ok(out)
}

/// Status for the set's active pods. The current revision catches up with the update revision
/// once a rolling update has every replica updated and ready, which `kubectl rollout status`
/// waits for.
pub fn status(
    sts: &StatefulSet,
    s: &Settings,
    active: &[&Pod],
    current_revision: &str,
    update_revision: &str,
    collision_count: Option<i32>,
    now: Timestamp,
) -> StatefulSetStatus {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let replicas = count(active.len());
    let ready = count(active.iter().filter(|p| healthy(p)).count());
    let available = count(
        active
            .iter()
            .filter(|p| healthy(p) && pods::is_available(p, s.min_ready_seconds, now))
            .count(),
    );
    let mut current = count(
        active
            .iter()
            .filter(|p| revision_of(p) == Some(current_revision))
            .count(),
    );
    let updated = count(
        active
            .iter()
            .filter(|p| revision_of(p) == Some(update_revision))
            .count(),
    );
    let mut current_revision = current_revision.to_string();
    let caught_up = updated == replicas && ready == replicas && replicas == s.replicas;
    if matches!(s.strategy, Strategy::RollingUpdate { .. }) && caught_up {
        current_revision = update_revision.to_string();
        current = updated;
    }
    let old = sts.status.clone().unwrap_or_default();
    StatefulSetStatus {
        observed_generation: sts.metadata.generation,
        replicas,
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        current_replicas: Some(current),
        updated_replicas: Some(updated),
        current_revision: Some(current_revision),
        update_revision: Some(update_revision.to_string()),
        collision_count,
        conditions: old.conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::pod;
    use k8s_openapi::api::apps::v1::{
        StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

    fn member(set: &str, ord: i32, rev: &str, ready: bool) -> Pod {
        let name = format!("{set}-{ord}");
        let mut p = pod(&name, 0, "Running", ready.then_some(1));
        p.metadata.labels = Some(BTreeMap::from([(REVISION_LABEL.into(), rev.into())]));
        p
    }

    fn settings(replicas: i32, parallel: bool, strategy: Strategy) -> Settings {
        Settings {
            replicas,
            start: 0,
            parallel,
            strategy,
            min_ready_seconds: 0,
            delete_claims_on_scale_down: false,
            delete_claims_with_set: false,
        }
    }

    fn view(pods: &[Pod]) -> Vec<(i32, &Pod)> {
        pods.iter()
            .filter_map(|p| Some((ordinal_of("web", p.metadata.name.as_deref()?)?, p)))
            .collect()
    }

    const RU: Strategy = Strategy::RollingUpdate { partition: 0 };

    #[test]
    fn ordinals_parse_only_from_canonical_names() {
        assert_eq!(ordinal_of("web", "web-0"), Some(0));
        assert_eq!(ordinal_of("web", "web-12"), Some(12));
        assert_eq!(ordinal_of("web", "web-"), None);
        assert_eq!(ordinal_of("web", "web-01"), None);
        assert_eq!(ordinal_of("web", "web-x"), None);
        assert_eq!(ordinal_of("web", "webby-1"), None);
        assert_eq!(ordinal_of("web", "web-1-2"), None);
        assert_eq!(ordinal_of("web", "web-99999999999999"), None);
        assert_eq!(ordinal_of("web", "web--1"), None);
    }

    #[test]
    fn ordered_ready_creates_one_pod_at_a_time_after_the_previous_is_ready() {
        let s = settings(3, false, RU);
        assert_eq!(
            plan(&s, &[], "r1", "r1"),
            vec![Step::Create {
                ordinal: 0,
                current: false
            }]
        );
        let pods = vec![member("web", 0, "r1", false)];
        assert!(plan(&s, &view(&pods), "r1", "r1").is_empty());
        let pods = vec![member("web", 0, "r1", true)];
        assert_eq!(
            plan(&s, &view(&pods), "r1", "r1"),
            vec![Step::Create {
                ordinal: 1,
                current: false
            }]
        );
    }

    #[test]
    fn parallel_creates_every_missing_pod_at_once() {
        let s = settings(3, true, RU);
        let pods = vec![member("web", 1, "r1", false)];
        assert_eq!(
            plan(&s, &view(&pods), "r1", "r1"),
            vec![
                Step::Create {
                    ordinal: 0,
                    current: false
                },
                Step::Create {
                    ordinal: 2,
                    current: false
                }
            ]
        );
    }

    #[test]
    fn ordered_scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
        let s = settings(1, false, RU);
        let pods: Vec<Pod> = (0..3).map(|i| member("web", i, "r1", true)).collect();
        let steps = plan(&s, &view(&pods), "r1", "r1");
        assert_eq!(
            steps,
            vec![Step::Delete {
                name: "web-2".into(),
                ordinal: 2,
                condemned: true
            }]
        );
        let mut going = pods.clone();
        going[2].metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(plan(&s, &view(&going), "r1", "r1").is_empty());
    }

    #[test]
    fn rolling_update_replaces_the_highest_outdated_ordinal_above_the_partition() {
        let pods: Vec<Pod> = (0..3).map(|i| member("web", i, "old", true)).collect();
        let s = settings(3, false, RU);
        assert_eq!(
            plan(&s, &view(&pods), "old", "new"),
            vec![Step::Delete {
                name: "web-2".into(),
                ordinal: 2,
                condemned: false
            }]
        );
        let mut half = pods.clone();
        half[2] = member("web", 2, "new", false);
        assert!(
            plan(&s, &view(&half), "old", "new").is_empty(),
            "waits for the replaced pod to be ready"
        );
        half[2] = member("web", 2, "new", true);
        assert_eq!(
            plan(&s, &view(&half), "old", "new"),
            vec![Step::Delete {
                name: "web-1".into(),
                ordinal: 1,
                condemned: false
            }]
        );
        let partitioned = settings(3, false, Strategy::RollingUpdate { partition: 2 });
        assert!(plan(&partitioned, &view(&half), "old", "new").is_empty());
        assert!(
            plan(
                &settings(3, false, Strategy::OnDelete),
                &view(&pods),
                "old",
                "new"
            )
            .is_empty()
        );
    }

    #[test]
    fn pods_below_the_partition_are_recreated_at_the_current_revision() {
        let s = settings(3, false, Strategy::RollingUpdate { partition: 2 });
        assert_eq!(
            plan(&s, &[], "old", "new"),
            vec![Step::Create {
                ordinal: 0,
                current: true
            }]
        );
        let pods: Vec<Pod> = (0..2).map(|i| member("web", i, "old", true)).collect();
        assert_eq!(
            plan(&s, &view(&pods), "old", "new"),
            vec![Step::Create {
                ordinal: 2,
                current: false
            }]
        );
    }

    #[test]
    fn a_failed_pod_is_deleted_to_be_recreated() {
        let s = settings(1, false, RU);
        let mut p = member("web", 0, "r1", false);
        if let Some(st) = p.status.as_mut() {
            st.phase = Some("Failed".into());
        }
        let pods = vec![p];
        assert_eq!(
            plan(&s, &view(&pods), "r1", "r1"),
            vec![Step::Delete {
                name: "web-0".into(),
                ordinal: 0,
                condemned: false
            }]
        );
    }

    #[test]
    fn a_huge_parallel_set_creates_a_bounded_batch_per_sync() {
        let s = settings(i32::MAX, true, RU);
        let steps = plan(&s, &[], "r1", "r1");
        assert_eq!(steps.len(), BURST_REPLICAS);
        assert_eq!(
            steps.last(),
            Some(&Step::Create {
                ordinal: i32::try_from(BURST_REPLICAS).unwrap() - 1,
                current: false
            })
        );
    }

    #[test]
    fn ordinals_start_where_the_spec_says() {
        let mut s = settings(2, true, RU);
        s.start = 5;
        let pods = vec![member("web", 0, "r1", true)];
        assert_eq!(
            plan(&s, &view(&pods), "r1", "r1"),
            vec![
                Step::Create {
                    ordinal: 5,
                    current: false
                },
                Step::Create {
                    ordinal: 6,
                    current: false
                },
                Step::Delete {
                    name: "web-0".into(),
                    ordinal: 0,
                    condemned: true
                }
            ]
        );
    }

    fn set(policy: Option<&str>) -> StatefulSet {
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some("data".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                generation: Some(2),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                service_name: Some("web-svc".into()),
                selector: LabelSelector {
                    match_labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                    ..Default::default()
                },
                volume_claim_templates: Some(vec![claim]),
                persistent_volume_claim_retention_policy: policy.map(|p| {
                    StatefulSetPersistentVolumeClaimRetentionPolicy {
                        when_deleted: Some(p.into()),
                        when_scaled: Some("Retain".into()),
                    }
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn a_pod_has_a_stable_name_labels_hostname_and_its_claims_mounted() {
        let sts = set(None);
        let p = pod_for(&sts, &PodTemplateSpec::default(), 2, "web-abc").unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("web-2"));
        let labels = p.metadata.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get(POD_NAME_LABEL).map(String::as_str),
            Some("web-2")
        );
        assert_eq!(labels.get(POD_INDEX_LABEL).map(String::as_str), Some("2"));
        assert_eq!(
            labels.get(REVISION_LABEL).map(String::as_str),
            Some("web-abc")
        );
        let spec = p.spec.unwrap_or_default();
        assert_eq!(spec.hostname.as_deref(), Some("web-2"));
        assert_eq!(spec.subdomain.as_deref(), Some("web-svc"));
        let vols = spec.volumes.unwrap_or_default();
        assert_eq!(
            vols[0]
                .persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            Some("data-web-2")
        );
    }

    #[test]
    fn claims_are_owned_only_when_deleted_with_the_set() {
        let retained = claims_for(&set(None), 1).unwrap();
        assert_eq!(retained[0].metadata.name.as_deref(), Some("data-web-1"));
        assert!(retained[0].metadata.owner_references.is_none());
        assert_eq!(
            retained[0]
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app"))
                .map(String::as_str),
            Some("web")
        );
        let owned = claims_for(&set(Some("Delete")), 1).unwrap();
        let refs = owned[0]
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default();
        assert_eq!(refs[0].kind, "StatefulSet");
        assert_eq!(refs[0].uid, "u1");
    }

    #[test]
    fn a_set_without_identity_makes_no_pods() {
        let mut sts = set(None);
        sts.metadata.uid = None;
        assert_eq!(
            pod_for(&sts, &PodTemplateSpec::default(), 0, "r").unwrap_err(),
            PlanError::MissingIdentity
        );
        assert_eq!(claims_for(&sts, 0).unwrap_err(), PlanError::MissingIdentity);
    }

    #[test]
    fn status_promotes_the_update_revision_once_every_pod_is_updated_and_ready() {
        let sts = set(None);
        let s = settings(2, false, RU);
        let pods = [member("web", 0, "old", true), member("web", 1, "new", true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let st = status(&sts, &s, &refs, "old", "new", None, Timestamp::UNIX_EPOCH);
        assert_eq!(st.replicas, 2);
        assert_eq!(st.current_replicas, Some(1));
        assert_eq!(st.updated_replicas, Some(1));
        assert_eq!(st.current_revision.as_deref(), Some("old"));
        assert_eq!(st.observed_generation, Some(2));
        let pods = [member("web", 0, "new", true), member("web", 1, "new", true)];
        let refs: Vec<&Pod> = pods.iter().collect();
        let st = status(&sts, &s, &refs, "old", "new", None, Timestamp::UNIX_EPOCH);
        assert_eq!(st.current_revision.as_deref(), Some("new"));
        assert_eq!(st.current_replicas, Some(2));
        assert_eq!(st.ready_replicas, Some(2));
        assert_eq!(st.available_replicas, Some(2));
    }
}
