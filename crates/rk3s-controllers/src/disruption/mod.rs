//! Disruption controller: keeps each PodDisruptionBudget's status (healthy, desired and
//! expected pods, disruptions allowed, the `DisruptionAllowed` condition) current, which the
//! API server's `pods/eviction` reads. Entry point: [`run`]; the arithmetic lives in [`decide`].

pub mod decide;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use tracing::{debug, warn};

use self::decide::ControllerScale;
use crate::events::Events;
use crate::informers::Informer;
use crate::replicaset::decide::controller_of;
use tokio_util::sync::CancellationToken;

/// Field manager and event reporter of this controller.
const MANAGER: &str = "disruption-controller";
/// Re-examine every budget this often even without events: a controller's scale can change
/// without any of its pods changing yet.
const RESYNC: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("disruption budget has no namespace")]
    NoNamespace,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
    #[error("reading the scale of {kind} {name} failed")]
    ReadScale {
        kind: String,
        name: String,
        source: kube::Error,
    },
    #[error("resolving kind {0} failed")]
    Discovery(String, #[source] kube::Error),
    #[error(transparent)]
    Decide(#[from] decide::DecideError),
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

type BudgetKey = (String, String);

struct Context {
    client: Client,
    events: Events,
    pods: Informer<Pod>,
    /// The pods each budget counted at its last sync: a pod relabelled away from a budget must
    /// still wake it, though the budget's selector no longer matches the pod.
    counted: Mutex<HashMap<BudgetKey, BTreeSet<String>>>,
    /// Owner kinds resolved through discovery, by `(apiVersion, kind)`.
    kinds: Mutex<HashMap<(String, String), ApiResource>>,
}

/// Runs the disruption controller until `shutdown` fires; pods come from the shared `pods`
/// cache (a budget's status is written with its resourceVersion, so a stale read only costs a
/// later correction, never an allowance spent twice).
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let budgets: Api<PodDisruptionBudget> = Api::all(client.clone());
    let controller = Controller::new(budgets, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
        pods: pods.clone(),
        counted: Mutex::new(HashMap::new()),
        kinds: Mutex::new(HashMap::new()),
    });
    let mapper = ctx.clone();
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            budgets_for_pod(&mapper, &store, &pod)
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
                debug!(error = %e, "disruption budget sync did not complete");
            }
        })
        .await;
}

