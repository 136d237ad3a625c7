//! ReplicaSet controller: keeps `spec.replicas` pods of the template alive and reports status.
//! Entry point: [`run`]; the decisions live in [`decide`].

pub mod decide;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use self::decide::ScaleAction;
use crate::events::Events;
use crate::expectations::{Cached, Expectations, Key};
use crate::informers::Informer;
use crate::pods;
use rk3s_core::names;

/// Field manager recorded on everything this controller writes.
const MANAGER: &str = "replicaset-controller";
/// Re-examine every set this often even without events, as upstream's resync does.
const RESYNC: Duration = Duration::from_secs(300);
/// Pods created or deleted per sync at most (upstream's burstReplicas); the next sync, woken by
/// their watch events, does the rest.
const BURST: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("replica set has no namespace")]
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
    Decide(#[from] decide::DecideError),
}

struct Context {
    client: Client,
    events: Events,
    pods: Informer<Pod>,
    expectations: Expectations,
    /// Pods a set controls but no longer selects (their labels changed), by `(namespace, set)`:
    /// the pod watch notices them, the set's next sync releases them. Selecting by labels
    /// alone would never see them again.
    strays: Mutex<HashMap<(String, String), BTreeSet<String>>>,
}

/// Runs the ReplicaSet controller until `shutdown` fires; pods come from the shared `pods` cache.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let sets: Api<ReplicaSet> = Api::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
        pods: pods.clone(),
        expectations: Expectations::new(),
        strays: Mutex::new(HashMap::new()),
    });
    let mapper_ctx = ctx.clone();
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            if let Some(r) = decide::controller_of(&pod.metadata)
                && r.kind == "ReplicaSet"
            {
                let key = (pod.namespace().unwrap_or_default(), r.name.clone());
                mapper_ctx.expectations.observed(&key, &pod.name_any());
            }
            note_stray(&mapper_ctx, &store, &pod);
            sets_for_pod(&store, &pod)
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
                debug!(error = %e, "replicaset reconcile did not complete");
            }
        })
        .await;
}

/// Remembers a pod its controlling set no longer selects, for that set's next sync.
fn note_stray(ctx: &Context, store: &Store<ReplicaSet>, pod: &Pod) {
    let Some(r) = decide::controller_of(&pod.metadata) else {
        return;
    };
    if r.kind != "ReplicaSet" || pod.metadata.deletion_timestamp.is_some() {
        return;
    }
    let ns = pod.namespace().unwrap_or_default();
    let Some(rs) = store.get(&ObjectRef::new(&r.name).within(&ns)) else {
        return;
    };
    let Some(selector) = rs
        .spec
        .as_ref()
        .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
    else {
        return;
    };
    if decide::should_release(pod, &rs.uid().unwrap_or_default(), &selector)
        && let Ok(mut strays) = ctx.strays.lock()
    {
        strays
            .entry((ns, r.name.clone()))
            .or_default()
            .insert(pod.name_any());
    }
}

/// A pod wakes its controlling set, or, when orphaned, every set whose selector matches it.
fn sets_for_pod(store: &Store<ReplicaSet>, pod: &Pod) -> Vec<ObjectRef<ReplicaSet>> {
    let ns = pod.namespace().unwrap_or_default();
    if let Some(r) = decide::controller_of(&pod.metadata) {
        if r.kind == "ReplicaSet" && r.api_version.starts_with("apps/") {
            return vec![ObjectRef::new(&r.name).within(&ns)];
        }
        return Vec::new();
    }
    let labels = pod.labels().clone();
    store
        .state()
        .iter()
        .filter(|rs| rs.namespace().as_deref() == Some(ns.as_str()))
        .filter(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
                .is_some_and(|sel| !sel.is_everything() && sel.matches(&labels))
        })
        .map(|rs| ObjectRef::from_obj(rs.as_ref()))
        .collect()
}

