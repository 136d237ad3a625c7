//! The scheduler loop against the API: reflector caches of nodes, pods,
//! PodDisruptionBudgets, PersistentVolumeClaims, PersistentVolumes and StorageClasses, the scheduling queue, decisions in batches over one snapshot, and
//! binds, preemptions and status/event writes running concurrently. Entry point: [`run`].

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::placement::{Placement, key_of};
use crate::preemption::{self, Budget, Candidate};
use crate::queue::SchedulingQueue;
use crate::report;
use crate::schedule::{FitError, PostFilter, Unschedulable, decide as decide_one};
use crate::snapshot::is_terminal;
use crate::volumes::{self, VolumeCatalog, Volumes};

/// Pods decided per snapshot.
const BATCH: usize = 256;
/// API writes (binds, condition patches, events) in flight at once.
const MAX_IN_FLIGHT: usize = 64;
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("node watch ended")]
    NodeWatchEnded,
    #[error("pod watch ended")]
    PodWatchEnded,
    #[error("pod disruption budget watch ended")]
    BudgetWatchEnded,
    #[error("persistent volume claim, volume or storage class watch ended")]
    VolumeWatchEnded,
    #[error("binding pod {pod} to {node} failed")]
    Bind {
        pod: String,
        node: String,
        #[source]
        source: kube::Error,
    },
    #[error("recording that pod {pod} is unschedulable failed")]
    Report {
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("evicting {victim} to make room for {pod} failed")]
    Preempt {
        pod: String,
        victim: String,
        #[source]
        source: kube::Error,
    },
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether this scheduler should place the pod now.
fn wants_scheduling(pod: &Pod, scheduler_name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    node_name(pod).is_none()
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
        && spec
            .scheduler_name
            .as_deref()
            .unwrap_or("default-scheduler")
            == scheduler_name
        && spec.scheduling_gates.as_ref().is_none_or(|g| g.is_empty())
}

/// The outcome of one write, fed back into the queue.
enum Outcome {
    Bound {
        key: String,
    },
    BindFailed {
        key: String,
        generation: Option<i64>,
        error: SchedulerError,
    },
    Reported,
    ReportFailed(SchedulerError),
}

/// Field ownership is of no use to the scheduler, yet it is the bulk of a cached pod's or
/// node's memory once parsed.
fn strip_managed_fields<K: kube::Resource>(obj: &mut K) {
    obj.meta_mut().managed_fields = None;
}

/// The volume caches as the filters read them.
struct VolumeStores {
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
}

impl VolumeCatalog for VolumeStores {
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.claims.get(&ObjectRef::new(name).within(namespace))
    }

    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.volumes.get(&ObjectRef::new(name))
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.get(&ObjectRef::new(name))
    }
}

/// Which of the claim, volume and class caches have listed once.
#[derive(Debug, Default)]
struct VolumeSync([bool; 3]);

impl VolumeSync {
    fn done(&self) -> bool {
        self.0.iter().all(|d| *d)
    }
}

