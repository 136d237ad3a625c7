//! Node lifecycle and node IPAM end to end: the real `rk3s server` binary running its own
//! controllers and scheduler (with a short `--node-monitor-grace-period`), two
//! `rk3s agent --simulate` processes, and the real kubectl. One agent is SIGKILLed: its nodes
//! must go Unknown, be tainted unreachable, and lose their pods to the other agent's nodes.

mod harness;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{rk3s_binary, tail};
use rk3s_testkit::Server;
use serde_json::Value;

const GRACE: &str = "15s";
const CLUSTER_CIDR: &str = "10.99.0.0/16";

/// The server with its own control loops (the testkit's) and the agents this test starts;
/// all killed on drop.
struct Cluster {
    server: Server,
    agents: Vec<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        let help = Command::new(rk3s_binary())
            .args(["server", "--help"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        assert!(
            help.contains("--node-monitor-grace-period"),
            "the rk3s binary predates --node-monitor-grace-period: run `cargo build -p rk3s`"
        );
        Cluster {
            server: Server::with_control_loops(&[
                "--cluster-cidr",
                CLUSTER_CIDR,
                "--node-monitor-grace-period",
                GRACE,
            ]),
            agents: Vec::new(),
        }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.server.kubeconfig()
    }

    fn log(&self) -> String {
        self.server.log()
    }

    /// `rk3s agent --simulate count` with its own name prefix; returns its index in `agents`.
    fn start_agent(&mut self, prefix: &str, count: usize) -> usize {
        let log = std::fs::File::create(self.server.dir.path().join(format!("agent-{prefix}log")))
            .expect("agent log");
        let child = Command::new(rk3s_binary())
            .arg("agent")
            .args(["--simulate", &count.to_string()])
            .args(["--node-name-prefix", prefix])
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn rk3s agent");
        self.agents.push(child);
        self.agents.len() - 1
    }

    fn ok(&self, args: &[&str]) -> String {
        self.server.ok(args)
    }

    fn apply(&self, yaml: &str) {
        self.server.apply(yaml);
    }

    fn items(&self, args: &[&str]) -> Vec<Value> {
        self.get(args)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn get(&self, args: &[&str]) -> Value {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        self.server.json(&a)
    }

    fn eventually(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Cluster) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n--- server log ---\n{}",
                tail(&self.log())
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for a in &mut self.agents {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn ready_status(obj: &Value) -> String {
    condition(obj, "Ready")
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

fn has_taint(node: &Value, key: &str, effect: &str) -> bool {
    node["spec"]["taints"]
        .as_array()
        .is_some_and(|ts| ts.iter().any(|t| t["key"] == key && t["effect"] == effect))
}

fn node_of(pod: &Value) -> String {
    pod["spec"]["nodeName"].as_str().unwrap_or("").to_string()
}

/// The /24 starting address of `cidr` as a u32, if it is a /24 inside 10.99.0.0/16.
fn slash_24_in_cluster(cidr: &str) -> Option<u32> {
    let (ip, len) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let o = ip.octets();
    (len == "24" && o[0] == 10 && o[1] == 99 && o[3] == 0).then(|| u32::from(ip))
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: lc
  namespace: default
spec:
  replicas: 4
  selector:
    matchLabels: {app: lc}
  template:
    metadata:
      labels: {app: lc}
    spec:
      tolerations:
      - key: node.kubernetes.io/unreachable
        operator: Exists
        effect: NoExecute
        tolerationSeconds: 2
      containers:
      - name: c
        image: registry.k8s.io/pause:3.10
"#;

#[test]
fn a_killed_agents_nodes_go_unknown_get_tainted_and_lose_their_pods() {
    let started = Instant::now();
    let mut c = Cluster::start();
    let a = c.start_agent("lc-a-", 2);
    c.start_agent("lc-b-", 2);

    c.eventually(
        "four ready nodes with pod CIDRs",
        Duration::from_secs(60),
        |c| {
            let nodes = c.items(&["nodes"]);
            nodes.len() == 4
                && nodes
                    .iter()
                    .all(|n| ready_status(n) == "True" && n["spec"]["podCIDR"].as_str().is_some())
        },
    );
    // Node IPAM: a distinct /24 of --cluster-cidr each, podCIDRs agreeing with podCIDR.
    let mut ranges = BTreeSet::new();
    for n in c.items(&["nodes"]) {
        let name = n["metadata"]["name"].as_str().unwrap_or_default();
        let cidr = n["spec"]["podCIDR"].as_str().unwrap_or_default();
        let start = slash_24_in_cluster(cidr)
            .unwrap_or_else(|| panic!("{name}: podCIDR {cidr:?} is not a /24 of {CLUSTER_CIDR}"));
        assert!(
            ranges.insert(start),
            "{name}: podCIDR {cidr} handed out twice"
        );
        assert_eq!(
            n["spec"]["podCIDRs"],
            serde_json::json!([cidr]),
            "{name}: podCIDRs"
        );
    }

    c.apply(DEPLOYMENT);
    c.eventually("four running pods", Duration::from_secs(60), |c| {
        let pods = c.items(&["pods", "-l", "app=lc"]);
        pods.len() == 4
            && pods
                .iter()
                .all(|p| p["status"]["phase"] == "Running" && ready_status(p) == "True")
    });
    let pods = c.items(&["pods", "-l", "app=lc"]);
    let on_a: BTreeSet<String> = pods
        .iter()
        .filter(|p| node_of(p).starts_with("lc-a-"))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        !on_a.is_empty(),
        "the scheduler put no pod on agent A's nodes: {:?}",
        pods.iter().map(node_of).collect::<Vec<_>>()
    );

    let killed_at = Instant::now();
    let agent = &mut c.agents[a];
    agent.kill().expect("SIGKILL agent A");
    let _ = agent.wait();

    c.eventually(
        "agent A's nodes Unknown and tainted unreachable",
        Duration::from_secs(60),
        |c| {
            ["lc-a-0", "lc-a-1"].iter().all(|n| {
                let node = c.get(&["node", n]);
                ready_status(&node) == "Unknown"
                    && has_taint(&node, "node.kubernetes.io/unreachable", "NoExecute")
                    && has_taint(&node, "node.kubernetes.io/unreachable", "NoSchedule")
            })
        },
    );
    let went_unknown = killed_at.elapsed();
    // The short grace period reached the controller: the default 40s would not be this quick.
    assert!(
        went_unknown < Duration::from_secs(32),
        "nodes went Unknown only {went_unknown:?} after the agent died"
    );
    let node = c.get(&["node", "lc-a-0"]);
    let ready = condition(&node, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    for other in ["MemoryPressure", "DiskPressure", "PIDPressure"] {
        assert_eq!(
            condition(&node, other).map(|c| c["status"].clone()),
            Some(Value::from("Unknown")),
            "{other}"
        );
    }
    let no_execute = node["spec"]["taints"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["effect"] == "NoExecute").cloned())
        .unwrap_or_default();
    assert!(
        no_execute["timeAdded"].is_string(),
        "the NoExecute taint has no timeAdded: {no_execute}"
    );
    let status_col = c.ok(&["get", "node", "lc-a-0"]);
    assert!(status_col.contains("NotReady"), "{status_col}");

    c.eventually(
        "the pods of agent A replaced on agent B's nodes",
        Duration::from_secs(60),
        |c| {
            let pods = c.items(&["pods", "-l", "app=lc"]);
            pods.len() == 4
                && pods.iter().all(|p| {
                    node_of(p).starts_with("lc-b-")
                        && p["status"]["phase"] == "Running"
                        && !on_a.contains(p["metadata"]["name"].as_str().unwrap_or_default())
                })
        },
    );
    let evicted = killed_at.elapsed();
    let wide = c.ok(&["get", "pods", "-l", "app=lc", "-o", "wide"]);
    let rows: Vec<&str> = wide.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{wide}");
    for row in rows {
        assert!(
            row.contains("lc-b-") && !row.contains("lc-a-") && row.contains("Running"),
            "{wide}"
        );
    }

    // Agent B's nodes stayed healthy and untainted.
    for n in ["lc-b-0", "lc-b-1"] {
        let node = c.get(&["node", n]);
        assert_eq!(ready_status(&node), "True", "{n}");
        assert!(
            node["spec"]["taints"]
                .as_array()
                .is_none_or(|t| t.is_empty()),
            "{n}"
        );
    }

    // Upstream's events: the taint manager's on each evicted pod, the node's status change.
    let events = c.items(&["events", "-A"]);
    for pod in &on_a {
        let want = format!("Marking for deletion Pod default/{pod}");
        assert!(
            events
                .iter()
                .any(|e| e["reason"] == "TaintManagerEviction" && e["message"] == want.as_str()),
            "no TaintManagerEviction event for {pod}"
        );
    }
    assert!(
        events.iter().any(|e| e["reason"] == "NodeNotReady"
            && e["involvedObject"]["kind"] == "Node"
            && e["message"] == "Node lc-a-0 status is now: NodeNotReady"),
        "no NodeNotReady event for lc-a-0"
    );
    eprintln!(
        "node lifecycle: Unknown+tainted {:.1}s after SIGKILL, pods replaced after {:.1}s, test {:.1}s",
        went_unknown.as_secs_f64(),
        evicted.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
