//! End to end: a pod whose claim is bound to a local PersistentVolume lands on the one
//! simulated node the volume's node affinity names; a pod naming a missing claim stays Pending
//! with upstream's message in `kubectl describe`.
//!
//! Needs the server binary built first (see `rk3s-testkit`).

use std::time::Duration;

use rk3s_agent::{SimulateOptions, run_simulated};
use rk3s_testkit::{Server, eventually};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

fn start_components(client: &kube::Client, shutdown: &CancellationToken) {
    let opts = SimulateOptions {
        count: 3,
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

const LOCAL_VOLUME: &str = "apiVersion: v1
kind: PersistentVolume
metadata: {name: local-1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  local: {path: /mnt/disk1}
  claimRef: {namespace: default, name: data}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [sim-1]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  volumeName: local-1
  resources: {requests: {storage: 1Gi}}
";

fn pod_with_claim(name: &str, claim: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n  containers: [{{name: c, image: busybox, volumeMounts: [{{name: d, mountPath: /data}}]}}]\n  volumes: [{{name: d, persistentVolumeClaim: {{claimName: {claim}}}}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pods_follow_their_local_volume_and_wait_for_missing_claims() {
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    start_components(&client, &shutdown);
    eventually("three Ready nodes", Duration::from_secs(30), || {
        let out = s.ok(&["get", "nodes", "--no-headers"]);
        let ready = out.lines().filter(|l| l.contains(" Ready ")).count();
        if ready == 3 { Ok(()) } else { Err(out) }
    })
    .await;

    // No PV controller runs here: both sides of the static binding are written by hand.
    s.apply(LOCAL_VOLUME);
    s.ok(&[
        "patch",
        "pvc",
        "data",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"1Gi"}}}"#,
    ]);
    s.ok(&[
        "patch",
        "pv",
        "local-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Bound"}}"#,
    ]);
    // Three pods, so that a scheduler ignoring the volume would rarely land all on sim-1.
    for i in 0..3 {
        s.apply(&pod_with_claim(&format!("pinned-{i}"), "data"));
    }
    for i in 0..3 {
        let name = format!("pinned-{i}");
        let mut last = Value::Null;
        eventually(
            &format!("{name} runs on sim-1"),
            Duration::from_secs(30),
            || {
                last = s.json(&["get", "pod", &name]);
                if last["spec"]["nodeName"] == "sim-1" && last["status"]["phase"] == "Running" {
                    Ok(())
                } else {
                    Err(last.to_string())
                }
            },
        )
        .await;
    }

    s.apply(&pod_with_claim("orphan", "missing"));
    let expected = "0/3 nodes are available: persistentvolumeclaim \"missing\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    let mut describe = String::new();
    eventually("orphan's FailedScheduling", Duration::from_secs(20), || {
        describe = s.ok(&["describe", "pod", "orphan"]);
        if describe.contains("FailedScheduling") && describe.contains(expected) {
            Ok(())
        } else {
            Err(describe.clone())
        }
    })
    .await;
    let orphan = s.json(&["get", "pod", "orphan"]);
    assert_eq!(orphan["status"]["phase"], "Pending");
    assert!(orphan["spec"]["nodeName"].is_null(), "{orphan}");
    assert!(
        describe
            .lines()
            .any(|l| l.starts_with("Status:") && l.trim_end().ends_with("Pending")),
        "{describe}"
    );

    // The claim appearing unbound (no class: Immediate) changes the verdict to waiting for it.
    s.apply(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: missing}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n",
    );
    let unbound = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    eventually(
        "orphan waits for its claim to bind",
        Duration::from_secs(20),
        || {
            let pod = s.json(&["get", "pod", "orphan"]);
            let message = pod["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "PodScheduled")
                .map(|c| c["message"].clone());
            if message == Some(Value::from(unbound)) {
                Ok(())
            } else {
                Err(pod.to_string())
            }
        },
    )
    .await;
    shutdown.cancel();
}
