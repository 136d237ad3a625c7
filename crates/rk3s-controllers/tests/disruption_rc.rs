//! PodDisruptionBudget status and ReplicationControllers end to end: the real server, the real
//! kubectl, simulated nodes run in-process (`rk3s_agent::run_simulated`), and the scheduler and
//! this crate's controllers wherever the server does not run them itself.

mod harness;

use harness::{Controllers, Nodes, Server, names};
use serde_json::Value;

/// A server with three Ready simulated nodes and every control loop running somewhere.
fn cluster(identity: &str) -> (Server, Controllers, Nodes) {
    let s = Server::start();
    let c = Controllers::start(&s.kubeconfig(), identity);
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

fn ready_pods(s: &Server, selector: &str) -> Vec<Value> {
    live_pods(s, selector)
        .into_iter()
        .filter(running_ready)
        .collect()
}

/// `(currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed)` of a budget.
fn budget(s: &Server, name: &str) -> (i64, i64, i64, i64) {
    let pdb = s.json(&["get", "pdb", name]);
    let n = |k: &str| pdb["status"][k].as_i64().unwrap_or(-1);
    (
        n("currentHealthy"),
        n("desiredHealthy"),
        n("expectedPods"),
        n("disruptionsAllowed"),
    )
}

fn allowed_condition(s: &Server, name: &str) -> (String, String) {
    let pdb = s.json(&["get", "pdb", name]);
    pdb["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "DisruptionAllowed"))
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default()
}

/// POSTs an Eviction of `pod` the way `kubectl drain` does; returns kubectl's output.
fn evict(s: &Server, pod: &str) -> std::process::Output {
    let body = format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"{pod}","namespace":"default"}}}}"#
    );
    s.kubectl_stdin(
        &[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{pod}/eviction"),
            "-f",
            "-",
        ],
        Some(&body),
    )
}

#[test]
fn a_budget_tracks_its_deployment_and_evictions_stop_when_nothing_may_be_disrupted() {
    let (s, _c, _n) = cluster("disruption-test");
    s.ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx",
        "--replicas=3",
    ]);
    s.eventually("three ready web pods", None, || {
        ready_pods(&s, "app=web").len() == 3
    });

    // An integer minAvailable counts the pods themselves.
    s.ok(&[
        "create",
        "pdb",
        "web-min",
        "--selector=app=web",
        "--min-available=2",
    ]);
    s.eventually("web-min allows one disruption", None, || {
        budget(&s, "web-min") == (3, 2, 3, 1)
    });
    assert_eq!(
        allowed_condition(&s, "web-min"),
        ("True".into(), "SufficientPods".into())
    );
    let pdb = s.json(&["get", "pdb", "web-min"]);
    assert_eq!(
        pdb["status"]["observedGeneration"],
        pdb["metadata"]["generation"]
    );
    let table = s.ok(&["get", "pdb", "web-min"]);
    assert!(table.contains("ALLOWED DISRUPTIONS"), "{table}");
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], ["web-min", "2", "N/A", "1"], "{table}");

    // A percentage of maxUnavailable counts the Deployment's replicas (rounded up: 2 of 3).
    s.ok(&[
        "create",
        "pdb",
        "web-max",
        "--selector=app=web",
        "--max-unavailable=50%",
    ]);
    s.eventually("web-max expects the deployment's scale", None, || {
        budget(&s, "web-max") == (3, 1, 3, 2)
    });
    // Scaling the Deployment changes what is expected, before and after its pods follow.
    s.ok(&["scale", "deployment", "web", "--replicas=4"]);
    s.eventually("web-max follows the new scale", None, || {
        budget(&s, "web-max") == (4, 2, 4, 2) && budget(&s, "web-min") == (4, 2, 4, 2)
    });
    s.ok(&["delete", "pdb", "web-max"]);

    // One eviction is allowed and spends web-min's allowance.
    s.ok(&["scale", "deployment", "web", "--replicas=3"]);
    s.eventually("three web pods again", None, || {
        live_pods(&s, "app=web").len() == 3 && budget(&s, "web-min") == (3, 2, 3, 1)
    });
    let pods = names(&ready_pods(&s, "app=web"));
    let out = evict(&s, &pods[0]);
    assert!(
        out.status.success(),
        "eviction refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.eventually("the evicted pod is replaced", None, || {
        let live = names(&ready_pods(&s, "app=web"));
        live.len() == 3 && !live.contains(&pods[0]) && budget(&s, "web-min") == (3, 2, 3, 1)
    });

    // minAvailable equal to the healthy pods leaves nothing to disrupt: evictions get 429.
    s.ok(&[
        "patch",
        "pdb",
        "web-min",
        "--type=merge",
        "-p",
        r#"{"spec":{"minAvailable":3}}"#,
    ]);
    s.eventually("web-min allows nothing", None, || {
        budget(&s, "web-min") == (3, 3, 3, 0)
    });
    assert_eq!(
        allowed_condition(&s, "web-min"),
        ("False".into(), "InsufficientPods".into())
    );
    let pdb = s.json(&["get", "pdb", "web-min"]);
    assert_eq!(pdb["metadata"]["generation"], 2);
    assert_eq!(pdb["status"]["observedGeneration"], 2);
    let victim = names(&ready_pods(&s, "app=web"))[0].clone();
    let out = evict(&s, &victim);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "eviction went through");
    assert!(
        err.contains("disruption budget") && err.contains("web-min"),
        "{err}"
    );
    // kubectl drain sees the same refusal and gives up at its timeout.
    let node = s.json(&["get", "pod", &victim])["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let drain = s.kubectl(&[
        "drain",
        &node,
        "--pod-selector=app=web",
        "--timeout=3s",
        "--ignore-daemonsets",
    ]);
    let drain_err = String::from_utf8_lossy(&drain.stderr);
    assert!(!drain.status.success(), "drain succeeded");
    assert!(
        drain_err.contains("disruption budget"),
        "drain said: {drain_err}"
    );
    s.ok(&["uncordon", &node]);
    assert!(names(&live_pods(&s, "app=web")).contains(&victim));
}

