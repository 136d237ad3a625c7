//! CronJob controller: creates a Job named `<cronjob>-<minutes since epoch>` at each schedule
//! time (read in `spec.timeZone`, else the controller's local zone), applies the concurrency
//! policy and starting deadline, tracks active jobs and prunes history. Entry points: [`run`],
//! [`run_with`] (an injected [`Clock`]); decisions in [`decide`], cron syntax in [`schedule`].

pub mod decide;
pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::events::Events;

/// Field manager recorded on everything this controller writes.
const MANAGER: &str = "cronjob-controller";
/// Slack after a schedule time before syncing, so the clock has surely passed it.
const AFTER_SCHEDULE: Duration = Duration::from_millis(100);

/// Where the controller's time comes from; tests substitute their own.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// How the CronJob controller runs.
#[derive(Clone)]
pub struct CronJobSettings {
    pub concurrency: u16,
    pub clock: Arc<dyn Clock>,
    /// The zone of CronJobs without `spec.timeZone` (upstream: the controller's local zone).
    pub local_zone: TimeZone,
}

impl CronJobSettings {
    pub fn new(concurrency: u16) -> CronJobSettings {
        CronJobSettings {
            concurrency,
            clock: Arc::new(SystemClock),
            local_zone: TimeZone::system(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cron job has no namespace")]
    NoNamespace,
    #[error("listing jobs failed")]
    ListJobs(#[source] kube::Error),
    #[error("deleting job {job} failed")]
    DeleteJob { job: String, source: kube::Error },
    #[error("creating job {job} failed")]
    CreateJob { job: String, source: kube::Error },
    #[error("cannot build the job")]
    Decide(#[from] decide::DecideError),
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

struct Context {
    client: Client,
    events: Events,
    settings: CronJobSettings,
}

/// Runs the CronJob controller on the system clock until `shutdown` fires.
pub async fn run(client: Client, concurrency: u16, instance: &str, shutdown: CancellationToken) {
    run_with(
        client,
        CronJobSettings::new(concurrency),
        instance,
        shutdown,
    )
    .await;
}

/// Runs the CronJob controller with explicit settings until `shutdown` fires.
pub async fn run_with(
    client: Client,
    settings: CronJobSettings,
    instance: &str,
    shutdown: CancellationToken,
) {
    let cron_jobs: Api<CronJob> = Api::all(client.clone());
    let jobs: Api<Job> = Api::all(client.clone());
    let concurrency = settings.concurrency;
    let ctx = Arc::new(Context {
        events: Events::new(client.clone(), MANAGER, instance),
        client,
        settings,
    });
    Controller::new(cron_jobs, watcher::Config::default())
        .owns(jobs, watcher::Config::default())
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(50))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "cronjob reconcile did not complete");
            }
        })
        .await;
}

fn error_policy(cj: Arc<CronJob>, error: &SyncError, _ctx: Arc<Context>) -> Action {
    warn!(error = %error, cronjob = %cj.name_any(), "cronjob sync failed");
    Action::requeue(Duration::from_secs(5))
}

async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    let ns = cj.namespace().ok_or(SyncError::NoNamespace)?;
    let name = cj.name_any();
    let on = cj.object_ref(&());
    let Some(spec) = cj.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    // A schedule or zone this controller cannot read is reported once per change of the
    // object; nothing would make it readable in the meantime.
    let sched = match schedule::Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            let note = format!("unparseable schedule: {:?} : {e}", spec.schedule);
            ctx.events
                .warning(&on, "UnparseableSchedule", "Schedule", note)
                .await;
            return Ok(Action::await_change());
        }
    };
    let tz = match schedule::zone(spec.time_zone.as_deref(), &ctx.settings.local_zone) {
        Ok(tz) => tz,
        Err(e) => {
            let zone = spec.time_zone.clone().unwrap_or_default();
            let note = format!("invalid timeZone: {zone:?}: {e}");
            ctx.events
                .warning(&on, "UnknownTimeZone", "Schedule", note)
                .await;
            return Ok(Action::await_change());
        }
    };

    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs = jobs_api
        .list(&ListParams::default())
        .await
        .map_err(SyncError::ListJobs)?
        .items;
    let now = ctx.settings.clock.now();
    let mut plan = decide::plan(&cj, &jobs, &sched, &tz, now);

    let background = DeleteParams::background();
    for job in plan.delete_history.iter().chain(&plan.replace) {
        match jobs_api.delete(job, &background).await {
            Ok(_) => {
                let note = format!("Deleted job {job}");
                ctx.events
                    .normal(&on, "SuccessfulDelete", "Delete", note)
                    .await;
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(source) => {
                return Err(SyncError::DeleteJob {
                    job: job.clone(),
                    source,
                });
            }
        }
    }
    if let Some(at) = plan.run {
        let job = decide::job_for(&cj, at, &tz)?;
        let job_name = job.name_any();
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        let created = match jobs_api.create(&params, &job).await {
            Ok(j) => {
                let note = format!("Created job {job_name}");
                ctx.events
                    .normal(&on, "SuccessfulCreate", "Create", note)
                    .await;
                Some(j)
            }
            // Made by an earlier sync whose status write was lost; the active-list
            // reconciliation of the next sync picks it up.
            Err(kube::Error::Api(e)) if e.code == 409 => None,
            Err(source) => {
                let note = format!("Error creating job: {source}");
                ctx.events
                    .warning(&on, "FailedCreate", "Create", note)
                    .await;
                return Err(SyncError::CreateJob {
                    job: job_name,
                    source,
                });
            }
        };
        if let Some(j) = created {
            plan.status
                .active
                .get_or_insert_with(Vec::new)
                .push(decide::job_reference(&j));
        }
    }
    let current = cj.status.clone().unwrap_or_default();
    if current != plan.status {
        // `active` may have become empty: null clears it where omitting would keep it.
        let mut status = serde_json::to_value(&plan.status).unwrap_or_default();
        if let Some(obj) = status.as_object_mut() {
            obj.entry("active").or_insert(serde_json::Value::Null);
        }
        let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
        match cron_jobs
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(SyncError::UpdateStatus(e)),
        }
    }
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
    Ok(match plan.requeue {
        Some(d) => Action::requeue(d + AFTER_SCHEDULE),
        None => Action::await_change(),
    })
}
