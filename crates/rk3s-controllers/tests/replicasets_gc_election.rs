//! ReplicaSets, the garbage collector and leader election against the real server and kubectl.

mod harness;

use std::time::Duration;

use harness::{Controllers, Server, controller_uid, names};
use serde_json::Value;

const RS: &str = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cache}
spec:
  replicas: 2
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec: {containers: [{name: c, image: busybox}]}
"#;

fn live_pods(s: &Server, selector: &str) -> Vec<Value> {
    s.items(&["pods", "-l", selector])
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect()
}

#[test]
fn a_replica_set_adopts_orphans_and_deletes_unready_pods_first() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(
        r#"
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {app: cache}}
spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    s.make_ready("app=cache");
    s.apply(RS);
    s.eventually("two pods, the stray adopted", None, || {
        live_pods(&s, "app=cache").len() == 2
    });
    let rs = s.json(&["get", "rs", "cache"]);
    let stray = s.json(&["get", "pod", "stray"]);
    assert_eq!(
        controller_uid(&stray),
        rs["metadata"]["uid"].as_str().map(str::to_string)
    );

    s.eventually("status to count the ready stray", None, || {
        let rs = s.json(&["get", "rs", "cache"]);
        rs["status"]["replicas"] == 2
            && rs["status"]["readyReplicas"] == 1
            && rs["status"]["observedGeneration"].is_i64()
    });
    // Scaling down removes the pod that is not ready and keeps the ready one.
    s.ok(&["scale", "rs", "cache", "--replicas=1"]);
    s.eventually("one pod left", None, || {
        live_pods(&s, "app=cache").len() == 1
    });
    assert_eq!(
        names(&live_pods(&s, "app=cache")),
        vec!["stray".to_string()]
    );

    // A deleted pod is replaced.
    s.ok(&["delete", "pod", "stray"]);
    s.eventually("a replacement pod", None, || {
        let pods = live_pods(&s, "app=cache");
        pods.len() == 1 && names(&pods)[0].starts_with("cache-")
    });

    // A pod relabelled out of the set is released and replaced.
    let quarantined = names(&live_pods(&s, "app=cache")).remove(0);
    s.ok(&["label", "pod", &quarantined, "app=debug", "--overwrite"]);
    s.eventually(
        "the relabelled pod to be released and replaced",
        None,
        || {
            let pod = s.json(&["get", "pod", &quarantined]);
            live_pods(&s, "app=cache").len() == 1 && controller_uid(&pod).is_none()
        },
    );
}

#[test]
fn the_orphan_finalizer_leaves_dependents_behind_without_owner() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(RS);
    s.eventually("two pods", None, || live_pods(&s, "app=cache").len() == 2);
    s.ok(&[
        "patch",
        "rs",
        "cache",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["orphan"]}}"#,
    ]);
    s.ok(&["delete", "rs", "cache", "--wait=false"]);
    s.eventually("the replica set to go", None, || {
        s.items(&["rs"]).is_empty()
    });
    std::thread::sleep(Duration::from_secs(1));
    let pods = live_pods(&s, "app=cache");
    assert_eq!(pods.len(), 2, "orphaned pods stay");
    for p in pods {
        assert!(
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_none_or(|r| r.is_empty()),
            "{p}"
        );
    }
}

#[test]
fn foreground_deletion_waits_for_dependents_and_background_collects_them() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(RS);
    s.eventually("two pods", None, || live_pods(&s, "app=cache").len() == 2);
    s.ok(&[
        "patch",
        "rs",
        "cache",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["foregroundDeletion"]}}"#,
    ]);
    s.ok(&["delete", "rs", "cache", "--wait=false"]);
    s.eventually("pods first, then the replica set", None, || {
        // Sets first: pods only ever go, so pods seen after the set is gone were there
        // when it went. The owner may not vanish while a blocking dependent is still there.
        let sets = s.items(&["rs"]);
        let pods = s.items(&["pods", "-l", "app=cache"]);
        assert!(
            !sets.is_empty() || pods.is_empty(),
            "owner went before its pods"
        );
        pods.is_empty() && sets.is_empty()
    });

    // A dependent whose owner never existed under that uid is collected too.
    s.apply(
        r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: dangling
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: ghost, uid: 00000000-0000-0000-0000-000000000000}
"#,
    );
    s.eventually("the dangling config map to go", None, || {
        !s.kubectl(&["get", "configmap", "dangling"])
            .status
            .success()
    });
}

