//! PodDisruptionBudget decisions without I/O: expected and desired pod counts, healthy pods,
//! the disrupted-pods bookkeeping and the status with its `DisruptionAllowed` condition.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{
    PodDisruptionBudget, PodDisruptionBudgetSpec, PodDisruptionBudgetStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::pods;
use crate::replicaset::decide::controller_of;

/// How long an eviction's entry in `status.disruptedPods` keeps its pod out of the healthy
/// count: the pod is expected to be gone by then, and if it is not, it counts again.
pub const DELETION_TIMEOUT: SignedDuration = SignedDuration::from_secs(120);

pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";
pub const SUFFICIENT_PODS: &str = "SufficientPods";
pub const INSUFFICIENT_PODS: &str = "InsufficientPods";
pub const SYNC_FAILED: &str = "SyncFailed";

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecideError {
    #[error("invalid value for IntOrString: invalid type: string is not a percentage")]
    NotAPercentage,
    #[error("invalid value {0:?}: not an integer percentage")]
    BadPercentage(String),
    #[error("found no controllers for pod {0:?}")]
    NoController(String),
}

/// Upstream counts the pods themselves only for an integer `minAvailable`; a percentage or a
/// `maxUnavailable` is taken relative to the replicas the pods' controllers ask for.
pub fn needs_scale(spec: &PodDisruptionBudgetSpec) -> bool {
    spec.max_unavailable.is_some() || matches!(spec.min_available, Some(IntOrString::String(_)))
}

/// An integer as is, or a percentage of `total` (rounded up or down).
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, DecideError> {
    let s = match v {
        IntOrString::Int(i) => return Ok(*i),
        IntOrString::String(s) => s,
    };
    let digits = s.strip_suffix('%').ok_or(DecideError::NotAPercentage)?;
    let percent: i64 = digits
        .parse()
        .map_err(|_| DecideError::BadPercentage(s.clone()))?;
    let product = percent.saturating_mul(i64::from(total));
    let value = if round_up {
        product.div_euclid(100) + i64::from(product.rem_euclid(100) != 0)
    } else {
        product.div_euclid(100)
    };
    Ok(i32::try_from(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0))
}

/// The controllers of the selected pods, each once, with a pod it controls (for messages).
#[derive(Debug, Default)]
pub struct PodControllers<'a> {
    pub controllers: Vec<(&'a OwnerReference, &'a str)>,
    /// Pods without a controller: upstream warns about them and leaves them out of the scale.
    pub unmanaged: Vec<&'a str>,
}

pub fn pod_controllers(pods: &[Pod]) -> PodControllers<'_> {
    let mut out = PodControllers::default();
    let mut seen = HashSet::new();
    for p in pods {
        let name = p.metadata.name.as_deref().unwrap_or_default();
        match controller_of(&p.metadata) {
            None => out.unmanaged.push(name),
            Some(r) => {
                if seen.insert(r.uid.as_str()) {
                    out.controllers.push((r, name));
                }
            }
        }
    }
    out
}

/// The scale a pod's controller resolved to: the object whose `spec.replicas` counts (a
/// Deployment for the ReplicaSets it owns) and that number.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerScale {
    pub uid: String,
    pub replicas: i32,
}

/// Adds up the scales, each controlling object once (two ReplicaSets of one Deployment count
/// the Deployment once).
pub fn total_scale(scales: &[ControllerScale]) -> i32 {
    let mut seen = HashSet::new();
    scales
        .iter()
        .filter(|s| seen.insert(s.uid.as_str()))
        .fold(0i32, |acc, s| acc.saturating_add(s.replicas))
}

/// Expected pods and the healthy pods the budget wants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counts {
    pub expected: i32,
    pub desired: i32,
}

/// Upstream's arithmetic: `maxUnavailable` takes expected − maxUnavailable (never below 0), a
/// percentage `minAvailable` is rounded up, an integer one is used as is against the pod count.
/// A budget with neither expects nothing and so never allows a disruption.
pub fn counts(
    spec: &PodDisruptionBudgetSpec,
    pod_count: i32,
    scale: i32,
) -> Result<Counts, DecideError> {
    if let Some(max) = &spec.max_unavailable {
        let max = scaled_value(max, scale, true)?;
        return Ok(Counts {
            expected: scale,
            desired: scale.saturating_sub(max).max(0),
        });
    }
    match &spec.min_available {
        Some(IntOrString::Int(n)) => Ok(Counts {
            expected: pod_count,
            desired: *n,
        }),
        Some(v @ IntOrString::String(_)) => Ok(Counts {
            expected: scale,
            desired: scaled_value(v, scale, true)?,
        }),
        None => Ok(Counts {
            expected: 0,
            desired: 0,
        }),
    }
}

