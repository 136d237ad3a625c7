//! `rk3s agent --simulate N`: register N simulated nodes with a server and run the pods bound
//! to them through the simulated runtime (no containers). Real agents come later.

use std::process::ExitCode;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::AgentConfig;

pub fn run(cfg: AgentConfig) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run_async(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_async(cfg: AgentConfig) -> Result<()> {
    let kubeconfig = kube::config::Kubeconfig::read_from(&cfg.kubeconfig)
        .with_context(|| format!("reading the kubeconfig {}", cfg.kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("loading the kubeconfig")?;
    let client = kube::Client::try_from(config).context("building the API client")?;
    let opts = rk3s_agent::SimulateOptions {
        count: cfg.simulate,
        name_prefix: cfg.node_name_prefix.clone(),
        ..Default::default()
    };
    info!(nodes = cfg.simulate, prefix = %cfg.node_name_prefix, "starting simulated nodes");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(rk3s_agent::run_simulated(client, opts, shutdown.clone()));
    tokio::select! {
        res = task => return res.context("the simulator task failed")?.context("simulated nodes stopped"),
        _ = wait_for_signal() => {}
    }
    shutdown.cancel();
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