#[test]
fn a_budget_over_pods_without_a_scalable_controller_fails_safe() {
    let (s, _c, _n) = cluster("disruption-failsafe-test");
    s.ok(&["run", "lonely", "--image=nginx", "--labels=app=lonely"]);
    s.eventually("the bare pod is ready", None, || {
        ready_pods(&s, "app=lonely").len() == 1
    });
    // An integer minAvailable needs no controller.
    s.ok(&[
        "create",
        "pdb",
        "lonely-int",
        "--selector=app=lonely",
        "--min-available=0",
    ]);
    s.eventually("lonely-int allows one", None, || {
        budget(&s, "lonely-int") == (1, 0, 1, 1)
    });
    // A percentage needs the controllers' scale; a pod without one counts nothing (upstream
    // warns), so nothing is expected and nothing may be disrupted.
    s.ok(&[
        "create",
        "pdb",
        "lonely-pct",
        "--selector=app=lonely",
        "--min-available=50%",
    ]);
    s.eventually("lonely-pct expects nothing", None, || {
        budget(&s, "lonely-pct") == (1, 0, 0, 0)
    });
    s.eventually("an UnmanagedPods warning", None, || {
        s.ok(&[
            "get",
            "events",
            "--field-selector=involvedObject.name=lonely-pct",
        ])
        .contains("UnmanagedPods")
    });
    // A selector over pods of a controller that has no scale (a Job) fails the sync safely.
    s.ok(&[
        "create",
        "job",
        "batch",
        "--image=busybox",
        "--",
        "sleep",
        "3600",
    ]);
    s.eventually("the job's pod runs", None, || {
        ready_pods(&s, "job-name=batch").len() == 1
    });
    s.ok(&[
        "create",
        "pdb",
        "batch-pdb",
        "--selector=job-name=batch",
        "--max-unavailable=1",
    ]);
    s.eventually("batch-pdb fails safe", None, || {
        allowed_condition(&s, "batch-pdb") == ("False".into(), "SyncFailed".into())
    });
    assert_eq!(budget(&s, "batch-pdb").3, 0);
}

