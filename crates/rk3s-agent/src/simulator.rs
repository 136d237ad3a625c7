//! A fleet of simulated nodes against a real API server: registration, Lease and status
//! heartbeats, one pod watch for the whole fleet feeding the pod worker, and one watch of the
//! fleet's own Nodes for the pod CIDRs the node IPAM controller assigns. Entry point:
//! [`run_simulated`].
//!
//! Pod addresses, as a k3s user sees them: a node's pods get addresses from its
//! `spec.podCIDR`. A pod bound to a node that has none yet stays `Pending` with a
//! `NetworkNotReady` warning event ("network is not ready: container runtime network not
//! ready: ...") and starts as soon as the CIDR arrives, as flannel makes the kubelet wait. If
//! after [`SimulateOptions::pod_cidr_wait`] no node of the fleet has been given a CIDR, the
//! cluster evidently has no node IPAM controller (`--disable-controller-manager`) and the
//! fleet's nodes fall back to their own ranges (10.42.<i>.0/24 for node i, see
//! [`node::fallback_pod_cidr`]); a node that gets a CIDR later uses it for every new pod from
//! then on. A CIDR the agent cannot use (IPv6-only, /31, /32, malformed) keeps pods waiting,
//! the reason in the event and the agent's log, rather than handing out addresses outside it.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::pin::pin;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, FuturesUnordered};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::time::DelayQueue;
use tracing::{debug, info, warn};

use crate::ipam::PodIpam;
use crate::network::{Assignment, NetworkError, NodeNetwork};
use crate::node::{self, LEASE_NAMESPACE};
use crate::options::{OptionsError, SimulateOptions};
use crate::pod_worker::{self, Action, Env};

/// How soon a failed pod write is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Every simulated node carries it; the fleet's Node watch selects on it.
const SIMULATED_LABEL: &str = "node.rk3s.io/simulated=true";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid simulation options")]
    Options(#[from] OptionsError),
    #[error("registering node {node} failed")]
    RegisterNode {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("creating the lease of node {node} failed")]
    CreateLease {
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("pod watch ended")]
    PodWatchEnded,
    #[error("the heartbeat task failed")]
    Heartbeat(#[source] tokio::task::JoinError),
}

struct SimNode {
    host_ip: String,
    network: NodeNetwork,
}

/// The node's assigned pod ranges: `spec.podCIDRs`, else `spec.podCIDR`.
fn pod_cidrs(node: &Node) -> Vec<&str> {
    let Some(spec) = node.spec.as_ref() else {
        return Vec::new();
    };
    match spec.pod_cidrs.as_deref() {
        Some(list) if !list.is_empty() => list.iter().map(String::as_str).collect(),
        _ => spec.pod_cidr.as_deref().into_iter().collect(),
    }
}

fn is_conflict(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Creates or refreshes node `index` and its Lease; returns the node's pod network.
async fn register(
    client: &kube::Client,
    opts: &SimulateOptions,
    index: usize,
) -> Result<(String, SimNode), AgentError> {
    let name = opts.node_name(index);
    let nodes: Api<Node> = Api::all(client.clone());
    let now = jiff::Timestamp::now();
    let wanted = node::node_object(opts, index, now);
    let err = |source| AgentError::RegisterNode {
        node: name.clone(),
        source,
    };
    let created = match nodes.create(&PostParams::default(), &wanted).await {
        Ok(n) => n,
        Err(e) if is_conflict(&e, 409) => {
            // Re-registration after a restart: keep the node, refresh our labels.
            let patch = json!({"metadata": {"labels": wanted.metadata.labels}});
            nodes
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(err)?
        }
        Err(e) => return Err(err(e)),
    };
    // Status written through its subresource, as the kubelet does (create may drop it).
    let status = node::node_status(opts, index, now, created.status.as_ref());
    nodes
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .map_err(err)?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let lease = node::node_lease(&name, created.metadata.uid.as_deref(), now);
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => {}
        Err(e) if is_conflict(&e, 409) => {
            let patch = json!({"spec": lease.spec});
            leases
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| AgentError::CreateLease {
                    node: name.clone(),
                    source,
                })?;
        }
        Err(source) => {
            return Err(AgentError::CreateLease {
                node: name.clone(),
                source,
            });
        }
    }
    let (net, prefix) = node::fallback_pod_cidr(index);
    let fallback = PodIpam::new(net, prefix).map_err(|_| {
        AgentError::Options(OptionsError::TooMany {
            max: crate::options::MAX_NODES,
        })
    })?;
    let mut network = NodeNetwork::new(fallback);
    if let Assignment::Unusable(error) = network.assign(&pod_cidrs(&created)) {
        warn!(error = %error, node = %name, "pod CIDR unusable; pods needing an address wait");
    }
    Ok((
        name,
        SimNode {
            host_ip: node::internal_ip(index).to_string(),
            network,
        },
    ))
}

