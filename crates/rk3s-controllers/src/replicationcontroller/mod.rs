//! ReplicationController controller: the ReplicaSet controller's behaviour for v1
//! ReplicationControllers (equality-based selector, owner kind `ReplicationController`).
//! Entry point: [`run`]; the decisions are the ReplicaSet ones, reached through [`decide`].

pub mod decide;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::events::Events;
use crate::pods;
use crate::replicaset::decide::{self as rs, ScaleAction};

/// Field manager recorded on everything this controller writes.
const MANAGER: &str = "replicationcontroller-controller";
/// Re-examine every controller this often even without events, as upstream's resync does.
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("replication controller has no namespace")]
    NoNamespace,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("adopting pod {pod} failed")]
    AdoptPod { pod: String, source: kube::Error },
    #[error("creating a pod failed")]
    CreatePod(#[source] kube::Error),
    #[error("deleting pod {pod} failed")]
    DeletePod { pod: String, source: kube::Error },
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
    #[error("cannot build pods")]
    Decide(#[from] rs::DecideError),
}

type RcKey = (String, String);

struct Context {
    client: Client,
    events: Events,
    /// Pods a controller controls but no longer selects (relabelled), by `(namespace, name)`:
    /// the pod watch notices them, the next sync releases them.
    strays: Mutex<HashMap<RcKey, BTreeSet<String>>>,
}

/// Runs the ReplicationController controller until `shutdown` fires.
pub async fn run(client: Client, concurrency: u16, instance: &str, shutdown: CancellationToken) {
    let rcs: Api<ReplicationController> = Api::all(client.clone());
    let pods_api: Api<Pod> = Api::all(client.clone());
    let controller = Controller::new(rcs, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
        strays: Mutex::new(HashMap::new()),
    });
    let strays = ctx.clone();
    controller
        .watches(pods_api, watcher::Config::default(), move |pod| {
            note_stray(&strays, &store, &pod);
            controllers_for_pod(&store, &pod)
        })
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(50))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "replicationcontroller reconcile did not complete");
            }
        })
        .await;
}

fn is_ours(r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference) -> bool {
    r.kind == decide::KIND && r.api_version == decide::API_VERSION
}

fn selector_of(rc: &ReplicationController) -> Option<LabelSelector> {
    decide::selector(rc.spec.as_ref().and_then(|s| s.selector.as_ref())).ok()
}

/// Remembers a pod its controller no longer selects, for that controller's next sync.
fn note_stray(ctx: &Context, store: &Store<ReplicationController>, pod: &Pod) {
    let Some(r) = rs::controller_of(&pod.metadata) else {
        return;
    };
    if !is_ours(r) || pod.metadata.deletion_timestamp.is_some() {
        return;
    }
    let ns = pod.namespace().unwrap_or_default();
    let Some(rc) = store.get(&ObjectRef::new(&r.name).within(&ns)) else {
        return;
    };
    let Some(selector) = selector_of(&rc) else {
        return;
    };
    if rs::should_release(pod, &rc.uid().unwrap_or_default(), &selector)
        && let Ok(mut strays) = ctx.strays.lock()
    {
        strays
            .entry((ns, r.name.clone()))
            .or_default()
            .insert(pod.name_any());
    }
}

/// A pod wakes its controller, or, when orphaned, every controller whose selector matches it.
fn controllers_for_pod(
    store: &Store<ReplicationController>,
    pod: &Pod,
) -> Vec<ObjectRef<ReplicationController>> {
    let ns = pod.namespace().unwrap_or_default();
    if let Some(r) = rs::controller_of(&pod.metadata) {
        if is_ours(r) {
            return vec![ObjectRef::new(&r.name).within(&ns)];
        }
        return Vec::new();
    }
    let labels = pod.labels();
    store
        .state()
        .iter()
        .filter(|rc| rc.namespace().as_deref() == Some(ns.as_str()))
        .filter(|rc| selector_of(rc).is_some_and(|sel| !sel.is_everything() && sel.matches(labels)))
        .map(|rc| ObjectRef::from_obj(rc.as_ref()))
        .collect()
}

