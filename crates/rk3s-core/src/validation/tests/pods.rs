use serde_json::json;

use super::{create, deployment, errors};
use crate::defaults::apply;
use crate::validation::FieldError;
use crate::validation::validate;

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
fn init_container_clashes_host_ports_and_sidecars_are_checked() {
    let pod = json!({"spec": {
        "containers": [
            {"name": "app", "image": "app", "ports": [{"containerPort": 80, "hostPort": 8080}], "restartPolicy": "Always"},
            {"name": "other", "image": "app", "ports": [{"containerPort": 81, "hostPort": 8080}, {"containerPort": 82, "hostPort": 8080, "protocol": "UDP"}]}
        ],
        "initContainers": [
            {"name": "app", "image": "init"},
            {"name": "sidecar", "image": "proxy", "restartPolicy": "Never"}
        ]
    }});
    assert_eq!(
        create("", "pods", pod),
        vec![
            "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
            "spec.containers[1].ports[0].hostPort: Duplicate value: \"8080/TCP\"",
            "spec.initContainers[0].name: Duplicate value: \"app\"",
            "spec.initContainers[1].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ]
    );
}

#[test]
fn host_network_requires_matching_host_ports() {
    let pod = json!({"spec": {"hostNetwork": true, "containers": [
        {"name": "a", "image": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 9090}]}]}});
    // The pod's missing host port defaults to the container port; the explicit one must match.
    assert_eq!(
        create("", "pods", pod),
        vec![
            "spec.containers[0].ports[0].containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true"
        ]
    );
}

#[test]
fn probe_ports_are_numbers_in_range_or_port_names() {
    let pod = json!({"spec": {"containers": [{"name": "a", "image": "a",
        "livenessProbe": {"httpGet": {"port": 0}},
        "readinessProbe": {"tcpSocket": {"port": "web_port"}},
        "startupProbe": {"httpGet": {"port": "http"}, "successThreshold": 2}}]}});
    assert_eq!(
        create("", "pods", pod),
        vec![
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: \"web_port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].startupProbe.successThreshold: Invalid value: 2: must be 1",
        ]
    );
}
