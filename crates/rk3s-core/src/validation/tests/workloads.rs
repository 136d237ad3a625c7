use serde_json::{Value, json};

use super::{create, deployment, errors, nginx};
use crate::defaults::apply;
use crate::validation::validate;

#[test]
fn a_realistic_deployment_is_valid() {
    assert_eq!(
        create("apps", "deployments", deployment(nginx())),
        Vec::<String>::new()
    );
}

#[test]
fn deployment_selector_must_match_and_be_non_empty() {
    let mut d = deployment(nginx());
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "other", "tier": "fe"});
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\", \"tier\":\"fe\"}: `selector` does not match template `labels`"
        ]
    );
    let mut d = deployment(nginx());
    d["spec"]["selector"] = json!({});
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        ]
    );
    let mut d = deployment(nginx());
    d["spec"].as_object_mut().map(|s| s.remove("selector"));
    d["spec"].as_object_mut().map(|s| s.remove("template"));
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.selector: Required value",
            "spec.template: Required value"
        ]
    );
}

#[test]
fn deployment_counts_and_strategy_are_checked() {
    let mut d = deployment(nginx());
    d["spec"]["replicas"] = json!(-1);
    d["spec"]["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}});
    d["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
    d["spec"]["progressDeadlineSeconds"] = json!(5);
    d["spec"]["minReadySeconds"] = json!(10);
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
            "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds",
        ]
    );
    let mut d = deployment(nginx());
    d["spec"]["strategy"] = json!({"type": "Recreate", "rollingUpdate": {"maxSurge": "150"}});
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
        ]
    );
    let mut d = deployment(nginx());
    d["spec"]["strategy"] = json!({"type": "Sideways"});
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.strategy.type: Unsupported value: \"Sideways\": supported values: \"Recreate\", \"RollingUpdate\""
        ]
    );
    let mut d = deployment(nginx());
    d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "25", "maxUnavailable": "101%"}});
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"101%\"}: must not be greater than 100%",
            "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"25\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        ]
    );
}

#[test]
fn apps_selectors_are_immutable_on_update() {
    let mut old = deployment(nginx());
    apply("apps", "deployments", &mut old);
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(5);
    assert_eq!(
        errors("apps", "deployments", Some(&old), &new),
        Vec::<String>::new()
    );
    new["spec"]["selector"] = json!({"matchLabels": {"app": "web", "v": "2"}});
    new["spec"]["template"]["metadata"]["labels"] = json!({"app": "web", "v": "2"});
    for plural in ["deployments", "replicasets", "daemonsets"] {
        let errs = errors("apps", plural, Some(&old), &new);
        assert_eq!(
            errs.last().map(String::as_str),
            Some(
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ),
            "{plural}"
        );
    }
}

#[test]
fn statefulset_updates_are_limited_to_the_mutable_fields() {
    let mut old = json!({"spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "w"}},
        "template": {"metadata": {"labels": {"app": "w"}}, "spec": nginx()}}});
    apply("apps", "statefulsets", &mut old);
    assert_eq!(
        errors("apps", "statefulsets", None, &old),
        Vec::<String>::new()
    );
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(3);
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    assert_eq!(
        errors("apps", "statefulsets", Some(&old), &new),
        Vec::<String>::new()
    );
    new["spec"]["serviceName"] = json!("other");
    new["spec"]["podManagementPolicy"] = json!("Sometimes");
    assert_eq!(
        errors("apps", "statefulsets", Some(&old), &new),
        vec![
            "spec.podManagementPolicy: Unsupported value: \"Sometimes\": supported values: \"OrderedReady\", \"Parallel\"",
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ]
    );
}