/// Runs the scheduler until `shutdown`; pods whose `spec.schedulerName` is `scheduler_name`
/// (`default-scheduler` for the default profile) are bound to nodes.
pub async fn run(
    client: kube::Client,
    scheduler_name: &str,
    shutdown: CancellationToken,
) -> Result<(), SchedulerError> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let (budgets, budget_writer) = reflector::store::<PodDisruptionBudget>();
    let mut node_events = pin!(
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(strip_managed_fields)
            .reflect(node_writer)
    );
    let mut pod_events = pin!(
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(strip_managed_fields)
            .reflect(pod_writer)
    );
    let mut budget_events = pin!(
        watcher(
            Api::<PodDisruptionBudget>::all(client.clone()),
            watcher::Config::default()
        )
        .default_backoff()
        .reflect(budget_writer)
    );
    let (claims, claim_writer) = reflector::store::<PersistentVolumeClaim>();
    let (pvs, pv_writer) = reflector::store::<PersistentVolume>();
    let (classes, class_writer) = reflector::store::<StorageClass>();
    let volume_events = futures::stream::select_all([
        watcher(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(strip_managed_fields)
        .reflect(claim_writer)
        .map(|e| (0, e.map(|e| matches!(e, watcher::Event::InitDone))))
        .boxed(),
        watcher(
            Api::<PersistentVolume>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(strip_managed_fields)
        .reflect(pv_writer)
        .map(|e| (1, e.map(|e| matches!(e, watcher::Event::InitDone))))
        .boxed(),
        watcher(
            Api::<StorageClass>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff()
        .modify(strip_managed_fields)
        .reflect(class_writer)
        .map(|e| (2, e.map(|e| matches!(e, watcher::Event::InitDone))))
        .boxed(),
    ]);
    let mut volume_events = pin!(volume_events);
    let volumes = Volumes(Arc::new(VolumeStores {
        claims,
        volumes: pvs,
        classes,
    }));
    let mut volumes_synced = VolumeSync::default();
    let mut queue = SchedulingQueue::default();
    // Pods that preempted -> their node, until bound: the cache may not show the
    // nominatedNodeName we wrote yet, and a second preemption must not pick new victims.
    let mut nominations: HashMap<String, String> = HashMap::new();
    let mut placement = Placement::default();
    let mut in_flight = FuturesUnordered::new();
    let (mut nodes_synced, mut pods_synced) = (false, false);
    let mut tick = tokio::time::interval(TICK);
    info!(scheduler = scheduler_name, "scheduler started");
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            ev = node_events.next() => match ev {
                Some(Ok(watcher::Event::InitDone)) => {
                    nodes_synced = true;
                    queue.cluster_changed();
                    placement.invalidate();
                }
                Some(Ok(_)) => {
                    queue.cluster_changed();
                    placement.invalidate();
                }
                Some(Err(e)) => debug!(error = %e, "node watch error; retrying"),
                None => return Err(SchedulerError::NodeWatchEnded),
            },
            ev = pod_events.next() => {
                let mut next = ev;
                // Drain whatever else is ready so a burst of creations becomes one batch.
                for _ in 0..1024 {
                    match next {
                        Some(Ok(e)) => {
                            if matches!(e, watcher::Event::InitDone) {
                                pods_synced = true;
                            }
                            on_pod_event(
                                e,
                                scheduler_name,
                                &mut queue,
                                &mut placement,
                                &mut nominations,
                            );
                        }
                        Some(Err(e)) => debug!(error = %e, "pod watch error; retrying"),
                        None => return Err(SchedulerError::PodWatchEnded),
                    }
                    match pod_events.next().now_or_never() {
                        Some(ev) => next = ev,
                        None => break,
                    }
                }
            }
            ev = budget_events.next() => match ev {
                // Budgets are read at decision time; they never make a parked pod fit.
                Some(Ok(_)) => {}
                Some(Err(e)) => debug!(error = %e, "pod disruption budget watch error; retrying"),
                None => return Err(SchedulerError::BudgetWatchEnded),
            },
            ev = volume_events.next() => match ev {
                // A claim bound or created may make a parked pod fit.
                Some((i, Ok(init_done))) => {
                    volumes_synced.0[i] |= init_done;
                    queue.cluster_changed();
                }
                Some((_, Err(e))) => debug!(error = %e, "volume watch error; retrying"),
                None => return Err(SchedulerError::VolumeWatchEnded),
            },
            Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                on_outcome(outcome, &mut queue, &mut placement);
            }
            _ = tick.tick() => {
                queue.requeue_due(Instant::now());
            }
        }
        if nodes_synced
            && pods_synced
            && volumes_synced.done()
            && queue.has_active()
            && in_flight.len() < MAX_IN_FLIGHT
        {
            let room = BATCH.min(MAX_IN_FLIGHT * 4);
            let batch = queue.pop_batch(room);
            let budgets: Vec<Budget> = budgets
                .state()
                .iter()
                .filter_map(|b| Budget::from_pdb(b))
                .collect();
            decide(
                &client,
                scheduler_name,
                &batch,
                Caches {
                    nodes: &nodes,
                    pods: &pods,
                    budgets: &budgets,
                    volumes: &volumes,
                },
                &mut queue,
                &mut placement,
                &mut nominations,
                &mut in_flight,
            );
        }
    }
    info!(scheduler = scheduler_name, "scheduler stopped");
    Ok(())
}

