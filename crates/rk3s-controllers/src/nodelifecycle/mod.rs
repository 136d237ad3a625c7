//! Node lifecycle controller: a node whose Lease goes stale gets `Unknown` conditions and the
//! `unreachable` taints, condition taints follow the node's state, and pods under NoExecute
//! taints they do not tolerate (or no longer) are deleted, as upstream's taint manager does.
//! Entry point: [`run`]; the decisions live in [`decide`].

pub mod decide;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::decide::Eviction;
pub use self::decide::NodeLifecycleOptions;
use crate::events::Events;
use crate::informers::Informer;

const MANAGER: &str = "node-controller";
const EVICTION_MANAGER: &str = "taint-eviction-controller";
const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Look at every node at least this often, as upstream's node monitor does.
const RESYNC: Duration = Duration::from_secs(60);
/// A little past a deadline, so the next look finds it passed.
const MARGIN: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("reading the lease of node {node} failed")]
    GetLease { node: String, source: kube::Error },
    #[error("updating the status of node {node} failed")]
    NodeStatus { node: String, source: kube::Error },
    #[error("updating the taints of node {node} failed")]
    Taints { node: String, source: kube::Error },
    #[error("marking pod {pod} not ready failed")]
    PodStatus { pod: String, source: kube::Error },
    #[error("deleting pod {pod} failed")]
    DeletePod { pod: String, source: kube::Error },
}

struct Context {
    client: Client,
    opts: NodeLifecycleOptions,
    leases: Store<Lease>,
    pods: Informer<Pod>,
    events: Events,
    eviction_events: Events,
}

/// Runs the node lifecycle controller until `shutdown` fires; pods come from the shared `pods`
/// cache (pod writes carry a resourceVersion or uid precondition, so a stale read fails safely).
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    opts: NodeLifecycleOptions,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let lease_api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let (leases, writer) = reflector::store();
    // The lease cache the reconciler reads; the controller's own lease watch only triggers.
    // Field ownership is of no use here and, parsed, the bulk of a cached node's memory.
    let lease_cache = watcher(lease_api.clone(), Default::default())
        .default_backoff()
        .modify(|l| l.metadata.managed_fields = None)
        .reflect(writer)
        .for_each(|_| async {});
    let nodes: Api<Node> = Api::all(client.clone());
    let (node_store, node_writer) = reflector::store();
    let node_stream = watcher(nodes, watcher::Config::default())
        .default_backoff()
        .modify(|n| n.metadata.managed_fields = None)
        .reflect(node_writer)
        .applied_objects();
    let controller = Controller::for_stream(node_stream, node_store.clone());
    let ctx = Arc::new(Context {
        client: client.clone(),
        opts,
        leases,
        pods: pods.clone(),
        events: Events::new(client.clone(), MANAGER, instance),
        eviction_events: Events::new(client.clone(), EVICTION_MANAGER, instance),
    });
    let run = controller
        .watches(lease_api, watcher::Config::default(), |lease: Lease| {
            Some(ObjectRef::<Node>::new(&lease.name_any()))
        })
        // A pod newly bound to a tainted or silent node must be judged too.
        .watches_shared_stream(pods.subscribe(), move |pod| {
            node_needing_pod_checks(&node_store, &pod)
        })
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(100))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.clone().cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "node lifecycle reconcile did not complete");
            }
        });
    tokio::select! {
        _ = run => {}
        _ = lease_cache => {}
    }
    info!("node lifecycle controller stopped");
}

fn node_needing_pod_checks(nodes: &Store<Node>, pod: &Pod) -> Option<ObjectRef<Node>> {
    let name = pod.spec.as_ref()?.node_name.as_deref()?;
    let node_ref = ObjectRef::new(name);
    let node = nodes.get(&node_ref)?;
    (decide::has_no_execute_taint(&node) || decide::ready_status(&node) != Some("True"))
        .then_some(node_ref)
}

fn error_policy(node: Arc<Node>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    warn!(error = %crate::events::error_chain(error), node = %node.name_any(), "node lifecycle sync failed");
    Action::requeue(Duration::from_secs(2))
}

fn renew_time(lease: &Lease) -> Option<Timestamp> {
    lease
        .spec
        .as_ref()
        .and_then(|s| s.renew_time.as_ref())
        .map(|t| t.0)
}

/// Conflicts mean someone (usually the kubelet) wrote in between: the next event looks again.
fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

