//! Job controller: runs a Job's pods to completion (completions, parallelism, Indexed mode),
//! fails it on backoffLimit or activeDeadlineSeconds, honours suspend, deletes it after
//! ttlSecondsAfterFinished and reports status. Entry point: [`run`]; decisions in [`decide`].
//!
//! rk3s's API server does not generate `spec.selector` and the pod-template labels at create
//! time as upstream's does, and validation makes both immutable afterwards, so a Job without a
//! selector is treated as selecting `batch.kubernetes.io/controller-uid=<uid>` and every pod gets
//! the controller-uid and job-name labels (current and legacy keys) when it is created.

pub mod decide;
pub mod indexes;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::events::Events;
use crate::informers::Informer;
use crate::replicaset::decide::{adopted_refs, claim, controller_ref};

/// Field manager recorded on everything this controller writes.
const MANAGER: &str = "job-controller";
/// Re-examine every job this often even without events.
const RESYNC: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("job has no namespace")]
    NoNamespace,
    #[error("cannot decide")]
    Decide(#[from] decide::DecideError),
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("adopting pod {pod} failed")]
    AdoptPod { pod: String, source: kube::Error },
    #[error("creating a pod failed")]
    CreatePod(#[source] kube::Error),
    #[error("deleting pod {pod} failed")]
    DeletePod { pod: String, source: kube::Error },
    #[error("deleting the finished job failed")]
    DeleteJob(#[source] kube::Error),
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

struct Context {
    client: Client,
    events: Events,
}

/// Runs the Job controller until `shutdown` fires.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    let jobs: Api<Job> = Api::all(client.clone());
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
    });
    Controller::new(jobs, watcher::Config::default())
        .watches_shared_stream(pods.subscribe(), |pod| {
            pod.owner_references()
                .iter()
                .filter(|r| r.controller == Some(true) && r.kind == "Job")
                .map(|r| {
                    kube::runtime::reflector::ObjectRef::new(&r.name)
                        .within(&pod.namespace().unwrap_or_default())
                })
                .collect::<Vec<_>>()
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
                debug!(error = %e, "job reconcile did not complete");
            }
        })
        .await;
}

fn error_policy(job: Arc<Job>, error: &SyncError, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, job = %job.name_any(), "job sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    if job.metadata.deletion_timestamp.is_some() || decide::managed_elsewhere(&job) {
        return Ok(Action::await_change());
    }
    let ns = job.namespace().ok_or(SyncError::NoNamespace)?;
    let name = job.name_any();
    let uid = job.uid().unwrap_or_default();
    let selector = decide::selector(&job)?;
    // A job selecting everything would claim every pod in the namespace.
    if selector.is_everything() {
        return Ok(Action::await_change());
    }
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let listed = pods_api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(SyncError::ListPods)?
        .items;
    let claimed = claim(&uid, &selector, false, &listed);
    let mut owned: Vec<Pod> = claimed.owned.into_iter().cloned().collect();
    let me = controller_ref("batch/v1", "Job", &name, &uid);
    for orphan in claimed.adopt {
        let pod_name = orphan.name_any();
        let patch = json!({"metadata": {
            "ownerReferences": adopted_refs(orphan, me.clone()),
            "resourceVersion": orphan.resource_version(),
        }});
        match pods_api
            .patch(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(p) => owned.push(p),
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {}
            Err(source) => {
                return Err(SyncError::AdoptPod {
                    pod: pod_name,
                    source,
                });
            }
        }
    }

    let refs: Vec<&Pod> = owned.iter().collect();
    let plan = decide::plan(&job, &refs, Timestamp::now())?;
    let on = job.object_ref(&());
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    if plan.delete_job {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        return match jobs.delete(&name, &params).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {
                Ok(Action::await_change())
            }
            Err(e) => Err(SyncError::DeleteJob(e)),
        };
    }
    for pod in &plan.delete {
        match pods_api.delete(pod, &DeleteParams::default()).await {
            Ok(_) => {
                let note = format!("Deleted pod: {pod}");
                ctx.events
                    .normal(&on, "SuccessfulDelete", "Delete", note)
                    .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                return Err(SyncError::DeletePod {
                    pod: pod.clone(),
                    source,
                });
            }
        }
    }
    create_pods(&pods_api, &job, &plan.create, &ctx.events).await?;
    if let Some(status) = &plan.status {
        match jobs
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(SyncError::UpdateStatus(e)),
        }
    }
    // Events after the status, so a watcher that sees "Completed" also sees the condition.
    for note in &plan.events {
        ctx.events
            .record(
                &on,
                note.warning,
                note.reason,
                note.reason,
                note.message.clone(),
            )
            .await;
    }
    let next = plan
        .requeue
        .map(|d| d + Duration::from_millis(100))
        .unwrap_or(RESYNC);
    Ok(Action::requeue(next))
}

/// Creates the planned pods in batches of 1, 2, 4, … so a template the API rejects fails once.
async fn create_pods(
    api: &Api<Pod>,
    job: &Job,
    indexes: &[Option<i32>],
    events: &Events,
) -> Result<(), SyncError> {
    let params = PostParams {
        field_manager: Some(MANAGER.into()),
        ..Default::default()
    };
    let on = job.object_ref(&());
    let mut rest = indexes;
    let mut batch = 1;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(batch.min(rest.len()));
        let pods = now
            .iter()
            .map(|i| decide::pod_for(job, *i))
            .collect::<Result<Vec<Pod>, _>>()?;
        let results = futures::future::join_all(pods.iter().map(|p| api.create(&params, p))).await;
        for r in results {
            match r {
                Ok(p) => {
                    let note = format!("Created pod: {}", p.name_any());
                    events.normal(&on, "SuccessfulCreate", "Create", note).await;
                }
                Err(e) => {
                    let note = format!("Error creating: {e}");
                    events.warning(&on, "FailedCreate", "Create", note).await;
                    return Err(SyncError::CreatePod(e));
                }
            }
        }
        rest = later;
        batch *= 2;
    }
    Ok(())
}