fn on_pod_event(
    ev: watcher::Event<Pod>,
    scheduler_name: &str,
    queue: &mut SchedulingQueue,
    placement: &mut Placement,
    nominations: &mut HashMap<String, String>,
) {
    match ev {
        watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
            let key = key_of(&pod);
            if wants_scheduling(&pod, scheduler_name) {
                if !placement.is_assumed(&key) {
                    queue.observe_pending(
                        &key,
                        pod.metadata.generation,
                        preemption::priority(&pod),
                    );
                }
            } else {
                queue.forget(&key);
                nominations.remove(&key);
                let terminal = is_terminal(&pod);
                if let Some(node) = node_name(&pod) {
                    placement.observe_bound(&key, node, terminal);
                }
                if terminal {
                    queue.cluster_changed();
                }
            }
        }
        watcher::Event::Delete(pod) => {
            let key = key_of(&pod);
            queue.forget(&key);
            nominations.remove(&key);
            placement.observe_deleted(&key);
            queue.cluster_changed();
        }
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

fn on_outcome(outcome: Outcome, queue: &mut SchedulingQueue, placement: &mut Placement) {
    match outcome {
        Outcome::Bound { key } => {
            // The cache drops the assumption once it shows the pod bound.
            debug!(pod = %key, "bound");
        }
        Outcome::BindFailed {
            key,
            generation,
            error,
        } => {
            warn!(error = %error, pod = %key, "bind failed; will retry");
            placement.forget_assumed(&key);
            queue.retry_later(&key, generation, Instant::now());
        }
        Outcome::Reported => {}
        Outcome::ReportFailed(e) => warn!(error = %e, "status or event write failed"),
    }
}

type Write = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>>;

/// The informer caches a batch decides over.
struct Caches<'a> {
    nodes: &'a Store<Node>,
    pods: &'a Store<Pod>,
    budgets: &'a [Budget],
    volumes: &'a Volumes,
}

