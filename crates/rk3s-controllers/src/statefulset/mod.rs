//! StatefulSet controller: pods `<set>-<ordinal>` with stable names and claims, created and
//! removed in order (or in parallel), rolled from ControllerRevisions, and the set's status.
//! Entry point: [`run`]; the decisions live in [`plan`] and [`revision`].

pub mod history;
pub mod plan;
pub mod revision;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use self::plan::{Settings, Step};
use crate::events::Events;
use crate::informers::Informer;
use crate::pods::{self, is_apps};
use crate::replicaset::decide::{self, controller_ref};

/// Field manager recorded on everything this controller writes.
const MANAGER: &str = "statefulset-controller";
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("stateful set has no namespace")]
    NoNamespace,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("adopting pod {pod} failed")]
    AdoptPod { pod: String, source: kube::Error },
    #[error("controller revisions")]
    History(#[from] history::HistoryError),
    #[error("cannot build pods")]
    Plan(#[from] plan::PlanError),
    #[error("creating claim {claim} failed")]
    CreateClaim { claim: String, source: kube::Error },
    #[error("creating pod {pod} failed")]
    CreatePod { pod: String, source: kube::Error },
    #[error("deleting pod {pod} failed")]
    DeletePod { pod: String, source: kube::Error },
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

struct Context {
    client: Client,
    events: Events,
}

/// Runs the StatefulSet controller until `shutdown` fires.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
    });
    controller
        .watches_shared_stream(pods.subscribe(), move |pod| {
            pods::owners_for_pod(
                &store,
                &pod,
                |r| is_apps(r, "StatefulSet"),
                |s: &StatefulSet| {
                    s.spec
                        .as_ref()
                        .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
                },
            )
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
                debug!(error = %e, "statefulset reconcile did not complete");
            }
        })
        .await;
}

