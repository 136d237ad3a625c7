//! Deployment status and its Available/Progressing conditions, computed without I/O.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::rollout::RsView;

pub const AVAILABLE: &str = "Available";
pub const PROGRESSING: &str = "Progressing";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";
pub const MIN_AVAILABLE: &str = "MinimumReplicasAvailable";
pub const MIN_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
pub const NEW_RS_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const RS_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

/// Upstream's "no deadline" value of progressDeadlineSeconds.
const NO_DEADLINE: i32 = i32::MAX;

/// Counts over all of a Deployment's ReplicaSets, keeping existing conditions and the collision
/// count; the Available condition is refreshed here, Progressing by [`progress`].
pub fn calculate(
    d: &Deployment,
    all: &[RsView],
    new_rs: Option<&RsView>,
    max_unavailable: i32,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let available: i32 = all.iter().map(|r| r.available).sum();
    let spec_total: i32 = all.iter().map(|r| r.spec_replicas).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|r| r.status_replicas).sum()),
        updated_replicas: Some(new_rs.map(|r| r.status_replicas).unwrap_or(0)),
        ready_replicas: Some(all.iter().map(|r| r.ready).sum()),
        available_replicas: Some(available),
        unavailable_replicas: Some((spec_total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions,
        terminating_replicas: old.terminating_replicas,
    };
    let replicas = desired(d);
    let cond = if available >= replicas - max_unavailable {
        condition(
            AVAILABLE,
            "True",
            MIN_AVAILABLE,
            "Deployment has minimum availability.",
            now,
        )
    } else {
        condition(
            AVAILABLE,
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    };
    set_condition(&mut status, cond);
    status
}

/// `spec.replicas` with upstream's default of 1.
pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn deadline(d: &Deployment) -> Option<i32> {
    let secs = d
        .spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .unwrap_or(600);
    (secs != NO_DEADLINE).then_some(secs)
}

/// Every updated replica is there and available, and nothing else runs.
pub fn is_complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let r = desired(d);
    s.updated_replicas == Some(r)
        && s.replicas == Some(r)
        && s.available_replicas == Some(r)
        && s.observed_generation >= d.metadata.generation
}

/// Something moved since the last recorded status: more updated, ready or available pods, or
/// fewer old ones.
fn is_progressing(d: &Deployment, s: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_pods = |x: &DeploymentStatus| n(x.replicas) - n(x.updated_replicas);
    n(s.updated_replicas) > n(old.updated_replicas)
        || old_pods(s) < old_pods(&old)
        || n(s.ready_replicas) > n(old.ready_replicas)
        || n(s.available_replicas) > n(old.available_replicas)
}

fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(secs) = deadline(d) else {
        return false;
    };
    let Some(c) = find(s, PROGRESSING) else {
        return false;
    };
    match c.reason.as_deref() {
        Some(NEW_RS_AVAILABLE) => false,
        Some(TIMED_OUT) => true,
        _ => c
            .last_update_time
            .as_ref()
            .is_some_and(|t| now.duration_since(t.0) > SignedDuration::from_secs(secs.into())),
    }
}

/// Updates the Progressing condition the way upstream's rollout status sync does, and says when
/// to look again for a deadline still running.
pub fn progress(
    d: &Deployment,
    s: &mut DeploymentStatus,
    new_rs: Option<&str>,
    now: Timestamp,
) -> Option<Duration> {
    let Some(secs) = deadline(d) else {
        if let Some(c) = s.conditions.as_mut() {
            c.retain(|c| c.type_ != PROGRESSING);
        }
        return None;
    };
    let current = find(s, PROGRESSING).cloned();
    let already_complete = s.replicas == s.updated_replicas
        && current.as_ref().and_then(|c| c.reason.as_deref()) == Some(NEW_RS_AVAILABLE);
    if already_complete {
        return None;
    }
    let subject = match new_rs {
        Some(n) => format!("ReplicaSet {n:?}"),
        None => format!(
            "Deployment {:?}",
            d.metadata.name.as_deref().unwrap_or_default()
        ),
    };
    if is_complete(d, s) {
        let msg = format!("{subject} has successfully progressed.");
        set_condition(
            s,
            condition(PROGRESSING, "True", NEW_RS_AVAILABLE, &msg, now),
        );
        return None;
    }
    if is_progressing(d, s) {
        let msg = format!("{subject} is progressing.");
        let mut c = condition(PROGRESSING, "True", RS_UPDATED, &msg, now);
        if let Some(cur) = &current
            && cur.status == "True"
        {
            c.last_transition_time = cur.last_transition_time.clone();
        }
        replace_condition(s, c);
    } else if timed_out(d, s, now) {
        let msg = format!("{subject} has timed out progressing.");
        set_condition(s, condition(PROGRESSING, "False", TIMED_OUT, &msg, now));
        return None;
    }
    let since = find(s, PROGRESSING)
        .and_then(|c| c.last_update_time.as_ref())
        .map(|t| now.duration_since(t.0))
        .unwrap_or_default();
    let left = SignedDuration::from_secs(secs.into()) - since;
    Some(Duration::try_from(left).unwrap_or_default() + Duration::from_secs(1))
}