#[test]
fn only_the_lease_holder_runs_and_a_successor_takes_over() {
    let s = Server::start();
    // Against a server with its own manager, the two candidates campaign for a lease of their
    // own so the election is still theirs to decide.
    let lease = if s.builtin_manager {
        "rk3s-election-test"
    } else {
        "rk3s-controller-manager"
    };
    let holder = |s: &Server| -> Option<Value> {
        let out = s.kubectl(&["get", "lease", "-n", "kube-system", lease, "-o", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    };
    let first = Controllers::start_with_lease(&s.kubeconfig(), "manager-a", Some(lease));
    s.eventually("manager-a to lead", None, || {
        holder(&s).is_some_and(|l| {
            l["spec"]["holderIdentity"] == "manager-a" && l["spec"]["renewTime"].is_string()
        })
    });
    let second = Controllers::start_with_lease(&s.kubeconfig(), "manager-b", Some(lease));
    std::thread::sleep(Duration::from_secs(3));
    let l = holder(&s).unwrap_or_default();
    assert_eq!(
        l["spec"]["holderIdentity"], "manager-a",
        "the holder keeps the lease"
    );

    assert!(first.stop().is_ok());
    s.eventually("manager-b to take over", None, || {
        holder(&s).is_some_and(|l| l["spec"]["holderIdentity"] == "manager-b")
    });
    let l = holder(&s).unwrap_or_default();
    assert!(l["spec"]["leaseTransitions"].as_i64().unwrap_or(0) >= 1);
    if !s.builtin_manager {
        // The new leader does the work.
        s.apply(RS);
        s.eventually("pods from the new leader", None, || {
            live_pods(&s, "app=cache").len() == 2
        });
    }
    assert!(second.stop().is_ok());
}

#[test]
fn a_quota_shows_as_replica_failure_on_the_set_and_its_deployment() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(
        r#"
apiVersion: v1
kind: ResourceQuota
metadata: {name: pods}
spec: {hard: {pods: "1"}}
"#,
    );
    s.ok(&[
        "create",
        "deployment",
        "capped",
        "--image=busybox",
        "--replicas=2",
    ]);
    let failure = |kind: &str, name: &str| -> Option<Value> {
        let obj = s.json(&["get", kind, name]);
        obj["status"]["conditions"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "ReplicaFailure")
            .cloned()
    };
    s.eventually("a replica failure on the replica set", None, || {
        let sets = s.items(&["rs", "-l", "app=capped"]);
        sets.len() == 1 && {
            let name = sets[0]["metadata"]["name"].as_str().unwrap_or_default();
            failure("rs", name).is_some_and(|c| {
                c["reason"] == "FailedCreate"
                    && c["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("exceeded quota"))
            })
        }
    });
    s.eventually("the failure mirrored on the deployment", None, || {
        failure("deployment", "capped").is_some_and(|c| c["reason"] == "FailedCreate")
    });
    assert_eq!(live_pods(&s, "app=capped").len(), 1);

    // Room again: the second pod is made and the failure clears.
    s.ok(&["delete", "resourcequota", "pods"]);
    s.eventually("the failure to clear", None, || {
        let sets = s.items(&["rs", "-l", "app=capped"]);
        let name = sets
            .first()
            .and_then(|r| r["metadata"]["name"].as_str())
            .unwrap_or_default()
            .to_string();
        live_pods(&s, "app=capped").len() == 2
            && failure("rs", &name).is_none()
            && failure("deployment", "capped").is_none()
    });
}
