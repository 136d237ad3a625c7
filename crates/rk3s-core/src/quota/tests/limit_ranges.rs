use serde_json::{Value, json};

use super::pod;
use crate::quota::{aggregate_message, apply_limit_ranges};

fn limit_range(limits: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": "ns"},
        "spec": {"limits": limits},
    })
}

fn apply_pod(p: &mut Value, ranges: &[Value]) -> Result<(), Vec<String>> {
    apply_limit_ranges("Pod", p, ranges)
}

#[test]
fn container_defaults_fill_missing_requests_and_limits_and_are_annotated() {
    let lr = limit_range(json!([{
        "type": "Container",
        "default": {"cpu": "500m", "memory": "256Mi"},
        "defaultRequest": {"cpu": "0.1"},
    }]));
    let mut p = pod("web", &[("app", Value::Null, Value::Null)]);
    apply_pod(&mut p, &[lr]).unwrap();
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({
            "limits": {"cpu": "500m", "memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "256Mi"},
        })
    );
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"
    );
}

#[test]
fn stated_values_are_kept_and_init_containers_are_defaulted_too() {
    let lr = limit_range(json!([{
        "type": "Container",
        "default": {"cpu": "1"},
        "defaultRequest": {"cpu": "200m"},
    }]));
    let mut p = pod(
        "web",
        &[("app", json!({"cpu": "300m"}), json!({"cpu": "2"}))],
    );
    p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
    apply_pod(&mut p, &[lr]).unwrap();
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({"requests": {"cpu": "300m"}, "limits": {"cpu": "2"}})
    );
    assert_eq!(
        p["spec"]["initContainers"][0]["resources"],
        json!({"limits": {"cpu": "1"}, "requests": {"cpu": "200m"}})
    );
    assert_eq!(
        p["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu request for init container init; cpu limit for init container init"
    );
}

#[test]
fn a_fully_specified_pod_is_left_without_annotation() {
    let lr = limit_range(json!([{"type": "Container", "default": {"cpu": "1"}}]));
    let mut p = pod("web", &[("app", json!({"cpu": "1"}), json!({"cpu": "1"}))]);
    let before = p.clone();
    apply_pod(&mut p, &[lr]).unwrap();
    assert_eq!(p, before);
}

#[test]
fn limit_above_max_is_refused_with_upstreams_message() {
    let lr = limit_range(json!([{"type": "Container", "max": {"cpu": "1"}}]));
    let mut p = pod(
        "web",
        &[("app", json!({"cpu": "500m"}), json!({"cpu": "2"}))],
    );
    assert_eq!(
        apply_pod(&mut p, &[lr]).unwrap_err(),
        ["maximum cpu usage per Container is 1, but limit is 2"]
    );
}

#[test]
fn max_becomes_the_default_limit_for_containers_without_one() {
    let lr = limit_range(json!([{"type": "Container", "max": {"memory": "1Gi"}}]));
    let mut p = pod("web", &[("app", Value::Null, Value::Null)]);
    apply_pod(&mut p, &[lr]).unwrap();
    assert_eq!(
        p["spec"]["containers"][0]["resources"],
        json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "1Gi"}})
    );
}

#[test]
fn request_below_min_is_refused_with_upstreams_message() {
    let lr = limit_range(json!([{"type": "Container", "min": {"memory": "64Mi"}}]));
    let mut p = pod("web", &[("app", json!({"memory": "32Mi"}), Value::Null)]);
    assert_eq!(
        apply_pod(&mut p, &[lr]).unwrap_err(),
        ["minimum memory usage per Container is 64Mi, but request is 32Mi"]
    );
}

#[test]
fn limit_request_ratio_above_the_maximum_is_refused() {
    let lr = limit_range(json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}]));
    let mut p = pod(
        "web",
        &[("app", json!({"cpu": "100m"}), json!({"cpu": "500m"}))],
    );
    assert_eq!(
        apply_pod(&mut p, std::slice::from_ref(&lr)).unwrap_err(),
        ["cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000"]
    );
    let mut ok = pod(
        "web",
        &[("app", json!({"cpu": "250m"}), json!({"cpu": "500m"}))],
    );
    assert!(apply_pod(&mut ok, std::slice::from_ref(&lr)).is_ok());
    let mut no_limit = pod("web", &[("app", json!({"cpu": "250m"}), Value::Null)]);
    assert_eq!(
        apply_pod(&mut no_limit, &[lr]).unwrap_err(),
        [
            "cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0"
        ]
    );
}