/// Mirrors a ReplicaSet's `ReplicaFailure` (reason and message) on the Deployment, or clears it
/// once no set reports one.
pub fn replica_failure(s: &mut DeploymentStatus, failure: Option<(&str, &str)>, now: Timestamp) {
    match failure {
        Some((reason, message)) => {
            set_condition(s, condition(REPLICA_FAILURE, "True", reason, message, now));
        }
        None => {
            if let Some(c) = s.conditions.as_mut() {
                c.retain(|c| c.type_ != REPLICA_FAILURE);
            }
        }
    }
}

/// The Progressing condition a paused or resumed Deployment shows; `None` when nothing changes.
pub fn pause_condition(d: &Deployment, now: Timestamp) -> Option<DeploymentCondition> {
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    let reason = d
        .status
        .as_ref()
        .and_then(|s| find(s, PROGRESSING))
        .and_then(|c| c.reason.as_deref());
    if paused && reason != Some(PAUSED) {
        Some(condition(
            PROGRESSING,
            "Unknown",
            PAUSED,
            "Deployment is paused",
            now,
        ))
    } else if !paused && reason == Some(PAUSED) {
        Some(condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed",
            now,
        ))
    } else {
        None
    }
}

pub fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn find<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Sets a condition unless one with the same status and reason is already there; an unchanged
/// status keeps its transition time.
pub fn set_condition(s: &mut DeploymentStatus, mut c: DeploymentCondition) {
    if let Some(cur) = find(s, &c.type_) {
        if cur.status == c.status && cur.reason == c.reason {
            return;
        }
        if cur.status == c.status {
            c.last_transition_time = cur.last_transition_time.clone();
        }
    }
    replace_condition(s, c);
}

