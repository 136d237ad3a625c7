//! The server's control loops (controllers, scheduler) with simulated nodes from
//! `rk3s agent --simulate`, driven by the real kubectl.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Server;

/// `rk3s agent --simulate N` against the server; killed on drop.
struct Agent(Child);

impl Agent {
    fn start(s: &Server, n: usize) -> Agent {
        let log = std::fs::File::create(s.dir.path().join("agent.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rk3s"))
            .args(["agent", "--simulate", &n.to_string(), "--kubeconfig"])
            .arg(s.kubeconfig())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        Agent(child)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(s: &Server, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            common::tail(&s.log())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn running_pods(s: &Server, selector: &str) -> usize {
    let pods = s.json(&["get", "pods", "-l", selector]);
    pods["items"].as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|p| {
                p["status"]["phase"] == "Running"
                    && p["spec"]["nodeName"]
                        .as_str()
                        .is_some_and(|n| !n.is_empty())
            })
            .count()
    })
}

#[test]
fn a_deployment_becomes_running_pods_rolls_out_rolls_back_and_is_collected() {
    let s = Server::start();
    let _agent = Agent::start(&s, 3);
    wait_for(&s, "3 Ready nodes", Duration::from_secs(30), || {
        s.ok(&["get", "nodes", "--no-headers"])
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
            .count()
            == 3
    });
    s.ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox",
        "--replicas=3",
    ]);
    wait_for(&s, "3 running pods", Duration::from_secs(30), || {
        running_pods(&s, "app=web") == 3
    });
    let pods = s.json(&["get", "pods", "-l", "app=web"]);
    for p in pods["items"].as_array().unwrap() {
        assert!(
            p["status"]["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.42.")),
            "{p}"
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }
    // Rolling update and rollback through kubectl's own rollout commands.
    s.ok(&["set", "image", "deployment/web", "busybox=busybox:1.37"]);
    s.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    assert_eq!(s.json(&["get", "rs"])["items"].as_array().unwrap().len(), 2);
    s.ok(&["rollout", "undo", "deployment/web"]);
    s.ok(&["rollout", "status", "deployment/web", "--timeout=60s"]);
    let d = s.json(&["get", "deployment", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox"
    );
    assert_eq!(d["status"]["readyReplicas"], 3);
    // Deleting the deployment takes its replica sets and pods with it (garbage collector).
    s.ok(&["delete", "deployment", "web"]);
    wait_for(
        &s,
        "replica sets and pods to be collected",
        Duration::from_secs(30),
        || s.ok(&["get", "rs,pods", "-o", "name"]).trim().is_empty(),
    );
}

#[test]
fn an_unschedulable_pod_stays_pending_with_a_failed_scheduling_event() {
    let s = Server::start();
    let _agent = Agent::start(&s, 2);
    wait_for(&s, "2 nodes", Duration::from_secs(30), || {
        s.ok(&["get", "nodes", "-o", "name"]).lines().count() == 2
    });
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: picky\nspec:\n  nodeSelector: {disk: ssd}\n  containers:\n  - name: c\n    image: busybox\n";
    s.apply(pod);
    wait_for(
        &s,
        "a FailedScheduling event",
        Duration::from_secs(30),
        || {
            s.ok(&["describe", "pod", "picky"])
                .contains("FailedScheduling")
        },
    );
    let described = s.ok(&["describe", "pod", "picky"]);
    assert!(described.contains("0/2 nodes are available"), "{described}");
    let p = s.json(&["get", "pod", "picky"]);
    assert_eq!(p["status"]["phase"], "Pending");
    assert!(p["spec"]["nodeName"].is_null() || p["spec"]["nodeName"] == "");
}

