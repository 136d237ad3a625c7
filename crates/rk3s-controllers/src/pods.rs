//! Pod predicates shared by the controllers: active, ready, available (no I/O), and which
//! controllers a pod's change wakes.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Resource;
use kube::runtime::reflector::{Lookup, ObjectRef, Store};
use rk3s_core::selectors::LabelSelector;

/// Whether `r` names an object of `kind` in the `apps` group (any version).
pub fn is_apps(r: &OwnerReference, kind: &str) -> bool {
    r.kind == kind && r.api_version.starts_with("apps/")
}

/// The controllers a pod's change wakes: its controller, when `is_ours` says the reference
/// names one of `store`'s kind; for an orphan, every object in its namespace whose selector
/// (`selector`; selecting everything never adopts) matches it, so it can be adopted.
pub fn owners_for_pod<K>(
    store: &Store<K>,
    pod: &Pod,
    is_ours: impl Fn(&OwnerReference) -> bool,
    selector: impl Fn(&K) -> Option<LabelSelector>,
) -> Vec<ObjectRef<K>>
where
    K: Resource<DynamicType = ()> + Lookup<DynamicType = ()> + Clone + 'static,
{
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    if let Some(r) = controller {
        if is_ours(r) {
            return vec![ObjectRef::new(&r.name).within(&ns)];
        }
        return Vec::new();
    }
    let no_labels = std::collections::BTreeMap::new();
    let labels = pod.metadata.labels.as_ref().unwrap_or(&no_labels);
    store
        .state()
        .iter()
        .filter(|o| o.meta().namespace.as_deref() == Some(ns.as_str()))
        .filter(|o| selector(o).is_some_and(|sel| !sel.is_everything() && sel.matches(labels)))
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

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
    use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sSelector;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    fn daemon_set(name: &str, ns: &str, app: Option<&str>) -> DaemonSet {
        let mut d = DaemonSet::default();
        d.metadata.name = Some(name.into());
        d.metadata.namespace = Some(ns.into());
        d.spec = Some(DaemonSetSpec {
            selector: K8sSelector {
                match_labels: app.map(|a| [("app".to_string(), a.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        });
        d
    }

    fn woken(store: &Store<DaemonSet>, p: &Pod) -> Vec<String> {
        let mut names: Vec<String> = owners_for_pod(
            store,
            p,
            |r| is_apps(r, "DaemonSet"),
            |d: &DaemonSet| {
                d.spec
                    .as_ref()
                    .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
            },
        )
        .into_iter()
        .map(|r| r.name)
        .collect();
        names.sort();
        names
    }

    #[test]
    fn a_pod_wakes_its_controller_or_as_an_orphan_the_objects_selecting_it() {
        let mut w = reflector::store::Writer::<DaemonSet>::default();
        for d in [
            daemon_set("web", "default", Some("web")),
            daemon_set("web-too", "default", Some("web")),
            daemon_set("elsewhere", "other", Some("web")),
            daemon_set("everything", "default", None),
        ] {
            w.apply_watcher_event(&Event::Apply(d));
        }
        let store = w.as_reader();
        let mut orphan = pod("p", 0, "Running", None);
        orphan.metadata.namespace = Some("default".into());
        orphan.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        // Same namespace, matching selector; an empty selector never adopts.
        assert_eq!(woken(&store, &orphan), ["web", "web-too"]);

        let mut owned = orphan.clone();
        owned.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            name: "web-too".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        assert_eq!(woken(&store, &owned), ["web-too"]);

        // Controlled by another kind: none of ours is woken, even though selectors match.
        if let Some(r) = owned
            .metadata
            .owner_references
            .as_mut()
            .and_then(|r| r.first_mut())
        {
            r.kind = "ReplicaSet".into();
        }
        assert!(woken(&store, &owned).is_empty());
        let unlabelled = pod("q", 0, "Running", None);
        assert!(woken(&store, &unlabelled).is_empty());
    }

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