/// The entries of `status.disruptedPods` still in force: pods that exist, are not being deleted
/// and were evicted less than [`DELETION_TIMEOUT`] ago. Also the earliest time one expires, so
/// the budget can be looked at again then.
pub fn disrupted_pods(
    pdb: &PodDisruptionBudget,
    pods: &[Pod],
    now: Timestamp,
) -> (BTreeMap<String, Time>, Option<Timestamp>) {
    let mut kept = BTreeMap::new();
    let mut recheck: Option<Timestamp> = None;
    let Some(recorded) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
        return (kept, recheck);
    };
    for p in pods {
        if p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(name) = p.metadata.name.as_deref() else {
            continue;
        };
        let Some(at) = recorded.get(name) else {
            continue;
        };
        let Ok(expires) = at.0.checked_add(DELETION_TIMEOUT) else {
            continue;
        };
        if expires < now {
            continue;
        }
        recheck = Some(recheck.map_or(expires, |r| r.min(expires)));
        kept.insert(name.to_string(), at.clone());
    }
    (kept, recheck)
}

/// Ready pods that are neither being deleted nor just evicted.
pub fn current_healthy(pods: &[Pod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let count = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let evicted = p
                .metadata
                .name
                .as_deref()
                .and_then(|n| disrupted.get(n))
                .and_then(|t| t.0.checked_add(DELETION_TIMEOUT).ok())
                .is_some_and(|expires| expires > now);
            !evicted
        })
        .filter(|p| pods::is_ready(p))
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// The status for the computed numbers. No disruption is allowed while nothing is expected, so
/// a budget whose first pods appear before it is synced is safe.
pub fn status(
    pdb: &PodDisruptionBudget,
    counts: Counts,
    healthy: i32,
    disrupted: BTreeMap<String, Time>,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut allowed = healthy.saturating_sub(counts.desired);
    if counts.expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let generation = pdb.metadata.generation;
    let mut conditions = pdb
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let (state, reason) = if allowed > 0 {
        ("True", SUFFICIENT_PODS)
    } else {
        ("False", INSUFFICIENT_PODS)
    };
    set_condition(
        &mut conditions,
        Condition {
            type_: DISRUPTION_ALLOWED.into(),
            status: state.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: generation,
            last_transition_time: Time(now),
        },
    );
    PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: counts.desired,
        expected_pods: counts.expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: generation,
        conditions: Some(conditions),
    }
}

/// After a failed sync: no disruption allowed, `DisruptionAllowed` False with reason
/// `SyncFailed`; the rest of the status stays as it was, as upstream leaves it.
pub fn fail_safe(
    pdb: &PodDisruptionBudget,
    message: &str,
    now: Timestamp,
) -> PodDisruptionBudgetStatus {
    let mut st = pdb.status.clone().unwrap_or_default();
    st.disruptions_allowed = 0;
    let mut conditions = st.conditions.take().unwrap_or_default();
    set_condition(
        &mut conditions,
        Condition {
            type_: DISRUPTION_ALLOWED.into(),
            status: "False".into(),
            reason: SYNC_FAILED.into(),
            message: message.into(),
            observed_generation: st.observed_generation,
            last_transition_time: Time(now),
        },
    );
    st.conditions = Some(conditions);
    st
}