fn error_policy(
    rc: Arc<ReplicationController>,
    error: &ReconcileError,
    _ctx: Arc<Context>,
) -> Action {
    warn!(error = %crate::events::error_chain(error), replicationcontroller = %rc.name_any(), "replicationcontroller sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(
    rc: Arc<ReplicationController>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let ns = rc.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = rc.name_any();
    let Some(spec) = rc.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = decide::selector(spec.selector.as_ref())?;
    // A selector matching everything would claim every pod of the namespace; the API refuses
    // it, and so does this controller should one slip through.
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let view = decide::as_replica_set(&rc);
    let uid = rc.uid().unwrap_or_default();
    let deleting = rc.metadata.deletion_timestamp.is_some();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods_api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(ReconcileError::ListPods)?
        .items;
    let strays_left = release_strays(&ctx, &pods_api, &rc, &selector).await;
    let claim = rs::claim(&uid, &selector, deleting, &listed[..]);
    let mut owned: Vec<Pod> = claim.owned.into_iter().cloned().collect();
    let me = decide::owner_ref(&rc);
    for orphan in claim.adopt {
        let pod_name = orphan.name_any();
        let patch = json!({"metadata": {
            "ownerReferences": rs::adopted_refs(orphan, me.clone()),
            "resourceVersion": orphan.resource_version(),
        }});
        match pods_api
            .patch(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(p) => owned.push(p),
            // Someone else changed it first; the next sync looks again.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
            Err(source) => {
                return Err(ReconcileError::AdoptPod {
                    pod: pod_name,
                    source,
                });
            }
        }
    }

    let now = Timestamp::now();
    let active: Vec<&Pod> = owned.iter().filter(|p| pods::is_active(p)).collect();
    let mut create_error = None;
    if !deleting {
        match rs::scale_action(spec.replicas.unwrap_or(1), &active, now) {
            ScaleAction::Nothing => {}
            ScaleAction::Create(n) => {
                create_error = create_pods(&pods_api, &rc, n, &ctx.events).await.err();
            }
            ScaleAction::Delete(names) => {
                for pod in names {
                    match pods_api.delete(&pod, &DeleteParams::default()).await {
                        Ok(_) => {
                            let note = format!("Deleted pod: {pod}");
                            ctx.events
                                .normal(&rc.object_ref(&()), "SuccessfulDelete", "Delete", note)
                                .await;
                        }
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(source) => return Err(ReconcileError::DeletePod { pod, source }),
                    }
                }
            }
        }
    }

    let mut status = rs::status(&view, &active, now);
    let failure = create_error.as_ref().map(|e| match e {
        ReconcileError::CreatePod(kube::Error::Api(resp)) => resp.message.clone(),
        other => other.to_string(),
    });
    rs::set_replica_failure(&mut status, failure.as_deref(), now);
    let status = decide::rc_status(status);
    if rc.status.as_ref() != Some(&status) {
        let mut body = serde_json::to_value(&status).unwrap_or_default();
        // A merge patch keeps what it does not mention: clearing needs an explicit null.
        if status.conditions.is_none() {
            body["conditions"] = serde_json::Value::Null;
        }
        let api: Api<ReplicationController> = Api::namespaced(ctx.client.clone(), &ns);
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": body})),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(ReconcileError::UpdateStatus(e)),
        }
    }
    if let Some(e) = create_error {
        return Err(e);
    }
    let next = if strays_left {
        Duration::from_secs(1)
    } else {
        rs::next_availability_check(&view, &active, now)
            .map(|d| d + Duration::from_millis(100))
            .unwrap_or(RESYNC)
    };
    Ok(Action::requeue(next))
}

/// Drops this controller's reference from pods it no longer selects, so that deleting it later
/// leaves them alone. Returns whether some are left for a retry.
async fn release_strays(
    ctx: &Context,
    api: &Api<Pod>,
    rc: &ReplicationController,
    selector: &LabelSelector,
) -> bool {
    let key = (rc.namespace().unwrap_or_default(), rc.name_any());
    let names = match ctx.strays.lock() {
        Ok(mut s) => s.remove(&key).unwrap_or_default(),
        Err(_) => return false,
    };
    let mut left = false;
    let uid = rc.uid().unwrap_or_default();
    for name in names {
        let pod = match api.get_opt(&name).await {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                debug!(error = %e, pod = %name, "stray pod lookup failed");
                remember(ctx, &key, name);
                left = true;
                continue;
            }
        };
        if !rs::should_release(&pod, &uid, selector) {
            continue;
        }
        let patch = json!({"metadata": {
            "ownerReferences": rs::released_refs(&pod, &uid),
            "resourceVersion": pod.resource_version(),
        }});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => debug!(pod = %name, replicationcontroller = %key.1, "released pod"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                debug!(error = %e, pod = %name, "releasing pod failed");
                remember(ctx, &key, name);
                left = true;
            }
        }
    }
    left
}

fn remember(ctx: &Context, key: &RcKey, pod: String) {
    if let Ok(mut s) = ctx.strays.lock() {
        s.entry(key.clone()).or_default().insert(pod);
    }
}

/// Creates pods in batches of 1, 2, 4, … so a template the API rejects fails once, not `n` times.
async fn create_pods(
    api: &Api<Pod>,
    rc: &ReplicationController,
    n: usize,
    events: &Events,
) -> Result<(), ReconcileError> {
    let pod = decide::pod_from_template(rc)?;
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let on = rc.object_ref(&());
    let mut remaining = n;
    let mut batch = 1;
    while remaining > 0 {
        let size = batch.min(remaining);
        let results = futures::future::join_all((0..size).map(|_| api.create(&params, &pod))).await;
        for r in results {
            match r {
                Ok(p) => {
                    let note = format!("Created pod: {}", p.name_any());
                    events.normal(&on, "SuccessfulCreate", "Create", note).await;
                }
                Err(e) => {
                    events
                        .warning(
                            &on,
                            "FailedCreate",
                            "Create",
                            format!("Error creating: {e}"),
                        )
                        .await;
                    return Err(ReconcileError::CreatePod(e));
                }
            }
        }
        remaining -= size;
        batch *= 2;
    }
    Ok(())
}
