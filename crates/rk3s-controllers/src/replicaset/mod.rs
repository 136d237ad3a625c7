//! ReplicaSet controller: keeps `spec.replicas` pods of the template alive and reports status.
//! The sync is written once for every kind that works this way ([`ReplicaOwner`]): ReplicaSets
//! here, ReplicationControllers in [`crate::replicationcontroller`]. Entry points: [`run`] and
//! [`run_replicas`]; the decisions live in [`decide`].

pub mod decide;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::names;
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use self::decide::ScaleAction;
use crate::events::Events;
use crate::expectations::{Cached, Expectations, Key};
use crate::informers::Informer;
use crate::pods;

/// Re-examine every object this often even without events, as upstream's resync does.
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("object has no namespace")]
    NoNamespace,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
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

/// A kind that keeps `replicas` pods of a template, as a ReplicaSet does: what the shared sync
/// needs to know of it. The decisions of [`decide`] read it through its ReplicaSet view.
pub trait ReplicaOwner:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The `apiVersion` and `kind` of its pods' controller references.
    const API_VERSION: &'static str;
    const KIND: &'static str;
    /// Field manager and event reporter of its controller.
    const MANAGER: &'static str;
    type Status: Serialize + PartialEq + Send;

    /// The pods it selects; `None` when it has no spec (nothing to do).
    fn selector(&self) -> Option<Result<LabelSelector, LabelSelectorError>>;
    /// It seen as a ReplicaSet: identity, replicas, minReadySeconds, template and status.
    fn as_replica_set(&self) -> Cow<'_, ReplicaSet>;
    /// A new pod from its template, controlled by it, named by `generateName` only.
    fn pod_from_template(&self) -> Result<Pod, decide::DecideError>;
    /// The status it reports now.
    fn current_status(&self) -> Option<&Self::Status>;
    /// The status to report, from the one computed for its ReplicaSet view.
    fn status_from(status: ReplicaSetStatus) -> Self::Status;
}

impl ReplicaOwner for ReplicaSet {
    const API_VERSION: &'static str = "apps/v1";
    const KIND: &'static str = "ReplicaSet";
    const MANAGER: &'static str = "replicaset-controller";
    type Status = ReplicaSetStatus;

    fn selector(&self) -> Option<Result<LabelSelector, LabelSelectorError>> {
        let spec = self.spec.as_ref()?;
        Some(LabelSelector::from_k8s(Some(&spec.selector)))
    }

    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        Cow::Borrowed(self)
    }

    fn pod_from_template(&self) -> Result<Pod, decide::DecideError> {
        decide::pod_from_template(self)
    }

    fn current_status(&self) -> Option<&ReplicaSetStatus> {
        self.status.as_ref()
    }

    fn status_from(status: ReplicaSetStatus) -> ReplicaSetStatus {
        status
    }
}

/// Runs the ReplicaSet controller until `shutdown` fires; pods come from the shared `pods` cache.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    run_replicas::<ReplicaSet>(client, pods, concurrency, instance, shutdown).await;
}

struct Context {
    client: Client,
    events: Events,
    pods: Informer<Pod>,
    expectations: Expectations,
    /// Pods an object controls but no longer selects (their labels changed), by `(namespace,
    /// name)`: the pod watch notices them, the object's next sync releases them. Selecting by
    /// labels alone would never see them again.
    strays: Mutex<HashMap<Key, BTreeSet<String>>>,
}

/// Runs a controller over every object of kind `K` until `shutdown` fires, with its own
/// expectations; pods come from the shared `pods` cache.
pub async fn run_replicas<K: ReplicaOwner>(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let owners: Api<K> = Api::all(client.clone());
    let controller = Controller::new(owners, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), K::MANAGER, instance),
        client,
        pods: pods.clone(),
        expectations: Expectations::new(),
        strays: Mutex::new(HashMap::new()),
    });
    let mapper_ctx = ctx.clone();
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            if let Some(r) = decide::controller_of(&pod.metadata)
                && refers_to::<K>(r)
            {
                let key = (pod.namespace().unwrap_or_default(), r.name.clone());
                mapper_ctx.expectations.observed(&key, &pod.name_any());
            }
            note_stray(&mapper_ctx, &store, &pod);
            pods::owners_for_pod(&store, &pod, refers_to::<K>, |o: &K| o.selector()?.ok())
        })
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(50))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, kind = K::KIND, "reconcile did not complete");
            }
        })
        .await;
}

fn api_group(api_version: &str) -> &str {
    api_version.split_once('/').map(|(g, _)| g).unwrap_or("")
}

/// Whether an owner reference names an object of kind `K` (any version of its group).
fn refers_to<K: ReplicaOwner>(r: &OwnerReference) -> bool {
    r.kind == K::KIND && api_group(&r.api_version) == api_group(K::API_VERSION)
}

