//! What the scheduler writes about a decision: the Binding, the PodScheduled=False condition
//! (with the nominated node after a preemption), the FailedScheduling event, and for each
//! preemption victim its DisruptionTarget condition and Preempted event, built as values (no
//! I/O). Entry points: [`binding`], [`unschedulable_patch`], [`failed_scheduling_event`],
//! [`preempted_event`].

use k8s_openapi::api::core::v1::{Binding, Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use serde_json::{Value, json};

pub fn binding(pod: &Pod, node: &str) -> Binding {
    Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    }
}

/// Whether the pod already shows this exact unschedulable verdict (then no write is needed).
pub fn already_reported(pod: &Pod, message: &str) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
                && c.message.as_deref() == Some(message)
        })
}

/// A strategic merge patch for `pods/status` (conditions merge by type).
pub fn unschedulable_patch(message: &str, now: jiff::Timestamp) -> Value {
    json!({"status": {"conditions": [{
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": message,
        "lastProbeTime": null,
        "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }]}})
}

/// [`unschedulable_patch`] that also records where the pod preempted (`None` clears it).
pub fn nominated_patch(message: &str, node: Option<&str>, now: jiff::Timestamp) -> Value {
    let mut patch = unschedulable_patch(message, now);
    patch["status"]["nominatedNodeName"] = json!(node);
    patch
}

/// The condition upstream sets on a pod before deleting it as a preemption victim.
pub fn disruption_target_patch(scheduler: &str, now: jiff::Timestamp) -> Value {
    json!({"status": {"conditions": [{
        "type": "DisruptionTarget",
        "status": "True",
        "reason": "PreemptionByScheduler",
        "message": format!("{scheduler}: preempting to accommodate a higher priority pod"),
        "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }]}})
}

/// The Normal `Preempted` event on a victim, naming the preemptor by uid as upstream does.
pub fn preempted_event(
    victim: &Pod,
    preemptor: &Pod,
    node: &str,
    scheduler: &str,
    now: jiff::Timestamp,
) -> Event {
    let message = format!(
        "Preempted by pod {} on node {node}",
        preemptor.metadata.uid.as_deref().unwrap_or("")
    );
    let mut e = pod_event(victim, "Normal", "Preempted", &message, scheduler, now);
    e.action = Some("Preempting".into());
    e.related = Some(pod_reference(preemptor));
    e
}

/// A core/v1 Warning event about `pod`, from `scheduler` (as `kubectl describe` shows it).
pub fn failed_scheduling_event(
    pod: &Pod,
    message: &str,
    scheduler: &str,
    now: jiff::Timestamp,
) -> Event {
    pod_event(pod, "Warning", "FailedScheduling", message, scheduler, now)
}

/// The Normal `Scheduled` event upstream records after a successful bind.
pub fn scheduled_event(pod: &Pod, node: &str, scheduler: &str, now: jiff::Timestamp) -> Event {
    let message = format!(
        "Successfully assigned {}/{} to {node}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    );
    pod_event(pod, "Normal", "Scheduled", &message, scheduler, now)
}

fn pod_reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        name: pod.metadata.name.clone(),
        namespace: Some(
            pod.metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
        ),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn pod_event(
    pod: &Pod,
    type_: &str,
    reason: &str,
    message: &str,
    scheduler: &str,
    now: jiff::Timestamp,
) -> Event {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: Some(ns),
            ..Default::default()
        },
        involved_object: pod_reference(pod),
        reason: Some(reason.into()),
        message: Some(message.to_string()),
        type_: Some(type_.into()),
        source: Some(EventSource {
            component: Some(scheduler.to_string()),
            host: None,
        }),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        action: Some("Scheduling".into()),
        reporting_component: Some(scheduler.to_string()),
        reporting_instance: Some(scheduler.to_string()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": {"containers": []}})).unwrap()
    }

    #[test]
    fn binding_targets_the_node_and_carries_the_uid() {
        let b = serde_json::to_value(binding(&pod(), "n1")).unwrap();
        assert_eq!(
            b["target"],
            json!({"apiVersion": "v1", "kind": "Node", "name": "n1"})
        );
        assert_eq!(b["metadata"]["uid"], "u1");
    }

    #[test]
    fn event_names_the_pod_and_the_scheduler() {
        let e = failed_scheduling_event(
            &pod(),
            "0/1 nodes are available",
            "default-scheduler",
            jiff::Timestamp::UNIX_EPOCH,
        );
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["involvedObject"]["name"], "p");
        assert_eq!(v["involvedObject"]["uid"], "u1");
        assert_eq!(v["metadata"]["namespace"], "ns");
        assert_eq!(v["source"]["component"], "default-scheduler");
        assert_eq!(v["type"], "Warning");
        assert_eq!(v["reason"], "FailedScheduling");
    }

    #[test]
    fn scheduled_event_says_where() {
        let e = scheduled_event(
            &pod(),
            "n1",
            "default-scheduler",
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(e.reason.as_deref(), Some("Scheduled"));
        assert_eq!(
            e.message.as_deref(),
            Some("Successfully assigned ns/p to n1")
        );
    }

    #[test]
    fn same_message_is_not_reported_twice() {
        let mut p = pod();
        assert!(!already_reported(&p, "m"));
        let patch = unschedulable_patch("m", jiff::Timestamp::UNIX_EPOCH);
        p.status = serde_json::from_value(patch["status"].clone()).unwrap();
        assert!(already_reported(&p, "m"));
        assert!(!already_reported(&p, "other"));
    }

    #[test]
    fn victims_hear_who_preempted_them_and_where() {
        let mut preemptor = pod();
        preemptor.metadata.name = Some("vip".into());
        preemptor.metadata.uid = Some("u-vip".into());
        let e = preempted_event(
            &pod(),
            &preemptor,
            "n1",
            "default-scheduler",
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(e.reason.as_deref(), Some("Preempted"));
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        assert_eq!(
            e.message.as_deref(),
            Some("Preempted by pod u-vip on node n1")
        );
        assert_eq!(e.involved_object.name.as_deref(), Some("p"));
        assert_eq!(
            e.related.and_then(|r| r.name).as_deref(),
            Some("vip"),
            "the preemptor is the related object"
        );
    }

    #[test]
    fn nomination_is_written_with_the_condition_and_can_be_cleared() {
        let v = nominated_patch("m", Some("n1"), jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(v["status"]["nominatedNodeName"], "n1");
        assert_eq!(v["status"]["conditions"][0]["reason"], "Unschedulable");
        let v = nominated_patch("m", None, jiff::Timestamp::UNIX_EPOCH);
        assert!(v["status"]["nominatedNodeName"].is_null());
        assert!(
            v["status"]
                .as_object()
                .unwrap()
                .contains_key("nominatedNodeName")
        );
    }

    #[test]
    fn disruption_target_names_the_scheduler() {
        let v = disruption_target_patch("default-scheduler", jiff::Timestamp::UNIX_EPOCH);
        let c = &v["status"]["conditions"][0];
        assert_eq!(c["type"], "DisruptionTarget");
        assert_eq!(c["reason"], "PreemptionByScheduler");
        assert_eq!(
            c["message"],
            "default-scheduler: preempting to accommodate a higher priority pod"
        );
    }
}
