//! A fleet of simulated nodes against a real API server: registration, Lease and status
//! heartbeats, and one pod watch for the whole fleet feeding the pod worker. Entry point:
//! [`run_simulated`].

use std::collections::{HashMap, HashSet};
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
use crate::node::{self, LEASE_NAMESPACE};
use crate::options::{OptionsError, SimulateOptions};
use crate::pod_worker::{self, Action, Env};

/// How soon a failed pod write is tried again.
const RETRY: Duration = Duration::from_secs(1);

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
    ipam: PodIpam,
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
    let ipam = created
        .spec
        .as_ref()
        .and_then(|s| s.pod_cidr.as_deref())
        .and_then(|c| PodIpam::from_cidr(c).ok());
    let ipam = match ipam {
        Some(i) => i,
        None => {
            let (net, prefix) = node::fallback_pod_cidr(index);
            PodIpam::new(net, prefix).map_err(|_| {
                AgentError::Options(OptionsError::TooMany {
                    max: crate::options::MAX_NODES,
                })
            })?
        }
    };
    Ok((
        name,
        SimNode {
            host_ip: node::internal_ip(index).to_string(),
            ipam,
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
        if let Some((node, uid)) = self.addressed.remove(key)
            && let Some(n) = self.nodes.get_mut(&node)
        {
            n.ipam.release(&uid);
        }
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
        let node = self.nodes.get_mut(&node_name)?;
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
            node.host_ip.clone()
        } else if let Some(ip) = existing_ip {
            if let Ok(addr) = ip.parse() {
                node.ipam.claim(&uid, addr);
            }
            ip
        } else {
            match node.ipam.allocate(&uid) {
                Ok(ip) => ip.to_string(),
                Err(e) => {
                    warn!(error = %e, pod = %key, node = %node_name, "no pod address");
                    self.later(key, Duration::from_secs(10));
                    return None;
                }
            }
        };
        let host_ip = node.host_ip.clone();
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
    info!(nodes = opts.count, prefix = %opts.name_prefix, "simulated nodes registered");
    let beat_stop = shutdown.child_token();
    let beat = tokio::spawn(heartbeat(client.clone(), opts.clone(), beat_stop.clone()));

    let (store, writer) = reflector::store::<Pod>();
    let config = watcher::Config::default().fields("spec.nodeName!=");
    let mut events = pin!(
        watcher(Api::<Pod>::all(client.clone()), config)
            .default_backoff()
            .reflect(writer)
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