/// Remembers a pod its controlling object no longer selects, for that object's next sync.
fn note_stray<K: ReplicaOwner>(ctx: &Context, store: &Store<K>, pod: &Pod) {
    let Some(r) = decide::controller_of(&pod.metadata) else {
        return;
    };
    if !refers_to::<K>(r) || pod.metadata.deletion_timestamp.is_some() {
        return;
    }
    let ns = pod.namespace().unwrap_or_default();
    let Some(owner) = store.get(&ObjectRef::new(&r.name).within(&ns)) else {
        return;
    };
    let Some(Ok(selector)) = owner.selector() else {
        return;
    };
    if decide::should_release(pod, &owner.uid().unwrap_or_default(), &selector)
        && let Ok(mut strays) = ctx.strays.lock()
    {
        strays
            .entry((ns, r.name.clone()))
            .or_default()
            .insert(pod.name_any());
    }
}

fn error_policy<K: ReplicaOwner>(
    obj: Arc<K>,
    error: &ReconcileError,
    _ctx: Arc<Context>,
) -> Action {
    warn!(error = %crate::events::error_chain(error), kind = K::KIND, name = %obj.name_any(), "sync failed");
    Action::requeue(Duration::from_secs(5))
}

/// The merge patch writing `status`. A merge patch keeps what it does not mention, so absent
/// conditions are sent as an explicit null to clear them.
fn status_patch(status: &impl Serialize) -> serde_json::Value {
    let mut body = serde_json::to_value(status).unwrap_or_default();
    if body.get("conditions").is_none() {
        body["conditions"] = serde_json::Value::Null;
    }
    json!({ "status": body })
}

async fn reconcile<K: ReplicaOwner>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = obj.name_any();
    let Some(selector) = obj.selector() else {
        return Ok(Action::await_change());
    };
    let selector = selector?;
    // An object selecting everything would claim every pod in the namespace; upstream refuses too.
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let view = obj.as_replica_set();
    let replicas = view.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let uid = obj.uid().unwrap_or_default();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let key = (ns.clone(), name.clone());
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.pods.ready().await;
    let strays_left = release_strays(&ctx, &pods_api, &key, &uid, &selector).await;
    let cached = ctx.pods.store().state();
    let listed = cached.iter().map(AsRef::as_ref).filter(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
            && p.metadata
                .labels
                .as_ref()
                .is_some_and(|l| selector.matches(l))
    });
    let claim = decide::claim(&uid, &selector, deleting, listed);
    // Only adopted pods are copies (the API's answer); the rest are read in place in the cache,
    // which holds every pod of a 10,000-replica set.
    let mut adopted: Vec<Pod> = Vec::new();
    let me = decide::controller_ref(K::API_VERSION, K::KIND, &name, &uid);
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
            Ok(p) => adopted.push(p),
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
    let active: Vec<&Pod> = claim
        .owned
        .iter()
        .copied()
        .chain(adopted.iter())
        .filter(|p| pods::is_active(p))
        .collect();
    // The cache may not show our last creations and deletions yet; scaling on it would repeat
    // them. The pods' watch events wake this object again once it does.
    let in_sync = ctx.expectations.satisfied(&key, |pod| {
        match ctx.pods.store().get(&ObjectRef::new(pod).within(&ns)) {
            None => Cached::Absent,
            Some(p) if p.metadata.deletion_timestamp.is_some() => Cached::Terminating,
            Some(_) => Cached::Present,
        }
    });
    let mut create_error = None;
    if !deleting && in_sync {
        match decide::scale_action(replicas, &active, now) {
            ScaleAction::Nothing => {}
            ScaleAction::Create(n) => {
                create_error = create_pods(&ctx, &pods_api, obj.as_ref(), &key, n)
                    .await
                    .err();
            }
            ScaleAction::Delete(names) => {
                delete_pods(&ctx, &pods_api, obj.as_ref(), &key, names).await?;
            }
        }
    }

    let mut status = decide::status(&view, &active, now);
    let failure = create_error.as_ref().map(|e| match e {
        ReconcileError::CreatePod(kube::Error::Api(resp)) => resp.message.clone(),
        other => other.to_string(),
    });
    decide::set_replica_failure(&mut status, failure.as_deref(), now);
    let status = K::status_from(status);
    if obj.current_status() != Some(&status) {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(status_patch(&status)),
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
        decide::next_availability_check(&view, &active, now)
            .map(|d| d + Duration::from_millis(100))
            .unwrap_or(RESYNC)
    };
    Ok(Action::requeue(next))
}

