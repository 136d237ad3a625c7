//! End to end: the real `rk3s server` binary, three simulated nodes and the scheduler running
//! in this test process, checked with the real kubectl.
//!
//! Needs the server binary built first (see `rk3s-testkit`).
//! The binding test also prints a throughput figure (`--nocapture`); its size is 20 nodes and
//! 200 pods unless `RK3S_SCHED_NODES` / `RK3S_SCHED_PODS` say otherwise (the figures in
//! docs/benchmarks.md come from larger runs of it).

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use rk3s_agent::{SimulateOptions, run_simulated};
use rk3s_testkit::{Server, eventually};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn condition<'a>(pod: &'a Value, type_: &str) -> Option<&'a Value> {
    pod.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits for the pod to be Unschedulable and returns its `kubectl describe` output.
async fn unschedulable(s: &Server, name: &str, expected: &str) -> String {
    eventually(
        &format!("{name} unschedulable"),
        Duration::from_secs(20),
        || {
            let pod = s.json(&["get", "pod", name]);
            let c = condition(&pod, "PodScheduled").ok_or("no PodScheduled condition")?;
            if c["status"] == "False" && c["reason"] == "Unschedulable" && c["message"] == expected
            {
                Ok(())
            } else {
                Err(format!("{c}"))
            }
        },
    )
    .await;
    let mut describe = String::new();
    eventually(
        &format!("{name} FailedScheduling event"),
        Duration::from_secs(10),
        || {
            describe = s.ok(&["describe", "pod", name]);
            if describe.contains("FailedScheduling")
                && describe.contains(expected)
                && describe.contains("default-scheduler")
            {
                Ok(())
            } else {
                Err(describe.clone())
            }
        },
    )
    .await;
    describe
}

async fn running(s: &Server, name: &str) -> Value {
    let mut last = Value::Null;
    eventually(&format!("{name} running"), Duration::from_secs(20), || {
        last = s.json(&["get", "pod", name]);
        let ok = last.pointer("/status/phase") == Some(&json!("Running"))
            && last
                .pointer("/status/podIP")
                .and_then(Value::as_str)
                .is_some_and(|ip| ip.starts_with("10.42."))
            && last
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.starts_with("sim-"));
        if ok { Ok(()) } else { Err(last.to_string()) }
    })
    .await;
    last
}

fn start_components(client: &kube::Client, nodes: usize, shutdown: &CancellationToken) {
    start_simulator(client, nodes, true, shutdown);
    start_scheduler(client, shutdown);
}

fn start_simulator(
    client: &kube::Client,
    nodes: usize,
    events: bool,
    shutdown: &CancellationToken,
) {
    let opts = SimulateOptions {
        count: nodes,
        name_prefix: "sim-".into(),
        events,
        ..Default::default()
    };
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = run_simulated(c, opts, t).await {
            panic!("simulator failed: {e:?}");
        }
    });
}