/// Budgets in the pod's namespace that select it now or counted it at their last sync.
fn budgets_for_pod(
    ctx: &Context,
    store: &Store<PodDisruptionBudget>,
    pod: &Pod,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    let ns = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let labels = pod.labels();
    let mut out: Vec<ObjectRef<PodDisruptionBudget>> = store
        .state()
        .iter()
        .filter(|b| b.namespace().as_deref() == Some(ns.as_str()))
        .filter(|b| {
            b.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| LabelSelector::from_k8s(Some(s)).ok())
                .is_some_and(|sel| sel.matches(labels))
        })
        .map(|b| ObjectRef::from_obj(b.as_ref()))
        .collect();
    if let Ok(mut counted) = ctx.counted.lock() {
        // Forget budgets that no longer exist, so the map cannot grow without bound.
        counted.retain(|(bns, bname), _| store.get(&ObjectRef::new(bname).within(bns)).is_some());
        for ((bns, bname), pods) in counted.iter() {
            if *bns == ns && pods.contains(&name) {
                let r = ObjectRef::new(bname).within(bns);
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
    }
    out
}

fn error_policy(
    pdb: Arc<PodDisruptionBudget>,
    error: &ReconcileError,
    _ctx: Arc<Context>,
) -> Action {
    warn!(error = %crate::events::error_chain(error), poddisruptionbudget = %pdb.name_any(), "disruption budget sync failed");
    Action::requeue(Duration::from_secs(5))
}

/// What a sync ended with, short of an error.
enum Synced {
    Done(Action),
    /// The budget changed under us (an eviction spent an allowance): look again soon, without
    /// the fail-safe, as upstream does for conflicts.
    Conflict,
}

async fn reconcile(
    pdb: Arc<PodDisruptionBudget>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    match try_sync(&pdb, &ctx).await {
        Ok(Synced::Done(a)) => Ok(a),
        Ok(Synced::Conflict) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(e) => {
            let message = crate::events::error_chain(&e);
            let status = decide::fail_safe(&pdb, &message, Timestamp::now());
            if pdb.status.as_ref() != Some(&status)
                && let Err(write) = write_status(&ctx, &pdb, status).await
            {
                debug!(error = %write, poddisruptionbudget = %pdb.name_any(), "fail-safe status not written");
            }
            Err(e)
        }
    }
}

async fn try_sync(pdb: &PodDisruptionBudget, ctx: &Context) -> Result<Synced, ReconcileError> {
    let ns = pdb.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = pdb.name_any();
    let spec = pdb.spec.clone().unwrap_or_default();
    let on = pdb.object_ref(&());
    // A budget without a selector selects no pods (policy/v1); `{}` selects them all.
    let pods: Vec<Pod> = match spec.selector.as_ref() {
        None => Vec::new(),
        Some(s) => {
            let selector = LabelSelector::from_k8s(Some(s))?;
            ctx.pods.ready().await;
            ctx.pods
                .store()
                .state()
                .iter()
                .filter(|p| {
                    p.metadata.namespace.as_deref() == Some(ns.as_str())
                        && selector.matches(p.labels())
                })
                .map(|p| Pod::clone(p))
                .collect()
        }
    };
    if let Ok(mut counted) = ctx.counted.lock() {
        counted.insert(
            (ns.clone(), name.clone()),
            pods.iter().map(ResourceExt::name_any).collect(),
        );
    }
    if pods.is_empty() {
        ctx.events
            .normal(&on, "NoPods", "Sync", "No matching pods found".into())
            .await;
    }

    let scale = if decide::needs_scale(&spec) {
        match expected_scale(ctx, &ns, &pods, pdb).await {
            Ok(s) => s,
            Err(e) => {
                let note = format!(
                    "Failed to calculate the number of expected pods: {}",
                    crate::events::error_chain(&e)
                );
                ctx.events
                    .warning(&on, "CalculateExpectedPodCountFailed", "Sync", note)
                    .await;
                return Err(e);
            }
        }
    } else {
        0
    };
    let count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    let counts = decide::counts(&spec, count, scale)?;
    let now = Timestamp::now();
    let (disrupted, recheck) = decide::disrupted_pods(pdb, &pods, now);
    let healthy = decide::current_healthy(&pods, &disrupted, now);
    let status = decide::status(pdb, counts, healthy, disrupted, now);
    if pdb.status.as_ref() != Some(&status) {
        match write_status(ctx, pdb, status).await {
            Ok(()) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => return Ok(Synced::Conflict),
            Err(kube::Error::Api(e)) if e.code == 404 => {
                return Ok(Synced::Done(Action::await_change()));
            }
            Err(e) => return Err(ReconcileError::UpdateStatus(e)),
        }
    }
    let next = recheck
        .and_then(|t| std::time::Duration::try_from(t.duration_since(now)).ok())
        .map(|d| d + Duration::from_millis(100))
        .unwrap_or(RESYNC);
    Ok(Synced::Done(Action::requeue(next.min(RESYNC))))
}

/// The sum of the replicas the pods' controllers ask for.
async fn expected_scale(
    ctx: &Context,
    ns: &str,
    pods: &[Pod],
    pdb: &PodDisruptionBudget,
) -> Result<i32, ReconcileError> {
    let found = decide::pod_controllers(pods);
    if !found.unmanaged.is_empty() {
        debug!(pods = ?found.unmanaged, poddisruptionbudget = %pdb.name_any(), "unmanaged pods");
        let selector = pdb
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| LabelSelector::from_k8s(Some(s)).ok())
            .map(|s| s.to_string())
            .unwrap_or_default();
        let note = format!(
            "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
        );
        ctx.events
            .warning(&pdb.object_ref(&()), "UnmanagedPods", "Sync", note)
            .await;
    }
    let mut scales = Vec::new();
    for (r, pod) in found.controllers {
        match controller_scale(ctx, ns, r).await? {
            Some(s) => scales.push(s),
            None => return Err(decide::DecideError::NoController(pod.to_string()).into()),
        }
    }
    Ok(decide::total_scale(&scales))
}

fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
}

