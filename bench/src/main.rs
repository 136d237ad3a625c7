//! rk3s-bench: starts the release `rk3s server` on temporary data dirs and free ports, measures
//! the figures listed in docs/benchmarks.md and prints them; every server it starts is killed
//! before it exits, on success, error or Ctrl-C.

mod client;
mod report;
mod scenarios;
mod server;
mod stats;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use report::Report;
use server::{Launch, ServerProcess};

#[derive(Debug, Parser)]
#[command(name = "rk3s-bench", about = "Benchmarks a release rk3s server")]
struct Args {
    /// The rk3s binary to measure.
    #[arg(long, default_value = "/var/cache/rk3s-target/release/rk3s")]
    binary: PathBuf,
    /// Where the servers' logs go (truncated at start).
    #[arg(long, default_value = "/tmp/rk3s-bench-server.log")]
    server_log: PathBuf,
    /// Skip waiting (up to ~5.5 min) for the server's periodic compaction in the churn figure.
    #[arg(long)]
    no_compaction_wait: bool,
}

const IDLE: Duration = Duration::from_secs(5);

fn main() -> Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        tokio::select! {
            r = run(&args) => r,
            // Returning drops every server handle, which kills the servers.
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        }
    })
}

fn memory_figure(server: &ServerProcess) -> Result<String> {
    let (rss, hwm) = server.memory_kib()?;
    Ok(format!(
        "{:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    ))
}

async fn run(args: &Args) -> Result<()> {
    let binary = args
        .binary
        .canonicalize()
        .with_context(|| format!("no rk3s binary at {}", args.binary.display()))?;
    std::fs::write(&args.server_log, b"")
        .with_context(|| format!("truncating {}", args.server_log.display()))?;
    let launch = Launch {
        binary,
        log: args.server_log.clone(),
    };
    let workdir = tempfile::Builder::new()
        .prefix("rk3s-bench-")
        .tempdir()
        .context("creating a temp dir")?;
    println!(
        "rk3s-bench: {} (data under {}, server log {})",
        launch.binary.display(),
        workdir.path().display(),
        launch.log.display()
    );
    let mut report = Report::default();

    println!("[1] cold start");
    scenarios::cold_start::run(&launch, workdir.path(), &mut report).await?;
    load_tests(&launch, &workdir.path().join("main"), &mut report).await?;
    println!("[7] storage after churn");
    scenarios::churn::run(
        scenarios::churn::ChurnRequest {
            launch: &launch,
            data_dir: &workdir.path().join("churn"),
            wait_for_compaction: !args.no_compaction_wait,
        },
        &mut report,
    )
    .await?;

    println!("\n{}", report.markdown());
    Ok(())
}

/// Figures 2-6 on one server, so the "after load" memory figure covers all of them.
async fn load_tests(launch: &Launch, data_dir: &Path, report: &mut Report) -> Result<()> {
    let mut server = ServerProcess::start(launch, data_dir)?;
    server.wait_ready(Duration::from_secs(60)).await?;
    let tls = server.admin_tls()?;
    tokio::time::sleep(IDLE).await;
    println!("[2] idle memory");
    report.add(
        "2a. idle RSS, 5 s after start",
        memory_figure(&server)?,
        "≤ 40 MB",
    );
    println!("[3] create throughput");
    scenarios::create_throughput::run(server.port, &tls, report).await?;
    println!("[4] create latency at a fixed rate");
    scenarios::create_latency::run(server.port, &tls, report).await?;
    println!("[5] 10,000-object list");
    scenarios::large_list::run(server.port, &tls, report).await?;
    println!("[6] watch fan-out");
    scenarios::watch_fanout::run(server.port, &tls, report).await?;
    tokio::time::sleep(IDLE).await;
    report.add(
        "2b. RSS 5 s after figures 3-6 (25,000 ConfigMaps stored)",
        memory_figure(&server)?,
        "≤ 40 MB",
    );
    server.stop(Duration::from_secs(30)).await
}
