//! Test support for the crates whose integration tests need a running server: the built
//! `rk3s server` binary on a free port with a temporary data dir (control loops off, so a test
//! runs its own, or on: [`Server::with_control_loops`]), driven by the real kubectl and kube-rs.
//! Entry point: [`Server::start`].
//!
//! Needs the server binary built first: `cargo build -p rk3s` (a workspace `cargo test` does).
//! It is looked up at `$RK3S_BIN`, then `$CARGO_TARGET_DIR/debug/rk3s`, then
//! `/var/cache/rk3s-target/debug/rk3s`.
#![allow(clippy::missing_panics_doc)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

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
pub struct Server {
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Server {
    /// The server with its control loops off: the test runs its own.
    pub fn start() -> Server {
        Server::launch(&["--disable-scheduler", "--disable-controller-manager"])
    }

    /// The server with its own controllers and scheduler, and `extra` flags.
    pub fn with_control_loops(extra: &[&str]) -> Server {
        Server::launch(extra)
    }

    fn launch(flags: &[&str]) -> Server {
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
            .args(flags)
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

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        kubectl(&self.kubeconfig(), self.dir.path(), args, stdin)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, None);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn apply(&self, yaml: &str) {
        let out = self.kubectl(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).expect("json output")
    }

    pub async fn client(&self) -> kube::Client {
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

pub fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
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
pub async fn eventually(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
