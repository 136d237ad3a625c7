//! rk3s controllers: the ReplicaSet, Deployment and garbage-collector loops of `rk3s server`,
//! ordinary API clients built on kube-rs, run only by the holder of a Lease.
//! Entry point: [`run`].

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod events;
pub mod expectations;
pub mod gc;
pub mod informers;
pub mod job;
pub mod leader;
pub mod nodeipam;
pub mod nodelifecycle;
pub mod pods;
pub mod replicaset;
pub mod replicationcontroller;
pub mod statefulset;

use kube::Client;
use kube::api::GroupVersionKind;
use tokio_util::sync::CancellationToken;

pub use leader::ElectionConfig;

/// How the controller manager runs.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// This process's name in the Lease; unique per server (e.g. `<node>_<random>`).
    pub identity: String,
    pub election: ElectionConfig,
    /// Objects of one kind reconciled at once, per controller.
    pub concurrency: u16,
    /// Resource types the garbage collector mirrors.
    pub gc_resources: Vec<GroupVersionKind>,
    /// The pod network node IPAM carves node ranges from (`--cluster-cidr`); empty: no IPAM.
    pub cluster_cidr: String,
    /// Bits of each node's range (`None`: /24 for IPv4, /64 for IPv6).
    pub node_cidr_mask_size: Option<u8>,
    pub node_lifecycle: nodelifecycle::NodeLifecycleOptions,
}

impl ControllerOptions {
    pub fn new(identity: impl Into<String>) -> ControllerOptions {
        ControllerOptions {
            identity: identity.into(),
            election: ElectionConfig::default(),
            concurrency: 4,
            gc_resources: gc::default_resources(),
            cluster_cidr: "10.42.0.0/16".into(),
            node_cidr_mask_size: None,
            node_lifecycle: nodelifecycle::NodeLifecycleOptions::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("invalid leader election settings")]
    Election(#[from] leader::ElectionError),
}

/// Campaigns for the `kube-system/rk3s-controller-manager` Lease (or the one in `opts`) and,
/// while holding it, runs every controller; on losing it the controllers stop and the campaign
/// starts over. Returns once `shutdown` fires, after releasing the lease.
pub async fn run(
    client: Client,
    opts: ControllerOptions,
    shutdown: CancellationToken,
) -> Result<(), ControllerError> {
    let loops_client = client.clone();
    leader::run_elected(
        client,
        opts.election.clone(),
        opts.identity.clone(),
        shutdown,
        move |term| run_loops(loops_client.clone(), opts.clone(), term),
    )
    .await?;
    Ok(())
}

async fn run_loops(client: Client, opts: ControllerOptions, term: CancellationToken) {
    let pods = informers::Informer::start(kube::Api::all(client.clone()), term.clone());
    tokio::join!(
        replicaset::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        deployment::run(
            client.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        statefulset::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        job::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        cronjob::run(
            client.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        daemonset::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        endpoints::run(client.clone(), pods.clone(), opts.concurrency, term.clone()),
        nodelifecycle::run(
            client.clone(),
            pods.clone(),
            opts.node_lifecycle,
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        nodeipam::run(
            client.clone(),
            &opts.cluster_cidr,
            opts.node_cidr_mask_size,
            &opts.identity,
            term.clone()
        ),
        disruption::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        replicationcontroller::run(
            client.clone(),
            pods.clone(),
            opts.concurrency,
            &opts.identity,
            term.clone()
        ),
        gc::run(client, opts.gc_resources, term),
    );
}
