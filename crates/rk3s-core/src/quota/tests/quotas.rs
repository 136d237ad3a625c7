use serde_json::{Value, json};

use super::{pod, quota};
use crate::quota::{QuotaDecision, Usage, check_quota, quota_status, usage_of};

fn usage_of_pods(pods: &[Value]) -> Usage {
    Usage::from_objects(&[("pods", pods)])
}

fn create_pod(p: &Value, quotas: &[Value], usage: &Usage) -> Result<QuotaDecision, String> {
    check_quota("", "pods", None, p, quotas, usage)
}

fn status_of<'a>(d: &'a QuotaDecision, name: &str) -> &'a Value {
    &d.updates.iter().find(|(n, _)| n == name).unwrap().1
}

fn best_effort(name: &str) -> Value {
    pod(name, &[("app", Value::Null, Value::Null)])
}

fn burstable(name: &str, cpu: &str, memory: &str) -> Value {
    pod(
        name,
        &[("app", json!({"cpu": cpu, "memory": memory}), Value::Null)],
    )
}

#[test]
fn third_pod_exceeds_a_two_pod_quota_with_upstreams_message() {
    let q = quota("pod-count", json!({"pods": "2"}));
    let usage = usage_of_pods(&[best_effort("a"), best_effort("b")]);
    let err = create_pod(&best_effort("c"), &[q], &usage).unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: pod-count, requested: pods=1, used: pods=2, limited: pods=2"
    );
}

#[test]
fn admitted_pod_returns_the_new_status_with_every_hard_resource() {
    let q = quota("pod-count", json!({"pods": "2", "services": "5"}));
    let usage = usage_of_pods(&[best_effort("a")]);
    let d = create_pod(&best_effort("b"), &[q], &usage).unwrap();
    assert_eq!(
        status_of(&d, "pod-count"),
        &json!({"hard": {"pods": "2", "services": "5"}, "used": {"pods": "2", "services": "0"}})
    );
}

#[test]
fn cpu_requests_over_the_limit_are_refused_with_canonical_quantities() {
    let q = quota(
        "compute",
        json!({"requests.cpu": "1000m", "requests.memory": "1Gi"}),
    );
    let usage = usage_of_pods(&[burstable("a", "500m", "512Mi")]);
    let err = create_pod(&burstable("b", "0.6", "256Mi"), &[q], &usage).unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=500m, limited: requests.cpu=1"
    );
}

#[test]
fn requests_that_fit_exactly_are_admitted_and_summed_in_binary_form() {
    let q = quota(
        "compute",
        json!({"requests.cpu": "1", "requests.memory": "2Gi", "cpu": "4"}),
    );
    let usage = usage_of_pods(&[burstable("a", "500m", "1Gi")]);
    let d = create_pod(&burstable("b", "500m", "512Mi"), &[q], &usage).unwrap();
    assert_eq!(
        status_of(&d, "compute")["used"],
        json!({"cpu": "1", "requests.cpu": "1", "requests.memory": "1536Mi"})
    );
}

#[test]
fn several_exceeded_resources_are_listed_sorted() {
    let q = quota(
        "limits",
        json!({"limits.memory": "1Gi", "limits.cpu": "1", "pods": "10"}),
    );
    let p = pod(
        "big",
        &[(
            "app",
            json!({"cpu": "2", "memory": "2Gi"}),
            json!({"cpu": "2", "memory": "2Gi"}),
        )],
    );
    let err = create_pod(&p, &[q], &Usage::default()).unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: limits, requested: limits.cpu=2,limits.memory=2Gi, used: limits.cpu=0,limits.memory=0, limited: limits.cpu=1,limits.memory=1Gi"
    );
}

#[test]
fn containers_without_cpu_requests_are_named_in_the_refusal() {
    let q = quota("compute", json!({"requests.cpu": "4"}));
    let p = pod(
        "web",
        &[
            ("app", json!({"cpu": "100m"}), Value::Null),
            ("sidecar", Value::Null, Value::Null),
            ("logger", json!({"memory": "10Mi"}), Value::Null),
        ],
    );
    let err = create_pod(&p, &[q], &Usage::default()).unwrap_err();
    assert_eq!(
        err,
        "failed quota: compute: must specify requests.cpu for: logger,sidecar"
    );
}