fn is_apps(r: &OwnerReference) -> bool {
    matches!(group_of(&r.api_version), "apps" | "extensions")
}

/// The scale of a pod's controller: a ReplicaSet owned by a Deployment counts as that
/// Deployment; anything else by its own scale subresource. `None` when the controller is gone,
/// is another object by now, or has no scale.
async fn controller_scale(
    ctx: &Context,
    ns: &str,
    r: &OwnerReference,
) -> Result<Option<ControllerScale>, ReconcileError> {
    if r.kind == "ReplicaSet" && is_apps(r) {
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), ns);
        let rs = api
            .get_opt(&r.name)
            .await
            .map_err(|source| ReconcileError::ReadScale {
                kind: r.kind.clone(),
                name: r.name.clone(),
                source,
            })?;
        if let Some(rs) = rs
            && rs.metadata.uid.as_deref() == Some(r.uid.as_str())
            && let Some(d) = controller_of(&rs.metadata)
            && d.kind == "Deployment"
            && is_apps(d)
            && let Some(s) = scale_of(ctx, ns, d).await?
        {
            return Ok(Some(s));
        }
    }
    scale_of(ctx, ns, r).await
}

async fn scale_of(
    ctx: &Context,
    ns: &str,
    r: &OwnerReference,
) -> Result<Option<ControllerScale>, ReconcileError> {
    let Some(ar) = resource_for(ctx, r).await? else {
        return Ok(None);
    };
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &ar);
    match api.get_scale(&r.name).await {
        Ok(scale) if scale.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
            Ok(Some(ControllerScale {
                uid: r.uid.clone(),
                replicas: scale.spec.and_then(|s| s.replicas).unwrap_or(0),
            }))
        }
        Ok(_) => Ok(None),
        // Either the object is gone or its kind has no scale: both mean "not a controller".
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
        Err(source) => Err(ReconcileError::ReadScale {
            kind: r.kind.clone(),
            name: r.name.clone(),
            source,
        }),
    }
}

/// The API resource of an owner reference's kind; the workload kinds are known, others are
/// looked up once through discovery. `None` for a kind the server does not serve.
async fn resource_for(
    ctx: &Context,
    r: &OwnerReference,
) -> Result<Option<ApiResource>, ReconcileError> {
    let known = match (group_of(&r.api_version), r.kind.as_str()) {
        ("", "ReplicationController") => Some(ApiResource::erase::<ReplicationController>(&())),
        ("apps" | "extensions", "ReplicaSet") => Some(ApiResource::erase::<ReplicaSet>(&())),
        ("apps" | "extensions", "Deployment") => Some(ApiResource::erase::<Deployment>(&())),
        ("apps", "StatefulSet") => Some(ApiResource::erase::<StatefulSet>(&())),
        _ => None,
    };
    if known.is_some() {
        return Ok(known);
    }
    let key = (r.api_version.clone(), r.kind.clone());
    if let Some(ar) = ctx.kinds.lock().ok().and_then(|k| k.get(&key).cloned()) {
        return Ok(Some(ar));
    }
    let (group, version) = match r.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", r.api_version.as_str()),
    };
    let gvk = GroupVersionKind::gvk(group, version, &r.kind);
    match kube::discovery::pinned_kind(&ctx.client, &gvk).await {
        Ok((ar, _)) => {
            if let Ok(mut k) = ctx.kinds.lock() {
                k.insert(key, ar.clone());
            }
            Ok(Some(ar))
        }
        // A kind the server does not serve controls nothing.
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
        Err(kube::Error::Discovery(_)) => Ok(None),
        Err(e) => Err(ReconcileError::Discovery(r.kind.clone(), e)),
    }
}

/// Replaces the status through the subresource, with the budget's resourceVersion, so an
/// eviction that spent an allowance meanwhile is not overwritten.
async fn write_status(
    ctx: &Context,
    pdb: &PodDisruptionBudget,
    status: PodDisruptionBudgetStatus,
) -> Result<(), kube::Error> {
    let ns = pdb.namespace().unwrap_or_default();
    let api: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &ns);
    let mut obj = pdb.clone();
    obj.status = Some(status);
    api.replace_status(&pdb.name_any(), &PostParams::default(), &obj)
        .await
        .map(|_| ())
}
