//! StatefulSets, DaemonSets and Service endpoints end to end: the real server, the real
//! kubectl, simulated nodes run in-process (`rk3s_agent::run_simulated`), and the scheduler and
//! this crate's controllers wherever the server does not run them itself.

mod harness;

use harness::{Controllers, Nodes, Server, names};
use serde_json::Value;

/// A server with three Ready simulated nodes and every control loop running somewhere.
fn cluster() -> (Server, Controllers, Nodes) {
    let s = Server::start();
    let c = Controllers::start(&s.kubeconfig(), "workloads-test");
    let n = Nodes::start(&s.kubeconfig(), 3);
    s.eventually("three Ready nodes", None, || {
        s.items(&["nodes"])
            .iter()
            .filter(|node| {
                node["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count()
            == 3
    });
    (s, c, n)
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn running_ready(p: &Value) -> bool {
    p["status"]["phase"] == "Running"
        && p["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn live_pods(s: &Server, selector: &str) -> Vec<Value> {
    s.items(&["pods", "-l", selector])
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect()
}

fn ready_since(p: &Value) -> String {
    p["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .map(|c| str_at(c, "/lastTransitionTime").to_string())
        .unwrap_or_default()
}

// The claims use a late-binding class: the scheduler (as upstream's) holds back pods whose claims
// must bind before scheduling, and no volume provisioner runs in these tests.
const STATEFUL: &str = r#"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: late}
provisioner: example.com/none
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: db, image: "postgres:16"}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      storageClassName: late
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"#;

#[test]
fn a_stateful_set_comes_up_in_order_with_claims_rolls_and_scales_down_in_reverse() {
    let (s, _c, _n) = cluster();
    s.apply(STATEFUL);
    s.ok(&["rollout", "status", "statefulset/db", "--timeout=90s"]);

    let mut pods = live_pods(&s, "app=db");
    pods.sort_by_key(|p| str_at(p, "/metadata/name").to_string());
    assert_eq!(names(&pods), ["db-0", "db-1", "db-2"]);
    let sts = s.json(&["get", "statefulset", "db"]);
    let revision = str_at(&sts, "/status/updateRevision").to_string();
    assert!(revision.starts_with("db-"), "{sts}");
    assert_eq!(str_at(&sts, "/status/currentRevision"), revision);
    for key in [
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
    ] {
        assert_eq!(sts["status"][key], 3, "{key}: {sts}");
    }
    assert_eq!(
        sts["status"]["observedGeneration"],
        sts["metadata"]["generation"]
    );
    for (i, p) in pods.iter().enumerate() {
        assert!(running_ready(p), "{p}");
        let labels = &p["metadata"]["labels"];
        assert_eq!(
            labels["statefulset.kubernetes.io/pod-name"],
            format!("db-{i}")
        );
        assert_eq!(labels["apps.kubernetes.io/pod-index"], i.to_string());
        assert_eq!(labels["controller-revision-hash"], revision.as_str());
        assert_eq!(p["spec"]["hostname"], format!("db-{i}"));
        assert_eq!(p["spec"]["subdomain"], "db");
        assert_eq!(
            p["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            format!("data-db-{i}")
        );
        // OrderedReady: each pod was created only once its predecessor was Ready.
        if i > 0 {
            let created = str_at(p, "/metadata/creationTimestamp");
            let before = ready_since(&pods[i - 1]);
            assert!(
                !before.is_empty() && created >= before.as_str(),
                "db-{i} created {created}, db-{} ready {before}",
                i - 1
            );
        }
    }
    let claims = s.items(&["pvc"]);
    let mut claim_names = names(&claims);
    claim_names.sort();
    assert_eq!(claim_names, ["data-db-0", "data-db-1", "data-db-2"]);
    for c in &claims {
        assert!(
            c["metadata"]["ownerReferences"].is_null(),
            "Retain leaves claims unowned: {c}"
        );
        assert_eq!(c["metadata"]["labels"]["app"], "db");
    }
    assert_eq!(s.items(&["controllerrevisions", "-l", "app=db"]).len(), 1);

    // A rolling update replaces every pod, highest ordinal first, and the revisions catch up.
    s.ok(&["set", "image", "statefulset/db", "db=postgres:17"]);
    s.ok(&["rollout", "status", "statefulset/db", "--timeout=90s"]);
    let sts = s.json(&["get", "statefulset", "db"]);
    let new_revision = str_at(&sts, "/status/updateRevision").to_string();
    assert_ne!(new_revision, revision);
    assert_eq!(str_at(&sts, "/status/currentRevision"), new_revision);
    assert_eq!(sts["status"]["updatedReplicas"], 3);
    let mut pods = live_pods(&s, "app=db");
    pods.sort_by_key(|p| str_at(p, "/metadata/name").to_string());
    for p in &pods {
        assert_eq!(
            p["metadata"]["labels"]["controller-revision-hash"],
            new_revision.as_str()
        );
        assert_eq!(p["spec"]["containers"][0]["image"], "postgres:17");
    }
    let created = |i: usize| str_at(&pods[i], "/metadata/creationTimestamp").to_string();
    assert!(
        created(2) <= created(1) && created(1) <= created(0),
        "replaced from the top"
    );
    assert_eq!(s.items(&["controllerrevisions", "-l", "app=db"]).len(), 2);
    let history = s.ok(&["rollout", "history", "statefulset/db"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // `kubectl rollout undo` restores the first template from its ControllerRevision.
    s.ok(&["rollout", "undo", "statefulset/db"]);
    s.ok(&["rollout", "status", "statefulset/db", "--timeout=90s"]);
    let sts = s.json(&["get", "statefulset", "db"]);
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        "postgres:16"
    );
    assert_eq!(str_at(&sts, "/status/updateRevision"), revision);
    let revs = s.items(&["controllerrevisions", "-l", "app=db"]);
    let renumbered = revs
        .iter()
        .find(|r| str_at(r, "/metadata/name") == revision)
        .map(|r| r["revision"].clone());
    assert_eq!(renumbered, Some(Value::from(3)), "{revs:?}");

    // Scaling down removes the highest ordinals and keeps their claims.
    s.ok(&["scale", "statefulset/db", "--replicas=1"]);
    s.eventually("db-1 and db-2 gone", None, || {
        names(&s.items(&["pods", "-l", "app=db"])) == ["db-0"]
    });
    assert_eq!(s.items(&["pvc"]).len(), 3);
    s.ok(&["rollout", "status", "statefulset/db", "--timeout=30s"]);
}

const DAEMON: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: agent, image: "busybox:1.36"}]
"#;

#[test]
fn a_daemon_set_runs_on_every_node_it_tolerates_and_rolls_out() {
    let (s, _c, _n) = cluster();
    s.ok(&["taint", "nodes", "sim-node-2", "dedicated=infra:NoSchedule"]);
    s.apply(DAEMON);
    s.ok(&["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    let pods = live_pods(&s, "app=agent");
    let mut nodes: Vec<String> = pods
        .iter()
        .map(|p| str_at(p, "/spec/nodeName").to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["sim-node-0", "sim-node-1"]);
    for p in &pods {
        assert!(running_ready(p), "{p}");
        let field = &p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"][0]["matchFields"][0];
        assert_eq!(field["key"], "metadata.name");
        assert_eq!(field["values"][0], str_at(p, "/spec/nodeName"));
        let tolerations = p["spec"]["tolerations"].to_string();
        assert!(
            tolerations.contains("node.kubernetes.io/unschedulable"),
            "{tolerations}"
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "DaemonSet");
    }
    let ds = s.json(&["get", "daemonset", "agent"]);
    for key in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        assert_eq!(ds["status"][key], 2, "{key}: {ds}");
    }
    assert_eq!(ds["status"]["numberMisscheduled"], 0);

    // Tolerating the taint adds the third node; a new image rolls through all three.
    s.ok(&[
        "patch",
        "daemonset",
        "agent",
        "--type=merge",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"busybox:1.37"}],"tolerations":[{"key":"dedicated","operator":"Exists"}]}}}}"#,
    ]);
    s.ok(&["rollout", "status", "daemonset/agent", "--timeout=90s"]);
    let pods = live_pods(&s, "app=agent");
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "busybox:1.37")
    );
    let ds = s.json(&["get", "daemonset", "agent"]);
    assert_eq!(ds["status"]["desiredNumberScheduled"], 3);
    assert_eq!(ds["status"]["updatedNumberScheduled"], 3);
    assert_eq!(
        s.items(&["controllerrevisions", "-l", "app=agent"]).len(),
        2
    );
}