#[test]
fn each_missing_resource_lists_its_containers_including_init_containers() {
    let q = quota(
        "compute",
        json!({"requests.cpu": "4", "limits.memory": "4Gi"}),
    );
    let mut p = pod("web", &[("app", json!({"cpu": "100m"}), Value::Null)]);
    p["spec"]["initContainers"] = json!([{"name": "init", "image": "busybox"}]);
    let err = create_pod(&p, &[q], &Usage::default()).unwrap_err();
    assert_eq!(
        err,
        "failed quota: compute: must specify limits.memory for: app,init; requests.cpu for: init"
    );
}

#[test]
fn quotas_on_other_resources_do_not_demand_requests() {
    let q = quota("objects", json!({"configmaps": "1"}));
    let d = create_pod(&best_effort("a"), &[q], &Usage::default()).unwrap();
    assert!(d.updates.is_empty());
}

#[test]
fn succeeded_and_failed_pods_do_not_count_against_pods() {
    let mut done = best_effort("done");
    done["status"] = json!({"phase": "Succeeded"});
    let mut failed = best_effort("failed");
    failed["status"] = json!({"phase": "Failed"});
    let mut running = best_effort("running");
    running["status"] = json!({"phase": "Running"});
    let usage = usage_of_pods(&[done, failed, running]);
    let q = quota("pods", json!({"pods": "2", "count/pods": "10"}));
    let d = create_pod(&best_effort("new"), &[q], &usage).unwrap();
    assert_eq!(
        status_of(&d, "pods")["used"],
        json!({"pods": "2", "count/pods": "4"})
    );
}

