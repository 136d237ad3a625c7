//! Runs the rk3s binary under test: [`ServerProcess::start`] spawns it on a data dir and a
//! free port; the child is killed when the handle is dropped, whatever path drops it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use crate::client::{Connection, Tls};

/// How the binary is launched; shared by every start in a run.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    /// Server log output, appended to across starts.
    pub log: PathBuf,
}

pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub data_dir: PathBuf,
    spawned_at: Instant,
}

/// A port the kernel had free a moment ago; the tiny race with other programs is acceptable
/// for a benchmark.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr().context("finding a free port")?.port())
}

impl ServerProcess {
    pub fn start(launch: &Launch, data_dir: &Path) -> Result<Self> {
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log)
            .with_context(|| format!("opening {}", launch.log.display()))?;
        let log_err = log.try_clone().context("duplicating the log handle")?;
        let spawned_at = Instant::now();
        let child = Command::new(&launch.binary)
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--https-listen-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--write-kubeconfig")
            .arg(data_dir.join("kc.yaml"))
            .arg("--disable-agent")
            .arg("--config")
            .arg("/dev/null")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        Ok(ServerProcess {
            child,
            pid,
            port,
            data_dir: data_dir.to_path_buf(),
            spawned_at,
        })
    }

    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("server").join("tls")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("server").join("db").join("state.db")
    }

    pub fn uptime(&self) -> Duration {
        self.spawned_at.elapsed()
    }

    /// Polls `/readyz` until it answers 200; returns the time since spawn. The server CA
    /// appears on disk during start-up, so until it can be read the server is simply not ready.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = self.spawned_at + timeout;
        let ca = self.tls_dir().join("server-ca.crt");
        let mut tls: Option<Tls> = None;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .context("checking the server process")?
            {
                bail!("the server exited during start-up ({status})");
            }
            if tls.is_none() {
                tls = Tls::load(&ca, None).ok();
            }
            if let Some(t) = &tls
                && let Ok(mut conn) = Connection::open(self.port, t).await
                && let Ok(resp) = conn.get("/readyz").await
                && resp.status == http::StatusCode::OK
            {
                return Ok(self.spawned_at.elapsed());
            }
            if Instant::now() > deadline {
                bail!("the server was not ready within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The admin identity written by the server at start-up.
    pub fn admin_tls(&self) -> Result<Tls> {
        let dir = self.tls_dir();
        Tls::load(
            &dir.join("server-ca.crt"),
            Some((&dir.join("client-admin.crt"), &dir.join("client-admin.key"))),
        )
        .context("loading the admin client certificate")
    }

    /// `(VmRSS, VmHWM)` in KiB from /proc.
    pub fn memory_kib(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("reading the server's /proc status")?;
        let field = |name: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .with_context(|| format!("no {name} in /proc status"))
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    /// SIGTERM, then waits for a clean exit (SIGKILL after `grace`), so the next start on the
    /// same data dir is a real restart rather than crash recovery.
    pub async fn stop(mut self, grace: Duration) -> Result<()> {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await
            .context("running kill")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.pid);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                status.context("waiting for the server")?;
                Ok(())
            }
            Err(_) => {
                self.child.kill().await.context("killing the server")?;
                bail!("the server did not stop within {grace:?} of SIGTERM")
            }
        }
    }
}
