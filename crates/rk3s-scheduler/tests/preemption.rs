//! End to end: preemption on a simulated node full of low-priority pods — a high-priority pod
//! evicts just enough of them and runs there; one with `preemptionPolicy: Never` waits.
//!
//! Needs the server binary built first (see `rk3s-testkit`).

use std::time::Duration;

use rk3s_agent::{SimulateOptions, run_simulated};
use rk3s_testkit::{Server, eventually};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn start_components(client: &kube::Client, shutdown: &CancellationToken) {
    let opts = SimulateOptions {
        count: 1,
        name_prefix: "sim-".into(),
        events: true,
        ..Default::default()
    };
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = run_simulated(c, opts, t).await {
            panic!("simulator failed: {e:?}");
        }
    });
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = rk3s_scheduler::run(c, "default-scheduler", t).await {
            panic!("scheduler failed: {e:?}");
        }
    });
}

fn pod_yaml(name: &str, class: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{tier: {class}}}}}\nspec:\n  priorityClassName: {class}\n  terminationGracePeriodSeconds: 1\n  containers: [{{name: c, image: busybox, resources: {{requests: {{cpu: '{cpu}'}}}}}}]\n"
    )
}

async fn running_on(s: &Server, name: &str, node: &str) -> Value {
    let mut last = Value::Null;
    eventually(&format!("{name} running"), Duration::from_secs(40), || {
        last = s.json(&["get", "pod", name]);
        if last["status"]["phase"] == "Running" && last["spec"]["nodeName"] == node {
            Ok(())
        } else {
            Err(last.to_string())
        }
    })
    .await;
    last
}

fn low_pods(s: &Server) -> Vec<String> {
    s.ok(&["get", "pods", "-l", "tier=low", "-o", "name"])
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn high_priority_pod_preempts_low_priority_pods_and_never_policy_waits() {
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    start_components(&client, &shutdown);
    eventually("a Ready node", Duration::from_secs(30), || {
        let out = s.ok(&["get", "nodes", "--no-headers"]);
        if out.contains("sim-0") && out.contains(" Ready ") {
            Ok(())
        } else {
            Err(out)
        }
    })
    .await;
    s.apply(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: low}\nvalue: 10\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\napiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: polite}\nvalue: 1000\npreemptionPolicy: Never\n",
    );

    // The node's 4 cpus, all taken by low-priority pods.
    for i in 0..4 {
        s.apply(&pod_yaml(&format!("low-{i}"), "low", "1"));
    }
    for i in 0..4 {
        running_on(&s, &format!("low-{i}"), "sim-0").await;
    }

    // preemptionPolicy Never: pending, explained, nothing evicted.
    s.apply(&pod_yaml("waits", "polite", "3"));
    let expected = "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.";
    eventually("waits is unschedulable", Duration::from_secs(20), || {
        let pod = s.json(&["get", "pod", "waits"]);
        let conds = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if conds
            .iter()
            .any(|c| c["reason"] == "Unschedulable" && c["message"] == expected)
        {
            Ok(())
        } else {
            Err(pod["status"].to_string())
        }
    })
    .await;
    assert_eq!(s.json(&["get", "pod", "waits"])["spec"]["priority"], 1000);
    assert_eq!(low_pods(&s).len(), 4, "a Never pod evicts nothing");

    // A high-priority pod needing 2 cpus evicts exactly two of them and runs there.
    s.apply(&pod_yaml("vip", "high", "2"));
    let vip = running_on(&s, "vip", "sim-0").await;
    assert_eq!(vip["spec"]["priority"], 1000);
    eventually("two victims gone", Duration::from_secs(30), || {
        let left = low_pods(&s);
        if left.len() == 2 {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    let uid = vip["metadata"]["uid"].as_str().expect("uid").to_string();
    let events = s.json(&["get", "events", "--field-selector", "reason=Preempted"]);
    let messages: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(messages.len(), 2, "{events}");
    for m in messages {
        assert_eq!(m, format!("Preempted by pod {uid} on node sim-0"));
    }

    // The Never pod still waits: there was no room for it and it may not make any.
    let waits = s.json(&["get", "pod", "waits"]);
    assert_eq!(waits["status"]["phase"], "Pending");
    assert!(waits["spec"]["nodeName"].is_null());
    assert_eq!(low_pods(&s).len(), 2);
    shutdown.cancel();
}
