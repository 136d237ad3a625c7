//! Garbage collector: deletes objects whose owners are all gone and carries out the `orphan` and
//! `foregroundDeletion` finalizers. Entry point: [`run`]; decisions live in [`decide`].
//!
//! It mirrors a fixed set of resource types (those of [`default_resources`] the server serves)
//! with reflectors, finds candidates there, and checks every owner it believes gone with a live
//! read before acting, so a lagging watch never deletes a healthy object.

pub mod decide;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::core::PartialObjectMeta;
use kube::discovery::Scope;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::decide::{DependentAction, DependentRef, OwnerAction, OwnerState, Propagation};

/// A full pass even without events, as a safety net for anything a watch missed.
const RESYNC: Duration = Duration::from_secs(30);
/// How long start-up waits for each mirror's first list.
const INITIAL_SYNC: Duration = Duration::from_secs(30);
/// Events arrive in bursts (a deletion cascades); one pass handles a burst.
const DEBOUNCE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("discovering resource {0} failed")]
    Discovery(String, #[source] kube::Error),
}

/// The resource types whose objects commonly have owners or are owners.
pub fn default_resources() -> Vec<GroupVersionKind> {
    [
        ("", "v1", "Pod"),
        ("", "v1", "ConfigMap"),
        ("", "v1", "Secret"),
        ("", "v1", "Service"),
        ("", "v1", "Endpoints"),
        ("", "v1", "PersistentVolumeClaim"),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "ReplicationController"),
        ("apps", "v1", "ReplicaSet"),
        ("apps", "v1", "Deployment"),
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "DaemonSet"),
        ("apps", "v1", "ControllerRevision"),
        ("batch", "v1", "Job"),
        ("batch", "v1", "CronJob"),
        ("discovery.k8s.io", "v1", "EndpointSlice"),
    ]
    .into_iter()
    .map(|(g, v, k)| GroupVersionKind::gvk(g, v, k))
    .collect()
}

/// A mirrored resource type.
struct Mirror {
    ar: ApiResource,
    namespaced: bool,
    store: Store<PartialObjectMeta<DynamicObject>>,
}

/// Runs the collector over `resources` (those the server does not serve are skipped) until
/// `shutdown` fires.
pub async fn run(client: Client, resources: Vec<GroupVersionKind>, shutdown: CancellationToken) {
    let notify = Arc::new(Notify::new());
    let mut mirrors = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for gvk in resources {
        let found = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = kube::discovery::pinned_kind(&client, &gvk) => r,
        };
        let (ar, caps) = match found {
            Ok(x) => x,
            Err(e) => {
                debug!(error = %GcError::Discovery(gvk.kind.clone(), e), "resource not collected");
                continue;
            }
        };
        if !caps.supports_operation("watch") || !caps.supports_operation("list") {
            continue;
        }
        let writer = reflector::store::Writer::new(ar.clone());
        let reader = writer.as_reader();
        let meta_api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &ar);
        // Only metadata matters here: owners, finalizers, uids. The server sends just that.
        let stream = reflector::reflector(
            writer,
            watcher(meta_api, watcher::Config::default())
                .default_backoff()
                .modify(|o| o.metadata.managed_fields = None),
        );
        let n = notify.clone();
        tasks.spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(ev) = stream.next().await {
                if ev.is_ok() {
                    n.notify_one();
                }
            }
        });
        mirrors.push(Mirror {
            ar,
            namespaced: caps.scope == Scope::Namespaced,
            store: reader,
        });
    }
    for m in &mirrors {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            // A type whose list keeps failing must not hold up the others: every owner the
            // mirrors miss is read live before anything is deleted anyway.
            _ = tokio::time::timeout(INITIAL_SYNC, m.store.wait_until_ready()) => {}
        }
    }
    info!(resources = mirrors.len(), "garbage collector started");
    let mut gc = Collector {
        client,
        mirrors,
        kinds: HashMap::new(),
    };
    loop {
        gc.pass().await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = notify.notified() => {}
            _ = tokio::time::sleep(RESYNC) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(DEBOUNCE) => {}
        }
    }
    tasks.abort_all();
}

struct Collector {
    client: Client,
    mirrors: Vec<Mirror>,
    /// Owner kinds resolved through discovery: `(apiVersion, kind)` to resource and scope.
    kinds: HashMap<(String, String), (ApiResource, bool)>,
}

/// One object seen in a mirror.
struct Seen {
    mirror: usize,
    obj: Arc<PartialObjectMeta<DynamicObject>>,
}

