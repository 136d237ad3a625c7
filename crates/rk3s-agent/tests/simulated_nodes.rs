//! The simulated fleet against the real `rk3s server` binary, without a scheduler: pods are
//! bound by setting `spec.nodeName` directly. Checked with the real kubectl.
//!
//! Needs the server binary built first (see `rk3s-testkit`).

use std::time::Duration;

use rk3s_agent::{SimulateOptions, run_simulated};
use rk3s_testkit::{Server, eventually};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn start(client: &kube::Client, shutdown: &CancellationToken) -> tokio::task::JoinHandle<()> {
    let opts = SimulateOptions {
        count: 2,
        name_prefix: "fleet-".into(),
        lease_interval: Duration::from_secs(1),
        status_interval: Duration::from_secs(2),
        start_delay: Duration::from_millis(500),
        labels: vec![("topology.kubernetes.io/zone".into(), "sim-a".into())],
        ..Default::default()
    };
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = run_simulated(c, opts, t).await {
            panic!("simulator failed: {e:?}");
        }
    })
}

fn bound_pod(name: &str, node: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n{extra}spec:\n  nodeName: {node}\n  containers: [{{name: c, image: nginx:1.25}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fleet_registers_heartbeats_and_runs_bound_pods() {
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    let fleet = start(&client, &shutdown);

    eventually("two Ready nodes", Duration::from_secs(30), || {
        let out = s.ok(&["get", "nodes", "--no-headers"]);
        let ready = out
            .lines()
            .filter(|l| l.starts_with("fleet-") && l.contains(" Ready "))
            .count();
        if ready == 2 { Ok(()) } else { Err(out) }
    })
    .await;
    let node = s.json(&["get", "node", "fleet-1"]);
    assert_eq!(
        node["metadata"]["labels"]["topology.kubernetes.io/zone"],
        "sim-a"
    );
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "fleet-1"
    );
    assert_eq!(node["status"]["capacity"]["memory"], "8Gi");
    assert_eq!(node["status"]["nodeInfo"]["osImage"], "rk3s simulated node");

    // The lease is renewed.
    let renew = |s: &Server| {
        s.json(&["get", "lease", "-n", "kube-node-lease", "fleet-0"])["spec"]["renewTime"].clone()
    };
    let first = renew(&s);
    assert!(first.is_string(), "{first}");
    eventually("lease renewed", Duration::from_secs(10), || {
        let now = renew(&s);
        if now != first {
            Ok(())
        } else {
            Err(now.to_string())
        }
    })
    .await;

    // A pod bound to a fleet node runs; one bound to a stranger is left alone.
    s.apply(&bound_pod("web", "fleet-0", ""));
    s.apply(&bound_pod("elsewhere", "not-ours", ""));
    let mut web = Value::Null;
    eventually("web running", Duration::from_secs(20), || {
        web = s.json(&["get", "pod", "web"]);
        if web["status"]["phase"] == "Running" {
            Ok(())
        } else {
            Err(web["status"].to_string())
        }
    })
    .await;
    assert!(
        web["status"]["podIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.42.0.")),
        "{web}"
    );
    assert_eq!(web["status"]["hostIP"], "172.16.0.10");
    assert!(
        web["status"]["containerStatuses"][0]["imageID"]
            .as_str()
            .is_some_and(|i| i.starts_with("docker.io/library/nginx@sha256:"))
    );
    eventually("kubelet events", Duration::from_secs(10), || {
        let describe = s.ok(&["describe", "pod", "web"]);
        let wanted = [
            "kubelet  Container image \"nginx:1.25\" already present on machine",
            "kubelet  Created container: c",
            "kubelet  Started container c",
        ];
        if wanted.iter().all(|w| describe.contains(w)) {
            Ok(())
        } else {
            Err(describe)
        }
    })
    .await;
    let elsewhere = s.json(&["get", "pod", "elsewhere"]);
    assert!(
        elsewhere["status"].get("containerStatuses").is_none(),
        "{elsewhere}"
    );

    // A crashing OnFailure pod restarts.
    s.apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: crashy\n  annotations: {rk3s.io/simulate-exit-after: 1s, rk3s.io/simulate-exit-code: '2'}\nspec:\n  restartPolicy: OnFailure\n  nodeName: fleet-1\n  containers: [{name: c, image: busybox}]\n"
    );
    eventually("crashy restarted", Duration::from_secs(20), || {
        let p = s.json(&["get", "pod", "crashy"]);
        let cs = &p["status"]["containerStatuses"][0];
        if cs["restartCount"].as_i64().unwrap_or(0) >= 1
            && cs["lastState"]["terminated"]["exitCode"] == 2
        {
            Ok(())
        } else {
            Err(p["status"].to_string())
        }
    })
    .await;

    // A node deleted behind the agent's back registers again.
    s.ok(&["delete", "node", "fleet-1"]);
    eventually("fleet-1 re-registered", Duration::from_secs(15), || {
        let out = s.kubectl(&["get", "node", "fleet-1", "--no-headers"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.contains(" Ready ") {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;

    // Restarting the agent leaves running pods as they are.
    shutdown.cancel();
    fleet.await.expect("simulator stopped cleanly");
    let shutdown = CancellationToken::new();
    let _fleet = start(&client, &shutdown);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = s.json(&["get", "pod", "web"]);
    assert_eq!(again["status"]["podIP"], web["status"]["podIP"]);
    assert_eq!(
        again["status"]["containerStatuses"][0]["state"]["running"]["startedAt"],
        web["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
    );

    // Deleting a running pod completes without force.
    s.ok(&["delete", "pod", "web", "--timeout=30s"]);
    assert!(!s.kubectl(&["get", "pod", "web"], None).status.success());
    shutdown.cancel();
}
