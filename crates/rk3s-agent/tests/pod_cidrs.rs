//! Pod addresses of simulated nodes come from their Node's `spec.podCIDR`: with the server's
//! own node IPAM controller (and scheduler) running, and with a CIDR set by hand on a server
//! without controllers, where pods wait (`NetworkNotReady`) until it is there. Checked with
//! the real kubectl.
//!
//! Needs the server binary built first: `cargo build -p rk3s`.

use std::net::Ipv4Addr;
use std::time::Duration;

use rk3s_agent::{SimulateOptions, run_simulated};
use rk3s_testkit::{Server, eventually};
use tokio_util::sync::CancellationToken;

const CLUSTER_CIDR: &str = "10.77.0.0/16";

/// Whether `ip` lies in `cidr` (both IPv4 text).
fn inside(ip: &str, cidr: &str) -> bool {
    let Some((net, prefix)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(ip), Ok(net), Ok(prefix)) = (
        ip.parse::<Ipv4Addr>(),
        net.parse::<Ipv4Addr>(),
        prefix.parse::<u32>(),
    ) else {
        return false;
    };
    let mask = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

#[test]
fn the_containment_check_of_these_tests_can_fail() {
    assert!(inside("10.77.3.9", "10.77.3.0/24"));
    assert!(!inside("10.77.4.9", "10.77.3.0/24"));
    assert!(!inside("10.42.0.2", CLUSTER_CIDR));
    assert!(!inside("10.77.3.9", "garbage"));
}

fn fleet(
    client: &kube::Client,
    shutdown: &CancellationToken,
    opts: SimulateOptions,
) -> tokio::task::JoinHandle<()> {
    let (c, t) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        if let Err(e) = run_simulated(c, opts, t).await {
            panic!("simulator failed: {e:?}");
        }
    })
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx:1.25}]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_servers_controllers_pods_get_addresses_inside_their_nodes_pod_cidr() {
    let c = Server::with_control_loops(&["--cluster-cidr", CLUSTER_CIDR]);
    let client = c.client().await;
    let shutdown = CancellationToken::new();
    let opts = SimulateOptions {
        count: 3,
        name_prefix: "cidr-".into(),
        lease_interval: Duration::from_secs(1),
        // Long enough that a fallback range would only be taken if the controller were gone.
        pod_cidr_wait: Duration::from_secs(60),
        ..Default::default()
    };
    let _fleet = fleet(&client, &shutdown, opts);
    let out = c.kubectl(&["apply", "-f", "-"], Some(DEPLOYMENT));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut wide = String::new();
    eventually("six running pods", Duration::from_secs(60), || {
        wide = c.ok(&["get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"]);
        let running = wide.lines().filter(|l| l.contains(" Running ")).count();
        if running == 6 {
            Ok(())
        } else {
            Err(wide.clone())
        }
    })
    .await;
    // NAME READY STATUS RESTARTS AGE IP NODE ...
    let mut nodes_used = std::collections::BTreeSet::new();
    let mut ips = std::collections::BTreeSet::new();
    for line in wide.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (ip, node) = (cols[5], cols[6]);
        let cidr = c.ok(&["get", "node", node, "-o", "jsonpath={.spec.podCIDR}"]);
        let network = cidr.split('/').next().unwrap_or_default();
        assert!(
            inside(network, CLUSTER_CIDR) && cidr.ends_with("/24"),
            "node {node} podCIDR {cidr:?}"
        );
        assert!(
            inside(ip, &cidr),
            "pod IP {ip} outside {node}'s {cidr}:\n{wide}"
        );
        let cidrs = c.ok(&["get", "node", node, "-o", "jsonpath={.spec.podCIDRs[0]}"]);
        assert_eq!(cidrs, cidr);
        nodes_used.insert(node.to_string());
        assert!(ips.insert(ip.to_string()), "{ip} twice:\n{wide}");
    }
    assert!(nodes_used.len() >= 2, "scheduler spread pods:\n{wide}");
    shutdown.cancel();
}