#[test]
fn init_containers_count_by_their_peak_and_sidecars_add_up() {
    let mut p = pod(
        "p",
        &[
            ("a", json!({"cpu": "100m"}), Value::Null),
            ("b", json!({"cpu": "200m"}), Value::Null),
        ],
    );
    p["spec"]["initContainers"] = json!([
        {"name": "big-init", "resources": {"requests": {"cpu": "500m"}}},
    ]);
    let usage: Vec<(String, String)> = usage_of("", "pods", &p)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    assert!(
        usage.contains(&("requests.cpu".into(), "500m".into())),
        "{usage:?}"
    );

    p["spec"]["initContainers"] = json!([
        {"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        {"name": "migrate", "resources": {"requests": {"cpu": "450m"}}},
    ]);
    let cpu = usage_of("", "pods", &p)
        .into_iter()
        .find(|(k, _)| k == "requests.cpu")
        .unwrap()
        .1;
    // migrate runs beside the proxy: 450m + 100m beats 300m + 100m.
    assert_eq!(cpu.to_string(), "550m");
}

#[test]
fn pod_overhead_is_charged_on_requests() {
    let mut p = burstable("p", "100m", "64Mi");
    p["spec"]["overhead"] = json!({"cpu": "250m"});
    let cpu = usage_of("", "pods", &p)
        .into_iter()
        .find(|(k, _)| k == "requests.cpu")
        .unwrap()
        .1;
    assert_eq!(cpu.to_string(), "350m");
}

#[test]
fn deployment_count_quota_refuses_the_second_deployment() {
    let deploy = |n: &str| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": n, "resourceVersion": "3"}});
    let existing = [deploy("one")];
    let usage = Usage::from_objects(&[("deployments.apps", &existing)]);
    let q = quota("deploys", json!({"count/deployments.apps": "1"}));
    let err = check_quota(
        "apps",
        "deployments",
        None,
        &deploy("two"),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: deploys, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"
    );
    // Updates never change an object count.
    let d = check_quota(
        "apps",
        "deployments",
        Some(&deploy("one")),
        &deploy("one"),
        &[q],
        &usage,
    )
    .unwrap();
    assert!(d.updates.is_empty());
}

#[test]
fn legacy_names_count_configmaps_and_secrets() {
    let cm = json!({"kind": "ConfigMap", "metadata": {"name": "c"}});
    let existing = [cm.clone()];
    let usage = Usage::from_objects(&[("configmaps", &existing)]);
    let q = quota(
        "objects",
        json!({"configmaps": "2", "count/configmaps": "2", "secrets": "1"}),
    );
    let d = check_quota("", "configmaps", None, &cm, &[q], &usage).unwrap();
    assert_eq!(
        status_of(&d, "objects")["used"],
        json!({"configmaps": "2", "count/configmaps": "2", "secrets": "0"})
    );
}

fn service(name: &str, kind: &str, ports: usize) -> Value {
    let ports: Vec<Value> = (0..ports)
        .map(|i| json!({"port": 80 + i, "protocol": "TCP"}))
        .collect();
    json!({
        "kind": "Service",
        "metadata": {"name": name, "resourceVersion": "5"},
        "spec": {"type": kind, "ports": ports},
    })
}

#[test]
fn node_port_services_consume_one_node_port_per_port() {
    let existing = [service("a", "NodePort", 1)];
    let usage = Usage::from_objects(&[("services", &existing)]);
    let q = quota("svc", json!({"services.nodeports": "2", "services": "10"}));
    let err = check_quota(
        "",
        "services",
        None,
        &service("b", "NodePort", 2),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=1, limited: services.nodeports=2"
    );
    let d = check_quota(
        "",
        "services",
        None,
        &service("c", "ClusterIP", 3),
        &[q],
        &usage,
    )
    .unwrap();
    assert_eq!(
        status_of(&d, "svc")["used"],
        json!({"services": "2", "services.nodeports": "1"})
    );
}

#[test]
fn load_balancers_without_node_port_allocation_count_only_explicit_ports() {
    let mut lb = service("lb", "LoadBalancer", 3);
    lb["spec"]["allocateLoadBalancerNodePorts"] = json!(false);
    lb["spec"]["ports"][1]["nodePort"] = json!(30080);
    let usage: Vec<(String, String)> = usage_of("", "services", &lb)
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    assert!(usage.contains(&("services.nodeports".into(), "1".into())));
    assert!(usage.contains(&("services.loadbalancers".into(), "1".into())));
}

#[test]
fn changing_a_service_to_node_port_is_charged_the_difference() {
    let old = service("a", "ClusterIP", 3);
    let existing = [old.clone()];
    let usage = Usage::from_objects(&[("services", &existing)]);
    let q = quota("svc", json!({"services.nodeports": "2", "services": "1"}));
    let err = check_quota(
        "",
        "services",
        Some(&old),
        &service("a", "NodePort", 3),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: svc, requested: services.nodeports=3, used: services.nodeports=0, limited: services.nodeports=2"
    );
    // The service itself is already counted: services stays at 1 of 1.
    let d = check_quota(
        "",
        "services",
        Some(&old),
        &service("a", "NodePort", 1),
        &[q],
        &usage,
    )
    .unwrap();
    assert_eq!(
        status_of(&d, "svc")["used"],
        json!({"services": "1", "services.nodeports": "1"})
    );
}

#[test]
fn an_update_without_a_stored_version_is_charged_in_full() {
    let mut old = service("a", "ClusterIP", 1);
    old["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let q = quota("svc", json!({"services": "1"}));
    let existing = [service("other", "ClusterIP", 1)];
    let usage = Usage::from_objects(&[("services", &existing)]);
    let err = check_quota("", "services", Some(&old), &old, &[q], &usage).unwrap_err();
    assert!(
        err.starts_with("exceeded quota: svc, requested: services=1"),
        "{err}"
    );
}

fn claim(name: &str, storage: &str, class: Option<&str>) -> Value {
    let mut c = json!({
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "resourceVersion": "9"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}},
    });
    if let Some(class) = class {
        c["spec"]["storageClassName"] = json!(class);
    }
    c
}

#[test]
fn growing_a_claim_is_charged_the_growth() {
    let old = claim("data", "5Gi", None);
    let existing = [old.clone()];
    let usage = Usage::from_objects(&[("persistentvolumeclaims", &existing)]);
    let q = quota(
        "storage",
        json!({"requests.storage": "10Gi", "persistentvolumeclaims": "1"}),
    );
    let err = check_quota(
        "",
        "persistentvolumeclaims",
        Some(&old),
        &claim("data", "12Gi", None),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: storage, requested: requests.storage=7Gi, used: requests.storage=5Gi, limited: requests.storage=10Gi"
    );
    let d = check_quota(
        "",
        "persistentvolumeclaims",
        Some(&old),
        &claim("data", "8Gi", None),
        &[q],
        &usage,
    )
    .unwrap();
    assert_eq!(
        status_of(&d, "storage")["used"],
        json!({"persistentvolumeclaims": "1", "requests.storage": "8Gi"})
    );
}

