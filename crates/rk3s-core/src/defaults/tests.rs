use proptest::prelude::*;
use serde_json::{Value, json};

use super::apply;

fn defaulted(group: &str, plural: &str, mut obj: Value) -> Value {
    apply(group, plural, &mut obj);
    obj
}

/// What upstream's `kubectl get deploy -o yaml` shows for the template of `kubectl create
/// deployment web --image=nginx`.
fn defaulted_nginx_pod_spec() -> Value {
    json!({
        "containers": [{
            "image": "nginx",
            "imagePullPolicy": "Always",
            "name": "nginx",
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"
        }],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30
    })
}

#[test]
fn minimal_deployment_gets_every_default_upstream_adds() {
    let obj = defaulted(
        "apps",
        "deployments",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}
                }
            }
        }),
    );
    assert_eq!(
        obj["spec"],
        json!({
            "progressDeadlineSeconds": 600,
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": defaulted_nginx_pod_spec()}
        })
    );
}

#[test]
fn explicit_values_survive_defaulting() {
    let obj = defaulted(
        "apps",
        "deployments",
        json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 2,
               "template": {"spec": {"restartPolicy": "Always", "terminationGracePeriodSeconds": 5,
                 "containers": [{"name": "c", "image": "nginx:1.27", "imagePullPolicy": "Never"}]}}}}),
    );
    assert_eq!(obj["spec"]["replicas"], 0);
    assert_eq!(obj["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(obj["spec"]["revisionHistoryLimit"], 2);
    assert_eq!(
        obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        5
    );
    assert_eq!(
        obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Never"
    );
}

#[test]
fn image_pull_policy_follows_the_tag() {
    for (image, want) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/nginx", "Always"),
        ("localhost:5000/nginx:v2", "IfNotPresent"),
        ("nginx@sha256:abcd", "IfNotPresent"),
        ("nginx:latest@sha256:abcd", "Always"),
        ("", "IfNotPresent"),
    ] {
        let obj = defaulted(
            "",
            "pods",
            json!({"spec": {"containers": [{"name": "c", "image": image}]}}),
        );
        assert_eq!(
            obj["spec"]["containers"][0]["imagePullPolicy"], want,
            "image {image:?}"
        );
    }
}