impl Collector {
    async fn pass(&mut self) {
        let mut seen: Vec<Seen> = Vec::new();
        for (i, m) in self.mirrors.iter().enumerate() {
            seen.extend(
                m.store
                    .state()
                    .into_iter()
                    .map(|obj| Seen { mirror: i, obj }),
            );
        }
        // Keyed by borrowed uids: a pass runs every few hundred milliseconds under churn, over
        // every pod of the cluster, so it copies nothing it does not act on.
        let mut by_uid: HashMap<&str, usize> = HashMap::with_capacity(seen.len());
        let mut dependents: HashMap<&str, Vec<(usize, &OwnerReference)>> = HashMap::new();
        for (i, s) in seen.iter().enumerate() {
            if let Some(uid) = s.obj.metadata.uid.as_deref() {
                by_uid.insert(uid, i);
            }
            for r in s.obj.owner_references() {
                dependents.entry(r.uid.as_str()).or_default().push((i, r));
            }
        }

        for s in &seen {
            let Some(uid) = s.obj.metadata.uid.clone() else {
                continue;
            };
            let deps = dependents
                .get(uid.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let refs: Vec<DependentRef> = deps
                .iter()
                .map(|(_, r)| DependentRef {
                    blocks: r.block_owner_deletion == Some(true),
                })
                .collect();
            match decide::owner_action(&s.obj.metadata, &refs) {
                OwnerAction::Nothing => {}
                OwnerAction::UnlinkDependents => {
                    for (d, _) in deps {
                        let dep = &seen[*d];
                        let left =
                            decide::without_refs(&dep.obj.metadata, std::slice::from_ref(&uid));
                        self.patch_refs(dep, left).await;
                    }
                }
                OwnerAction::RemoveFinalizer(f) => {
                    let left = decide::without_finalizer(&s.obj.metadata, f);
                    let patch = json!({"metadata": {"finalizers": left, "resourceVersion": s.obj.resource_version()}});
                    self.patch(s, &patch).await;
                }
            }
        }

        // Live owner checks are cached for the pass: one read per owner, not per dependent.
        let mut verified: HashMap<String, OwnerState> = HashMap::new();
        for s in &seen {
            let refs = s.obj.owner_references();
            if refs.is_empty() || s.obj.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let ns = s.obj.namespace();
            let mut states: HashMap<&str, OwnerState> = HashMap::new();
            for r in refs {
                let st = match by_uid.get(r.uid.as_str()) {
                    Some(i) => decide::state_of_live_owner(&seen[*i].obj.metadata),
                    None => match verified.get(&r.uid) {
                        Some(st) => *st,
                        None => {
                            let st = self
                                .verify_owner(r, ns.as_deref(), self.mirrors[s.mirror].namespaced)
                                .await;
                            verified.insert(r.uid.clone(), st);
                            st
                        }
                    },
                };
                states.insert(r.uid.as_str(), st);
            }
            let has_dependents = s
                .obj
                .metadata
                .uid
                .as_deref()
                .is_some_and(|u| dependents.contains_key(u));
            let action = decide::dependent_action(&s.obj.metadata, has_dependents, |r| {
                states
                    .get(r.uid.as_str())
                    .copied()
                    .unwrap_or(OwnerState::Unknown)
            });
            match action {
                DependentAction::Keep => {}
                DependentAction::RemoveRefs(uids) => {
                    let left = decide::without_refs(&s.obj.metadata, &uids);
                    self.patch_refs(s, left).await;
                }
                DependentAction::Delete(p) => self.delete(s, p).await,
            }
        }
    }

    /// Reads an owner the mirrors do not show. Only a definite "not found" (or another uid under
    /// that name) makes it absent.
    async fn verify_owner(
        &mut self,
        r: &OwnerReference,
        ns: Option<&str>,
        dependent_namespaced: bool,
    ) -> OwnerState {
        let key = (r.api_version.clone(), r.kind.clone());
        let resolved = match self.kinds.get(&key) {
            Some(x) => Some(x.clone()),
            None => {
                let (group, version) = match r.api_version.split_once('/') {
                    Some((g, v)) => (g.to_string(), v.to_string()),
                    None => (String::new(), r.api_version.clone()),
                };
                let gvk = GroupVersionKind::gvk(&group, &version, &r.kind);
                match kube::discovery::pinned_kind(&self.client, &gvk).await {
                    Ok((ar, caps)) => {
                        let v = (ar, caps.scope == Scope::Namespaced);
                        self.kinds.insert(key, v.clone());
                        Some(v)
                    }
                    // An owner kind the server does not know cannot exist.
                    Err(kube::Error::Api(e)) if e.code == 404 => return OwnerState::Absent,
                    Err(_) => None,
                }
            }
        };
        let Some((ar, owner_namespaced)) = resolved else {
            return OwnerState::Unknown;
        };
        let api: Api<DynamicObject> = match (owner_namespaced, ns) {
            (true, Some(ns)) if dependent_namespaced => {
                Api::namespaced_with(self.client.clone(), ns, &ar)
            }
            // A cluster-scoped dependent cannot have a namespaced owner.
            (true, _) => return OwnerState::Absent,
            (false, _) => Api::all_with(self.client.clone(), &ar),
        };
        match api.get_opt(&r.name).await {
            Ok(Some(o)) if o.uid().as_deref() == Some(r.uid.as_str()) => {
                decide::state_of_live_owner(&o.metadata)
            }
            Ok(_) => OwnerState::Absent,
            Err(e) => {
                debug!(error = %e, owner = %r.name, "owner lookup failed");
                OwnerState::Unknown
            }
        }
    }

    fn api_for(&self, s: &Seen) -> Api<DynamicObject> {
        let m = &self.mirrors[s.mirror];
        match s.obj.metadata.namespace.as_deref() {
            Some(ns) if m.namespaced => Api::namespaced_with(self.client.clone(), ns, &m.ar),
            _ => Api::all_with(self.client.clone(), &m.ar),
        }
    }

    async fn delete(&self, s: &Seen, p: Propagation) {
        let policy = match p {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        };
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: s.obj.uid(),
                resource_version: None,
            }),
            ..Default::default()
        };
        let name = s.obj.name_any();
        match self.api_for(s).delete(&name, &params).await {
            Ok(_) => {
                debug!(kind = %self.mirrors[s.mirror].ar.kind, object = %name, policy = p.as_str(), "collected")
            }
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => warn!(error = %e, object = %name, "garbage collection delete failed"),
        }
    }

    async fn patch_refs(&self, s: &Seen, refs: Vec<OwnerReference>) {
        let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": s.obj.resource_version()}});
        self.patch(s, &patch).await;
    }

    async fn patch(&self, s: &Seen, patch: &serde_json::Value) {
        let name = s.obj.name_any();
        match self
            .api_for(s)
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            // Changed or gone meanwhile: the next pass sees the new state.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => warn!(error = %e, object = %name, "garbage collection update failed"),
        }
    }
}