#[allow(clippy::too_many_arguments)]
fn decide(
    client: &kube::Client,
    scheduler_name: &str,
    batch: &[String],
    caches: Caches<'_>,
    queue: &mut SchedulingQueue,
    placement: &mut Placement,
    nominations: &mut HashMap<String, String>,
    in_flight: &mut FuturesUnordered<Write>,
) {
    for key in batch {
        let Some((ns, name)) = key.split_once('/') else {
            continue;
        };
        let Some(pod) = caches.pods.get(&ObjectRef::new(name).within(ns)) else {
            continue;
        };
        if !wants_scheduling(&pod, scheduler_name) || placement.is_assumed(key) {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let snapshot = placement.snapshot(
            Instant::now(),
            || caches.nodes.state(),
            || caches.pods.state(),
        );
        snapshot.volumes = caches.volumes.clone();
        let nominated = nominations.get(key).cloned().or_else(|| {
            pod.status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .filter(|n| !n.is_empty())
        });
        match decide_one(&pod, snapshot, caches.budgets, nominated.as_deref()) {
            Ok(node) => {
                nominations.remove(key);
                let mut placed = (*pod).clone();
                if let Some(spec) = placed.spec.as_mut() {
                    spec.node_name = Some(node.clone());
                }
                let placed = Arc::new(placed);
                placement.assume(key, &node, placed);
                let binding = report::binding(&pod, &node);
                let select = volumes::claims_to_select(&pod, caches.volumes.0.as_ref(), &node);
                let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
                let key = key.clone();
                let generation = pod.metadata.generation;
                let events: Api<Event> = Api::namespaced(client.clone(), ns);
                let scheduler = scheduler_name.to_string();
                in_flight.push(Box::pin(async move {
                    // Upstream records the node on WaitForFirstConsumer claims and waits for the
                    // provisioner before binding; rk3s has no provisioner yet, so the
                    // annotation is written (best effort) and the pod bound at once.
                    for claim in select {
                        let patch = Patch::Merge(volumes::selected_node_patch(&node));
                        if let Err(e) = claims.patch(&claim, &PatchParams::default(), &patch).await {
                            warn!(error = %e, pod = %key, claim = %claim, "selected-node annotation not written");
                        }
                    }
                    let bound = api
                        .create_subresource::<_, serde_json::Value>(
                            "binding",
                            &binding_name(&binding),
                            &PostParams::default(),
                            &binding,
                        )
                        .await;
                    if let Err(source) = bound {
                        return Outcome::BindFailed {
                            error: SchedulerError::Bind {
                                pod: key.clone(),
                                node,
                                source,
                            },
                            key,
                            generation,
                        };
                    }
                    let event =
                        report::scheduled_event(&pod, &node, &scheduler, jiff::Timestamp::now());
                    match events.create(&PostParams::default(), &event).await {
                        Ok(_) => Outcome::Bound { key },
                        // The pod is bound; a lost event only makes `describe` poorer.
                        Err(source) => {
                            Outcome::ReportFailed(SchedulerError::Report { pod: key, source })
                        }
                    }
                }));
            }
            Err(Unschedulable {
                fit,
                preemption: Some(candidate),
            }) => {
                queue.park(key, pod.metadata.generation, Instant::now());
                debug!(pod = %key, node = %candidate.node, victims = candidate.victims.len(), "preempting");
                nominations.insert(key.clone(), candidate.node.clone());
                in_flight.push(preempt(
                    client.clone(),
                    pod.clone(),
                    *candidate,
                    fit,
                    scheduler_name.to_string(),
                ));
            }
            Err(Unschedulable { fit, .. }) => {
                queue.park(key, pod.metadata.generation, Instant::now());
                let message = fit.to_string();
                // A nomination that preemption could not renew is withdrawn, as upstream does.
                let withdraw = nominated.is_some()
                    && matches!(
                        &fit,
                        FitError::NoFit(d) if matches!(d.post_filter, PostFilter::Failed(_) | PostFilter::Disabled)
                    );
                if withdraw {
                    nominations.remove(key);
                }
                if !withdraw && report::already_reported(&pod, &message) {
                    continue;
                }
                debug!(pod = %key, reason = %message, "unschedulable");
                in_flight.push(report_failure(
                    api,
                    client.clone(),
                    pod.clone(),
                    &message,
                    withdraw,
                    scheduler_name.to_string(),
                ));
            }
        }
    }
}

/// Evicts the victims (DisruptionTarget condition, DELETE with their own grace period,
/// Preempted event), then records the nomination and the failure on the preemptor.
fn preempt(
    client: kube::Client,
    pod: Arc<Pod>,
    candidate: Candidate,
    fit: FitError,
    scheduler: String,
) -> Write {
    Box::pin(async move {
        let key = key_of(&pod);
        for victim in &candidate.victims {
            let ns = victim.metadata.namespace.as_deref().unwrap_or("default");
            let name = victim.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let now = jiff::Timestamp::now();
            // Best effort: the condition only explains the deletion.
            let _ = api
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Strategic(report::disruption_target_patch(&scheduler, now)),
                )
                .await;
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                // Already gone is what preemption wanted.
                Err(kube::Error::Api(e)) if e.code == 404 => continue,
                Err(source) => {
                    return Outcome::ReportFailed(SchedulerError::Preempt {
                        pod: key,
                        victim: key_of(victim),
                        source,
                    });
                }
            }
            let event = report::preempted_event(victim, &pod, &candidate.node, &scheduler, now);
            let events: Api<Event> = Api::namespaced(client.clone(), ns);
            if let Err(source) = events.create(&PostParams::default(), &event).await {
                warn!(error = %source, victim = %key_of(victim), "preempted event not recorded");
            }
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let now = jiff::Timestamp::now();
        let message = fit.to_string();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let patch = report::nominated_patch(&message, Some(&candidate.node), now);
        if let Err(source) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            return Outcome::ReportFailed(SchedulerError::Report { pod: key, source });
        }
        let event = report::failed_scheduling_event(&pod, &message, &scheduler, now);
        let events: Api<Event> = Api::namespaced(client, ns);
        match events.create(&PostParams::default(), &event).await {
            Ok(_) => Outcome::Reported,
            Err(source) => Outcome::ReportFailed(SchedulerError::Report { pod: key, source }),
        }
    })
}

fn binding_name(b: &k8s_openapi::api::core::v1::Binding) -> String {
    b.metadata.name.clone().unwrap_or_default()
}

fn report_failure(
    api: Api<Pod>,
    client: kube::Client,
    pod: Arc<Pod>,
    message: &str,
    withdraw_nomination: bool,
    scheduler: String,
) -> Write {
    let message = message.to_string();
    Box::pin(async move {
        let now = jiff::Timestamp::now();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let key = key_of(&pod);
        let patch = if withdraw_nomination {
            report::nominated_patch(&message, None, now)
        } else {
            report::unschedulable_patch(&message, now)
        };
        if let Err(source) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            return Outcome::ReportFailed(SchedulerError::Report { pod: key, source });
        }
        let event = report::failed_scheduling_event(&pod, &message, &scheduler, now);
        let ns = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let events: Api<Event> = Api::namespaced(client, &ns);
        match events.create(&PostParams::default(), &event).await {
            Ok(_) => Outcome::Reported,
            Err(source) => Outcome::ReportFailed(SchedulerError::Report { pod: key, source }),
        }
    })
}