/// Sets a condition the way upstream's `SetStatusCondition` does: the transition time moves
/// only when the status changes.
fn set_condition(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        None => conditions.push(new),
        Some(old) => {
            if old.status != new.status {
                old.status = new.status;
                old.last_transition_time = new.last_transition_time;
            }
            old.reason = new.reason;
            old.message = new.message;
            old.observed_generation = new.observed_generation;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::{pod, ts};
    use crate::replicaset::decide::controller_ref;
    use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;

    fn spec(min: Option<IntOrString>, max: Option<IntOrString>) -> PodDisruptionBudgetSpec {
        PodDisruptionBudgetSpec {
            min_available: min,
            max_unavailable: max,
            ..Default::default()
        }
    }

    fn pct(s: &str) -> IntOrString {
        IntOrString::String(s.into())
    }

    fn pdb(generation: i64) -> PodDisruptionBudget {
        let mut p = PodDisruptionBudget::default();
        p.metadata.name = Some("web".into());
        p.metadata.generation = Some(generation);
        p
    }

    fn owned(mut p: Pod, uid: &str) -> Pod {
        p.metadata.owner_references =
            Some(vec![controller_ref("apps/v1", "ReplicaSet", "rs", uid)]);
        p
    }

    #[test]
    fn percentages_round_up_and_integers_pass_through() {
        assert_eq!(scaled_value(&pct("50%"), 3, true), Ok(2));
        assert_eq!(scaled_value(&pct("50%"), 3, false), Ok(1));
        assert_eq!(scaled_value(&pct("100%"), 7, true), Ok(7));
        assert_eq!(scaled_value(&pct("0%"), 7, true), Ok(0));
        assert_eq!(scaled_value(&IntOrString::Int(4), 100, true), Ok(4));
    }

    #[test]
    fn malformed_percentages_are_errors_not_panics() {
        assert_eq!(
            scaled_value(&pct("50"), 3, true),
            Err(DecideError::NotAPercentage)
        );
        assert_eq!(
            scaled_value(&pct("x%"), 3, true),
            Err(DecideError::BadPercentage("x%".into()))
        );
        assert_eq!(
            scaled_value(&pct("%"), 3, true),
            Err(DecideError::BadPercentage("%".into()))
        );
        // Huge values saturate instead of overflowing.
        assert_eq!(
            scaled_value(&pct("99999999999999%"), i32::MAX, true),
            Ok(i32::MAX)
        );
    }

    #[test]
    fn integer_min_available_counts_pods_and_the_rest_count_the_scale() {
        let s = spec(Some(IntOrString::Int(2)), None);
        assert!(!needs_scale(&s));
        assert_eq!(
            counts(&s, 3, 10),
            Ok(Counts {
                expected: 3,
                desired: 2
            })
        );
        let s = spec(Some(pct("50%")), None);
        assert!(needs_scale(&s));
        assert_eq!(
            counts(&s, 3, 5),
            Ok(Counts {
                expected: 5,
                desired: 3
            })
        );
        let s = spec(None, Some(IntOrString::Int(1)));
        assert!(needs_scale(&s));
        assert_eq!(
            counts(&s, 3, 4),
            Ok(Counts {
                expected: 4,
                desired: 3
            })
        );
        // More unavailable than expected never asks for a negative count.
        let s = spec(None, Some(IntOrString::Int(9)));
        assert_eq!(counts(&s, 3, 4).map(|c| c.desired), Ok(0));
        let s = spec(None, Some(pct("30%")));
        assert_eq!(counts(&s, 0, 10).map(|c| c.desired), Ok(7));
        assert_eq!(
            counts(&spec(None, None), 3, 3),
            Ok(Counts {
                expected: 0,
                desired: 0
            })
        );
    }

    #[test]
    fn each_controller_is_listed_once_and_orphans_are_unmanaged() {
        let pods = [
            owned(pod("a", 1, "Running", None), "rs-1"),
            owned(pod("b", 1, "Running", None), "rs-1"),
            owned(pod("c", 1, "Running", None), "rs-2"),
            pod("d", 1, "Running", None),
        ];
        let c = pod_controllers(&pods);
        let uids: Vec<&str> = c.controllers.iter().map(|(r, _)| r.uid.as_str()).collect();
        assert_eq!(uids, ["rs-1", "rs-2"]);
        assert_eq!(c.controllers[1].1, "c");
        assert_eq!(c.unmanaged, ["d"]);
    }

    #[test]
    fn a_deployment_reached_through_two_replica_sets_counts_once() {
        let scales = [
            ControllerScale {
                uid: "dep".into(),
                replicas: 3,
            },
            ControllerScale {
                uid: "dep".into(),
                replicas: 3,
            },
            ControllerScale {
                uid: "sts".into(),
                replicas: 2,
            },
        ];
        assert_eq!(total_scale(&scales), 5);
        assert_eq!(total_scale(&[]), 0);
    }

    #[test]
    fn healthy_pods_are_ready_not_deleting_and_not_just_evicted() {
        let ready = pod("ready", 1, "Running", Some(2));
        let unready = pod("unready", 1, "Running", None);
        let mut deleting = pod("deleting", 1, "Running", Some(2));
        deleting.metadata.deletion_timestamp = Some(Time(ts(50)));
        let evicted = pod("evicted", 1, "Running", Some(2));
        let stale = pod("stale", 1, "Running", Some(2));
        let pods = [ready, unready, deleting, evicted, stale];
        let mut disrupted = BTreeMap::new();
        disrupted.insert("evicted".to_string(), Time(ts(90)));
        disrupted.insert("stale".to_string(), Time(ts(-100)));
        assert_eq!(current_healthy(&pods, &disrupted, ts(100)), 2);
    }

    #[test]
    fn disrupted_pod_entries_expire_after_two_minutes_or_when_the_pod_goes() {
        let mut budget = pdb(1);
        let mut recorded = BTreeMap::new();
        recorded.insert("fresh".to_string(), Time(ts(100)));
        recorded.insert("fresher".to_string(), Time(ts(150)));
        recorded.insert("old".to_string(), Time(ts(0)));
        recorded.insert("gone".to_string(), Time(ts(150)));
        recorded.insert("deleting".to_string(), Time(ts(150)));
        budget.status = Some(PodDisruptionBudgetStatus {
            disrupted_pods: Some(recorded),
            ..Default::default()
        });
        let mut deleting = pod("deleting", 1, "Running", Some(1));
        deleting.metadata.deletion_timestamp = Some(Time(ts(151)));
        let pods = [
            pod("fresh", 1, "Running", Some(1)),
            pod("fresher", 1, "Running", Some(1)),
            pod("old", 1, "Running", Some(1)),
            deleting,
        ];
        let (kept, recheck) = disrupted_pods(&budget, &pods, ts(200));
        assert_eq!(
            kept.keys().map(String::as_str).collect::<Vec<_>>(),
            ["fresh", "fresher"]
        );
        assert_eq!(recheck, Some(ts(220)));
        assert_eq!(
            disrupted_pods(&pdb(1), &pods, ts(200)),
            (BTreeMap::new(), None)
        );
    }

    #[test]
    fn status_allows_the_surplus_and_sets_sufficient_pods() {
        let st = status(
            &pdb(3),
            Counts {
                expected: 3,
                desired: 2,
            },
            3,
            BTreeMap::new(),
            ts(10),
        );
        assert_eq!(st.disruptions_allowed, 1);
        assert_eq!(
            (st.current_healthy, st.desired_healthy, st.expected_pods),
            (3, 2, 3)
        );
        assert_eq!(st.observed_generation, Some(3));
        assert_eq!(st.disrupted_pods, None);
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            (DISRUPTION_ALLOWED, "True", SUFFICIENT_PODS)
        );
        assert_eq!(c.observed_generation, Some(3));
    }

    #[test]
    fn no_disruption_without_surplus_or_without_expected_pods() {
        let short = status(
            &pdb(1),
            Counts {
                expected: 3,
                desired: 3,
            },
            2,
            BTreeMap::new(),
            ts(10),
        );
        assert_eq!(short.disruptions_allowed, 0);
        let c = &short.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", INSUFFICIENT_PODS)
        );
        let nothing_expected = status(
            &pdb(1),
            Counts {
                expected: 0,
                desired: 0,
            },
            2,
            BTreeMap::new(),
            ts(10),
        );
        assert_eq!(nothing_expected.disruptions_allowed, 0);
    }

    #[test]
    fn the_condition_keeps_its_transition_time_until_its_status_changes() {
        let mut budget = pdb(1);
        let c = Counts {
            expected: 3,
            desired: 2,
        };
        budget.status = Some(status(&budget, c, 3, BTreeMap::new(), ts(10)));
        let again = status(&budget, c, 3, BTreeMap::new(), ts(20));
        assert_eq!(again, budget.status.clone().unwrap());
        let flipped = status(&budget, c, 2, BTreeMap::new(), ts(30));
        let cond = &flipped.conditions.as_ref().unwrap()[0];
        assert_eq!(cond.last_transition_time, Time(ts(30)));
        assert_eq!(flipped.conditions.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_failed_sync_allows_nothing_and_says_why() {
        let mut budget = pdb(2);
        budget.status = Some(status(
            &budget,
            Counts {
                expected: 3,
                desired: 1,
            },
            3,
            BTreeMap::new(),
            ts(10),
        ));
        let st = fail_safe(&budget, "found no controllers for pod \"x\"", ts(20));
        assert_eq!(st.disruptions_allowed, 0);
        assert_eq!(st.current_healthy, 3);
        let c = &st.conditions.as_ref().unwrap()[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", SYNC_FAILED)
        );
        assert!(c.message.contains("no controllers"));
        assert_eq!(c.last_transition_time, Time(ts(20)));
    }
}