const SERVICE: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: echo
        image: "busybox:1.36"
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, labels: {team: web}}
spec:
  selector: {app: echo}
  ports: [{name: web, port: 80, targetPort: http}]
"#;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn a_service_gets_endpoints_and_slices_with_its_ready_pods() {
    let (s, _c, _n) = cluster();
    let kubernetes_before = s.json(&["get", "endpoints", "kubernetes", "-n", "default"]);
    s.apply(SERVICE);
    let pod_ips = || -> Vec<String> {
        sorted(
            live_pods(&s, "app=echo")
                .iter()
                .filter(|p| running_ready(p))
                .map(|p| str_at(p, "/status/podIP").to_string())
                .collect(),
        )
    };
    let endpoint_ips = || -> Vec<String> {
        let ep = s.json(&["get", "endpoints", "echo"]);
        sorted(
            ep["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|sub| sub["addresses"].as_array().cloned().unwrap_or_default())
                .map(|a| str_at(&a, "/ip").to_string())
                .collect(),
        )
    };
    s.eventually("endpoints with both pods", None, || {
        let ips = pod_ips();
        ips.len() == 2
            && s.kubectl(&["get", "endpoints", "echo"]).status.success()
            && endpoint_ips() == ips
    });
    let ep = s.json(&["get", "endpoints", "echo"]);
    let subset = &ep["subsets"][0];
    assert_eq!(
        subset["ports"][0]["port"], 8080,
        "named target port resolved: {ep}"
    );
    assert_eq!(subset["ports"][0]["name"], "web");
    assert_eq!(subset["ports"][0]["protocol"], "TCP");
    let addr = &subset["addresses"][0];
    assert!(str_at(addr, "/nodeName").starts_with("sim-node-"), "{addr}");
    assert_eq!(addr["targetRef"]["kind"], "Pod");
    assert_eq!(ep["metadata"]["labels"]["team"], "web");
    assert!(
        ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
            .is_string(),
        "{ep}"
    );

    let slices = s.items(&["endpointslices", "-l", "kubernetes.io/service-name=echo"]);
    assert_eq!(slices.len(), 1, "{slices:?}");
    let slice = &slices[0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(slice["metadata"]["ownerReferences"][0]["kind"], "Service");
    assert_eq!(slice["ports"][0]["port"], 8080);
    let slice_ips = sorted(
        slice["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| str_at(e, "/addresses/0").to_string())
            .collect(),
    );
    assert_eq!(slice_ips, pod_ips());
    for e in slice["endpoints"].as_array().into_iter().flatten() {
        assert_eq!(e["conditions"]["ready"], true, "{e}");
        assert_eq!(e["conditions"]["serving"], true);
        assert_eq!(e["conditions"]["terminating"], false);
        assert!(str_at(e, "/nodeName").starts_with("sim-node-"));
        assert_eq!(e["targetRef"]["kind"], "Pod");
    }

    // Fewer pods, fewer endpoints; the API server's own `kubernetes` endpoints are untouched.
    s.ok(&["scale", "deployment/echo", "--replicas=1"]);
    s.eventually("endpoints with one pod", None, || {
        let ips = pod_ips();
        ips.len() == 1 && endpoint_ips() == ips
    });
    s.eventually("the slice with one pod", None, || {
        s.items(&["endpointslices", "-l", "kubernetes.io/service-name=echo"])
            .iter()
            .map(|sl| sl["endpoints"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
            == 1
    });
    let kubernetes_after = s.json(&["get", "endpoints", "kubernetes", "-n", "default"]);
    assert_eq!(kubernetes_before["subsets"], kubernetes_after["subsets"]);
    assert_eq!(
        kubernetes_before["metadata"]["resourceVersion"],
        kubernetes_after["metadata"]["resourceVersion"]
    );

    // Deleting the service removes its endpoints and slices.
    s.ok(&["delete", "service", "echo"]);
    s.eventually(
        "endpoints and slices of a deleted service to go",
        None,
        || {
            !s.kubectl(&["get", "endpoints", "echo"]).status.success()
                && s.items(&["endpointslices", "-l", "kubernetes.io/service-name=echo"])
                    .is_empty()
        },
    );
}