fn pod(name: &str, node: &str, host_network: bool) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n  hostNetwork: {host_network}\n  containers: [{{name: c, image: nginx:1.25}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pods_wait_for_their_nodes_pod_cidr_then_get_addresses_inside_it() {
    let s = Server::start();
    let client = s.client().await;
    let shutdown = CancellationToken::new();
    let opts = SimulateOptions {
        count: 2,
        name_prefix: "wait-".into(),
        lease_interval: Duration::from_secs(1),
        // No controller here: without a CIDR set by hand, pods would wait this long.
        pod_cidr_wait: Duration::from_secs(3600),
        ..Default::default()
    };
    let _fleet = fleet(&client, &shutdown, opts);
    eventually("node registered", Duration::from_secs(30), || {
        let out = s.kubectl(&["get", "node", "wait-0", "--no-headers"], None);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains(" Ready ") {
            Ok(())
        } else {
            Err(text)
        }
    })
    .await;
    s.apply(&pod("early", "wait-0", false));
    s.apply(&pod("host", "wait-0", true));

    // Host-network pods need no pod network; the other one waits, and says why.
    eventually("host pod running", Duration::from_secs(20), || {
        let p = s.json(&["get", "pod", "host"]);
        if p["status"]["phase"] == "Running" && p["status"]["podIP"] == "172.16.0.10" {
            Ok(())
        } else {
            Err(p["status"].to_string())
        }
    })
    .await;
    eventually("NetworkNotReady event", Duration::from_secs(20), || {
        let describe = s.ok(&["describe", "pod", "early"]);
        if describe.contains("NetworkNotReady")
            && describe.contains("no pod CIDR assigned to the node yet")
        {
            Ok(())
        } else {
            Err(describe)
        }
    })
    .await;
    let early = s.json(&["get", "pod", "early"]);
    assert_eq!(early["status"]["phase"], "Pending", "{early}");
    assert!(early["status"].get("podIP").is_none(), "{early}");

    // The range arrives (here by hand, as the node IPAM controller would write it).
    s.ok(&[
        "patch",
        "node",
        "wait-0",
        "-p",
        r#"{"spec":{"podCIDR":"10.200.7.0/24","podCIDRs":["10.200.7.0/24"]}}"#,
    ]);
    s.apply(&pod("late", "wait-0", false));
    for name in ["early", "late"] {
        eventually(&format!("{name} running"), Duration::from_secs(20), || {
            let p = s.json(&["get", "pod", name]);
            if p["status"]["phase"] == "Running" {
                Ok(())
            } else {
                Err(p["status"].to_string())
            }
        })
        .await;
    }
    let wide = s.ok(&["get", "pods", "-o", "wide", "--no-headers"]);
    let cidr = s.ok(&["get", "node", "wait-0", "-o", "jsonpath={.spec.podCIDR}"]);
    assert_eq!(cidr, "10.200.7.0/24");
    let mut ips = Vec::new();
    for line in wide.lines().filter(|l| !l.starts_with("host ")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(inside(cols[5], &cidr), "{wide}");
        ips.push(cols[5]);
    }
    assert_eq!(ips.len(), 2, "{wide}");
    assert_ne!(ips[0], ips[1], "{wide}");

    // A range the agent cannot use keeps pods waiting, with the reason.
    s.ok(&[
        "patch",
        "node",
        "wait-1",
        "-p",
        r#"{"spec":{"podCIDR":"fd00:42::/64","podCIDRs":["fd00:42::/64"]}}"#,
    ]);
    s.apply(&pod("v6", "wait-1", false));
    eventually("unusable CIDR reported", Duration::from_secs(20), || {
        let describe = s.ok(&["describe", "pod", "v6"]);
        if describe.contains("NetworkNotReady") && describe.contains("IPv6") {
            Ok(())
        } else {
            Err(describe)
        }
    })
    .await;
    let v6 = s.json(&["get", "pod", "v6"]);
    assert!(v6["status"].get("podIP").is_none(), "{v6}");
    shutdown.cancel();
}