fn error_policy(rs: Arc<ReplicaSet>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    warn!(error = %crate::events::error_chain(error), replicaset = %rs.name_any(), "replicaset sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let ns = rs.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = rs.name_any();
    let Some(spec) = rs.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = LabelSelector::from_k8s(Some(&spec.selector))?;
    // A set selecting everything would claim every pod in the namespace; upstream refuses too.
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let uid = rs.uid().unwrap_or_default();
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.pods.ready().await;
    let cached = ctx.pods.store().state();
    let listed = cached.iter().map(AsRef::as_ref).filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
            && p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| selector.matches(l))
    });
    let strays_left = release_strays(&ctx, &pods_api, &rs, &selector).await;
    let claim = decide::claim(&uid, &selector, deleting, listed);
    let mut owned: Vec<Pod> = claim.owned.into_iter().cloned().collect();
    let me = decide::controller_ref("apps/v1", "ReplicaSet", &name, &uid);
    for orphan in claim.adopt {
        let pod_name = orphan.name_any();
        let patch = json!({"metadata": {
            "ownerReferences": decide::adopted_refs(orphan, me.clone()),
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
    let key = (ns.clone(), name.clone());
    // The cache may not show our last creations and deletions yet; scaling on it would repeat
    // them. The pods' watch events wake this set again once it does.
    let in_sync = ctx.expectations.satisfied(&key, |pod| {
        match ctx.pods.store().get(&ObjectRef::new(pod).within(&ns)) {
            None => Cached::Absent,
            Some(p) if p.metadata.deletion_timestamp.is_some() => Cached::Terminating,
            Some(_) => Cached::Present,
        }
    });
    let mut create_error = None;
    if !deleting && in_sync {
        match decide::scale_action(spec.replicas.unwrap_or(1), &active, now) {
            ScaleAction::Nothing => {}
            ScaleAction::Create(n) => {
                create_error = create_pods(&ctx, &pods_api, &rs, &key, n).await.err();
            }
            ScaleAction::Delete(names) => {
                let names: Vec<String> = names.into_iter().take(BURST).collect();
                ctx.expectations.expect_deletes(&key, names.iter().cloned());
                for pod in names {
                    match pods_api.delete(&pod, &DeleteParams::default()).await {
                        Ok(_) => {
                            let note = format!("Deleted pod: {pod}");
                            ctx.events
                                .normal(&rs.object_ref(&()), "SuccessfulDelete", "Delete", note)
                                .await;
                        }
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(source) => {
                            ctx.expectations.cancel(&key, &pod);
                            return Err(ReconcileError::DeletePod { pod, source });
                        }
                    }
                }
            }
        }
    }

    let mut status = decide::status(&rs, &active, now);
    let failure = create_error.as_ref().map(|e| match e {
        ReconcileError::CreatePod(kube::Error::Api(resp)) => resp.message.clone(),
        other => other.to_string(),
    });
    decide::set_replica_failure(&mut status, failure.as_deref(), now);
    if rs.status.as_ref() != Some(&status) {
        let mut body = serde_json::to_value(&status).unwrap_or_default();
        // A merge patch keeps what it does not mention: clearing needs an explicit null.
        if status.conditions.is_none() {
            body["conditions"] = serde_json::Value::Null;
        }
        let sets: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        match sets
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
        decide::next_availability_check(&rs, &active, now)
            .map(|d| d + Duration::from_millis(100))
            .unwrap_or(RESYNC)
    };
    Ok(Action::requeue(next))
}

/// Drops this set's controller reference from pods it no longer selects, as upstream does, so
/// that deleting the set later leaves them alone. Failures are retried on a later sync.
/// Returns whether some are left for a retry.
async fn release_strays(
    ctx: &Context,
    api: &Api<Pod>,
    rs: &ReplicaSet,
    selector: &LabelSelector,
) -> bool {
    let key = (rs.namespace().unwrap_or_default(), rs.name_any());
    let names = match ctx.strays.lock() {
        Ok(mut s) => s.remove(&key).unwrap_or_default(),
        Err(_) => return false,
    };
    let mut left = false;
    let uid = rs.uid().unwrap_or_default();
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
        if !decide::should_release(&pod, &uid, selector) {
            continue;
        }
        let patch = json!({"metadata": {
            "ownerReferences": decide::released_refs(&pod, &uid),
            "resourceVersion": pod.resource_version(),
        }});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => debug!(pod = %name, replicaset = %key.1, "released pod"),
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

fn remember(ctx: &Context, key: &(String, String), pod: String) {
    if let Ok(mut s) = ctx.strays.lock() {
        s.entry(key.clone()).or_default().insert(pod);
    }
}

/// Creates up to [`BURST`] of `n` pods in batches of 1, 2, 4, … so a template the API rejects
/// fails once, not `n` times. Pods are named here (as the API would from `generateName`) so that
/// the expectations know them before the watch does.
async fn create_pods(
    ctx: &Context,
    api: &Api<Pod>,
    rs: &ReplicaSet,
    key: &Key,
    n: usize,
) -> Result<(), ReconcileError> {
    let mut pod = decide::pod_from_template(rs)?;
    let prefix = pod.metadata.generate_name.clone().unwrap_or_default();
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let mut remaining = n.min(BURST);
    let mut batch = 1;
    let on = rs.object_ref(&());
    while remaining > 0 {
        let size = batch.min(remaining);
        let pods: Vec<Pod> = (0..size)
            .map(|_| {
                pod.metadata.name = Some(names::generate_name(&prefix, &names::random_suffix()));
                pod.clone()
            })
            .collect();
        ctx.expectations
            .expect_creates(key, pods.iter().filter_map(|p| p.metadata.name.clone()));
        let results = futures::future::join_all(pods.iter().map(|p| api.create(&params, p))).await;
        let mut failure = None;
        let mut notes = Vec::new();
        for (sent, r) in pods.iter().zip(results) {
            match r {
                Ok(p) => notes.push(format!("Created pod: {}", p.name_any())),
                Err(e) => {
                    ctx.expectations.cancel(key, &sent.name_any());
                    if failure.is_none() {
                        failure = Some(e);
                    }
                }
            }
        }
        futures::future::join_all(
            notes
                .into_iter()
                .map(|note| ctx.events.normal(&on, "SuccessfulCreate", "Create", note)),
        )
        .await;
        if let Some(e) = failure {
            ctx.events
                .warning(
                    &on,
                    "FailedCreate",
                    "Create",
                    format!("Error creating: {e}"),
                )
                .await;
            return Err(ReconcileError::CreatePod(e));
        }
        remaining -= size;
        batch *= 2;
    }
    Ok(())
}