/// Renews every Lease each `lease_interval` and rewrites node status each `status_interval`.
async fn heartbeat(client: kube::Client, opts: SimulateOptions, shutdown: CancellationToken) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let nodes: Api<Node> = Api::all(client);
    let mut tick = tokio::time::interval(opts.lease_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_status = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = jiff::Timestamp::now();
        let with_status = last_status.elapsed() >= opts.status_interval;
        if with_status {
            last_status = tokio::time::Instant::now();
        }
        let work = stream::iter(0..opts.count)
            .map(|i| beat_one(&leases, &nodes, &opts, i, now, with_status));
        let mut work = pin!(work.buffer_unordered(opts.parallelism.max(1)));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                next = work.next() => if next.is_none() { break },
            }
        }
    }
}

/// One node's heartbeat: renew its Lease and, with `with_status`, its conditions. A Lease or
/// Node deleted behind the agent's back is created again, as a kubelet re-registers.
async fn beat_one(
    leases: &Api<Lease>,
    nodes: &Api<Node>,
    opts: &SimulateOptions,
    index: usize,
    now: jiff::Timestamp,
    with_status: bool,
) {
    let name = opts.node_name(index);
    let renew = json!({"spec": {"renewTime": MicroTime(now), "holderIdentity": name}});
    match leases
        .patch(&name, &PatchParams::default(), &Patch::Merge(&renew))
        .await
    {
        Ok(_) => {}
        Err(e) if is_conflict(&e, 404) => {
            let lease = node::node_lease(&name, None, now);
            if let Err(e) = leases.create(&PostParams::default(), &lease).await {
                warn!(error = %e, node = %name, "lease re-create failed");
            }
        }
        Err(e) => warn!(error = %e, node = %name, "lease renew failed"),
    }
    if !with_status {
        return;
    }
    // Only the conditions carry heartbeats; transition times stay as first written.
    let conditions: Vec<_> = node::node_status(opts, index, now, None)
        .conditions
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            c.last_transition_time = None;
            c
        })
        .collect();
    let patch = json!({"status": {"conditions": conditions}});
    match nodes
        .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => {}
        Err(e) if is_conflict(&e, 404) => {
            let node = node::node_object(opts, index, now);
            match nodes.create(&PostParams::default(), &node).await {
                Ok(_) => info!(node = %name, "node re-registered"),
                Err(e) => warn!(error = %e, node = %name, "node re-registration failed"),
            }
        }
        Err(e) => warn!(error = %e, node = %name, "node status update failed"),
    }
}