/// Drops the controller reference of `uid` from the pods of `key` it no longer selects, as
/// upstream does, so that deleting the owner later leaves them alone. The pods are read from
/// the cache: the patch carries their resourceVersion, so a stale copy only fails and is
/// retried. Returns whether some are left for a retry.
async fn release_strays(
    ctx: &Context,
    api: &Api<Pod>,
    key: &Key,
    uid: &str,
    selector: &LabelSelector,
) -> bool {
    let names = match ctx.strays.lock() {
        Ok(mut s) => s.remove(key).unwrap_or_default(),
        Err(_) => return false,
    };
    let mut left = false;
    for name in names {
        let Some(pod) = ctx.pods.store().get(&ObjectRef::new(&name).within(&key.0)) else {
            continue;
        };
        if !decide::should_release(&pod, uid, selector) {
            continue;
        }
        let patch = json!({"metadata": {
            "ownerReferences": decide::released_refs(&pod, uid),
            "resourceVersion": pod.resource_version(),
        }});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => debug!(pod = %name, owner = %key.1, "released pod"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                debug!(error = %e, pod = %name, "releasing pod failed");
                if let Ok(mut s) = ctx.strays.lock() {
                    s.entry(key.clone()).or_default().insert(name);
                }
                left = true;
            }
        }
    }
    left
}

/// Deletes `names` (at most [`decide::BURST_REPLICAS`], as [`decide::scale_action`] chose).
async fn delete_pods(
    ctx: &Context,
    api: &Api<Pod>,
    owner: &impl Resource<DynamicType = ()>,
    key: &Key,
    names: Vec<String>,
) -> Result<(), ReconcileError> {
    ctx.expectations.expect_deletes(key, names.iter().cloned());
    let on = owner.object_ref(&());
    for pod in names {
        match api.delete(&pod, &DeleteParams::default()).await {
            Ok(_) => {
                let note = format!("Deleted pod: {pod}");
                ctx.events
                    .normal(&on, "SuccessfulDelete", "Delete", note)
                    .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                ctx.expectations.cancel(key, &pod);
                return Err(ReconcileError::DeletePod { pod, source });
            }
        }
    }
    Ok(())
}

/// Creates `n` pods (at most [`decide::BURST_REPLICAS`], as [`decide::scale_action`] chose) in
/// batches of 1, 2, 4, … so a template the API rejects fails once, not `n` times. Pods are
/// named here (as the API would from `generateName`) so that the expectations know them before
/// the watch does.
async fn create_pods<K: ReplicaOwner>(
    ctx: &Context,
    api: &Api<Pod>,
    owner: &K,
    key: &Key,
    n: usize,
) -> Result<(), ReconcileError> {
    let mut pod = owner.pod_from_template()?;
    let prefix = pod.metadata.generate_name.clone().unwrap_or_default();
    let params = PostParams {
        field_manager: Some(K::MANAGER.into()),
        ..Default::default()
    };
    let mut remaining = n;
    let mut batch = 1;
    let on = owner.object_ref(&());
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetCondition;
    use k8s_openapi::api::core::v1::ReplicationController;

    fn owner(api_version: &str, kind: &str) -> OwnerReference {
        decide::controller_ref(api_version, kind, "web", "uid")
    }

    #[test]
    fn owner_references_match_by_kind_and_group_not_version() {
        assert!(refers_to::<ReplicaSet>(&owner("apps/v1", "ReplicaSet")));
        assert!(refers_to::<ReplicaSet>(&owner(
            "apps/v1beta2",
            "ReplicaSet"
        )));
        assert!(!refers_to::<ReplicaSet>(&owner("v1", "ReplicaSet")));
        assert!(!refers_to::<ReplicaSet>(&owner(
            "example.com/v1",
            "ReplicaSet"
        )));
        assert!(!refers_to::<ReplicaSet>(&owner(
            "v1",
            "ReplicationController"
        )));
        assert!(refers_to::<ReplicationController>(&owner(
            "v1",
            "ReplicationController"
        )));
        assert!(!refers_to::<ReplicationController>(&owner(
            "apps/v1",
            "ReplicationController"
        )));
        assert!(!refers_to::<ReplicationController>(&owner("", "")));
    }

    #[test]
    fn a_status_without_conditions_clears_them_explicitly() {
        let patch = status_patch(&ReplicaSetStatus {
            replicas: 2,
            ..Default::default()
        });
        assert_eq!(patch["status"]["replicas"], 2);
        assert!(
            patch["status"]
                .as_object()
                .is_some_and(|s| s.get("conditions") == Some(&serde_json::Value::Null))
        );
    }

    #[test]
    fn a_status_with_conditions_sends_them() {
        let patch = status_patch(&ReplicaSetStatus {
            conditions: Some(vec![ReplicaSetCondition {
                type_: decide::REPLICA_FAILURE.into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(
            patch["status"]["conditions"][0]["type"],
            decide::REPLICA_FAILURE
        );
    }

    #[test]
    fn a_replica_set_without_spec_has_no_selector_and_a_bad_one_is_an_error() {
        let mut rs = ReplicaSet::default();
        assert!(rs.selector().is_none());
        let mut spec = k8s_openapi::api::apps::v1::ReplicaSetSpec::default();
        spec.selector.match_labels = Some([("not a key!".into(), "v".into())].into());
        rs.spec = Some(spec);
        assert!(matches!(rs.selector(), Some(Err(_))));
    }
}
