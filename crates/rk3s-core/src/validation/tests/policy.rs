use serde_json::json;

use super::errors;
use crate::defaults::apply;
use crate::validation::validate;

#[test]
fn hpa_and_pdb_bounds_are_checked() {
    let mut hpa = json!({"apiVersion": "autoscaling/v2", "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 5, "maxReplicas": 3}});
    apply("autoscaling", "horizontalpodautoscalers", &mut hpa);
    assert_eq!(
        errors("autoscaling", "horizontalpodautoscalers", None, &hpa),
        vec!["spec.maxReplicas: Invalid value: 3: must be greater than or equal to `minReplicas`"]
    );
    let hpa = json!({"spec": {"scaleTargetRef": {}, "minReplicas": 0, "maxReplicas": 0}});
    assert_eq!(
        errors("autoscaling", "horizontalpodautoscalers", None, &hpa),
        vec![
            "spec.scaleTargetRef.kind: Required value",
            "spec.scaleTargetRef.name: Required value",
            "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
            "spec.maxReplicas: Invalid value: 0: must be greater than 0",
        ]
    );
    let pdb = json!({"spec": {"minAvailable": "120%", "maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    assert_eq!(
        errors("policy", "poddisruptionbudgets", None, &pdb),
        vec![
            "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}, MaxUnavailable:intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}}: minAvailable and maxUnavailable cannot be both set",
            "spec.minAvailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%",
        ]
    );
}

#[test]
fn priority_classes_reserve_system_names_and_freeze_their_value() {
    let pc = |name: &str, value: i64| json!({"metadata": {"name": name}, "value": value});
    assert!(
        validate(
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            &pc("high", 1000)
        )
        .is_empty()
    );
    assert!(
        validate(
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            &pc("system-node-critical", 2_000_001_000)
        )
        .is_empty()
    );
    assert_eq!(
        errors(
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            &pc("system-mine", 1)
        ),
        vec!["metadata.name: Forbidden: priority class names with 'system-' prefix are reserved"]
    );
    assert_eq!(
        errors(
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            &pc("huge", 2_000_000_000)
        ),
        vec!["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    );
    assert_eq!(
        errors(
            "scheduling.k8s.io",
            "priorityclasses",
            Some(&pc("high", 1000)),
            &pc("high", 2000)
        ),
        vec!["value: Forbidden: may not be changed in an update."]
    );
}

#[test]
fn storage_classes_quotas_and_limit_ranges_are_checked() {
    let mut sc = json!({"provisioner": "rancher.io/local-path"});
    apply("storage.k8s.io", "storageclasses", &mut sc);
    assert!(validate("storage.k8s.io", "storageclasses", None, &sc).is_empty());
    let mut changed = sc.clone();
    changed["provisioner"] = json!("other.io/x");
    changed["volumeBindingMode"] = json!("WaitForFirstConsumer");
    assert_eq!(
        errors("storage.k8s.io", "storageclasses", Some(&sc), &changed),
        vec![
            "provisioner: Forbidden: updates to provisioner are forbidden.",
            "volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable",
        ]
    );
    assert_eq!(
        errors("storage.k8s.io", "storageclasses", None, &json!({})),
        vec!["provisioner: Required value"]
    );
    let quota =
        json!({"spec": {"hard": {"pods": "10", "requests.cpu": "-1", "requests.memory": "1 Gi"}}});
    assert_eq!(
        errors("", "resourcequotas", None, &quota),
        vec![
            "spec.hard[requests.cpu]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.hard[requests.memory]: Invalid value: \"1 Gi\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ]
    );
    let lr = json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "2"}, "defaultRequest": {"cpu": "500m"}}]}});
    assert_eq!(
        errors("", "limitranges", None, &lr),
        vec![
            "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1",
            "spec.limits[0].defaultRequest[cpu]: Invalid value: \"500m\": min value 2 is greater than default request value 500m",
        ]
    );
}
