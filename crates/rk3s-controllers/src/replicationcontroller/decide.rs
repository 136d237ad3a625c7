//! ReplicationController decisions without I/O. A ReplicationController is a ReplicaSet with an
//! equality-only selector, so it is seen as one ([`as_replica_set`]) and the ReplicaSet
//! decisions of [`crate::replicaset::decide`] apply unchanged; only names and types differ.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ReplicaSet, ReplicaSetCondition, ReplicaSetSpec, ReplicaSetStatus,
};
use k8s_openapi::api::core::v1::{
    Pod, ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as K8sSelector, OwnerReference,
};
use rk3s_core::selectors::{LabelOp, LabelRequirement, LabelSelector, LabelSelectorError};

use crate::replicaset::decide::{self as rs, DecideError};

pub const API_VERSION: &str = "v1";
pub const KIND: &str = "ReplicationController";

/// The selector of `spec.selector`: every label equal. An absent or empty map selects
/// everything (the API server defaults it from the template labels, and refuses it empty).
pub fn selector(
    selector: Option<&BTreeMap<String, String>>,
) -> Result<LabelSelector, LabelSelectorError> {
    let reqs = selector
        .into_iter()
        .flatten()
        .map(|(k, v)| LabelRequirement::new(k, LabelOp::Equals, vec![v.clone()]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LabelSelector::new(reqs))
}

/// The controller reference on the pods of `rc`.
pub fn owner_ref(rc: &ReplicationController) -> OwnerReference {
    rs::controller_ref(
        API_VERSION,
        KIND,
        rc.metadata.name.as_deref().unwrap_or_default(),
        rc.metadata.uid.as_deref().unwrap_or_default(),
    )
}

/// The ReplicaSet `rc` behaves as: same identity, replicas, template and minReadySeconds, the
/// selector as `matchLabels`, and the status (conditions included) carried across.
pub fn as_replica_set(rc: &ReplicationController) -> ReplicaSet {
    let spec = rc.spec.clone().unwrap_or_default();
    ReplicaSet {
        metadata: rc.metadata.clone(),
        spec: Some(ReplicaSetSpec {
            replicas: spec.replicas,
            min_ready_seconds: spec.min_ready_seconds,
            selector: K8sSelector {
                match_labels: spec.selector,
                match_expressions: None,
            },
            template: spec.template,
        }),
        status: rc.status.as_ref().map(|s| ReplicaSetStatus {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas,
            ready_replicas: s.ready_replicas,
            available_replicas: s.available_replicas,
            observed_generation: s.observed_generation,
            conditions: s.conditions.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| ReplicaSetCondition {
                        type_: c.type_.clone(),
                        status: c.status.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        last_transition_time: c.last_transition_time.clone(),
                    })
                    .collect()
            }),
            terminating_replicas: None,
        }),
    }
}

/// The ReplicationController form of a status computed for [`as_replica_set`]'s view.
pub fn rc_status(st: ReplicaSetStatus) -> ReplicationControllerStatus {
    ReplicationControllerStatus {
        replicas: st.replicas,
        fully_labeled_replicas: st.fully_labeled_replicas,
        ready_replicas: st.ready_replicas,
        available_replicas: st.available_replicas,
        observed_generation: st.observed_generation,
        conditions: st.conditions.map(|cs| {
            cs.into_iter()
                .map(|c| ReplicationControllerCondition {
                    type_: c.type_,
                    status: c.status,
                    reason: c.reason,
                    message: c.message,
                    last_transition_time: c.last_transition_time,
                })
                .collect()
        }),
    }
}

