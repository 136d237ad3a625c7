//! Pod predicates shared by the controllers: active, ready, available (no I/O).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// A pod counts towards its controller's replicas until it ends or starts being deleted.
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// True while the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last became ready, if it is ready.
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Ready for at least `min_ready_seconds`; a ready pod without a transition time counts as
/// available only when no wait is asked for.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    match ready_since(pod) {
        Some(since) => {
            now.duration_since(since) >= SignedDuration::from_secs(min_ready_seconds.into())
        }
        None => false,
    }
}

/// How long until a ready pod becomes available, when it is not yet.
pub fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<std::time::Duration> {
    if min_ready_seconds <= 0 || !is_ready(pod) {
        return None;
    }
    let since = ready_since(pod)?;
    let left = SignedDuration::from_secs(min_ready_seconds.into()) - now.duration_since(since);
    if left.is_positive() {
        std::time::Duration::try_from(left).ok()
    } else {
        None
    }
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
}

#[cfg(test)]
pub(crate) mod test_pods {
    use k8s_openapi::api::core::v1::{Pod, PodCondition, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    pub fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    /// A pod named `name` created at `created` seconds, in `phase`, optionally ready since a time.
    pub fn pod(name: &str, created: i64, phase: &str, ready_at: Option<i64>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.uid = Some(format!("uid-{name}"));
        p.metadata.creation_timestamp = Some(Time(ts(created)));
        p.spec = Some(PodSpec::default());
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            conditions: ready_at.map(|t| {
                vec![PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(ts(t))),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        p
    }
}

#[cfg(test)]
mod tests {
    use super::test_pods::{pod, ts};
    use super::*;

    #[test]
    fn finished_and_deleting_pods_are_not_active() {
        assert!(is_active(&pod("a", 0, "Running", None)));
        assert!(is_active(&pod("a", 0, "Pending", None)));
        assert!(!is_active(&pod("a", 0, "Succeeded", None)));
        assert!(!is_active(&pod("a", 0, "Failed", None)));
        let mut p = pod("a", 0, "Running", None);
        p.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(ts(5)));
        assert!(!is_active(&p));
    }

    #[test]
    fn a_pod_without_status_is_active_but_not_ready() {
        let p = Pod::default();
        assert!(is_active(&p));
        assert!(!is_ready(&p));
        assert!(!is_available(&p, 0, ts(0)));
    }

    #[test]
    fn availability_waits_for_min_ready_seconds() {
        let p = pod("a", 0, "Running", Some(100));
        assert!(is_available(&p, 0, ts(100)));
        assert!(!is_available(&p, 10, ts(105)));
        assert!(is_available(&p, 10, ts(110)));
        assert_eq!(
            until_available(&p, 10, ts(105)),
            Some(std::time::Duration::from_secs(5))
        );
        assert_eq!(until_available(&p, 10, ts(111)), None);
    }

    #[test]
    fn a_false_ready_condition_is_not_ready() {
        let mut p = pod("a", 0, "Running", Some(1));
        if let Some(c) = p.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].status = "False".into();
        }
        assert!(!is_ready(&p));
        assert_eq!(ready_since(&p), None);
    }
}