#[test]
fn storage_class_quotas_count_only_their_class() {
    let existing = [
        claim("a", "1Gi", Some("fast")),
        claim("b", "50Gi", Some("slow")),
    ];
    let usage = Usage::from_objects(&[("persistentvolumeclaims", &existing)]);
    let q = quota(
        "fast",
        json!({"fast.storageclass.storage.k8s.io/requests.storage": "2Gi"}),
    );
    let err = check_quota(
        "",
        "persistentvolumeclaims",
        None,
        &claim("c", "2Gi", Some("fast")),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert!(
        err.contains("used: fast.storageclass.storage.k8s.io/requests.storage=1Gi"),
        "{err}"
    );
    let d = check_quota(
        "",
        "persistentvolumeclaims",
        None,
        &claim("d", "100Gi", Some("slow")),
        &[q],
        &usage,
    )
    .unwrap();
    // The quota still applies to claims, but a slow claim adds nothing to it.
    assert_eq!(
        status_of(&d, "fast")["used"],
        json!({"fast.storageclass.storage.k8s.io/requests.storage": "1Gi"})
    );
}

#[test]
fn a_pod_update_that_changes_nothing_is_not_charged() {
    let p = burstable("a", "1", "1Gi");
    let existing = [p.clone()];
    let usage = usage_of_pods(&existing);
    let q = quota("compute", json!({"requests.cpu": "1", "pods": "1"}));
    let d = check_quota("", "pods", Some(&p), &p, &[q], &usage).unwrap();
    assert!(d.updates.is_empty());
}

#[test]
fn a_pod_update_that_raises_requests_is_charged_the_increase() {
    let old = burstable("a", "500m", "1Gi");
    let existing = [old.clone()];
    let usage = usage_of_pods(&existing);
    let q = quota("compute", json!({"requests.cpu": "1"}));
    let err = check_quota(
        "",
        "pods",
        Some(&old),
        &burstable("a", "1500m", "1Gi"),
        &[q],
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: compute, requested: requests.cpu=1, used: requests.cpu=500m, limited: requests.cpu=1"
    );
}

fn scoped(name: &str, hard: Value, scopes: Value) -> Value {
    let mut q = quota(name, hard);
    q["spec"]["scopes"] = scopes;
    q
}

#[test]
fn best_effort_quota_counts_only_best_effort_pods() {
    let q = scoped("be", json!({"pods": "1"}), json!(["BestEffort"]));
    let usage = usage_of_pods(&[best_effort("a"), burstable("b", "1", "1Gi")]);
    let err = create_pod(&best_effort("c"), std::slice::from_ref(&q), &usage).unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"
    );
    let d = create_pod(&burstable("d", "1", "1Gi"), &[q], &usage).unwrap();
    assert!(d.updates.is_empty());
}