/// A new pod from the template, controlled by the ReplicationController.
pub fn pod_from_template(rc: &ReplicationController) -> Result<Pod, DecideError> {
    let mut pod = rs::pod_from_template(&as_replica_set(rc))?;
    pod.metadata.owner_references = Some(vec![owner_ref(rc)]);
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::{pod, ts};
    use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec, ReplicationControllerSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn rc(replicas: i32) -> ReplicationController {
        let mut rc = ReplicationController::default();
        rc.metadata.name = Some("nginx".into());
        rc.metadata.namespace = Some("default".into());
        rc.metadata.uid = Some("rc-uid".into());
        rc.metadata.generation = Some(2);
        rc.spec = Some(ReplicationControllerSpec {
            replicas: Some(replicas),
            selector: Some(labels(&[("app", "nginx")])),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[("app", "nginx"), ("tier", "web")])),
                    ..Default::default()
                }),
                spec: Some(PodSpec::default()),
            }),
            min_ready_seconds: None,
        });
        rc
    }

    #[test]
    fn the_selector_requires_every_label_to_be_equal() {
        let sel = selector(Some(&labels(&[("app", "nginx"), ("tier", "web")]))).unwrap();
        assert!(sel.matches(&labels(&[("app", "nginx"), ("tier", "web"), ("x", "y")])));
        assert!(!sel.matches(&labels(&[("app", "nginx")])));
        assert!(!sel.matches(&labels(&[("app", "nginx"), ("tier", "db")])));
        assert!(selector(None).unwrap().is_everything());
        assert!(selector(Some(&BTreeMap::new())).unwrap().is_everything());
    }

    #[test]
    fn an_invalid_label_key_in_the_selector_is_an_error() {
        assert!(selector(Some(&labels(&[("not a key!", "v")]))).is_err());
    }

    #[test]
    fn pods_are_controlled_by_the_replication_controller() {
        let p = pod_from_template(&rc(3)).unwrap();
        assert_eq!(p.metadata.generate_name.as_deref(), Some("nginx-"));
        let refs = p.metadata.owner_references.unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(
            (
                refs[0].api_version.as_str(),
                refs[0].kind.as_str(),
                refs[0].uid.as_str()
            ),
            ("v1", "ReplicationController", "rc-uid")
        );
        assert_eq!(refs[0].controller, Some(true));
        assert_eq!(refs[0].block_owner_deletion, Some(true));
        assert_eq!(p.metadata.labels.unwrap()["tier"], "web");
    }

    #[test]
    fn a_controller_without_a_template_makes_no_pods() {
        let mut no_template = rc(1);
        if let Some(s) = no_template.spec.as_mut() {
            s.template = None;
        }
        assert_eq!(
            pod_from_template(&no_template).unwrap_err(),
            DecideError::MissingTemplate
        );
    }

    #[test]
    fn status_counts_the_pods_and_keeps_the_failure_condition() {
        let mut c = rc(3);
        c.status = Some(ReplicationControllerStatus {
            replicas: 0,
            conditions: Some(vec![ReplicationControllerCondition {
                type_: rs::REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some("FailedCreate".into()),
                message: Some("quota".into()),
                last_transition_time: Some(Time(ts(1))),
            }]),
            ..Default::default()
        });
        let mut a = pod("a", 1, "Running", Some(2));
        a.metadata.labels = Some(labels(&[("app", "nginx"), ("tier", "web")]));
        let mut b = pod("b", 1, "Pending", None);
        b.metadata.labels = Some(labels(&[("app", "nginx")]));
        let view = as_replica_set(&c);
        let st = rc_status(rs::status(&view, &[&a, &b], ts(10)));
        assert_eq!(st.replicas, 2);
        assert_eq!(st.fully_labeled_replicas, Some(1));
        assert_eq!(st.ready_replicas, Some(1));
        assert_eq!(st.available_replicas, Some(1));
        assert_eq!(st.observed_generation, Some(2));
        let cond = &st.conditions.as_ref().unwrap()[0];
        assert_eq!(cond.message.as_deref(), Some("quota"));
        assert_eq!(cond.last_transition_time, Some(Time(ts(1))));
    }

    #[test]
    fn the_replica_set_view_keeps_identity_replicas_and_selector() {
        let view = as_replica_set(&rc(5));
        assert_eq!(view.metadata.uid.as_deref(), Some("rc-uid"));
        let spec = view.spec.unwrap();
        assert_eq!(spec.replicas, Some(5));
        assert_eq!(
            spec.selector.match_labels,
            Some(labels(&[("app", "nginx")]))
        );
    }
}