#[test]
fn replication_controller_selector_must_match_template() {
    let rc = json!({"spec": {"selector": {"app": "a"}, "template": {"metadata": {"labels": {"app": "b"}}, "spec": nginx()}}});
    assert_eq!(
        create("", "replicationcontrollers", rc),
        vec![
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`"
        ]
    );
}

fn job(restart: Option<&str>) -> Value {
    let mut spec =
        json!({"containers": [{"name": "pi", "image": "perl:5.34", "command": ["perl"]}]});
    if let Some(r) = restart {
        spec["restartPolicy"] = json!(r);
    }
    json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": spec}}})
}

#[test]
fn job_restart_policy_must_be_on_failure_or_never() {
    assert_eq!(
        create("batch", "jobs", job(Some("Never"))),
        Vec::<String>::new()
    );
    let expected = vec![
        "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
    ];
    assert_eq!(create("batch", "jobs", job(None)), expected);
    assert_eq!(create("batch", "jobs", job(Some("Always"))), expected);
    let mut j = job(Some("Never"));
    j["spec"]["completionMode"] = json!("Indexed");
    j["spec"]["parallelism"] = json!(-2);
    assert_eq!(
        create("batch", "jobs", j),
        vec![
            "spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
            "spec.completions: Required value: when completion mode is Indexed",
        ]
    );
}

#[test]
fn job_template_is_immutable() {
    let mut old = job(Some("Never"));
    apply("batch", "jobs", &mut old);
    let mut new = old.clone();
    new["spec"]["suspend"] = json!(true);
    assert_eq!(
        errors("batch", "jobs", Some(&old), &new),
        Vec::<String>::new()
    );
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36");
    let errs = validate("batch", "jobs", Some(&old), &new);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].field, "spec.template");
    assert!(
        errs[0].message.ends_with(": field is immutable"),
        "{}",
        errs[0].message
    );
}

#[test]
fn cronjob_schedule_and_policy_are_checked() {
    let cj = |schedule: &str| json!({"spec": {"schedule": schedule, "jobTemplate": {"spec": job(Some("OnFailure"))["spec"].clone()}}});
    assert_eq!(
        create("batch", "cronjobs", cj("*/5 * * * *")),
        Vec::<String>::new()
    );
    assert_eq!(
        create("batch", "cronjobs", cj("@hourly")),
        Vec::<String>::new()
    );
    assert_eq!(
        create("batch", "cronjobs", cj("* * *")),
        vec![
            "spec.schedule: Invalid value: \"* * *\": expected exactly 5 fields, found 3: [* * *]"
        ]
    );
    assert_eq!(
        create("batch", "cronjobs", cj("TZ=Europe/Paris 0 * * * *")),
        vec![
            "spec.schedule: Invalid value: \"TZ=Europe/Paris 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
        ]
    );
    let mut bad = cj("0 0 * * *");
    bad["spec"]["concurrencyPolicy"] = json!("Sometimes");
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    assert_eq!(
        create("batch", "cronjobs", bad),
        vec![
            "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            "spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
        ]
    );
    let mut tz = cj("0 0 * * *");
    tz["spec"]["timeZone"] = json!("Europe/Paris");
    assert_eq!(
        create("batch", "cronjobs", tz.clone()),
        Vec::<String>::new()
    );
    tz["spec"]["timeZone"] = json!(" bad zone");
    assert_eq!(
        create("batch", "cronjobs", tz),
        vec!["spec.timeZone: Invalid value: \" bad zone\": unknown time zone"]
    );
}

#[test]
fn controllers_reject_active_deadlines_in_templates() {
    let mut d = deployment(nginx());
    d["spec"]["template"]["spec"]["activeDeadlineSeconds"] = json!(30);
    assert_eq!(
        create("apps", "deployments", d),
        vec![
            "spec.template.spec.activeDeadlineSeconds: Invalid value: 30: activeDeadlineSeconds in ReplicaSet is not Supported"
        ]
    );
}

#[test]
fn statefulset_claim_templates_are_validated_as_claims() {
    let sts = json!({"spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
        "template": {"metadata": {"labels": {"app": "db"}}, "spec": nginx()},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}}}}]}});
    assert_eq!(
        create("apps", "statefulsets", sts),
        vec![
            "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required"
        ]
    );
}

#[test]
fn suspended_unstarted_jobs_may_change_scheduling_directives() {
    let mut old = job(Some("Never"));
    old["spec"]["suspend"] = json!(true);
    apply("batch", "jobs", &mut old);
    let mut new = old.clone();
    new["spec"]["template"]["spec"]["nodeSelector"] = json!({"pool": "gpu"});
    new["spec"]["template"]["metadata"] = json!({"labels": {"queue": "a"}});
    assert!(validate("batch", "jobs", Some(&old), &new).is_empty());
    new["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36");
    assert_eq!(validate("batch", "jobs", Some(&old), &new).len(), 1);
    old["status"] = json!({"startTime": "2026-01-01T00:00:00Z"});
    let mut started = old.clone();
    started["spec"]["template"]["spec"]["nodeSelector"] = json!({"pool": "gpu"});
    assert_eq!(validate("batch", "jobs", Some(&old), &started).len(), 1);
}