const RC: &str = r#"
apiVersion: v1
kind: ReplicationController
metadata: {name: nginx}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: nginx-rc}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: nginx, image: nginx}]
"#;

const ORPHAN: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {app: nginx-rc}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: nginx, image: nginx}]
"#;

#[test]
fn a_replication_controller_adopts_creates_scales_and_goes_with_its_pods() {
    let (s, _c, _n) = cluster("rc-test");
    s.apply(ORPHAN);
    s.eventually("the orphan runs", None, || {
        ready_pods(&s, "app=nginx-rc").len() == 1
    });
    s.apply(RC);
    let rc = s.json(&["get", "rc", "nginx"]);
    assert_eq!(
        rc["spec"]["selector"],
        serde_json::json!({"app": "nginx-rc"}),
        "the selector defaults to the template labels: {rc}"
    );
    let uid = rc["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    s.eventually("three ready pods of the rc", None, || {
        let rc = s.json(&["get", "rc", "nginx"]);
        ready_pods(&s, "app=nginx-rc").len() == 3
            && rc["status"]["readyReplicas"] == 3
            && rc["status"]["availableReplicas"] == 3
    });
    let rc = s.json(&["get", "rc", "nginx"]);
    assert_eq!(rc["status"]["replicas"], 3);
    assert_eq!(rc["status"]["fullyLabeledReplicas"], 3);
    assert_eq!(
        rc["status"]["observedGeneration"],
        rc["metadata"]["generation"]
    );
    let pods = live_pods(&s, "app=nginx-rc");
    assert!(
        names(&pods).contains(&"stray".to_string()),
        "the matching orphan is adopted, not replaced: {:?}",
        names(&pods)
    );
    for p in &pods {
        let r = &p["metadata"]["ownerReferences"][0];
        assert_eq!(r["kind"], "ReplicationController", "{p}");
        assert_eq!(r["apiVersion"], "v1");
        assert_eq!(r["controller"], true);
        assert_eq!(r["uid"], uid.as_str());
        assert!(
            p["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
        );
    }
    let table = s.ok(&["get", "rc", "nginx"]);
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], ["nginx", "3", "3", "3"], "{table}");

    // A percentage budget over the rc's pods counts the rc's replicas.
    s.ok(&[
        "create",
        "pdb",
        "nginx-pdb",
        "--selector=app=nginx-rc",
        "--min-available=50%",
    ]);
    s.eventually("the budget sees the rc's scale", None, || {
        budget(&s, "nginx-pdb") == (3, 2, 3, 1)
    });

    s.ok(&["scale", "rc", "nginx", "--replicas=1"]);
    s.eventually("one pod left", None, || {
        let rc = s.json(&["get", "rc", "nginx"]);
        live_pods(&s, "app=nginx-rc").len() == 1
            && rc["status"]["replicas"] == 1
            && rc["status"]["readyReplicas"] == 1
    });
    s.eventually("the budget follows the scale-down", None, || {
        budget(&s, "nginx-pdb") == (1, 1, 1, 0)
    });

    // A relabelled pod is released and replaced.
    let kept = names(&live_pods(&s, "app=nginx-rc"))[0].clone();
    s.ok(&["label", "pod", &kept, "app=debug", "--overwrite"]);
    s.eventually("the relabelled pod is released and replaced", None, || {
        let released = s.json(&["get", "pod", &kept]);
        released["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|r| r.is_empty())
            && ready_pods(&s, "app=nginx-rc").len() == 1
    });

    s.ok(&["delete", "rc", "nginx"]);
    s.eventually("the rc's pods are collected", None, || {
        live_pods(&s, "app=nginx-rc").is_empty()
    });
    // The released pod belongs to no one and stays.
    assert_eq!(names(&live_pods(&s, "app=debug")), [kept]);
}
