//! Validation tests: per kind, realistic objects with exact field paths and messages.

mod pods;
mod policy;
mod services;
mod storage;
mod workloads;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::validate;
use crate::defaults::apply;

pub(super) fn errors(group: &str, plural: &str, old: Option<&Value>, new: &Value) -> Vec<String> {
    validate(group, plural, old, new)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Defaulted then validated, as the server does on create.
pub(super) fn create(group: &str, plural: &str, mut obj: Value) -> Vec<String> {
    apply(group, plural, &mut obj);
    errors(group, plural, None, &obj)
}

pub(super) fn deployment(template_spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template_spec}
        }
    })
}

pub(super) fn nginx() -> Value {
    json!({"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80, "name": "http"}]}]})
}

#[test]
fn kinds_without_rules_have_no_errors() {
    assert!(
        validate(
            "",
            "serviceaccounts",
            None,
            &json!({"metadata": {"name": "x"}})
        )
        .is_empty()
    );
    assert!(validate("example.com", "widgets", None, &json!(42)).is_empty());
}

const KINDS: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "services"),
    ("", "replicationcontrollers"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("storage.k8s.io", "storageclasses"),
    ("", "resourcequotas"),
    ("", "limitranges"),
];

proptest! {
    #[test]
    fn validate_never_panics_on_arbitrary_json(
        old in crate::defaults::tests::arb_json(),
        new in crate::defaults::tests::arb_json(),
        kind in prop::sample::select(KINDS.to_vec()),
    ) {
        let (group, plural) = kind;
        let _ = validate(group, plural, None, &new);
        let _ = validate(group, plural, Some(&old), &new);
        let mut defaulted = new.clone();
        apply(group, plural, &mut defaulted);
        let _ = validate(group, plural, Some(&new), &defaulted);
    }

    #[test]
    fn an_unchanged_valid_object_is_a_valid_update(replicas in 0i64..1000, image in "[a-z]{1,10}(:[a-z0-9.]{1,8})?") {
        let mut d = deployment(json!({"containers": [{"name": "c", "image": image}]}));
        d["spec"]["replicas"] = json!(replicas);
        apply("apps", "deployments", &mut d);
        prop_assert!(validate("apps", "deployments", None, &d).is_empty());
        prop_assert!(validate("apps", "deployments", Some(&d), &d).is_empty());
    }
}