#[test]
fn pod_limits_judge_the_sum_of_containers() {
    let lr = limit_range(json!([{"type": "Pod", "max": {"cpu": "1", "memory": "1Gi"}}]));
    let mut p = pod(
        "web",
        &[
            ("a", json!({"cpu": "600m"}), json!({"cpu": "600m"})),
            ("b", json!({"cpu": "600m"}), json!({"cpu": "600m"})),
        ],
    );
    let errs = apply_pod(&mut p, &[lr]).unwrap_err();
    assert_eq!(
        errs,
        [
            "maximum cpu usage per Pod is 1, but limit is 1200m",
            "maximum memory usage per Pod is 1Gi.  No limit is specified",
        ]
    );
    assert_eq!(
        aggregate_message(&errs),
        "[maximum cpu usage per Pod is 1, but limit is 1200m, maximum memory usage per Pod is 1Gi.  No limit is specified]"
    );
}

#[test]
fn every_container_is_checked_and_each_violation_reported() {
    let lr =
        limit_range(json!([{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "1"}}]));
    let mut p = pod(
        "web",
        &[
            ("small", json!({"cpu": "50m"}), json!({"cpu": "50m"})),
            ("large", json!({"cpu": "500m"}), json!({"cpu": "3"})),
        ],
    );
    assert_eq!(
        apply_pod(&mut p, &[lr]).unwrap_err(),
        [
            "minimum cpu usage per Container is 100m, but request is 50m",
            "maximum cpu usage per Container is 1, but limit is 3",
        ]
    );
}

#[test]
fn the_first_refusing_range_gives_the_errors_but_all_defaults_apply() {
    let defaults =
        limit_range(json!([{"type": "Container", "defaultRequest": {"memory": "128Mi"}}]));
    let strict = limit_range(json!([{"type": "Container", "min": {"memory": "256Mi"}}]));
    let mut p = pod("web", &[("app", Value::Null, Value::Null)]);
    assert_eq!(
        apply_pod(&mut p, &[defaults, strict]).unwrap_err(),
        ["minimum memory usage per Container is 256Mi, but request is 128Mi"]
    );
}

#[test]
fn claims_are_held_between_min_and_max_storage() {
    let lr = limit_range(json!([{
        "type": "PersistentVolumeClaim",
        "min": {"storage": "1Gi"},
        "max": {"storage": "10Gi"},
    }]));
    let claim = |storage: Value| {
        json!({
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {"resources": {"requests": storage}},
        })
    };
    let mut big = claim(json!({"storage": "20Gi"}));
    assert_eq!(
        apply_limit_ranges("PersistentVolumeClaim", &mut big, std::slice::from_ref(&lr))
            .unwrap_err(),
        ["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
    );
    let mut small = claim(json!({"storage": "500Mi"}));
    assert_eq!(
        apply_limit_ranges(
            "PersistentVolumeClaim",
            &mut small,
            std::slice::from_ref(&lr)
        )
        .unwrap_err(),
        ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
    );
    let mut none = claim(json!({}));
    assert_eq!(
        apply_limit_ranges(
            "PersistentVolumeClaim",
            &mut none,
            std::slice::from_ref(&lr)
        )
        .unwrap_err(),
        [
            "minimum storage usage per PersistentVolumeClaim is 1Gi.  No request is specified",
            "maximum storage usage per PersistentVolumeClaim is 10Gi.  No request is specified",
        ]
    );
    let mut fine = claim(json!({"storage": "5Gi"}));
    assert!(apply_limit_ranges("PersistentVolumeClaim", &mut fine, &[lr]).is_ok());
}

#[test]
fn container_ranges_do_not_touch_claims_and_other_kinds_pass() {
    let lr = limit_range(json!([{"type": "Container", "min": {"cpu": "1"}}]));
    let mut claim = json!({"kind": "PersistentVolumeClaim", "spec": {}});
    assert!(
        apply_limit_ranges(
            "PersistentVolumeClaim",
            &mut claim,
            std::slice::from_ref(&lr)
        )
        .is_ok()
    );
    let mut svc = json!({"kind": "Service"});
    assert!(apply_limit_ranges("Service", &mut svc, &[lr]).is_ok());
    assert_eq!(svc, json!({"kind": "Service"}));
}

#[test]
fn aggregate_message_of_one_error_is_the_error_itself() {
    assert_eq!(aggregate_message(&["a".into()]), "a");
    assert_eq!(aggregate_message(&["a".into(), "a".into()]), "a");
}