fn key_of(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

fn resource_version(pod: &Pod) -> u64 {
    pod.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

enum Outcome {
    Written {
        key: String,
        pod: Box<Pod>,
        recheck: Option<Duration>,
    },
    Finished {
        key: String,
    },
    Gone {
        key: String,
    },
    /// Only events were recorded.
    Noted {
        key: String,
    },
    Failed {
        key: String,
        error: kube::Error,
    },
}

impl Outcome {
    fn key(&self) -> &str {
        match self {
            Outcome::Written { key, .. }
            | Outcome::Finished { key }
            | Outcome::Gone { key }
            | Outcome::Noted { key }
            | Outcome::Failed { key, .. } => key,
        }
    }
}

type Work = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;

/// Pod bookkeeping of the fleet: addresses, pending re-checks, our own latest writes.
struct Pods {
    nodes: HashMap<String, SimNode>,
    store: Store<Pod>,
    /// Our last write per pod, newer than the cache until the watch catches up.
    written: HashMap<String, Pod>,
    /// Which node and uid hold an address, to free it when the pod goes.
    addressed: HashMap<String, (String, String)>,
    timers: DelayQueue<String>,
    timer_keys: HashMap<String, tokio_util::time::delay_queue::Key>,
    busy: HashSet<String>,
    dirty: HashSet<String>,
    start_delay: Duration,
    record_events: bool,
    /// Until then, nodes without a pod CIDR wait for the node IPAM controller.
    network_deadline: tokio::time::Instant,
    /// Some node of the fleet has a pod CIDR: the cluster assigns them, so never fall back.
    any_pod_cidr: bool,
    fell_back: bool,
    /// Pods waiting for their node's network, by node, and the node of each.
    waiting: HashMap<String, HashSet<String>>,
    waiting_on: HashMap<String, String>,
    /// Pods already told their node's network is not ready.
    notified: HashSet<String>,
}

/// The kubelet's message for a pod that cannot start because the network plugin is not ready.
fn network_not_ready_message(error: &NetworkError) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    format!(
        "network is not ready: container runtime network not ready: NetworkReady=false \
         reason:NetworkPluginNotReady message:{reason}"
    )
}

impl Pods {
    /// Looks at the pod again after `after` (or sooner, if already due sooner).
    fn later(&mut self, key: &str, after: Duration) {
        match self.timer_keys.get(key).copied() {
            Some(k) => {
                let due = tokio::time::Instant::now() + after;
                if due < self.timers.deadline(&k) {
                    self.timers.reset_at(&k, due);
                }
            }
            None => {
                let k = self.timers.insert(key.to_string(), after);
                self.timer_keys.insert(key.to_string(), k);
            }
        }
    }

    fn release(&mut self, key: &str) {
        self.written.remove(key);
        self.stop_waiting(key);
        self.notified.remove(key);
        if let Some((node, uid)) = self.addressed.remove(key)
            && let Some(n) = self.nodes.get_mut(&node)
        {
            n.network.release(&uid);
        }
    }

    fn stop_waiting(&mut self, key: &str) {
        if let Some(node) = self.waiting_on.remove(key)
            && let Some(keys) = self.waiting.get_mut(&node)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.waiting.remove(&node);
            }
        }
    }

    /// Takes a watched Node's pod CIDRs; pods waiting on a node whose range changed go to
    /// `ready`.
    fn node_changed(&mut self, node: &Node, ready: &mut Vec<String>) {
        let Some(name) = node.metadata.name.as_deref() else {
            return;
        };
        let Some(sim) = self.nodes.get_mut(name) else {
            return;
        };
        let cidrs = pod_cidrs(node);
        if cidrs.iter().all(|c| c.is_empty()) {
            return;
        }
        self.any_pod_cidr = true;
        match sim.network.assign(&cidrs) {
            Assignment::Unchanged => {}
            Assignment::Changed => {
                debug!(node = %name, cidrs = ?cidrs, "pod CIDR in use");
                for key in self.waiting.remove(name).unwrap_or_default() {
                    self.waiting_on.remove(&key);
                    ready.push(key);
                }
            }
            Assignment::Unusable(error) => {
                warn!(error = %error, node = %name, "pod CIDR unusable; pods needing an address wait");
            }
        }
    }

    /// A new address for pod `uid` on `node_name`, falling back to the node's own range when
    /// the wait for a pod CIDR is over and none was ever assigned in the fleet.
    fn pod_address(&mut self, node_name: &str, uid: &str) -> Result<Ipv4Addr, NetworkError> {
        let give_up = !self.any_pod_cidr && tokio::time::Instant::now() >= self.network_deadline;
        let Some(node) = self.nodes.get_mut(node_name) else {
            return Err(NetworkError::NoPodCidr);
        };
        if give_up
            && node.network.source().is_none()
            && node.network.use_fallback()
            && !self.fell_back
        {
            self.fell_back = true;
            info!("no node of the fleet was given a pod CIDR in time; using fallback pod ranges");
        }
        node.network.address(uid)
    }

    /// Parks a pod whose node's network is not ready: it is looked at again when the node
    /// gets a pod CIDR or the wait for one ends; the first time, the kubelet's warning event.
    fn network_not_ready(
        &mut self,
        key: &str,
        pod: &Pod,
        node_name: &str,
        error: &NetworkError,
        client: &kube::Client,
    ) -> Option<Work> {
        self.stop_waiting(key);
        self.waiting
            .entry(node_name.to_string())
            .or_default()
            .insert(key.to_string());
        self.waiting_on
            .insert(key.to_string(), node_name.to_string());
        if !self.any_pod_cidr && *error == NetworkError::NoPodCidr {
            let left = self
                .network_deadline
                .saturating_duration_since(tokio::time::Instant::now());
            // Just past the deadline, so the recheck is sure to see it passed.
            self.later(key, left + Duration::from_millis(20));
        }
        if !self.notified.insert(key.to_string()) || !self.record_events {
            return None;
        }
        debug!(pod = %key, node = %node_name, error = %error, "pod waits for its node's network");
        let event = pod_worker::PodEvent {
            type_: "Warning",
            reason: "NetworkNotReady",
            message: network_not_ready_message(error),
        };
        let record = self.events_for(pod, node_name, vec![event], client);
        let key = key.to_string();
        Some(Box::pin(async move {
            record.await;
            Outcome::Noted { key }
        }))
    }

    fn current(&mut self, key: &str) -> Option<Pod> {
        let (ns, name) = key.split_once('/')?;
        let cached = self.store.get(&ObjectRef::new(name).within(ns));
        match (cached, self.written.get(key)) {
            (Some(c), Some(w)) if resource_version(w) > resource_version(&c) => Some(w.clone()),
            (Some(c), _) => {
                self.written.remove(key);
                Some((*c).clone())
            }
            (None, _) => None,
        }
    }

    /// Records the kubelet's events about `pod` (nothing when events are turned off); a lost
    /// event only makes `kubectl describe` poorer, so failures are not retried.
    fn events_for(
        &self,
        pod: &Pod,
        node: &str,
        events: Vec<pod_worker::PodEvent>,
        client: &kube::Client,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let now = jiff::Timestamp::now();
        let objects: Vec<Event> = if self.record_events {
            events
                .into_iter()
                .enumerate()
                .map(|(i, e)| node::kubelet_event(pod, node, &e, i, now))
                .collect()
        } else {
            Vec::new()
        };
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        async move {
            for e in objects {
                if let Err(error) = api.create(&PostParams::default(), &e).await {
                    debug!(error = %error, "event not recorded");
                }
            }
        }
    }

    /// Decides the next step for the pod and returns the API work it needs, if any.
    fn plan(&mut self, key: &str, client: &kube::Client) -> Option<Work> {
        let Some(pod) = self.current(key) else {
            self.release(key);
            return None;
        };
        let node_name = pod.spec.as_ref()?.node_name.clone()?;
        let host_ip = self.nodes.get(&node_name)?.host_ip.clone();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        let existing_ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty());
        let pod_ip = if host_network {
            host_ip.clone()
        } else if let Some(ip) = existing_ip {
            // Kept even if outside the current range: a running sandbox is not renumbered.
            if let (Ok(addr), Some(node)) = (ip.parse(), self.nodes.get_mut(&node_name)) {
                node.network.claim(&uid, addr);
            }
            ip
        } else {
            match self.pod_address(&node_name, &uid) {
                Ok(ip) => {
                    self.stop_waiting(key);
                    self.notified.remove(key);
                    ip.to_string()
                }
                Err(e @ (NetworkError::NoPodCidr | NetworkError::Unusable(_))) => {
                    return self.network_not_ready(key, &pod, &node_name, &e, client);
                }
                Err(e @ NetworkError::Exhausted { .. }) => {
                    warn!(error = %e, pod = %key, node = %node_name, "no pod address");
                    self.later(key, Duration::from_secs(10));
                    return None;
                }
            }
        };
        if !host_network {
            self.addressed
                .insert(key.to_string(), (node_name.clone(), uid.clone()));
        }
        let env = Env {
            now: jiff::Timestamp::now(),
            host_ip: &host_ip,
            pod_ip: &pod_ip,
            start_delay: self.start_delay,
        };
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let key = key.to_string();
        match pod_worker::step(&pod, &env) {
            Action::Wait(None) => None,
            Action::Wait(Some(after)) => {
                self.later(&key, after);
                None
            }
            Action::Write { status, recheck } => {
                let events = self.events_for(
                    &pod,
                    &node_name,
                    pod_worker::transition_events(&pod, &status),
                    client,
                );
                Some(Box::pin(async move {
                    let patch = json!({"status": status});
                    match api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        Ok(pod) => {
                            events.await;
                            Outcome::Written {
                                key,
                                pod: Box::new(pod),
                                recheck,
                            }
                        }
                        Err(e) if is_conflict(&e, 404) => Outcome::Gone { key },
                        Err(error) => Outcome::Failed { key, error },
                    }
                }))
            }
            Action::Finish { status } => {
                let events =
                    self.events_for(&pod, &node_name, pod_worker::stopping_events(&pod), client);
                Some(Box::pin(async move {
                    events.await;
                    if let Some(status) = status {
                        let patch = json!({"status": status});
                        match api
                            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                        {
                            Ok(_) => {}
                            Err(e) if is_conflict(&e, 404) => return Outcome::Gone { key },
                            Err(error) => return Outcome::Failed { key, error },
                        }
                    }
                    let dp = DeleteParams {
                        grace_period_seconds: Some(0),
                        preconditions: Some(Preconditions {
                            uid: Some(uid),
                            resource_version: None,
                        }),
                        ..Default::default()
                    };
                    match api.delete(&name, &dp).await {
                        Ok(_) => Outcome::Finished { key },
                        Err(e) if is_conflict(&e, 404) || is_conflict(&e, 409) => {
                            Outcome::Gone { key }
                        }
                        Err(error) => Outcome::Failed { key, error },
                    }
                }))
            }
        }
    }
}

