use proptest::prelude::*;
use serde_json::{Value, json};

use super::{FieldError, validate};
use crate::defaults::apply;

fn errors(group: &str, plural: &str, old: Option<&Value>, new: &Value) -> Vec<String> {
    validate(group, plural, old, new)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Defaulted then validated, as the server does on create.
fn create(group: &str, plural: &str, mut obj: Value) -> Vec<String> {
    apply(group, plural, &mut obj);
    errors(group, plural, None, &obj)
}

fn deployment(template_spec: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": template_spec}
        }
    })
}

fn nginx() -> Value {
    json!({"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80, "name": "http"}]}]})
}

#[test]
fn a_realistic_deployment_is_valid() {
    assert_eq!(
        create("apps", "deployments", deployment(nginx())),
        Vec::<String>::new()
    );
}

#[test]
fn field_errors_carry_reason_path_and_upstream_detail() {
    let errs = validate("", "pods", None, &json!({"spec": {"containers": []}}));
    assert_eq!(
        errs,
        vec![FieldError {
            reason: "FieldValueRequired",
            field: "spec.containers".to_string(),
            message: "Required value".to_string()
        }]
    );
}

#[test]
fn container_mistakes_are_reported_at_their_paths() {
    let spec = json!({"containers": [
        {"name": "Web_1", "image": "nginx", "ports": [{"containerPort": 70000, "hostPort": -1, "protocol": "HTTP"}]},
        {"name": "side", "image": "", "imagePullPolicy": "Sometimes"},
        {"name": "side", "image": "busybox", "ports": [{"containerPort": 1, "name": "http"}, {"containerPort": 2, "name": "http"}]}
    ]});
    let errs = create("apps", "deployments", deployment(spec));
    let c = "spec.template.spec.containers";
    assert_eq!(
        errs,
        vec![
            format!(
                "{c}[0].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            ),
            format!(
                "{c}[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
            ),
            format!(
                "{c}[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive"
            ),
            format!(
                "{c}[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
            ),
            format!("{c}[1].image: Required value"),
            format!(
                "{c}[1].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
            ),
            format!("{c}[2].ports[1].name: Duplicate value: \"http\""),
            format!("{c}[2].name: Duplicate value: \"side\""),
        ]
    );
}

#[test]
fn requests_above_limits_and_bad_quantities_are_rejected() {
    let spec = json!({"containers": [{"name": "app", "image": "app:1", "resources": {
        "limits": {"cpu": "500m", "memory": "lots", "gpu": "1"},
        "requests": {"cpu": "1", "memory": "-1Gi"}
    }}]});
    let errs = create("", "pods", json!({"spec": spec}));
    assert_eq!(
        errs,
        vec![
            "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            "spec.containers[0].resources.limits[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.requests[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1Gi\": must be greater than or equal to 0",
            "spec.containers[0].resources.requests[cpu]: Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
        ]
    );
    let ok = json!({"spec": {"containers": [{"name": "a", "image": "a", "resources": {
        "limits": {"cpu": "1", "nvidia.com/gpu": "1"}, "requests": {"cpu": "1000m"}}}]}});
    assert_eq!(create("", "pods", ok), Vec::<String>::new());
}

#[test]
fn pod_level_enums_volumes_mounts_and_probes_are_checked() {
    let pod = json!({"spec": {
        "restartPolicy": "Sometimes",
        "dnsPolicy": "Google",
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "data", "configMap": {}}, {"name": "both", "emptyDir": {}, "hostPath": {"path": "/x"}}],
        "containers": [{"name": "app", "image": "app",
            "volumeMounts": [{"name": "missing", "mountPath": "/a"}, {"name": "data", "mountPath": "/a"}],
            "livenessProbe": {"periodSeconds": -1},
            "readinessProbe": {"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}}]
    }});
    let errs = errors("", "pods", None, &pod);
    assert_eq!(
        errs,
        vec![
            "spec.volumes[1].name: Duplicate value: \"data\"",
            "spec.volumes[1].configMap.name: Required value",
            "spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
            "spec.containers[0].livenessProbe: Required value: must specify a handler type",
            "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
            "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.dnsPolicy: Unsupported value: \"Google\": supported values: \"ClusterFirst\", \"ClusterFirstWithHostNet\", \"Default\", \"None\"",
        ]
    );
}

#[test]
fn pod_updates_may_change_only_images_and_a_few_fields() {
    let mut old = json!({"spec": {"containers": [{"name": "app", "image": "app:1"}]}});
    apply("", "pods", &mut old);
    let mut new = old.clone();
    new["spec"]["containers"][0]["image"] = json!("app:2");
    new["spec"]["activeDeadlineSeconds"] = json!(60);
    assert_eq!(errors("", "pods", Some(&old), &new), Vec::<String>::new());
    new["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "protocol": "TCP"}]);
    let errs = validate("", "pods", Some(&old), &new);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].reason, "FieldValueForbidden");
    assert_eq!(errs[0].field, "spec");
    assert!(
        errs[0].message.starts_with("Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains("containers"),
        "{}",
        errs[0].message
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
fn service_ports_types_and_names_are_checked() {
    let svc = |spec: Value| json!({"metadata": {"name": "s"}, "spec": spec});
    assert_eq!(
        create("", "services", svc(json!({"selector": {"app": "a"}}))),
        vec!["spec.ports: Required value"]
    );
    assert_eq!(
        create("", "services", svc(json!({"clusterIP": "None"}))),
        Vec::<String>::new()
    );
    assert_eq!(
        create("", "services", svc(json!({"type": "ExternalName"}))),
        vec!["spec.externalName: Required value"]
    );
    assert_eq!(
        create(
            "",
            "services",
            svc(json!({"type": "Magic", "ports": [
                {"port": 80, "name": "web"}, {"port": 70000, "protocol": "ICMP"}, {"port": 80, "name": "web", "nodePort": 30001, "targetPort": "Http"}
            ]}))
        ),
        vec![
            "spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
            "spec.ports[1].name: Required value",
            "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            // Defaulting copied the port into targetPort, as upstream's does.
            "spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.ports[2].name: Duplicate value: \"web\"",
            "spec.ports[2].targetPort: Invalid value: \"Http\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.ports[2]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
        ]
    );
    assert_eq!(
        create(
            "",
            "services",
            svc(json!({"ports": [{"port": 80, "nodePort": 30080}]}))
        ),
        vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    );
}

#[test]
fn service_cluster_ip_is_immutable() {
    let mut old = json!({"spec": {"selector": {"app": "a"}, "ports": [{"port": 80}], "clusterIP": "10.43.0.10"}});
    apply("", "services", &mut old);
    let mut new = old.clone();
    new["spec"]["ports"][0]["port"] = json!(8080);
    assert_eq!(
        errors("", "services", Some(&old), &new),
        Vec::<String>::new()
    );
    new["spec"]["clusterIP"] = json!("10.43.0.11");
    new["spec"]["clusterIPs"] = json!(["10.43.0.11"]);
    assert_eq!(
        errors("", "services", Some(&old), &new),
        vec![
            "spec.clusterIPs[0]: Invalid value: []string{\"10.43.0.11\"}: may not change once set"
        ]
    );
    new["spec"]["type"] = json!("ExternalName");
    new["spec"]["externalName"] = json!("db.example.com.");
    assert_eq!(
        errors("", "services", Some(&old), &new),
        Vec::<String>::new()
    );
}

#[test]
fn config_keys_size_and_immutability_are_enforced() {
    let cm = json!({"data": {"good.key_1": "x", "bad key": "y", "..hidden": "z"}, "binaryData": {"good.key_1": "eA=="}});
    assert_eq!(
        errors("", "configmaps", None, &cm),
        vec![
            "data[..hidden]: Invalid value: \"..hidden\": must not start with '..'",
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[good.key_1]: Invalid value: \"good.key_1\": duplicate of key present in binaryData",
        ]
    );
    let big = json!({"data": {"a": "x".repeat(1024 * 1024)}});
    let errs = validate("", "configmaps", None, &big);
    assert_eq!(errs.len(), 1);
    assert_eq!(
        (errs[0].reason, errs[0].field.as_str()),
        ("FieldValueTooLong", "")
    );
    assert_eq!(
        errs[0].message,
        "Too long: may not be more than 1048576 bytes"
    );
    let exact = json!({"data": {"a": "x".repeat(1024 * 1024 - 1)}});
    assert!(validate("", "configmaps", None, &exact).is_empty());

    let old = json!({"immutable": true, "data": {"a": "1"}});
    let same = old.clone();
    assert!(validate("", "configmaps", Some(&old), &same).is_empty());
    let changed = json!({"immutable": true, "data": {"a": "2"}});
    assert_eq!(
        errors("", "configmaps", Some(&old), &changed),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
    let unlocked = json!({"immutable": false, "data": {"a": "1"}});
    assert_eq!(
        errors("", "configmaps", Some(&old), &unlocked),
        vec!["immutable: Forbidden: field is immutable when `immutable` is set"]
    );
}

#[test]
fn secret_type_is_immutable_and_typed_secrets_need_their_keys() {
    let mut old = json!({"data": {"password": "aHVudGVyMg=="}});
    apply("", "secrets", &mut old);
    assert!(validate("", "secrets", None, &old).is_empty());
    let mut new = old.clone();
    new["type"] = json!("kubernetes.io/tls");
    assert_eq!(
        errors("", "secrets", Some(&old), &new),
        vec![
            "data[tls.crt]: Required value",
            "data[tls.key]: Required value",
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable",
        ]
    );
    let sa = json!({"type": "kubernetes.io/service-account-token"});
    assert_eq!(
        errors("", "secrets", None, &sa),
        vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    );
    let big = json!({"data": {"blob": "A".repeat(1_400_000)}});
    assert_eq!(
        errors("", "secrets", None, &big),
        vec!["data: Too long: may not be more than 1048576 bytes"]
    );
}

#[test]
fn pvc_needs_access_modes_and_storage_and_may_only_grow() {
    assert_eq!(
        create("", "persistentvolumeclaims", json!({"spec": {}})),
        vec![
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value"
        ]
    );
    assert_eq!(
        create(
            "",
            "persistentvolumeclaims",
            json!({"spec": {"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "0"}}}})
        ),
        vec![
            "spec.accessModes: Unsupported value: \"ReadWriteSometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec.resources[storage]: Invalid value: \"0\": must be greater than zero",
        ]
    );
    let mut old = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": "pv-1"}});
    apply("", "persistentvolumeclaims", &mut old);
    let mut grown = old.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    assert!(validate("", "persistentvolumeclaims", Some(&old), &grown).is_empty());
    let mut shrunk = old.clone();
    shrunk["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
    assert_eq!(
        errors("", "persistentvolumeclaims", Some(&old), &shrunk),
        vec![
            "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"
        ]
    );
    let mut moved = old.clone();
    moved["spec"]["storageClassName"] = json!("fast");
    assert_eq!(
        errors("", "persistentvolumeclaims", Some(&old), &moved),
        vec![
            "spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        ]
    );
}

#[test]
fn pv_needs_capacity_and_one_source() {
    assert_eq!(
        create(
            "",
            "persistentvolumes",
            json!({"spec": {"accessModes": ["ReadWriteOnce"]}})
        ),
        vec![
            "spec.capacity: Required value",
            "spec: Required value: must specify a volume type"
        ]
    );
    let ok = json!({"spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "5Gi"}, "hostPath": {"path": "/data"}}});
    assert_eq!(create("", "persistentvolumes", ok), Vec::<String>::new());
}

#[test]
fn ingress_paths_backends_and_hosts_are_checked() {
    let ok = json!({"spec": {"ingressClassName": "traefik", "rules": [{"host": "*.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &ok),
        Vec::<String>::new()
    );
    let bad = json!({"spec": {"rules": [{"host": "10.0.0.1", "http": {"paths": [
        {"path": "api", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
        {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "Web", "port": {}}}},
        {"path": "/a//b", "pathType": "Regex", "backend": {}}]}}]}});
    let p = "spec.rules[0].http.paths";
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &bad),
        vec![
            "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address".to_string(),
            format!("{p}[0].pathType: Required value: pathType must be specified"),
            format!("{p}[1].path: Invalid value: \"api\": must be an absolute path"),
            format!("{p}[1].backend.service.name: Invalid value: \"Web\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
            format!("{p}[1].backend.service.port.name: Required value: port name or number is required"),
            format!("{p}[2].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""),
            format!("{p}[2].backend: Invalid value: networking.IngressBackend{{Service:(*networking.IngressServiceBackend)(nil), Resource:(*core.TypedLocalObjectReference)(nil)}}: resource or service backend is required"),
        ]
    );
    assert_eq!(
        errors("networking.k8s.io", "ingresses", None, &json!({"spec": {}})),
        vec![
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
        ]
    );
}

#[test]
fn network_policy_peers_ports_and_cidrs_are_checked() {
    let mut np = json!({"spec": {"podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {}}, {}, {"ipBlock": {"cidr": "10.0.0.0/33"}, "namespaceSelector": {}}],
                     "ports": [{"port": 5432, "endPort": 5000}, {"protocol": "ICMP", "port": "postgres"}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16", "nope"]}}]}],
        "policyTypes": ["Ingress", "Sideways"]}});
    apply("networking.k8s.io", "networkpolicies", &mut np);
    assert_eq!(
        errors("networking.k8s.io", "networkpolicies", None, &np),
        vec![
            "spec.ingress[0].ports[0].endPort: Invalid value: 5000: must be greater than or equal to `port`",
            "spec.ingress[0].ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.ingress[0].from[1]: Required value: must specify a peer",
            "spec.ingress[0].from[2]: Forbidden: may not specify both ipBlock and another peer",
            "spec.ingress[0].from[2].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.egress[0].to[0].ipBlock.except[1]: Invalid value: \"nope\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.policyTypes[1]: Unsupported value: \"Sideways\": supported values: \"Ingress\", \"Egress\"",
        ]
    );
}

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
