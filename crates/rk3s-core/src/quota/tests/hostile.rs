use proptest::prelude::*;
use serde_json::{Value, json};

use super::{pod, quota};
use crate::quota::{Usage, apply_limit_ranges, check_quota, quota_status, usage_of};

/// Keys and leaves the code looks for, so random documents reach deep paths.
fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "spec",
        "status",
        "metadata",
        "name",
        "hard",
        "scopes",
        "scopeSelector",
        "matchExpressions",
        "scopeName",
        "operator",
        "values",
        "containers",
        "initContainers",
        "resources",
        "requests",
        "limits",
        "cpu",
        "memory",
        "pods",
        "phase",
        "type",
        "ports",
        "limits",
        "min",
        "max",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
        "restartPolicy",
        "overhead",
        "storage",
        "annotations",
        "resourceVersion",
        "activeDeadlineSeconds",
        "qosClass",
        "priorityClassName",
        "affinity",
        "podAffinity",
        "allocatedResources",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            "1",
            "500m",
            "1Gi",
            "-1",
            "1e400",
            "9Ei",
            "abc",
            "",
            "Always",
            "Container",
            "Pod",
            "PersistentVolumeClaim",
            "NodePort",
            "LoadBalancer",
            "Failed",
            "BestEffort",
            "In",
            "Exists",
            "PriorityClass",
            "Terminating",
            "999999999999999999999999999",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn quota_admission_never_panics_on_arbitrary_json(
        obj in arb_json(),
        old in arb_json(),
        quotas in prop::collection::vec(arb_json(), 0..3),
        objects in prop::collection::vec(arb_json(), 0..3),
        which in prop::sample::select(vec![("", "pods"), ("", "services"), ("", "persistentvolumeclaims"), ("apps", "deployments"), ("", "configmaps")]),
    ) {
        let usage = Usage::from_objects(&[
            ("pods", &objects),
            ("services", &objects),
            ("persistentvolumeclaims", &objects),
            ("deployments.apps", &objects),
        ]);
        let _ = check_quota(which.0, which.1, None, &obj, &quotas, &usage);
        let _ = check_quota(which.0, which.1, Some(&old), &obj, &quotas, &usage);
        let _ = usage_of(which.0, which.1, &obj);
        for q in &quotas {
            let _ = quota_status(q, &usage);
        }
    }

    #[test]
    fn limit_range_admission_never_panics_on_arbitrary_json(
        mut obj in arb_json(),
        ranges in prop::collection::vec(arb_json(), 0..3),
        kind in prop::sample::select(vec!["Pod", "PersistentVolumeClaim", "Service"]),
    ) {
        let _ = apply_limit_ranges(kind, &mut obj, &ranges);
    }

    #[test]
    fn arbitrary_quantities_in_real_shapes_never_panic(
        cpu in any::<String>(),
        hard in prop::sample::select(vec!["1", "0", "1e400", "-5", "9Ei", "x", "1n", "18446744073709551616"]),
        req in prop::sample::select(vec!["1", "0", "-1", "9Ei", "1e-9", "100m", "x", "170141183460469231731687303715"]),
    ) {
        let p = pod("p", &[("a", json!({"cpu": req, "memory": cpu}), json!({"cpu": req}))]);
        let q = quota("q", json!({"requests.cpu": hard, "limits.cpu": hard, "memory": cpu}));
        let existing = [p.clone(), p.clone()];
        let usage = Usage::from_objects(&[("pods", &existing)]);
        let _ = check_quota("", "pods", None, &p, &[q], &usage);
        let lr = json!({"spec": {"limits": [
            {"type": "Container", "min": {"cpu": hard}, "max": {"cpu": req}, "maxLimitRequestRatio": {"cpu": hard}},
            {"type": "Pod", "max": {"cpu": req, "memory": cpu}},
        ]}});
        let mut p2 = p.clone();
        let _ = apply_limit_ranges("Pod", &mut p2, &[lr]);
    }
}

#[test]
fn malformed_quotas_and_pods_are_tolerated() {
    let quotas = [
        json!({"spec": {"hard": {"pods": "lots", "requests.cpu": 2}}, "metadata": {"name": "q"}}),
        json!({"spec": "nonsense"}),
        json!([1, 2, 3]),
        json!({"spec": {"hard": {"pods": "1"}, "scopeSelector": {"matchExpressions": [{"operator": "Bogus"}]}}}),
    ];
    let p = json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}, 7, null]}});
    // requests.cpu given as a bare number is still a quantity, as upstream accepts.
    let d = check_quota("", "pods", None, &p, &quotas, &Usage::default()).unwrap();
    assert_eq!(d.updates.len(), 1);
    assert_eq!(d.updates[0].1["used"], json!({"requests.cpu": "1"}));

    let mut hostile = json!({"metadata": 5, "spec": {"containers": [{"name": "a", "resources": "x"}, {"resources": {"requests": []}}]}});
    let lr = json!({"spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}});
    let _ = apply_limit_ranges("Pod", &mut hostile, &[lr]);
    assert_eq!(hostile["spec"]["containers"][0]["resources"], "x");
}