/// Registers `opts.count` nodes and runs them until `shutdown`: Lease renewals, status
/// heartbeats, and every pod bound to them driven by the simulated pod worker.
pub async fn run_simulated(
    client: kube::Client,
    opts: SimulateOptions,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    opts.validate()?;
    let registered: Vec<Result<(String, SimNode), AgentError>> = stream::iter(0..opts.count)
        .map(|i| register(&client, &opts, i))
        .buffer_unordered(opts.parallelism.max(1))
        .collect()
        .await;
    let mut nodes = HashMap::new();
    for r in registered {
        let (name, node) = r?;
        nodes.insert(name, node);
    }
    let network_deadline = tokio::time::Instant::now() + opts.pod_cidr_wait;
    let any_pod_cidr = nodes.values().any(|n: &SimNode| n.network.has_pod_cidr());
    info!(nodes = opts.count, prefix = %opts.name_prefix, "simulated nodes registered");
    let beat_stop = shutdown.child_token();
    let beat = tokio::spawn(heartbeat(client.clone(), opts.clone(), beat_stop.clone()));

    let (store, writer) = reflector::store::<Pod>();
    let config = watcher::Config::default().fields("spec.nodeName!=");
    let mut events = pin!(
        watcher(Api::<Pod>::all(client.clone()), config)
            .default_backoff()
            // Field ownership is of no use here and, parsed, the bulk of a cached pod.
            .modify(|p| p.metadata.managed_fields = None)
            .reflect(writer)
    );
    // One watch for the whole fleet's Nodes: their pod CIDRs arrive after registration.
    let node_config = watcher::Config::default().labels(SIMULATED_LABEL);
    let mut node_events = pin!(
        watcher(Api::<Node>::all(client.clone()), node_config)
            .default_backoff()
            .fuse()
    );
    let mut pods = Pods {
        nodes,
        store,
        written: HashMap::new(),
        addressed: HashMap::new(),
        timers: DelayQueue::new(),
        timer_keys: HashMap::new(),
        busy: HashSet::new(),
        dirty: HashSet::new(),
        start_delay: opts.start_delay,
        record_events: opts.events,
        network_deadline,
        any_pod_cidr,
        fell_back: false,
        waiting: HashMap::new(),
        waiting_on: HashMap::new(),
        notified: HashSet::new(),
    };
    let mut in_flight: FuturesUnordered<Work> = FuturesUnordered::new();
    let limit = opts.parallelism.max(1) * 4;
    let mut ready: Vec<String> = Vec::new();
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            ev = events.next() => match ev {
                Some(Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p))) => {
                    let owned = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some_and(|n| pods.nodes.contains_key(n));
                    if owned {
                        ready.push(key_of(&p));
                    }
                }
                Some(Ok(watcher::Event::Delete(p))) => pods.release(&key_of(&p)),
                Some(Ok(_)) => {}
                Some(Err(e)) => debug!(error = %e, "pod watch error; retrying"),
                None => break Err(AgentError::PodWatchEnded),
            },
            Some(ev) = node_events.next() => match ev {
                Ok(watcher::Event::Apply(n) | watcher::Event::InitApply(n)) => {
                    pods.node_changed(&n, &mut ready);
                }
                Ok(_) => {}
                Err(e) => debug!(error = %e, "node watch error; retrying"),
            },
            Some(expired) = pods.timers.next(), if !pods.timers.is_empty() => {
                let key = expired.into_inner();
                pods.timer_keys.remove(&key);
                ready.push(key);
            }
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                let key = outcome.key().to_string();
                pods.busy.remove(&key);
                match outcome {
                    Outcome::Written { key, pod, recheck } => {
                        pods.written.insert(key.clone(), *pod);
                        if let Some(after) = recheck {
                            pods.later(&key, after);
                        }
                    }
                    Outcome::Finished { key } | Outcome::Gone { key } => pods.release(&key),
                    Outcome::Noted { .. } => {}
                    Outcome::Failed { key, error } => {
                        debug!(error = %error, pod = %key, "pod write failed; retrying");
                        pods.later(&key, RETRY);
                    }
                }
                if pods.dirty.remove(&key) {
                    ready.push(key);
                }
            }
        }
        let mut deferred = Vec::new();
        for key in ready.drain(..) {
            if pods.busy.contains(&key) {
                pods.dirty.insert(key);
                continue;
            }
            if in_flight.len() >= limit {
                deferred.push(key);
                continue;
            }
            if let Some(work) = pods.plan(&key, &client) {
                pods.busy.insert(key);
                in_flight.push(work);
            }
        }
        ready = deferred;
    };
    beat_stop.cancel();
    beat.await.map_err(AgentError::Heartbeat)?;
    result
}
