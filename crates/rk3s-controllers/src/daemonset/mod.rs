//! DaemonSet controller: one pod per eligible node, pinned there by node affinity for the
//! scheduler to bind, rolled from ControllerRevisions, and the set's status.
//! Entry point: [`run`]; the decisions live in [`nodes`] and [`plan`].

pub mod nodes;
pub mod plan;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::events::Events;
use crate::informers::Informer;
use crate::pods::{self, is_apps};
use crate::replicaset::decide::{self, controller_ref};
use crate::statefulset::history;
use crate::statefulset::revision::HASH_LABEL;

const MANAGER: &str = "daemonset-controller";
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("daemon set has no namespace")]
    NoNamespace,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
    #[error("listing nodes failed")]
    ListNodes(#[source] kube::Error),
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("adopting pod {pod} failed")]
    AdoptPod { pod: String, source: kube::Error },
    #[error("controller revisions")]
    History(#[from] history::HistoryError),
    #[error("cannot build pods")]
    Pod(#[from] nodes::PodError),
    #[error("creating a pod for node {node} failed")]
    CreatePod { node: String, source: kube::Error },
    #[error("deleting pod {pod} failed")]
    DeletePod { pod: String, source: kube::Error },
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

struct Context {
    client: Client,
    events: Events,
}

/// Runs the DaemonSet controller until `shutdown` fires.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let sets: Api<DaemonSet> = Api::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default());
    let store = controller.store();
    let every_set = store.clone();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client: client.clone(),
    });
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            pods::owners_for_pod(
                &store,
                &pod,
                |r| is_apps(r, "DaemonSet"),
                |d: &DaemonSet| {
                    d.spec
                        .as_ref()
                        .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
                },
            )
        })
        // Any node change can change where daemons belong.
        .watches(
            Api::<Node>::all(client),
            watcher::Config::default(),
            move |_node: Node| {
                every_set
                    .state()
                    .iter()
                    .map(|d| ObjectRef::from_obj(d.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(100))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "daemonset reconcile did not complete");
            }
        })
        .await;
}

fn error_policy(ds: Arc<DaemonSet>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, daemonset = %ds.name_any(), "daemonset sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let ns = ds.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = ds.name_any();
    let Some(spec) = ds.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = LabelSelector::from_k8s(Some(&spec.selector))?;
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let uid = ds.uid().unwrap_or_default();
    let deleting = ds.metadata.deletion_timestamp.is_some();
    let node_list = Api::<Node>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(ReconcileError::ListNodes)?
        .items;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods_api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(ReconcileError::ListPods)?
        .items;
    let claim = decide::claim(&uid, &selector, deleting, &listed);
    let mut owned: Vec<Pod> = claim.owned.into_iter().cloned().collect();
    let me = controller_ref("apps/v1", "DaemonSet", &name, &uid);
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
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
            Err(source) => {
                return Err(ReconcileError::AdoptPod {
                    pod: pod_name,
                    source,
                });
            }
        }
    }

    let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let old_status = ds.status.clone().unwrap_or_default();
    let hist = history::sync(
        &revisions_api,
        &me,
        &ns,
        &selector,
        &spec.template,
        old_status.collision_count,
    )
    .await?;
    let update_name = hist.update.name_any();
    let hash = hist
        .update
        .labels()
        .get(HASH_LABEL)
        .cloned()
        .or_else(|| {
            update_name
                .strip_prefix(&format!("{name}-"))
                .map(str::to_string)
        })
        .unwrap_or_default();

    let probe = nodes::template_pod(&spec.template);
    let eligible: Vec<(String, nodes::Eligibility)> = node_list
        .iter()
        .filter_map(|n| Some((n.metadata.name.clone()?, nodes::eligibility(&probe, n))))
        .collect();
    let pod_refs: Vec<&Pod> = owned.iter().collect();
    let rolling = match spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
    {
        Some("OnDelete") => None,
        _ => Some(
            spec.update_strategy
                .as_ref()
                .and_then(|s| s.rolling_update.as_ref())
                .and_then(|r| r.max_unavailable.as_ref()),
        ),
    };
    let view = plan::View {
        nodes: &eligible,
        pods: &pod_refs,
        hash: &hash,
        rolling,
        min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
        now: Timestamp::now(),
    };
    let mut acted = false;
    if !deleting {
        let actions = plan::plan(&view);
        acted = !actions.is_empty();
        let on = ds.object_ref(&());
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        for action in actions {
            match action {
                plan::Action::Create { node } => {
                    let pod = nodes::pod_for(&ds, &spec.template, &node, &hash)?;
                    match pods_api.create(&params, &pod).await {
                        Ok(p) => {
                            let note = format!("Created pod: {}", p.name_any());
                            ctx.events
                                .normal(&on, "SuccessfulCreate", "Create", note)
                                .await;
                        }
                        Err(source) => {
                            let note = format!("Error creating: {source}");
                            ctx.events
                                .warning(&on, "FailedCreate", "Create", note)
                                .await;
                            return Err(ReconcileError::CreatePod { node, source });
                        }
                    }
                }
                plan::Action::Delete { pod } => {
                    match pods_api.delete(&pod, &DeleteParams::default()).await {
                        Ok(_) => {
                            let note = format!("Deleted pod: {pod}");
                            ctx.events
                                .normal(&on, "SuccessfulDelete", "Delete", note)
                                .await;
                        }
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(source) => return Err(ReconcileError::DeletePod { pod, source }),
                    }
                }
            }
        }
    }

    let status = plan::status(&ds, &view, hist.collision_count);
    let mut in_use = BTreeSet::from([update_name.clone()]);
    in_use.extend(owned.iter().filter_map(|p| {
        p.labels()
            .get(crate::statefulset::revision::REVISION_LABEL)
            .map(|h| format!("{name}-{h}"))
    }));
    history::prune(
        &revisions_api,
        &hist.revisions,
        spec.revision_history_limit.unwrap_or(10),
        &in_use,
    )
    .await;
    if ds.status.as_ref() != Some(&status) {
        let sets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
        match sets
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(ReconcileError::UpdateStatus(e)),
        }
    }
    // A ready pod turns available after minReadySeconds without any event: look again then.
    let now = Timestamp::now();
    let availability = owned
        .iter()
        .filter_map(|p| crate::pods::until_available(p, spec.min_ready_seconds.unwrap_or(0), now))
        .min()
        .map(|d| d + Duration::from_millis(100));
    let next = if acted {
        Duration::from_secs(2)
    } else {
        RESYNC
    };
    Ok(Action::requeue(availability.map_or(next, |a| a.min(next))))
}
