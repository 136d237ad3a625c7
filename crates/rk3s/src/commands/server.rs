//! `rk3s server`: a straight-line start-up — data dir, PKI, token, datastore, API, kubeconfig —
//! then serve until SIGINT/SIGTERM and drain.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rk3s_apiserver::allocator::ServiceNetwork;
use rk3s_apiserver::server::{self, TlsMaterial};
use rk3s_apiserver::{ApiState, bootstrap};
use rk3s_store::{SqliteBackend, SqliteOptions};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::cli::ServerConfig;

pub fn run(cfg: ServerConfig) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cfg))
}

fn create_private_dir(p: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(p)
        .with_context(|| format!("creating {}", p.display()))
}

fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The address other hosts reach this one at: the source address of the default route.
fn primary_ip() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    // connect() on UDP sends nothing; it only picks the route's source address.
    s.connect("192.0.2.1:9").ok()?;
    s.local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

async fn run_async(cfg: ServerConfig) -> Result<()> {
    let started = Instant::now();
    info!(data_dir = %cfg.data_dir.display(), "starting rk3s server {}", env!("CARGO_PKG_VERSION"));
    let server_dir = cfg.data_dir.join("server");
    create_private_dir(&server_dir)?;

    let node_ip = cfg.advertise_address.or_else(primary_ip);
    let mut sans: Vec<String> = Vec::new();
    if let Some(h) = host_name() {
        sans.push(h);
    }
    if let Some(ip) = node_ip {
        sans.push(ip.to_string());
    }
    if !cfg.bind_address.is_unspecified() {
        sans.push(cfg.bind_address.to_string());
    }
    sans.extend(cfg.tls_sans.iter().cloned());
    sans.sort();
    sans.dedup();
    let tls_dir = server_dir.join("tls");
    let pki = rk3s_pki::ensure_server_pki(&tls_dir, &sans).context("preparing certificates")?;
    let token_path = server_dir.join("token");
    rk3s_pki::ensure_token(&token_path, cfg.token.as_deref(), &pki.server_ca_cert)
        .context("preparing the server token")?;

    let db_path = server_dir.join("db").join("state.db");
    let store = SqliteBackend::open(&db_path, SqliteOptions::default())
        .with_context(|| format!("opening the datastore {}", db_path.display()))?;
    info!(datastore = %format!("sqlite://{}", db_path.display()), "datastore ready");

    let bind = SocketAddr::new(cfg.bind_address, cfg.https_listen_port);
    let advertise = node_ip
        .map(|ip| SocketAddr::new(ip, cfg.https_listen_port))
        .unwrap_or(bind);
    let token_keys = rk3s_apiserver::serviceaccount::TokenKeys::load_or_create(&tls_dir)
        .context("preparing the service-account signing key")?;
    let store: Arc<dyn rk3s_store::Backend> = Arc::new(store);
    let shutdown = CancellationToken::new();
    rk3s_apiserver::rbac::ensure_bootstrap_policy(store.as_ref())
        .await
        .context("writing the default RBAC policy")?;
    tokio::spawn(rk3s_apiserver::rbac::run_aggregation(
        store.clone(),
        shutdown.clone(),
    ));
    let authorizer = rk3s_apiserver::rbac::RbacAuthorizer::start(store.clone(), shutdown.clone())
        .await
        .context("starting the RBAC authorizer")?;
    let network = ServiceNetwork::parse(&cfg.service_cidr, cfg.service_node_port_range)
        .context("--service-cidr")?;
    let state = Arc::new(
        ApiState::new(rk3s_core::Registry::builtin(), store, advertise.to_string())
            .with_service_network(network)
            .with_token_keys(token_keys)
            .with_root_ca(pki.server_ca_cert.clone())
            .with_authorizer(authorizer),
    );
    bootstrap::ensure_system_namespaces(&state)
        .await
        .context("creating the system namespaces")?;
    bootstrap::ensure_system_priority_classes(&state)
        .await
        .context("creating the system priority classes")?;
    let api_ip = node_ip.unwrap_or(IpAddr::from([127, 0, 0, 1]));
    bootstrap::ensure_kubernetes_service(&state, api_ip, cfg.https_listen_port)
        .await
        .context("creating the kubernetes service")?;
    rk3s_apiserver::crds::sync(&state)
        .await
        .context("loading the stored CRDs")?;
    rk3s_apiserver::crds::spawn_controller(state.clone(), shutdown.clone());
    rk3s_apiserver::rootca::spawn_publisher(state.clone(), shutdown.clone());
    rk3s_apiserver::serviceaccount::spawn_token_controller(state.clone(), shutdown.clone());
    rk3s_apiserver::events::spawn_expiry(
        state.clone(),
        cfg.event_ttl,
        std::time::Duration::from_secs(60),
        shutdown.clone(),
    );
    bootstrap::resume_namespace_termination(&state)
        .await
        .context("resuming namespace termination")?;

    let tls = server::tls_config(&TlsMaterial {
        serving_cert: pki.serving_cert.clone(),
        serving_key: pki.serving_key.clone(),
        client_ca: pki.client_ca_cert.clone(),
    })?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind}"))?;
    info!(address = %bind, "API server listening");

    let local = if cfg.bind_address.is_unspecified() || cfg.bind_address.is_loopback() {
        format!("https://127.0.0.1:{}", cfg.https_listen_port)
    } else {
        format!(
            "https://{}",
            SocketAddr::new(cfg.bind_address, cfg.https_listen_port)
        )
    };
    rk3s_pki::write_kubeconfig(
        &cfg.write_kubeconfig,
        cfg.write_kubeconfig_mode,
        &local,
        &pki.server_ca_cert,
        &pki.admin_cert,
        &pki.admin_key,
    )
    .with_context(|| format!("writing the kubeconfig {}", cfg.write_kubeconfig.display()))?;
    info!(path = %cfg.write_kubeconfig.display(), "wrote kubeconfig");
    info!(
        node_name = cfg.node_name.as_deref().or(host_name().as_deref()).unwrap_or(""),
        cluster_cidr = %cfg.cluster_cidr,
        service_cidr = %cfg.service_cidr,
        cluster_dns = %cfg.cluster_dns,
        cluster_domain = %cfg.cluster_domain,
        node_ports = %format!("{}-{}", cfg.service_node_port_range.0, cfg.service_node_port_range.1),
        "cluster networks"
    );
    if !cfg.disable_agent {
        info!("the node agent is not part of this version yet: running the control plane only");
    }

    // The control loops: ordinary API clients reaching the handlers in process.
    let loop_identity = rk3s_apiserver::auth::Identity {
        user: "system:kube-controller-manager".into(),
        groups: vec!["system:masters".into(), "system:authenticated".into()],
    };
    // This process's name in the control loops' Leases.
    let identity = format!(
        "{}_{}",
        host_name().unwrap_or_else(|| "rk3s".into()),
        std::process::id()
    );
    let controllers = (!cfg.disable_controller_manager).then(|| {
        let client = super::loopback::client(state.clone(), loop_identity);
        let mut opts = rk3s_controllers::ControllerOptions::new(identity.clone());
        opts.cluster_cidr = cfg.cluster_cidr.clone();
        opts.node_lifecycle.node_monitor_grace_period = cfg.node_monitor_grace_period;
        tokio::spawn(rk3s_controllers::run(client, opts, shutdown.clone()))
    });
    let scheduler = (!cfg.disable_scheduler).then(|| {
        let client = super::loopback::client(
            state.clone(),
            rk3s_apiserver::auth::Identity {
                user: "system:kube-scheduler".into(),
                groups: vec!["system:masters".into(), "system:authenticated".into()],
            },
        );
        // Behind its own Lease (upstream's name), so that of several servers one schedules.
        let election = rk3s_controllers::ElectionConfig {
            name: "kube-scheduler".into(),
            ..Default::default()
        };
        let elected_client = client.clone();
        tokio::spawn(rk3s_controllers::leader::run_elected(
            elected_client,
            election,
            identity,
            shutdown.clone(),
            move |term| {
                let client = client.clone();
                async move {
                    if let Err(e) = rk3s_scheduler::run(client, "default-scheduler", term).await {
                        tracing::warn!(error = %e, "the scheduler stopped with an error");
                    }
                }
            },
        ))
    });
    let serve = tokio::spawn(server::serve(listener, tls, state, shutdown.clone()));
    info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "rk3s is ready"
    );

    wait_for_signal().await?;
    info!("shutting down");
    shutdown.cancel();
    if let Some(task) = controllers {
        if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), task).await {
            tracing::warn!(error = %e, "the controllers stopped with an error");
        }
    }
    if let Some(task) = scheduler {
        if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), task).await {
            tracing::warn!(error = %e, "the scheduler stopped with an error");
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), serve).await {
        Ok(Ok(res)) => res?,
        Ok(Err(e)) => return Err(e).context("API server task failed"),
        Err(_) => tracing::warn!("connections still open after 10s; exiting anyway"),
    }
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