fn replace_condition(s: &mut DeploymentStatus, c: DeploymentCondition) {
    let conds = s.conditions.get_or_insert_with(Vec::new);
    conds.retain(|x| x.type_ != c.type_);
    conds.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn deployment(replicas: i32) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.name = Some("web".into());
        d.metadata.generation = Some(2);
        d.spec = Some(DeploymentSpec {
            replicas: Some(replicas),
            ..Default::default()
        });
        d
    }

    fn view(name: &str, spec: i32, status: i32, available: i32) -> RsView {
        RsView {
            name: name.into(),
            spec_replicas: spec,
            status_replicas: status,
            ready: available,
            available,
            ..Default::default()
        }
    }

    #[test]
    fn counts_add_up_over_all_sets() {
        let d = deployment(3);
        let all = [view("old", 1, 1, 1), view("new", 3, 3, 1)];
        let s = calculate(&d, &all, Some(&all[1]), 0, ts(10));
        assert_eq!(s.replicas, Some(4));
        assert_eq!(s.updated_replicas, Some(3));
        assert_eq!(s.available_replicas, Some(2));
        assert_eq!(s.unavailable_replicas, Some(2));
        assert_eq!(s.observed_generation, Some(2));
        let a = find(&s, AVAILABLE).unwrap();
        assert_eq!(
            (a.status.as_str(), a.reason.as_deref()),
            ("False", Some(MIN_UNAVAILABLE))
        );
    }

    #[test]
    fn a_finished_rollout_reports_new_replica_set_available() {
        let mut d = deployment(3);
        let all = [view("web-1", 3, 3, 3)];
        let mut s = calculate(&d, &all, Some(&all[0]), 0, ts(10));
        assert_eq!(
            find(&s, AVAILABLE).unwrap().reason.as_deref(),
            Some(MIN_AVAILABLE)
        );
        assert_eq!(progress(&d, &mut s, Some("web-1"), ts(10)), None);
        let p = find(&s, PROGRESSING).unwrap();
        assert_eq!(p.reason.as_deref(), Some(NEW_RS_AVAILABLE));
        assert_eq!(
            p.message.as_deref(),
            Some("ReplicaSet \"web-1\" has successfully progressed.")
        );
        // Once complete, later syncs leave the condition alone.
        d.status = Some(s.clone());
        let mut again = calculate(&d, &all, Some(&all[0]), 0, ts(20));
        progress(&d, &mut again, Some("web-1"), ts(20));
        assert_eq!(find(&again, PROGRESSING), find(&s, PROGRESSING));
    }

    #[test]
    fn progress_keeps_the_transition_time_and_asks_to_come_back_before_the_deadline() {
        let mut d = deployment(3);
        let mut first = DeploymentStatus::default();
        set_condition(
            &mut first,
            condition(PROGRESSING, "True", NEW_RS_CREATED, "x", ts(100)),
        );
        d.status = Some(first);
        let all = [view("web-2", 2, 2, 1)];
        let mut s = calculate(&d, &all, Some(&all[0]), 0, ts(110));
        let again = progress(&d, &mut s, Some("web-2"), ts(110));
        let p = find(&s, PROGRESSING).unwrap();
        assert_eq!(p.reason.as_deref(), Some(RS_UPDATED));
        assert_eq!(p.last_transition_time, Some(Time(ts(100))));
        assert_eq!(p.last_update_time, Some(Time(ts(110))));
        assert_eq!(again, Some(Duration::from_secs(601)));
    }

    #[test]
    fn a_stuck_rollout_times_out() {
        let mut d = deployment(3);
        let mut st = DeploymentStatus {
            updated_replicas: Some(1),
            replicas: Some(4),
            ready_replicas: Some(3),
            available_replicas: Some(3),
            ..Default::default()
        };
        set_condition(
            &mut st,
            condition(PROGRESSING, "True", RS_UPDATED, "x", ts(0)),
        );
        d.status = Some(st);
        let all = [view("old", 3, 3, 3), view("new", 1, 1, 0)];
        let mut s = calculate(&d, &all, Some(&all[1]), 0, ts(700));
        progress(&d, &mut s, Some("new"), ts(700));
        let p = find(&s, PROGRESSING).unwrap();
        assert_eq!(
            (p.status.as_str(), p.reason.as_deref()),
            ("False", Some(TIMED_OUT))
        );
    }

    #[test]
    fn no_deadline_means_no_progressing_condition() {
        let mut d = deployment(1);
        if let Some(s) = d.spec.as_mut() {
            s.progress_deadline_seconds = Some(i32::MAX);
        }
        let mut s = DeploymentStatus::default();
        set_condition(
            &mut s,
            condition(PROGRESSING, "True", RS_UPDATED, "x", ts(0)),
        );
        assert_eq!(progress(&d, &mut s, None, ts(1)), None);
        assert!(find(&s, PROGRESSING).is_none());
    }

    #[test]
    fn pausing_and_resuming_show_in_progressing() {
        let mut d = deployment(1);
        assert!(pause_condition(&d, ts(1)).is_none());
        if let Some(s) = d.spec.as_mut() {
            s.paused = Some(true);
        }
        let c = pause_condition(&d, ts(1)).unwrap();
        assert_eq!(c.reason.as_deref(), Some(PAUSED));
        let mut st = DeploymentStatus::default();
        set_condition(&mut st, c);
        d.status = Some(st);
        assert!(pause_condition(&d, ts(2)).is_none());
        if let Some(s) = d.spec.as_mut() {
            s.paused = Some(false);
        }
        assert_eq!(
            pause_condition(&d, ts(3)).unwrap().reason.as_deref(),
            Some(RESUMED)
        );
    }

    #[test]
    fn a_replica_failure_is_mirrored_and_cleared() {
        let mut s = DeploymentStatus::default();
        replica_failure(&mut s, Some(("FailedCreate", "exceeded quota")), ts(1));
        let c = find(&s, REPLICA_FAILURE).unwrap();
        assert_eq!(
            (c.status.as_str(), c.message.as_deref()),
            ("True", Some("exceeded quota"))
        );
        replica_failure(&mut s, None, ts(2));
        assert!(find(&s, REPLICA_FAILURE).is_none());
    }

    #[test]
    fn setting_an_identical_condition_changes_nothing() {
        let mut s = DeploymentStatus::default();
        set_condition(
            &mut s,
            condition(AVAILABLE, "True", MIN_AVAILABLE, "m", ts(1)),
        );
        set_condition(
            &mut s,
            condition(AVAILABLE, "True", MIN_AVAILABLE, "m", ts(5)),
        );
        assert_eq!(
            find(&s, AVAILABLE).unwrap().last_update_time,
            Some(Time(ts(1)))
        );
        set_condition(
            &mut s,
            condition(AVAILABLE, "False", MIN_UNAVAILABLE, "m", ts(9)),
        );
        assert_eq!(
            find(&s, AVAILABLE).unwrap().last_transition_time,
            Some(Time(ts(9)))
        );
        assert_eq!(s.conditions.as_ref().map(Vec::len), Some(1));
    }
}
