//! The simulated fleet against the real `rk3s server` binary, without a scheduler: pods are
//! bound by setting `spec.nodeName` directly. Checked with the real kubectl.
//!
//! Needs the server binary built first: `cargo build -p rk3s`. It is looked up at `$RK3S_BIN`,
//! then `$CARGO_TARGET_DIR/debug/rk3s`, then `/var/cache/rk3s-target/debug/rk3s`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rk3s_agent::{SimulateOptions, run_simulated};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const KUBECTL: &str = "/usr/bin/kubectl";

fn server_binary() -> PathBuf {
    let candidates = [
        std::env::var_os("RK3S_BIN").map(PathBuf::from),
        std::env::var_os("CARGO_TARGET_DIR").map(|d| PathBuf::from(d).join("debug/rk3s")),
        Some(PathBuf::from("/var/cache/rk3s-target/debug/rk3s")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .expect("the rk3s binary: run `cargo build -p rk3s` first (or set RK3S_BIN)")
}

/// The server process, killed on drop.
struct Server {
    dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        std::fs::write(dir.path().join("config.yaml"), "").expect("config file");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(server_binary())
            .arg("server")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--https-listen-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--write-kubeconfig")
            .arg(dir.path().join("kubeconfig.yaml"))
            .arg("--disable-agent")
            // This test runs its own scheduler; the server's control loops stay off.
            .arg("--disable-scheduler")
            .arg("--disable-controller-manager")
            .arg("--config")
            .arg(dir.path().join("config.yaml"))
            .env_remove("RK3S_TOKEN")
            .env_remove("RK3S_CONFIG_FILE")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn rk3s");
        let mut s = Server { dir, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("rk3s exited early with {status}:\n{}", s.log());
            }
            if s.kubeconfig().exists()
                && s.kubectl(&["get", "--raw", "/readyz"], None)
                    .status
                    .success()
            {
                return s;
            }
            assert!(Instant::now() < deadline, "rk3s not ready:\n{}", s.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl(&self.kubeconfig(), self.dir.path(), args, stdin)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, None);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn apply(&self, yaml: &str) {
        let out = self.kubectl(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("json output")
    }

    async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .expect("client config");
        kube::Client::try_from(config).expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(KUBECTL)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .env("KUBECACHEDIR", home.join("kube-cache"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl at /usr/bin/kubectl");
    if let (Some(input), Some(mut si)) = (stdin, child.stdin.take()) {
        let _ = si.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("kubectl output")
}

/// Polls `check` (which returns a description of what is still missing) until it passes.
async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

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
