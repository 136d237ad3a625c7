//! Test harness: the real `rk3s server` binary on a free port, the real kubectl, and the
//! controllers of this crate running in-process against the server's admin kubeconfig.
//!
//! The binary is not built by this crate: run `cargo build -p rk3s` first. It is found through
//! `RK3S_BIN`, else `$CARGO_TARGET_DIR/debug/rk3s`, else `/var/cache/rk3s-target/debug/rk3s`,
//! else `target/debug/rk3s` in the workspace. The server must not run controllers of its own
//! while these tests run theirs: it is started with `--disable-controller-manager` (and
//! `--disable-scheduler`) when its `--help` lists them.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};
use rk3s_controllers::{ControllerError, ControllerOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const KUBECTL: &str = "/usr/bin/kubectl";

pub fn rk3s_binary() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("RK3S_BIN") {
        candidates.push(PathBuf::from(p));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("debug/rk3s"));
    }
    candidates.push(PathBuf::from("/var/cache/rk3s-target/debug/rk3s"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/rk3s"));
    candidates
        .into_iter()
        .find(|p| p.is_file())
        .expect("the rk3s binary: run `cargo build -p rk3s` first (or set RK3S_BIN)")
}

/// The `rk3s server` flags, among those that switch off its built-in control loops, that this
/// binary understands.
fn disabling_flags(bin: &Path) -> Vec<&'static str> {
    static FLAGS: OnceLock<Vec<&'static str>> = OnceLock::new();
    FLAGS
        .get_or_init(|| {
            let help = Command::new(bin)
                .args(["server", "--help"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            ["--disable-controller-manager", "--disable-scheduler"]
                .into_iter()
                .filter(|f| help.contains(f))
                .collect()
        })
        .clone()
}

/// Marks a server directory whose server runs its own controller manager.
const BUILTIN_MARKER: &str = "builtin-controller-manager";

pub struct Server {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The server runs this crate's controllers itself and cannot be told not to: the tests then
    /// exercise those (the same code, built into the binary) instead of starting their own.
    pub builtin_manager: bool,
    child: Option<Child>,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, "").expect("config file");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let bin = rk3s_binary();
        let child = Command::new(&bin)
            .arg("server")
            .args(disabling_flags(&bin))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--https-listen-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--write-kubeconfig")
            .arg(dir.path().join("kubeconfig.yaml"))
            .arg("--disable-agent")
            .arg("--config")
            .arg(&config)
            .env_remove("RK3S_TOKEN")
            .env_remove("RK3S_CONFIG_FILE")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn rk3s");
        let mut s = Server {
            dir,
            port,
            builtin_manager: false,
            child: Some(child),
        };
        s.wait_ready();
        if !disabling_flags(&rk3s_binary()).contains(&"--disable-controller-manager") {
            s.builtin_manager = s.wait_for_builtin_manager();
            if s.builtin_manager {
                let _ = std::fs::write(s.dir.path().join(BUILTIN_MARKER), "");
            }
        }
        s
    }

    /// A server with in-process controllers takes the lease right after start-up.
    fn wait_for_builtin_manager(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let lease = self.kubectl(&[
                "get",
                "lease",
                "-n",
                "kube-system",
                "rk3s-controller-manager",
            ]);
            if lease.status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("rk3s exited early with {st}:\n{}", self.log());
            }
            if self.kubeconfig().exists()
                && self.kubectl(&["get", "--raw", "/readyz"]).status.success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "rk3s not ready after 30s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let home = self.dir.path();
        let mut child = Command::new(KUBECTL)
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
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
            .expect("kubectl is installed at /usr/bin/kubectl");
        if let (Some(input), Some(mut si)) = (stdin, child.stdin.take()) {
            let _ = si.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n--- server log ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            tail(&self.log())
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, yaml: &str) {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("kubectl -o json output")
    }

    /// `kubectl get <what> -o json` items.
    pub fn items(&self, args: &[&str]) -> Vec<Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        self.json(&a)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Plays kubelet: every pod matching `selector` that is not ready yet is marked Running and
    /// Ready through the status subresource, as a real node would report it.
    pub fn make_ready(&self, selector: &str) {
        for pod in self.items(&["pods", "-l", selector]) {
            if pod.pointer("/metadata/deletionTimestamp").is_some() {
                continue;
            }
            let ready = pod["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            if ready {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let patch =
                r#"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#;
            // The pod may be gone by now; the next round looks again.
            let _ = self.kubectl(&[
                "patch",
                "pod",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                patch,
            ]);
        }
    }

    /// Polls `check` (marking pods of `selector` ready in between) until it holds.
    pub fn eventually(
        &self,
        what: &str,
        ready_selector: Option<&str>,
        mut check: impl FnMut() -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(sel) = ready_selector {
                self.make_ready(sel);
            }
            if check() {
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

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The controllers of this crate on their own runtime thread, built from the admin kubeconfig.
pub struct Controllers {
    pub token: CancellationToken,
    thread: Option<std::thread::JoinHandle<Result<(), ControllerError>>>,
}

impl Controllers {
    /// Starts the controllers against the server of `kubeconfig`, unless that server runs its
    /// own (see [`Server::builtin_manager`]).
    pub fn start(kubeconfig: &Path, identity: &str) -> Controllers {
        let builtin = kubeconfig
            .parent()
            .is_some_and(|d| d.join(BUILTIN_MARKER).exists());
        if builtin {
            return Controllers {
                token: CancellationToken::new(),
                thread: None,
            };
        }
        Controllers::start_with_lease(kubeconfig, identity, None)
    }

    /// Starts the controllers, campaigning for `lease` (default: the server's lease name).
    pub fn start_with_lease(kubeconfig: &Path, identity: &str, lease: Option<&str>) -> Controllers {
        // RUST_LOG=rk3s_controllers=debug shows what the loops did when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let token = CancellationToken::new();
        let t = token.clone();
        let path = kubeconfig.to_path_buf();
        let identity = identity.to_string();
        let lease = lease.map(str::to_string);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = client_for(&path).await;
                let mut opts = ControllerOptions::new(identity);
                opts.election.lease_duration = Duration::from_secs(6);
                opts.election.renew_deadline = Duration::from_secs(4);
                opts.election.renew_interval = Duration::from_secs(1);
                opts.election.retry_interval = Duration::from_millis(500);
                if let Some(name) = lease {
                    opts.election.name = name;
                }
                rk3s_controllers::run(client, opts, t).await
            })
        });
        Controllers {
            token,
            thread: Some(thread),
        }
    }

    /// Cancels and waits; returns what `run` returned.
    pub fn stop(mut self) -> Result<(), ControllerError> {
        self.token.cancel();
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => panic!("controller thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

pub fn controller_uid(obj: &Value) -> Option<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
}

/// Simulated nodes (and, when the server was started without one, a scheduler) on their own
/// runtime thread; stopped on drop.
pub struct Nodes {
    token: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Nodes {
    pub fn start(kubeconfig: &Path, count: usize) -> Nodes {
        let token = CancellationToken::new();
        let t = token.clone();
        let path = kubeconfig.to_path_buf();
        let need_scheduler = server_flag_exists("--disable-scheduler");
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = client_for(&path).await;
                let opts = rk3s_agent::SimulateOptions {
                    count,
                    ..Default::default()
                };
                let agent = rk3s_agent::run_simulated(client.clone(), opts, t.clone());
                if need_scheduler {
                    let sched = rk3s_scheduler::run(client, "default-scheduler", t.clone());
                    let (a, s) = tokio::join!(agent, sched);
                    assert!(
                        a.is_ok() && s.is_ok(),
                        "simulated nodes or scheduler failed"
                    );
                } else {
                    assert!(agent.await.is_ok(), "simulated nodes failed");
                }
            })
        });
        Nodes {
            token,
            thread: Some(thread),
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server binary can be told not to run a component (then the test runs it).
pub fn server_flag_exists(flag: &str) -> bool {
    Command::new(rk3s_binary())
        .args(["server", "--help"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
        .unwrap_or(false)
}

/// A kube-rs client with the credentials of `kubeconfig`.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("client config");
    kube::Client::try_from(cfg).expect("client")
}