async fn reconcile(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let name = node.name_any();
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let mut node = (*node).clone();
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let lease_ref = ObjectRef::new(&name).within(LEASE_NAMESPACE);
    let mut renewed = ctx.leases.get(&lease_ref).and_then(|l| renew_time(&l));
    let mut now = Timestamp::now();
    let mut stale = decide::is_stale(&node, renewed, &ctx.opts, now);
    if stale {
        // The cache may trail the lease that triggered this sync: ask before declaring it dead.
        let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), LEASE_NAMESPACE);
        renewed = match leases.get_opt(&name).await {
            Ok(l) => l.as_ref().and_then(renew_time),
            Err(source) => return Err(ReconcileError::GetLease { node: name, source }),
        };
        now = Timestamp::now();
        stale = decide::is_stale(&node, renewed, &ctx.opts, now);
    }
    if stale && let Some(conditions) = decide::unknown_conditions(&node, now) {
        let was_ready = decide::ready_status(&node) == Some("True");
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "status": {"conditions": conditions},
        });
        match nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(n) => node = n,
            Err(e) if is_code(&e, 409) || is_code(&e, 404) => {
                return Ok(Action::requeue(Duration::from_millis(500)));
            }
            Err(source) => return Err(ReconcileError::NodeStatus { node: name, source }),
        }
        info!(node = %name, "node stopped posting status; conditions now Unknown");
        if was_ready {
            let note = format!("Node {name} status is now: NodeNotReady");
            ctx.events
                .normal(&node.object_ref(&()), "NodeNotReady", "NodeNotReady", note)
                .await;
        }
    }
    if let Some(taints) = decide::reconcile_taints(&node, now) {
        let patch = json!({
            "metadata": {"resourceVersion": node.resource_version()},
            "spec": {"taints": taints},
        });
        match nodes
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(n) => node = n,
            Err(e) if is_code(&e, 409) || is_code(&e, 404) => {
                return Ok(Action::requeue(Duration::from_millis(500)));
            }
            Err(source) => return Err(ReconcileError::Taints { node: name, source }),
        }
    }

    let mut next = if stale {
        RESYNC
    } else {
        decide::until_stale(&node, renewed, &ctx.opts, now) + MARGIN
    };
    let silent = stale && decide::ready_status(&node) == Some("Unknown");
    if (silent || decide::has_no_execute_taint(&node))
        && let Some(at) = sync_pods(&ctx, &node, silent).await?
    {
        let wait = now.duration_until(at);
        next = next.min(Duration::try_from(wait).unwrap_or(Duration::ZERO) + MARGIN);
    }
    Ok(Action::requeue(next.min(RESYNC)))
}

/// Marks the pods of a silent node not ready and evicts the pods its NoExecute taints allow
/// no longer; returns the next eviction deadline.
async fn sync_pods(
    ctx: &Context,
    node: &Node,
    silent: bool,
) -> Result<Option<Timestamp>, ReconcileError> {
    let name = node.name_any();
    ctx.pods.ready().await;
    let pods: Vec<Arc<Pod>> = ctx
        .pods
        .store()
        .state()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str()))
        .collect();
    let taints = rk3s_scheduler::affinity::node_taints(node);
    let mut next: Option<Timestamp> = None;
    for pod in pods {
        let Some(ns) = pod.namespace() else { continue };
        let pod_name = pod.name_any();
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        let now = Timestamp::now();
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        match decide::eviction(&pod, taints, now) {
            Eviction::Stay => {}
            Eviction::At(at) => next = Some(next.map_or(at, |n| n.min(at))),
            Eviction::Now => {
                evict(ctx, &api, &pod, now).await?;
                continue;
            }
        }
        if silent && let Some(conditions) = decide::not_ready_conditions(&pod, now) {
            let patch = json!({
                "metadata": {"resourceVersion": pod.resource_version()},
                "status": {"conditions": conditions},
            });
            match api
                .patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    ctx.events
                        .warning(
                            &pod.object_ref(&()),
                            "NodeNotReady",
                            "NodeNotReady",
                            "Node is not ready".into(),
                        )
                        .await;
                }
                Err(e) if is_code(&e, 409) || is_code(&e, 404) => {}
                Err(source) => {
                    return Err(ReconcileError::PodStatus {
                        pod: format!("{ns}/{pod_name}"),
                        source,
                    });
                }
            }
        }
    }
    Ok(next)
}

async fn evict(
    ctx: &Context,
    api: &Api<Pod>,
    pod: &Pod,
    now: Timestamp,
) -> Result<(), ReconcileError> {
    let ns = pod.namespace().unwrap_or_default();
    let pod_name = pod.name_any();
    let key = format!("{ns}/{pod_name}");
    ctx.eviction_events
        .normal(
            &pod.object_ref(&()),
            "TaintManagerEviction",
            "Delete",
            format!("Marking for deletion Pod {key}"),
        )
        .await;
    // Upstream tells watchers (disruption budgets, Job failure policies) why the pod goes.
    let mut conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    conditions.retain(|c| c.type_ != "DisruptionTarget");
    conditions.push(decide::disruption_condition(now));
    let patch = json!({"status": {"conditions": conditions}});
    if let Err(e) = api
        .patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        debug!(error = %e, pod = %key, "disruption condition not recorded");
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&pod_name, &params).await {
        Ok(_) => {
            info!(pod = %key, node = ?pod.spec.as_ref().and_then(|s| s.node_name.as_deref()), "evicted for a NoExecute taint");
            Ok(())
        }
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
        Err(source) => Err(ReconcileError::DeletePod { pod: key, source }),
    }
}