fn error_policy(sts: Arc<StatefulSet>, error: &ReconcileError, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, statefulset = %sts.name_any(), "statefulset sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(sts: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let ns = sts.namespace().ok_or(ReconcileError::NoNamespace)?;
    let name = sts.name_any();
    let Some(spec) = sts.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = LabelSelector::from_k8s(Some(&spec.selector))?;
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let uid = sts.uid().unwrap_or_default();
    let deleting = sts.metadata.deletion_timestamp.is_some();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods_api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(ReconcileError::ListPods)?
        .items;
    let claim = decide::claim(&uid, &selector, deleting, &listed);
    let mut owned: Vec<Pod> = claim.owned.into_iter().cloned().collect();
    let me = controller_ref("apps/v1", "StatefulSet", &name, &uid);
    for orphan in claim.adopt {
        let pod_name = orphan.name_any();
        // Only pods that look like members can be members.
        if plan::ordinal_of(&name, &pod_name).is_none() {
            continue;
        }
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
    let old_status = sts.status.clone().unwrap_or_default();
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
    let current = old_status
        .current_revision
        .as_deref()
        .and_then(|c| hist.revisions.iter().find(|r| r.name_any() == c))
        .unwrap_or(&hist.update)
        .clone();
    let current_name = current.name_any();

    let settings = Settings::of(&sts);
    let members: Vec<(i32, &Pod)> = owned
        .iter()
        .filter_map(|p| Some((plan::ordinal_of(&name, p.metadata.name.as_deref()?)?, p)))
        .collect();
    let mut acted = false;
    if !deleting {
        let steps = plan::plan(&settings, &members, &current_name, &update_name);
        acted = !steps.is_empty();
        for step in steps {
            match step {
                Step::Create {
                    ordinal,
                    current: at_current,
                } => {
                    let (template, rev) = match (at_current, revision::template_of(&current)) {
                        (true, Some(t)) => (t, current_name.as_str()),
                        _ => (spec.template.clone(), update_name.as_str()),
                    };
                    create_member(&ctx, &sts, &template, ordinal, rev).await?;
                }
                Step::Delete {
                    name: pod,
                    ordinal,
                    condemned,
                } => {
                    if condemned && settings.delete_claims_on_scale_down {
                        hand_claims_to_pod(&ctx, &sts, &members, ordinal).await;
                    }
                    match pods_api.delete(&pod, &DeleteParams::default()).await {
                        Ok(_) => {
                            let note = format!("delete Pod {pod} in StatefulSet {name} successful");
                            ctx.events
                                .normal(&sts.object_ref(&()), "SuccessfulDelete", "Delete", note)
                                .await;
                        }
                        Err(kube::Error::Api(e)) if e.code == 404 => {}
                        Err(source) => return Err(ReconcileError::DeletePod { pod, source }),
                    }
                }
            }
        }
    }

    let active: Vec<&Pod> = owned.iter().filter(|p| pods::is_active(p)).collect();
    let now = Timestamp::now();
    let status = plan::status(
        &sts,
        &settings,
        &active,
        &current_name,
        &update_name,
        hist.collision_count,
        now,
    );
    let mut in_use: BTreeSet<String> = BTreeSet::from([current_name.clone(), update_name.clone()]);
    if let Some(c) = status.current_revision.clone() {
        in_use.insert(c);
    }
    in_use.extend(
        owned
            .iter()
            .filter_map(|p| plan::revision_of(p).map(str::to_string)),
    );
    history::prune(
        &revisions_api,
        &hist.revisions,
        spec.revision_history_limit.unwrap_or(10),
        &in_use,
    )
    .await;
    if sts.status.as_ref() != Some(&status) {
        let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
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
    // Pod events drive the next step; a short requeue covers what they might miss right after
    // our own writes.
    // A ready pod turns available after minReadySeconds without any event: look again then.
    let now = Timestamp::now();
    let availability = owned
        .iter()
        .filter_map(|p| crate::pods::until_available(p, settings.min_ready_seconds, now))
        .min()
        .map(|d| d + Duration::from_millis(100));
    let next = if acted {
        Duration::from_secs(2)
    } else {
        RESYNC
    };
    Ok(Action::requeue(availability.map_or(next, |a| a.min(next))))
}

/// Creates the claims of an ordinal (those that exist are kept) and then its pod.
async fn create_member(
    ctx: &Context,
    sts: &StatefulSet,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    ordinal: i32,
    revision: &str,
) -> Result<(), ReconcileError> {
    let ns = sts.namespace().unwrap_or_default();
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let on = sts.object_ref(&());
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for c in plan::claims_for(sts, ordinal)? {
        let claim = c.name_any();
        match claims_api.create(&params, &c).await {
            Ok(_) => {
                let note = format!(
                    "create Claim {claim} Pod {}-{ordinal} in StatefulSet {} success",
                    sts.name_any(),
                    sts.name_any()
                );
                ctx.events
                    .normal(&on, "SuccessfulCreate", "Create", note)
                    .await;
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(source) => {
                ctx.events
                    .warning(
                        &on,
                        "FailedCreate",
                        "Create",
                        format!("create Claim {claim} failed: {source}"),
                    )
                    .await;
                return Err(ReconcileError::CreateClaim { claim, source });
            }
        }
    }
    let pod = plan::pod_for(sts, template, ordinal, revision)?;
    let pod_name = pod.name_any();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match pods_api.create(&params, &pod).await {
        Ok(_) => {
            let note = format!(
                "create Pod {pod_name} in StatefulSet {} successful",
                sts.name_any()
            );
            ctx.events
                .normal(&on, "SuccessfulCreate", "Create", note)
                .await;
            Ok(())
        }
        // Still terminating from a previous life: the next sync creates it.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(source) => {
            ctx.events
                .warning(
                    &on,
                    "FailedCreate",
                    "Create",
                    format!("create Pod {pod_name} failed: {source}"),
                )
                .await;
            Err(ReconcileError::CreatePod {
                pod: pod_name,
                source,
            })
        }
    }
}

/// With `whenScaled: Delete`, the claims of a condemned pod get the pod as owner, so the
/// garbage collector removes them with it. Best effort: a claim left behind is only retained.
async fn hand_claims_to_pod(
    ctx: &Context,
    sts: &StatefulSet,
    members: &[(i32, &Pod)],
    ordinal: i32,
) {
    let Some(pod) = members.iter().find(|(o, _)| *o == ordinal).map(|(_, p)| *p) else {
        return;
    };
    let (Some(pod_name), Some(pod_uid)) =
        (pod.metadata.name.as_deref(), pod.metadata.uid.as_deref())
    else {
        return;
    };
    let Ok(claims) = plan::claims_for(sts, ordinal) else {
        return;
    };
    let ns = sts.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for c in claims {
        let claim = c.name_any();
        let Ok(Some(live)) = api.get_opt(&claim).await else {
            continue;
        };
        let mut refs = live.metadata.owner_references.clone().unwrap_or_default();
        if refs.iter().any(|r| r.uid == pod_uid) {
            continue;
        }
        let mut r = controller_ref("v1", "Pod", pod_name, pod_uid);
        r.controller = Some(false);
        refs.push(r);
        let patch = json!({"metadata": {
            "ownerReferences": refs,
            "resourceVersion": live.resource_version(),
        }});
        if let Err(e) = api
            .patch(&claim, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            debug!(error = %e, claim = %claim, "handing a claim to its pod failed");
        }
    }
}