#[test]
fn not_best_effort_quota_ignores_best_effort_pods() {
    let q = scoped(
        "nbe",
        json!({"pods": "1", "requests.cpu": "2"}),
        json!(["NotBestEffort"]),
    );
    let usage = usage_of_pods(&[best_effort("a"), best_effort("b")]);
    let d = create_pod(
        &burstable("c", "1", "1Gi"),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap();
    assert_eq!(
        status_of(&d, "nbe")["used"],
        json!({"pods": "1", "requests.cpu": "1"})
    );
    // A best-effort pod is outside the scope, so its missing requests do not matter.
    assert!(
        create_pod(&best_effort("d"), &[q], &usage)
            .unwrap()
            .updates
            .is_empty()
    );
}

#[test]
fn terminating_scope_selects_pods_with_an_active_deadline() {
    let q = scoped("jobs", json!({"pods": "1"}), json!(["Terminating"]));
    let mut job = best_effort("job");
    job["spec"]["activeDeadlineSeconds"] = json!(60);
    let usage = usage_of_pods(&[job.clone(), best_effort("svc")]);
    assert!(create_pod(&job, std::slice::from_ref(&q), &usage).is_err());
    assert!(
        create_pod(&best_effort("x"), std::slice::from_ref(&q), &usage)
            .unwrap()
            .updates
            .is_empty()
    );
    let nt = scoped("long", json!({"pods": "1"}), json!(["NotTerminating"]));
    assert!(create_pod(&best_effort("y"), std::slice::from_ref(&nt), &usage).is_err());
    assert!(create_pod(&job, &[nt], &usage).unwrap().updates.is_empty());
}

#[test]
fn priority_class_scope_selector_matches_listed_classes() {
    let mut q = quota("high", json!({"pods": "1"}));
    q["spec"]["scopeSelector"] = json!({"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high", "critical"]}
    ]});
    let with_class = |n: &str, c: &str| {
        let mut p = best_effort(n);
        p["spec"]["priorityClassName"] = json!(c);
        p
    };
    let usage = usage_of_pods(&[with_class("a", "high"), best_effort("b")]);
    let err = create_pod(
        &with_class("c", "critical"),
        std::slice::from_ref(&q),
        &usage,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1"
    );
    assert!(
        create_pod(&with_class("d", "low"), std::slice::from_ref(&q), &usage)
            .unwrap()
            .updates
            .is_empty()
    );

    q["spec"]["scopeSelector"]["matchExpressions"][0] =
        json!({"scopeName": "PriorityClass", "operator": "DoesNotExist"});
    let err = create_pod(&best_effort("e"), &[q], &usage).unwrap_err();
    assert!(err.contains("used: pods=1"), "{err}");
}

#[test]
fn scoped_quotas_never_count_services() {
    let q = scoped("be", json!({"services": "0"}), json!(["BestEffort"]));
    let d = check_quota(
        "",
        "services",
        None,
        &service("s", "ClusterIP", 1),
        &[q],
        &Usage::default(),
    )
    .unwrap();
    assert!(d.updates.is_empty());
}

#[test]
fn every_matching_quota_is_checked_and_updated() {
    let a = quota("a", json!({"pods": "5"}));
    let b = quota("b", json!({"pods": "1"}));
    let usage = usage_of_pods(&[best_effort("x")]);
    let err = create_pod(&best_effort("y"), &[a.clone(), b], &usage).unwrap_err();
    assert!(err.starts_with("exceeded quota: b,"), "{err}");
    let c = quota("c", json!({"count/pods": "9"}));
    let d = create_pod(&best_effort("y"), &[a, c], &usage).unwrap();
    let names: Vec<&str> = d.updates.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
}

#[test]
fn negative_requests_are_refused() {
    let p = burstable("neg", "-1", "1Gi");
    let q = quota("compute", json!({"requests.cpu": "4"}));
    let err = create_pod(&p, &[q], &Usage::default()).unwrap_err();
    assert_eq!(
        err,
        "quota usage is negative for resource(s): cpu,requests.cpu"
    );
}

#[test]
fn quota_status_recomputes_usage_from_objects() {
    let q = quota(
        "compute",
        json!({"pods": "10", "requests.memory": "4Gi", "limits.cpu": "2000m"}),
    );
    let usage = usage_of_pods(&[burstable("a", "1", "1Gi"), burstable("b", "1", "512Mi")]);
    assert_eq!(
        quota_status(&q, &usage),
        json!({
            "hard": {"pods": "10", "requests.memory": "4Gi", "limits.cpu": "2"},
            "used": {"pods": "2", "requests.memory": "1536Mi", "limits.cpu": "0"},
        })
    );
}

#[test]
fn extended_resources_and_hugepages_are_quota_resources() {
    let p = pod(
        "gpu",
        &[(
            "app",
            json!({"example.com/gpu": "1", "hugepages-2Mi": "4Mi"}),
            Value::Null,
        )],
    );
    let names: Vec<String> = usage_of("", "pods", &p)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for want in [
        "requests.example.com/gpu",
        "hugepages-2Mi",
        "requests.hugepages-2Mi",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }
    let q = quota("gpu", json!({"requests.example.com/gpu": "0"}));
    let err = create_pod(&p, &[q], &Usage::default()).unwrap_err();
    assert_eq!(
        err,
        "exceeded quota: gpu, requested: requests.example.com/gpu=1, used: requests.example.com/gpu=0, limited: requests.example.com/gpu=0"
    );
}
