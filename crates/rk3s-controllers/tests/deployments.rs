//! Deployments end to end: the real server, the real kubectl, this crate's controllers.

mod harness;

use harness::{Controllers, Server, controller_uid, names};
use serde_json::Value;

fn deployment(s: &Server, name: &str) -> Value {
    s.json(&["get", "deployment", name])
}

fn sets(s: &Server, selector: &str) -> Vec<Value> {
    s.items(&["replicasets", "-l", selector])
}

fn live_pods(s: &Server, selector: &str) -> Vec<Value> {
    s.items(&["pods", "-l", selector])
        .into_iter()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .collect()
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn image_of(rs: &Value) -> String {
    rs.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// True once the Deployment reports a finished rollout of `replicas` the way
/// `kubectl rollout status` judges it.
fn rolled_out(s: &Server, name: &str, replicas: i64) -> bool {
    let d = deployment(s, name);
    int(&d, "/status/observedGeneration") >= int(&d, "/metadata/generation")
        && int(&d, "/status/updatedReplicas") == replicas
        && int(&d, "/status/replicas") == replicas
        && int(&d, "/status/availableReplicas") == replicas
}

#[test]
fn create_set_image_undo_scale_and_delete_behave_as_upstream() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox",
        "--replicas=3",
    ]);

    // Three pods, one ReplicaSet named after the template hash, everything owned.
    s.eventually("three pods of one replica set", None, || {
        let rs = sets(&s, "app=web");
        rs.len() == 1 && live_pods(&s, "app=web").len() == 3
    });
    let d = deployment(&s, "web");
    let d_uid = d["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let rs = sets(&s, "app=web").remove(0);
    let first_rs = rs["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!hash.is_empty(), "replica set carries the hash label: {rs}");
    assert_eq!(first_rs, format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash.as_str()
    );
    assert_eq!(controller_uid(&rs), Some(d_uid.clone()));
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let rs_uid = rs["metadata"]["uid"].as_str().map(str::to_string);
    for p in live_pods(&s, "app=web") {
        assert_eq!(
            controller_uid(&p),
            rs_uid,
            "pod owned by the replica set: {p}"
        );
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["blockOwnerDeletion"], true);
        assert!(
            p["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&format!("{first_rs}-"))
        );
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash.as_str());
    }

    // Pods become ready (a node would say so); the rollout completes.
    s.eventually("the first rollout to finish", Some("app=web"), || {
        rolled_out(&s, "web", 3)
    });
    s.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    let d = deployment(&s, "web");
    let conds = d["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reason = |t: &str| {
        conds
            .iter()
            .find(|c| c["type"] == t)
            .map(|c| c["reason"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(
        reason("Available").as_deref(),
        Some("MinimumReplicasAvailable")
    );
    assert_eq!(
        reason("Progressing").as_deref(),
        Some("NewReplicaSetAvailable")
    );
    s.eventually("scaling events", None, || {
        s.ok(&["describe", "deployment", "web"])
            .contains(&format!("Scaled up replica set {first_rs} from 0 to 3"))
    });
    s.eventually("pod creation events", None, || {
        s.ok(&["describe", "rs", &first_rs])
            .contains("SuccessfulCreate")
    });
    let rs = s.json(&["get", "rs", &first_rs]);
    assert_eq!(int(&rs, "/status/readyReplicas"), 3);
    assert_eq!(int(&rs, "/status/availableReplicas"), 3);
    assert_eq!(int(&rs, "/status/fullyLabeledReplicas"), 3);

    // A new image rolls forward through a second replica set.
    s.ok(&["set", "image", "deployment/web", "busybox=busybox:1.36"]);
    s.eventually("the rolling update to finish", Some("app=web"), || {
        let all = sets(&s, "app=web");
        all.len() == 2
            && rolled_out(&s, "web", 3)
            && all
                .iter()
                .any(|r| image_of(r) == "busybox:1.36" && int(r, "/status/readyReplicas") == 3)
            && all
                .iter()
                .any(|r| image_of(r) == "busybox" && int(r, "/spec/replicas") == 0)
    });
    let d = deployment(&s, "web");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
    let new_rs = sets(&s, "app=web")
        .into_iter()
        .find(|r| image_of(r) == "busybox:1.36")
        .unwrap_or_default();
    // maxSurge 25% of 3 rounds up to one extra pod.
    assert_eq!(
        new_rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"],
        "4"
    );
    assert_eq!(live_pods(&s, "app=web").len(), 3);
    let history = s.ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // Undo brings the first replica set back as revision 3.
    s.ok(&["rollout", "undo", "deployment/web"]);
    s.eventually("the rollback to finish", Some("app=web"), || {
        let rs = s.json(&["get", "rs", &first_rs]);
        int(&rs, "/status/readyReplicas") == 3 && rolled_out(&s, "web", 3)
    });
    let rs = s.json(&["get", "rs", &first_rs]);
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(sets(&s, "app=web").len(), 2);
    s.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);

    // Scaling is not a rollout: the same set grows.
    s.ok(&["scale", "deployment", "web", "--replicas=5"]);
    s.eventually("five pods", Some("app=web"), || rolled_out(&s, "web", 5));
    let rs = s.json(&["get", "rs", &first_rs]);
    assert_eq!(int(&rs, "/spec/replicas"), 5);
    assert_eq!(live_pods(&s, "app=web").len(), 5);

    // Deleting the Deployment takes its replica sets and their pods with it.
    s.ok(&["delete", "deployment", "web"]);
    s.eventually("replica sets and pods to be collected", None, || {
        sets(&s, "app=web").is_empty() && s.items(&["pods", "-l", "app=web"]).is_empty()
    });
}

#[test]
fn pause_resume_restart_and_history_limit() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  revisionHistoryLimit: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    s.eventually("the first rollout", Some("app=api"), || {
        rolled_out(&s, "api", 2)
    });

    s.ok(&["rollout", "pause", "deployment/api"]);
    s.ok(&["set", "image", "deployment/api", "c=busybox:2"]);
    s.eventually("the paused condition", None, || {
        let d = deployment(&s, "api");
        d["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Progressing" && c["reason"] == "DeploymentPaused")
        })
    });
    // Paused: no new replica set however long we wait for one.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(sets(&s, "app=api").len(), 1);

    s.ok(&["rollout", "resume", "deployment/api"]);
    s.eventually("the resumed rollout", Some("app=api"), || {
        rolled_out(&s, "api", 2)
            && sets(&s, "app=api")
                .iter()
                .any(|r| image_of(r) == "busybox:2")
    });

    s.ok(&["rollout", "restart", "deployment/api"]);
    s.eventually("the restart rollout", Some("app=api"), || {
        let d = deployment(&s, "api");
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            && rolled_out(&s, "api", 2)
    });
    // revisionHistoryLimit 1: the current set and one old one remain.
    s.eventually("old sets beyond the limit to go", None, || {
        sets(&s, "app=api").len() == 2
    });
    let restarted = sets(&s, "app=api").into_iter().any(|r| {
        r["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    });
    assert!(restarted);
}

#[test]
fn recreate_removes_every_old_pod_before_making_new_ones() {
    let s = Server::start();
    let _c = Controllers::start(&s.kubeconfig(), "test-manager");
    s.apply(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: db}
spec:
  replicas: 2
  strategy: {type: Recreate}
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    s.eventually("the first rollout", Some("app=db"), || {
        rolled_out(&s, "db", 2)
    });
    s.ok(&["set", "image", "deployment/db", "c=busybox:2"]);
    let mut saw_mixed = false;
    s.eventually("the recreate rollout", Some("app=db"), || {
        let pods = live_pods(&s, "app=db");
        let hashes: std::collections::BTreeSet<String> = pods
            .iter()
            .filter_map(|p| {
                p["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect();
        saw_mixed |= hashes.len() > 1;
        rolled_out(&s, "db", 2)
            && sets(&s, "app=db")
                .iter()
                .any(|r| image_of(r) == "busybox:2")
    });
    assert!(
        !saw_mixed,
        "old and new pods never run together under Recreate"
    );
    assert_eq!(names(&live_pods(&s, "app=db")).len(), 2);
}