#[test]
fn deleting_with_cascade_orphan_keeps_the_pods() {
    let s = Server::start();
    let _agent = Agent::start(&s, 1);
    let rs = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: lone\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: lone}\n  template:\n    metadata:\n      labels: {app: lone}\n    spec:\n      containers:\n      - name: c\n        image: busybox\n";
    s.apply(rs);
    wait_for(&s, "2 running pods", Duration::from_secs(30), || {
        running_pods(&s, "app=lone") == 2
    });
    s.ok(&["delete", "rs", "lone", "--cascade=orphan"]);
    wait_for(&s, "the replica set to go", Duration::from_secs(30), || {
        s.ok(&["get", "rs", "-o", "name"]).trim().is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    let pods = s.json(&["get", "pods", "-l", "app=lone"]);
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "orphaned pods stay: {pods}");
    for p in items {
        assert!(
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_none_or(|o| o.is_empty()),
            "{p}"
        );
    }
}

#[test]
fn a_job_gets_a_generated_selector_and_completes_on_simulated_nodes() {
    let s = Server::start();
    let _agent = Agent::start(&s, 1);
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: once\nspec:\n  completions: 2\n  template:\n    metadata:\n      annotations: {rk3s.io/simulate-exit-after: 1s}\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n        command: [sh, -c, 'exit 0']\n";
    s.apply(job);
    let j = s.json(&["get", "job", "once"]);
    let uid = j["metadata"]["uid"].as_str().unwrap().to_string();
    assert_eq!(
        j["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid.as_str()
    );
    assert_eq!(
        j["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "once"
    );
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/once",
        "--timeout=60s",
    ]);
    assert_eq!(s.json(&["get", "job", "once"])["status"]["succeeded"], 2);
}

#[test]
fn the_scheduler_binds_only_while_it_holds_the_kube_scheduler_lease() {
    let s = Server::start();
    let _agent = Agent::start(&s, 1);
    wait_for(&s, "the scheduler's lease", Duration::from_secs(30), || {
        s.kubectl(&["get", "lease", "-n", "kube-system", "kube-scheduler"])
            .status
            .success()
    });
    let lease = s.json(&["get", "lease", "-n", "kube-system", "kube-scheduler"]);
    let ours = lease["spec"]["holderIdentity"].as_str().unwrap_or_default();
    assert!(!ours.is_empty(), "{lease}");
    // Another server takes the lease (as after a failover): this one must stop binding.
    let taken = format!(
        "{{\"spec\":{{\"holderIdentity\":\"another-server\",\"leaseDurationSeconds\":3600,\"renewTime\":\"{}\"}}}}",
        micro_now()
    );
    s.ok(&[
        "patch",
        "lease",
        "-n",
        "kube-system",
        "kube-scheduler",
        "--type=merge",
        "-p",
        &taken,
    ]);
    // The holder notices at its next renewal (every 2 s) and stops.
    std::thread::sleep(Duration::from_secs(4));
    s.ok(&["run", "waiting", "--image=busybox"]);
    std::thread::sleep(Duration::from_secs(4));
    let p = s.json(&["get", "pod", "waiting"]);
    assert!(
        p["spec"]["nodeName"].is_null(),
        "bound while another holder has the lease: {p}"
    );
    // The other holder gives it up: ours takes it back and binds the waiting pod.
    let released = format!(
        "{{\"spec\":{{\"holderIdentity\":null,\"leaseDurationSeconds\":1,\"renewTime\":\"{}\"}}}}",
        micro_now()
    );
    s.ok(&[
        "patch",
        "lease",
        "-n",
        "kube-system",
        "kube-scheduler",
        "--type=merge",
        "-p",
        &released,
    ]);
    wait_for(&s, "the pod bound", Duration::from_secs(30), || {
        s.json(&["get", "pod", "waiting"])["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    });
    let lease = s.json(&["get", "lease", "-n", "kube-system", "kube-scheduler"]);
    assert_eq!(lease["spec"]["holderIdentity"], ours);
}

/// Now as a Kubernetes MicroTime (RFC 3339 with microseconds, UTC).
fn micro_now() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%S.%6NZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