#[test]
fn pod_gets_spec_admission_and_status_defaults() {
    let obj = defaulted(
        "",
        "pods",
        json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{
                "name": "app", "image": "busybox:1.36",
                "ports": [{"containerPort": 8080}],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "livenessProbe": {"httpGet": {"port": 8080}},
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}
            }],
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"name": "scratch"}, {"name": "s", "secret": {"secretName": "s"}}]
        }}),
    );
    let spec = &obj["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["tolerations"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        spec["tolerations"][0]["key"],
        "node.kubernetes.io/not-ready"
    );
    assert_eq!(spec["tolerations"][1]["tolerationSeconds"], 300);
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
               "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "500m", "memory": "128Mi"})
    );
    assert_eq!(spec["volumes"][0]["configMap"]["defaultMode"], 420);
    assert_eq!(
        spec["volumes"][1],
        json!({"name": "scratch", "emptyDir": {}})
    );
    assert_eq!(spec["volumes"][2]["secret"]["defaultMode"], 420);
    assert_eq!(
        obj["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );
}

#[test]
fn pod_qos_class_reflects_requests_and_limits() {
    let qos = |resources: Value| {
        let obj = defaulted(
            "",
            "pods",
            json!({"spec": {"containers": [{"name": "a", "image": "x", "resources": resources}]}}),
        );
        obj["status"]["qosClass"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(qos(json!({})), "BestEffort");
    assert_eq!(qos(json!({"requests": {"cpu": "100m"}})), "Burstable");
    assert_eq!(
        qos(json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m"}})),
        "Guaranteed"
    );
    assert_eq!(
        qos(json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}})),
        "Burstable"
    );
}

#[test]
fn job_template_keeps_an_empty_restart_policy() {
    let obj = defaulted(
        "batch",
        "jobs",
        json!({"metadata": {"name": "pi"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}},
               "spec": {"containers": [{"name": "pi", "image": "perl:5.34"}]}}}}),
    );
    let spec = &obj["spec"];
    assert!(spec["template"]["spec"].get("restartPolicy").is_none());
    assert_eq!(spec["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["backoffLimit"], 6);
    assert_eq!(spec["completions"], 1);
    assert_eq!(spec["parallelism"], 1);
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert!(spec.get("manualSelector").is_none());
    assert_eq!(obj["metadata"]["labels"], json!({"a": "b"}));
}

#[test]
fn parallel_job_without_completions_keeps_completions_unset() {
    let obj = defaulted(
        "batch",
        "jobs",
        json!({"spec": {"parallelism": 3, "backoffLimitPerIndex": 1, "completionMode": "Indexed", "template": {}}}),
    );
    assert!(obj["spec"].get("completions").is_none());
    assert_eq!(obj["spec"]["parallelism"], 3);
    assert_eq!(obj["spec"]["backoffLimit"], 2147483647);
}

#[test]
fn cronjob_defaults_its_policy_and_only_the_pod_template_inside() {
    let obj = defaulted(
        "batch",
        "cronjobs",
        json!({"spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}}),
    );
    let spec = &obj["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
    assert_eq!(
        spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"],
        "OnFailure"
    );
    assert_eq!(
        spec["jobTemplate"]["spec"]["template"]["spec"]["schedulerName"],
        "default-scheduler"
    );
}

#[test]
fn statefulset_defaults_include_claim_templates() {
    let obj = defaulted(
        "apps",
        "statefulsets",
        json!({"spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "w"}},
            "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
    );
    let spec = &obj["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    let claim = &spec["volumeClaimTemplates"][0];
    assert_eq!(claim["apiVersion"], "v1");
    assert_eq!(claim["kind"], "PersistentVolumeClaim");
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_eq!(claim["status"], json!({"phase": "Pending"}));
}

#[test]
fn daemonset_replicaset_and_rc_defaults() {
    let ds = defaulted(
        "apps",
        "daemonsets",
        json!({"spec": {"template": {"spec": {"containers": []}}}}),
    );
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    let ds = defaulted(
        "apps",
        "daemonsets",
        json!({"spec": {"updateStrategy": {"type": "OnDelete"}}}),
    );
    assert_eq!(ds["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    let rs = defaulted("apps", "replicasets", json!({"spec": {}}));
    assert_eq!(rs["spec"]["replicas"], 1);
    let rc = defaulted(
        "",
        "replicationcontrollers",
        json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}}),
    );
    assert_eq!(rc["spec"]["replicas"], 1);
    assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
    assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
}

#[test]
fn service_defaults_depend_on_type() {
    let svc = defaulted(
        "",
        "services",
        json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}]}}),
    );
    assert_eq!(
        svc["spec"],
        json!({"selector": {"app": "web"}, "type": "ClusterIP", "sessionAffinity": "None",
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
               "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]})
    );
    let np = defaulted(
        "",
        "services",
        json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "sessionAffinity": "ClientIP"}}),
    );
    assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
    assert_eq!(np["spec"]["allocateLoadBalancerNodePorts"], true);
    assert_eq!(
        np["spec"]["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
    let ext = defaulted(
        "",
        "services",
        json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
    );
    assert!(ext["spec"].get("ipFamilies").is_none());
    assert!(ext["spec"].get("internalTrafficPolicy").is_none());
    let headless = defaulted("", "services", json!({"spec": {"clusterIP": "None"}}));
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilyPolicy"], "RequireDualStack");
}

#[test]
fn cluster_scoped_and_config_kinds_get_their_defaults() {
    let ns = defaulted("", "namespaces", json!({"metadata": {"name": "team-a"}}));
    assert_eq!(
        ns["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "team-a"})
    );
    assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
    assert_eq!(ns["status"], json!({"phase": "Active"}));
    assert_eq!(defaulted("", "secrets", json!({}))["type"], "Opaque");
    assert_eq!(
        defaulted("", "secrets", json!({"type": "kubernetes.io/tls"}))["type"],
        "kubernetes.io/tls"
    );
    let pvc = defaulted("", "persistentvolumeclaims", json!({"spec": {}}));
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    let pv = defaulted(
        "",
        "persistentvolumes",
        json!({"spec": {"hostPath": {"path": "/d"}}}),
    );
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["hostPath"]["type"], "");
    let sc = defaulted(
        "storage.k8s.io",
        "storageclasses",
        json!({"provisioner": "x"}),
    );
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(sc["volumeBindingMode"], "Immediate");
    let pc = defaulted("scheduling.k8s.io", "priorityclasses", json!({"value": 10}));
    assert_eq!(pc["preemptionPolicy"], "PreemptLowerPriority");
    let np = defaulted(
        "networking.k8s.io",
        "networkpolicies",
        json!({"spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}),
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
    let np = defaulted(
        "networking.k8s.io",
        "networkpolicies",
        json!({"spec": {"podSelector": {}}}),
    );
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress"]));
    let eps = defaulted(
        "discovery.k8s.io",
        "endpointslices",
        json!({"ports": [{"port": 80}]}),
    );
    assert_eq!(
        eps["ports"][0],
        json!({"port": 80, "name": "", "protocol": "TCP"})
    );
    let ep = defaulted(
        "",
        "endpoints",
        json!({"subsets": [{"ports": [{"port": 80}]}]}),
    );
    assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");
    let hpa = defaulted(
        "autoscaling",
        "horizontalpodautoscalers",
        json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 3}}),
    );
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    assert_eq!(
        hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
    assert!(hpa["spec"].get("behavior").is_none());
    let rb = defaulted(
        "rbac.authorization.k8s.io",
        "rolebindings",
        json!({"subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}]}),
    );
    assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    assert!(rb["subjects"][1].get("apiGroup").is_none());
    let lr = defaulted(
        "",
        "limitranges",
        json!({"spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}}]}}),
    );
    assert_eq!(lr["spec"]["limits"][0]["default"], json!({"cpu": "2"}));
    assert_eq!(
        lr["spec"]["limits"][0]["defaultRequest"],
        json!({"cpu": "2", "memory": "1Mi"})
    );
}

#[test]
fn quantities_are_stored_in_canonical_form() {
    let pod = defaulted(
        "",
        "pods",
        json!({"spec": {"containers": [{"name": "a", "image": "a", "resources": {
            "limits": {"cpu": "1000m", "memory": "1024Mi", "ephemeral-storage": "lots"},
            "requests": {"cpu": 0.5, "memory": "1.5Gi"}}}],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "2048Mi"}}]}}),
    );
    let res = &pod["spec"]["containers"][0]["resources"];
    assert_eq!(
        res["limits"],
        json!({"cpu": "1", "memory": "1Gi", "ephemeral-storage": "lots"})
    );
    assert_eq!(
        res["requests"],
        json!({"cpu": "500m", "memory": "1536Mi", "ephemeral-storage": "lots"})
    );
    assert_eq!(pod["spec"]["volumes"][0]["emptyDir"]["sizeLimit"], "2Gi");
    let pvc = defaulted(
        "",
        "persistentvolumeclaims",
        json!({"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}),
    );
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "1Gi");
    let quota = defaulted(
        "",
        "resourcequotas",
        json!({"spec": {"hard": {"pods": 10, "requests.cpu": "4000m"}}}),
    );
    assert_eq!(
        quota["spec"]["hard"],
        json!({"pods": "10", "requests.cpu": "4"})
    );
}

#[test]
fn empty_strings_count_as_unset_like_go_zero_values() {
    let pod = defaulted(
        "",
        "pods",
        json!({"spec": {"dnsPolicy": "", "restartPolicy": "", "containers": [
        {"name": "a", "image": "a:1", "imagePullPolicy": "", "terminationMessagePath": ""}]}}),
    );
    assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["spec"]["restartPolicy"], "Always");
    assert_eq!(
        pod["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(
        pod["spec"]["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    assert_eq!(
        defaulted("", "secrets", json!({"type": ""}))["type"],
        "Opaque"
    );
    let sts = defaulted(
        "apps",
        "statefulsets",
        json!({"spec": {"podManagementPolicy": ""}}),
    );
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
}

#[test]
fn wrongly_shaped_objects_are_left_alone() {
    for obj in [json!(null), json!(3), json!("x"), json!([1, 2])] {
        assert_eq!(defaulted("apps", "deployments", obj.clone()), obj);
    }
    let odd = defaulted(
        "apps",
        "deployments",
        json!({"spec": {"template": 7, "strategy": "x"}}),
    );
    assert_eq!(odd["spec"]["template"], 7);
    assert_eq!(odd["spec"]["strategy"], "x");
}

const KINDS: &[(&str, &str)] = &[
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "services"),
    ("", "namespaces"),
    ("", "replicationcontrollers"),
    ("networking.k8s.io", "networkpolicies"),
    ("", "limitranges"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "resourcequotas"),
    ("", "nodes"),
];

const VOCAB: &[&str] = &[
    "spec",
    "template",
    "metadata",
    "labels",
    "containers",
    "initContainers",
    "ports",
    "name",
    "image",
    "resources",
    "limits",
    "requests",
    "cpu",
    "memory",
    "volumes",
    "configMap",
    "env",
    "valueFrom",
    "fieldRef",
    "selector",
    "matchLabels",
    "strategy",
    "type",
    "rollingUpdate",
    "maxSurge",
    "maxUnavailable",
    "replicas",
    "restartPolicy",
    "livenessProbe",
    "httpGet",
    "port",
    "targetPort",
    "protocol",
    "clusterIP",
    "jobTemplate",
    "schedule",
    "data",
    "immutable",
    "accessModes",
    "storage",
    "volumeClaimTemplates",
    "tolerations",
    "key",
    "egress",
    "limits",
    "max",
    "hostNetwork",
    "containerPort",
];

/// JSON whose keys come mostly from the Kubernetes vocabulary, so the generator reaches deep.
pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "Always",
            "None",
            "1Gi",
            "-1",
            "TCP",
            "ClientIP",
            "RollingUpdate",
            "nginx",
            "25%",
            "x y"
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(VOCAB.to_vec()), inner), 0..6).prop_map(
                |kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            ),
        ]
    })
}

proptest! {
    #[test]
    fn apply_never_panics_and_is_idempotent(obj in arb_json(), kind in prop::sample::select(KINDS.to_vec())) {
        let (group, plural) = kind;
        let mut once = obj.clone();
        apply(group, plural, &mut once);
        let mut twice = once.clone();
        apply(group, plural, &mut twice);
        prop_assert_eq!(once, twice);
    }
}
