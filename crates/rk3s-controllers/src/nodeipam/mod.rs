//! Node IPAM controller: gives every Node without `spec.podCIDR` a range of the cluster CIDR
//! (`spec.podCIDR` and `spec.podCIDRs`), rebuilt from the nodes at every (re)list and freed when
//! a node goes. Entry point: [`run`]; the ranges are kept by [`allocator`].

pub mod allocator;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

pub use self::allocator::{CidrAllocator, CidrError};
use crate::events::Events;

const MANAGER: &str = "node-ipam-controller";
/// How soon a node whose patch failed is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// The node's pod range as written in its spec.
fn pod_cidr(node: &Node) -> Option<&str> {
    node.spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .filter(|c| !c.is_empty())
}

/// The allocator and what it knows of each node, fed by the node watch.
struct Ipam {
    cidrs: CidrAllocator,
    /// Node name → the range recorded for it (ours or found in its spec).
    assigned: BTreeMap<String, String>,
    /// Nodes still without a range (failed patch, exhaustion), retried on a timer.
    waiting: BTreeMap<String, Node>,
    /// Nodes already told the range is exhausted, so the event is not repeated every retry.
    told_exhausted: BTreeSet<String>,
    client: Client,
    events: Events,
}

impl Ipam {
    /// Forgets everything and takes the ranges the listed nodes already carry.
    fn rebuild(&mut self, nodes: &[Node]) {
        self.cidrs.clear();
        self.assigned.clear();
        self.waiting.clear();
        for node in nodes {
            self.observe_existing(node);
        }
    }

    /// Records a range the node already has; true when it has one.
    fn observe_existing(&mut self, node: &Node) -> bool {
        let name = node.name_any();
        let Some(cidr) = pod_cidr(node) else {
            return false;
        };
        if self.assigned.get(&name).map(String::as_str) == Some(cidr) {
            return true;
        }
        if let Some(old) = self.assigned.remove(&name) {
            let _ = self.cidrs.release(&old);
        }
        match self.cidrs.occupy(cidr) {
            Ok(true) => {}
            Ok(false) => warn!(node = %name, cidr, "pod CIDR also assigned to another node"),
            Err(e) => debug!(node = %name, cidr, error = %e, "pod CIDR outside the cluster CIDR"),
        }
        self.assigned.insert(name.clone(), cidr.to_string());
        self.waiting.remove(&name);
        self.told_exhausted.remove(&name);
        true
    }

    fn forget(&mut self, node: &Node) {
        let name = node.name_any();
        self.waiting.remove(&name);
        self.told_exhausted.remove(&name);
        if let Some(cidr) = self.assigned.remove(&name) {
            // A range another node also claims stays taken for that one.
            if !self.assigned.values().any(|c| *c == cidr) {
                let _ = self.cidrs.release(&cidr);
            }
        }
    }

    /// Gives the node a range; leaves it waiting when that cannot be done now.
    async fn assign(&mut self, node: &Node) {
        if node.metadata.deletion_timestamp.is_some() || self.observe_existing(node) {
            return;
        }
        let name = node.name_any();
        // An event older than our own patch: the node has its range already.
        if self.assigned.contains_key(&name) {
            return;
        }
        let cidr = match self.cidrs.allocate() {
            Ok(c) => c,
            Err(e) => {
                self.waiting.insert(name.clone(), node.clone());
                if self.told_exhausted.insert(name.clone()) {
                    warn!(node = %name, error = %e, "no pod CIDR to give");
                    let note = format!("Node {name} status is now: CIDRNotAvailable");
                    self.events
                        .warning(&node.object_ref(&()), "CIDRNotAvailable", "Allocate", note)
                        .await;
                }
                return;
            }
        };
        let nodes: Api<Node> = Api::all(self.client.clone());
        // The resourceVersion makes this a compare-and-swap: a node someone else gave a range
        // in between is not overwritten.
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        });
        match nodes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                info!(node = %name, cidr = %cidr, "pod CIDR assigned");
                self.assigned.insert(name.clone(), cidr);
                self.waiting.remove(&name);
                self.told_exhausted.remove(&name);
            }
            Err(e) => {
                let _ = self.cidrs.release(&cidr);
                if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    self.waiting.remove(&name);
                } else {
                    debug!(node = %name, error = %e, "pod CIDR patch failed; retrying");
                    self.waiting.insert(name, node.clone());
                }
            }
        }
    }

    async fn retry_waiting(&mut self) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let names: Vec<String> = self.waiting.keys().cloned().collect();
        for name in names {
            // The waiting copy may be stale (a 409): read the node again.
            match nodes.get_opt(&name).await {
                Ok(Some(n)) => self.assign(&n).await,
                Ok(None) => {
                    self.waiting.remove(&name);
                    self.told_exhausted.remove(&name);
                }
                Err(e) => debug!(node = %name, error = %e, "reading node failed"),
            }
        }
    }
}

/// Runs node IPAM over `cluster_cidr` (empty: not at all) with node ranges of `mask` bits
/// (`None`: /24 for IPv4, /64 for IPv6) until `shutdown` fires. An unusable CIDR or mask is
/// logged and leaves nodes without ranges; the other controllers run on.
pub async fn run(
    client: Client,
    cluster_cidr: &str,
    mask: Option<u8>,
    instance: &str,
    shutdown: CancellationToken,
) {
    if cluster_cidr.is_empty() {
        return;
    }
    let cidrs = match CidrAllocator::new(cluster_cidr, mask) {
        Ok(c) => c,
        Err(e) => {
            error!(error = %e, "node IPAM disabled: unusable cluster CIDR");
            return;
        }
    };
    let mut ipam = Ipam {
        cidrs,
        assigned: BTreeMap::new(),
        waiting: BTreeMap::new(),
        told_exhausted: BTreeSet::new(),
        client: client.clone(),
        events: Events::new(client.clone(), MANAGER, instance),
    };
    let nodes: Api<Node> = Api::all(client);
    let mut events = std::pin::pin!(watcher(nodes, watcher::Config::default()).default_backoff());
    let mut listing: Vec<Node> = Vec::new();
    let mut synced = false;
    let mut retry = tokio::time::interval(RETRY);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = retry.tick(), if synced && !ipam.waiting.is_empty() => {
                ipam.retry_waiting().await;
                continue;
            }
            e = events.next() => e,
        };
        match event {
            None => return,
            Some(Err(e)) => debug!(error = %e, "node watch failed; retrying"),
            Some(Ok(watcher::Event::Init)) => listing.clear(),
            Some(Ok(watcher::Event::InitApply(n))) => listing.push(n),
            Some(Ok(watcher::Event::InitDone)) => {
                // Every range in use is known before any is handed out.
                let all = std::mem::take(&mut listing);
                ipam.rebuild(&all);
                synced = true;
                for n in all.iter().filter(|n| pod_cidr(n).is_none()) {
                    ipam.assign(n).await;
                }
            }
            Some(Ok(watcher::Event::Apply(n))) => {
                if synced {
                    ipam.assign(&n).await;
                }
            }
            Some(Ok(watcher::Event::Delete(n))) => {
                ipam.forget(&n);
                if synced && !ipam.waiting.is_empty() {
                    ipam.retry_waiting().await;
                }
            }
        }
    }
}