fn start_scheduler(client: &kube::Client, shutdown: &CancellationToken) {
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = rk3s_scheduler::run(c, "default-scheduler", t).await {
            panic!("scheduler failed: {e:?}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulated_nodes_run_what_the_scheduler_binds() {
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    start_components(&client, 3, &shutdown);

    eventually("three Ready nodes", Duration::from_secs(30), || {
        let out = s.ok(&["get", "nodes", "--no-headers"]);
        let ready = out
            .lines()
            .filter(|l| l.contains(" Ready ") && l.starts_with("sim-"))
            .count();
        if ready == 3 { Ok(()) } else { Err(out) }
    })
    .await;
    let nodes = s.json(&["get", "nodes"]);
    for n in nodes["items"].as_array().expect("items") {
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], "v1.33.0+rk3s");
        assert_eq!(
            n["status"]["nodeInfo"]["containerRuntimeVersion"],
            "simulated://1.0"
        );
        assert_eq!(n["status"]["allocatable"]["cpu"], "4");
        assert!(
            n["status"]["addresses"][0]["address"]
                .as_str()
                .is_some_and(|a| a.starts_with("172.16."))
        );
    }
    eventually("a lease per node", Duration::from_secs(10), || {
        let out = s.ok(&["get", "leases", "-n", "kube-node-lease", "--no-headers"]);
        if out.lines().filter(|l| l.starts_with("sim-")).count() == 3 {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;

    // A plain pod is bound and runs with an address from its node's range.
    s.ok(&["run", "p", "--image=busybox"]);
    let pod = running(&s, "p").await;
    assert_eq!(condition(&pod, "Ready").expect("Ready")["status"], "True");
    assert_eq!(
        condition(&pod, "PodScheduled").expect("PodScheduled")["status"],
        "True"
    );
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert!(
        cs["containerID"]
            .as_str()
            .is_some_and(|id| id.starts_with("simulated://"))
    );
    assert!(cs["state"]["running"]["startedAt"].is_string());
    assert!(
        pod["status"]["hostIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("172.16."))
    );
    let wide = s.ok(&["get", "pod", "p", "-o", "wide", "--no-headers"]);
    assert!(
        wide.contains("Running") && wide.contains("10.42."),
        "{wide}"
    );

    // Nothing matches the selector: Pending, Unschedulable, explained.
    s.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: picky}\nspec:\n  nodeSelector: {disk: ssd}\n  containers: [{name: c, image: busybox}]\n",
    );
    let describe = unschedulable(
        &s,
        "picky",
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    )
    .await;
    assert!(describe.contains("Warning  FailedScheduling"), "{describe}");
    assert_eq!(
        s.json(&["get", "pod", "picky"])["status"]["phase"],
        "Pending"
    );
    // Labelling a node makes it fit: the scheduler retries on node changes.
    s.ok(&["label", "node", "sim-1", "disk=ssd"]);
    let pod = running(&s, "picky").await;
    assert_eq!(pod["spec"]["nodeName"], "sim-1");

    // More cpu than any node has.
    s.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: greedy}\nspec:\n  containers: [{name: c, image: busybox, resources: {requests: {cpu: '64'}}}]\n",
    );
    unschedulable(
        &s,
        "greedy",
        "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    )
    .await;

    // Taints keep pods off unless tolerated.
    for n in ["sim-0", "sim-1", "sim-2"] {
        s.ok(&["taint", "nodes", n, "dedicated=gpu:NoSchedule"]);
    }
    s.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: intolerant}\nspec:\n  containers: [{name: c, image: busybox}]\n");
    unschedulable(
        &s,
        "intolerant",
        "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    )
    .await;
    s.apply(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: tolerant}\nspec:\n  tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n  containers: [{name: c, image: busybox}]\n",
    );
    running(&s, "tolerant").await;
    s.ok(&["taint", "nodes", "sim-2", "dedicated-"]);
    let pod = running(&s, "intolerant").await;
    assert_eq!(pod["spec"]["nodeName"], "sim-2");

    // A job-like pod exits as annotated.
    s.apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: job\n  annotations: {rk3s.io/simulate-exit-after: 1s, rk3s.io/simulate-exit-code: '0'}\nspec:\n  restartPolicy: Never\n  tolerations: [{operator: Exists}]\n  containers: [{name: c, image: busybox, command: [sh, -c, 'true']}]\n",
    );
    eventually("job succeeded", Duration::from_secs(20), || {
        let pod = s.json(&["get", "pod", "job"]);
        if pod["status"]["phase"] == "Succeeded"
            && pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
        {
            Ok(())
        } else {
            Err(pod["status"].to_string())
        }
    })
    .await;

    // Graceful deletion is finished by the node.
    let started = Instant::now();
    s.ok(&["delete", "pod", "p", "--timeout=30s"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    let out = s.kubectl(&["get", "pod", "p"], None);
    assert!(!out.status.success(), "pod p still exists");

    shutdown.cancel();
}

/// Scheduler throughput: 100 nodes; 1,000 pods created first, then the scheduler started;
/// prints pods bound per second (and, for comparison, with creation and scheduling overlapping).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_pod_of_a_burst_is_bound_and_running_on_simulated_nodes() {
    let env_count = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let node_count = env_count("RK3S_SCHED_NODES", 20);
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    // Kubelet events off: they triple the API writes per pod and this measures the scheduler.
    let events = std::env::var_os("RK3S_SIM_EVENTS").is_some();
    start_simulator(&client, node_count, events, &shutdown);
    eventually("all nodes Ready", Duration::from_secs(60), || {
        let out = s.ok(&["get", "nodes", "--no-headers"]);
        let n = out.lines().filter(|l| l.contains(" Ready ")).count();
        if n == node_count {
            Ok(())
        } else {
            Err(format!("{n} nodes"))
        }
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let total = env_count("RK3S_SCHED_PODS", 200);

    // Phase 1: a backlog of 1,000 pending pods, then the scheduler starts.
    let started = Instant::now();
    create_pods(&pods, "backlog", total).await;
    let created = started.elapsed();
    let started = Instant::now();
    start_scheduler(&client, &shutdown);
    let bound_after = wait_bound(&pods, "backlog", total, started).await;
    println!(
        "backlog: created {total} pods in {created:?}, then started the scheduler: all bound after {bound_after:?} ({:.0} pods/s)",
        total as f64 / bound_after.as_secs_f64()
    );

    // Phase 2: 1,000 more created while the scheduler runs.
    let started = Instant::now();
    create_pods(&pods, "stream", total).await;
    let created = started.elapsed();
    let bound_after = wait_bound(&pods, "stream", total, started).await;
    println!(
        "stream: created {total} pods in {created:?} with the scheduler running: all bound {bound_after:?} after the first creation ({:.0} pods/s end to end)",
        total as f64 / bound_after.as_secs_f64()
    );
    shutdown.cancel();
}

async fn create_pods(pods: &Api<Pod>, prefix: &str, count: usize) {
    let results: Vec<_> = futures::stream::iter(0..count)
        .map(|i| {
            let pods = pods.clone();
            let name = format!("{prefix}-{i}");
            async move {
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name, "labels": {"batch": prefix}},
                    "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}}}]}
                }))
                .expect("pod");
                pods.create(&PostParams::default(), &pod).await.map(|_| ())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "some creations failed");
}

/// Waits until every pod labelled `batch=prefix` is bound; returns the time since `started`.
async fn wait_bound(pods: &Api<Pod>, prefix: &str, count: usize, started: Instant) -> Duration {
    let deadline = started + Duration::from_secs(300);
    let lp = ListParams::default().labels(&format!("batch={prefix}"));
    loop {
        let list = pods.list(&lp).await.expect("list");
        let bound = list
            .items
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        if bound == count {
            return started.elapsed();
        }
        assert!(Instant::now() < deadline, "only {bound} of {count} bound");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
