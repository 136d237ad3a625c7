//! Job decisions without I/O: which pods to create or delete, when the job is finished, the
//! status to report. Entry point: [`plan`].
//!
//! Counting is simplified against upstream: it tracks terminated pods with a finalizer and
//! `status.uncountedTerminatedPods`; here `succeeded`/`failed` are the larger of the reported
//! counts and the terminated pods still present, so a terminated pod deleted before a sync saw
//! it is not counted, and `uncountedTerminatedPods` is always reported empty.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};

use super::indexes::IndexSet;
use crate::pods;
use crate::replicaset::decide::{BURST_REPLICAS, controller_ref, rank_for_deletion};

pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";
/// Annotation and label carrying an Indexed job pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// `spec.managedBy` value meaning this controller; any other value leaves the job alone.
pub const MANAGED_BY_BUILTIN: &str = "kubernetes.io/job-controller";

/// First delay before replacing a failed pod; it doubles per failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_BACKOFF: Duration = Duration::from_secs(360);

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecideError {
    #[error("job has no name, namespace or uid")]
    MissingIdentity,
    #[error("job has no spec")]
    MissingSpec,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
}

/// An event to record on the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What one sync should do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// New pods, by completion index (`None` for NonIndexed jobs).
    pub create: Vec<Option<i32>>,
    /// Names of pods to delete.
    pub delete: Vec<String>,
    /// The status to write, when it differs from the current one.
    pub status: Option<JobStatus>,
    pub events: Vec<Note>,
    /// The job's time to live ran out: delete the job itself.
    pub delete_job: bool,
    /// Look again after this long even without a change.
    pub requeue: Option<Duration>,
}

/// The selector a job's pods are found by: its own, or, when it has none (upstream's API server
/// would have generated one at create time), the controller-uid label this controller puts on
/// every pod it creates.
pub fn selector(job: &Job) -> Result<LabelSelector, DecideError> {
    let spec = job.spec.as_ref().ok_or(DecideError::MissingSpec)?;
    match &spec.selector {
        Some(s) => Ok(LabelSelector::from_k8s(Some(s))?),
        None => {
            let uid = job
                .metadata
                .uid
                .as_deref()
                .ok_or(DecideError::MissingIdentity)?;
            Ok(LabelSelector::parse(&format!(
                "{CONTROLLER_UID_LABEL}={uid}"
            ))?)
        }
    }
}

/// Whether another controller manages this job (`spec.managedBy`).
pub fn managed_elsewhere(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|s| s.managed_by.as_deref())
        .is_some_and(|m| m != MANAGED_BY_BUILTIN)
}

/// `Complete` or `Failed` with the time it became true, once the job is finished.
pub fn finished(job: &Job) -> Option<(&str, Option<Timestamp>)> {
    conditions(job)
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| {
            (
                c.type_.as_str(),
                c.last_transition_time.as_ref().map(|t| t.0),
            )
        })
}

fn conditions(job: &Job) -> &[JobCondition] {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// The completion index of an Indexed job's pod, if it has a valid one below `completions`.
pub fn pod_index(p: &Pod, completions: i32) -> Option<i32> {
    let from = |m: Option<&BTreeMap<String, String>>| {
        m.and_then(|m| m.get(COMPLETION_INDEX))
            .and_then(|v| v.parse::<i32>().ok())
    };
    from(p.metadata.annotations.as_ref())
        .or_else(|| from(p.metadata.labels.as_ref()))
        .filter(|i| (0..completions).contains(i))
}

/// When a failed pod stopped: its last container exit, else its creation.
fn failed_at(p: &Pod) -> Option<Timestamp> {
    let exits = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    exits.or_else(|| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

fn restarts(p: &Pod) -> i64 {
    let s = p.status.as_ref();
    let sum = |cs: Option<&Vec<k8s_openapi::api::core::v1::ContainerStatus>>| -> i64 {
        cs.into_iter()
            .flatten()
            .map(|c| i64::from(c.restart_count.max(0)))
            .sum()
    };
    sum(s.and_then(|s| s.container_statuses.as_ref()))
        + sum(s.and_then(|s| s.init_container_statuses.as_ref()))
}

/// The delay before the next replacement pod after `failures` failures.
pub fn backoff_delay(failures: i64) -> Duration {
    if failures <= 0 {
        return Duration::ZERO;
    }
    let shift = u32::try_from((failures - 1).min(16)).unwrap_or(16);
    BASE_BACKOFF.saturating_mul(1u32 << shift).min(MAX_BACKOFF)
}

fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn add_secs(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

/// Sets condition `type_` (keeping its transition time when the status does not change).
fn set_condition(
    conds: &mut Vec<JobCondition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    let new = JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    };
    match conds.iter_mut().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => {
            c.reason = new.reason;
            c.message = new.message;
        }
        Some(c) => *c = new,
        None => conds.push(new),
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn names(pods: &[&Pod]) -> Vec<String> {
    pods.iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect()
}

/// Decides one sync of `job`, given every pod it controls (including terminated ones).
pub fn plan(job: &Job, owned: &[&Pod], now: Timestamp) -> Result<Plan, DecideError> {
    let spec = job.spec.as_ref().ok_or(DecideError::MissingSpec)?;
    let old = job.status.clone().unwrap_or_default();
    let mut plan = Plan::default();
    let active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| pods::is_active(p))
        .collect();

    if let Some((_, at)) = finished(job) {
        // Pods left running by a sync that failed half-way are still removed.
        plan.delete = names(&active);
        if let Some(ttl) = spec.ttl_seconds_after_finished {
            let since = at
                .or_else(|| old.completion_time.as_ref().map(|t| t.0))
                .unwrap_or(now);
            let expiry = add_secs(since, ttl.into());
            if now >= expiry {
                plan.delete_job = true;
            } else {
                plan.requeue = Some(until(now, expiry));
            }
        }
        return Ok(plan);
    }

    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let parallelism = spec.parallelism.unwrap_or(1).max(0);
    let succeeded_pods: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| phase(p) == Some("Succeeded"))
        .collect();
    let failed_pods: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| phase(p) == Some("Failed"))
        .collect();
    let succeeded = old.succeeded.unwrap_or(0).max(count(succeeded_pods.len()));
    let failed = old.failed.unwrap_or(0).max(count(failed_pods.len()));
    let mut completed = IndexSet::default();
    if indexed {
        let limit = completions.unwrap_or(0);
        completed = IndexSet::parse(old.completed_indexes.as_deref().unwrap_or(""), limit);
        for p in &succeeded_pods {
            if let Some(i) = pod_index(p, limit) {
                completed.insert(i);
            }
        }
    }
    let mut terminating = owned
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some() && !pods::is_active(p))
        .filter(|p| !matches!(phase(p), Some("Succeeded" | "Failed")))
        .count();

    let mut conds: Vec<JobCondition> = old.conditions.clone().unwrap_or_default();
    let mut start_time = old.start_time.clone();
    let mut completion_time = old.completion_time.clone();
    let suspended = spec.suspend == Some(true);
    let was_suspended = conds
        .iter()
        .any(|c| c.type_ == "Suspended" && c.status == "True");

    let mut keep: Vec<&Pod> = active.clone();
    if suspended {
        plan.delete = names(&active);
        keep.clear();
        if !was_suspended {
            set_condition(
                &mut conds,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
                now,
            );
            plan.events
                .push(normal("Suspended", "Job suspended".into()));
        }
    } else {
        if was_suspended {
            set_condition(
                &mut conds,
                "Suspended",
                "False",
                "JobResumed",
                "Job resumed",
                now,
            );
            plan.events.push(normal("Resumed", "Job resumed".into()));
            // The active deadline counts from the resumption, as upstream does.
            start_time = Some(Time(now));
        }
        let start = start_time.get_or_insert(Time(now)).0;

        let backoff_limit = i64::from(spec.backoff_limit.unwrap_or(6).max(0));
        let on_failure = spec
            .template
            .spec
            .as_ref()
            .and_then(|s| s.restart_policy.as_deref())
            == Some("OnFailure");
        let restarted: i64 = active.iter().map(|p| restarts(p)).sum();
        let past_backoff = i64::from(failed) > backoff_limit
            || (on_failure
                && if backoff_limit == 0 {
                    restarted > 0
                } else {
                    restarted >= backoff_limit
                });
        let deadline = spec
            .active_deadline_seconds
            .map(|secs| add_secs(start, secs));
        let failure = if past_backoff {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if deadline.is_some_and(|d| now >= d) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
        let complete = match (indexed, completions) {
            (true, Some(c)) => completed.count() >= i64::from(c),
            (true, None) => false,
            (false, Some(c)) => succeeded >= c,
            (false, None) => succeeded > 0 && active.is_empty(),
        };

        if let Some((reason, message)) = failure {
            plan.delete = names(&active);
            keep.clear();
            set_condition(&mut conds, "FailureTarget", "True", reason, message, now);
            set_condition(&mut conds, "Failed", "True", reason, message, now);
            plan.events.push(warning(reason, message.into()));
        } else if complete {
            plan.delete = names(&active);
            keep.clear();
            let message = "Reached expected number of succeeded pods";
            set_condition(
                &mut conds,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                message,
                now,
            );
            set_condition(
                &mut conds,
                "Complete",
                "True",
                "CompletionsReached",
                message,
                now,
            );
            completion_time = Some(Time(now));
            plan.events
                .push(normal("Completed", "Job completed".into()));
        } else {
            let (create, delete) = if indexed {
                scale_indexed(&active, completions.unwrap_or(0), parallelism, &completed)
            } else {
                let want = match completions {
                    Some(c) => parallelism.min((c - succeeded).max(0)),
                    // A work queue: once one pod succeeded no new pods start.
                    None if succeeded > 0 => count(active.len()),
                    None => parallelism,
                };
                scale_plain(&active, want, now)
            };
            keep.retain(|p| !p.metadata.name.as_ref().is_some_and(|n| delete.contains(n)));
            plan.delete = delete;
            if !create.is_empty() {
                let last_failure = failed_pods.iter().filter_map(|p| failed_at(p)).max();
                let wait = last_failure
                    .map(|t| {
                        let delay = SignedDuration::try_from(backoff_delay(failed.into()))
                            .unwrap_or(SignedDuration::ZERO);
                        until(now, t.checked_add(delay).unwrap_or(Timestamp::MAX))
                    })
                    .unwrap_or(Duration::ZERO);
                if wait.is_zero() {
                    plan.create = create;
                } else {
                    plan.requeue = Some(wait);
                }
            }
            if let Some(d) = deadline {
                let left = until(now, d);
                plan.requeue = Some(plan.requeue.map_or(left, |r| r.min(left)));
            }
        }
    }
    terminating += plan.delete.len();

    let status = JobStatus {
        active: Some(count(keep.len() + plan.create.len())),
        ready: Some(count(keep.iter().filter(|p| pods::is_ready(p)).count())),
        terminating: Some(count(terminating)),
        succeeded: Some(succeeded),
        failed: Some(failed),
        start_time,
        completion_time,
        // Empty is left out, as upstream's `omitempty` does, so the stored status compares equal.
        completed_indexes: (indexed && !completed.is_empty()).then(|| completed.to_string()),
        failed_indexes: old.failed_indexes.clone(),
        conditions: (!conds.is_empty()).then_some(conds),
        uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
    };
    if job.status.as_ref() != Some(&status) {
        plan.status = Some(status);
    }
    Ok(plan)
}

fn normal(reason: &'static str, message: String) -> Note {
    Note {
        warning: false,
        reason,
        message,
    }
}

fn warning(reason: &'static str, message: String) -> Note {
    Note {
        warning: true,
        reason,
        message,
    }
}

/// NonIndexed: create the missing pods or delete the most expendable surplus.
fn scale_plain(active: &[&Pod], want: i32, now: Timestamp) -> (Vec<Option<i32>>, Vec<String>) {
    let want = usize::try_from(want.max(0)).unwrap_or(0);
    if active.len() < want {
        let n = (want - active.len()).min(BURST_REPLICAS);
        (vec![None; n], Vec::new())
    } else {
        let surplus = active.len() - want;
        let ranked = rank_for_deletion(active, now);
        (Vec::new(), names(&ranked[..surplus.min(ranked.len())]))
    }
}

/// Indexed: one active pod per pending index, lowest indexes first; pods without a valid index,
/// duplicates, pods of completed indexes and those above the parallelism are deleted.
fn scale_indexed(
    active: &[&Pod],
    completions: i32,
    parallelism: i32,
    completed: &IndexSet,
) -> (Vec<Option<i32>>, Vec<String>) {
    let mut delete = Vec::new();
    let mut running: BTreeMap<i32, &Pod> = BTreeMap::new();
    for p in active {
        match pod_index(p, completions) {
            Some(i) if !completed.contains(i) && !running.contains_key(&i) => {
                running.insert(i, p);
            }
            _ => delete.extend(p.metadata.name.clone()),
        }
    }
    let pending = i64::from(completions) - completed.count();
    let want = usize::try_from(i64::from(parallelism).min(pending).max(0)).unwrap_or(0);
    while running.len() > want {
        if let Some((_, p)) = running.pop_last() {
            delete.extend(p.metadata.name.clone());
        }
    }
    let mut create = Vec::new();
    let mut i = 0;
    while running.len() + create.len() < want && create.len() < BURST_REPLICAS && i < completions {
        if !completed.contains(i) && !running.contains_key(&i) {
            create.push(Some(i));
        }
        i += 1;
    }
    (create, delete)
}

/// A new pod for `job` from its template: controlled by the job, labelled with the job's name and
/// uid, and for Indexed jobs carrying its index (annotation, label, hostname, environment).
pub fn pod_for(job: &Job, index: Option<i32>) -> Result<Pod, DecideError> {
    let (Some(name), Some(ns), Some(uid)) = (
        job.metadata.name.as_deref(),
        job.metadata.namespace.as_deref(),
        job.metadata.uid.as_deref(),
    ) else {
        return Err(DecideError::MissingIdentity);
    };
    let template = &job.spec.as_ref().ok_or(DecideError::MissingSpec)?.template;
    let tmeta = template.metadata.clone().unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    for (k, v) in [
        (CONTROLLER_UID_LABEL, uid),
        (LEGACY_CONTROLLER_UID_LABEL, uid),
        (JOB_NAME_LABEL, name),
        (LEGACY_JOB_NAME_LABEL, name),
    ] {
        labels.entry(k.into()).or_insert_with(|| v.into());
    }
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    let generate_name = match index {
        Some(i) => {
            labels.insert(COMPLETION_INDEX.into(), i.to_string());
            annotations.insert(COMPLETION_INDEX.into(), i.to_string());
            if spec.hostname.as_deref().unwrap_or("").is_empty() {
                spec.hostname = Some(format!("{name}-{i}"));
            }
            let env = EnvVar {
                name: "JOB_COMPLETION_INDEX".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: Some("v1".into()),
                        field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            let containers = spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten());
            for c in containers {
                let vars = c.env.get_or_insert_with(Vec::new);
                if !vars.iter().any(|e| e.name == env.name) {
                    vars.push(env.clone());
                }
            }
            format!("{name}-{i}-")
        }
        None => format!("{name}-"),
    };
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: Some(ns.into()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![controller_ref("batch/v1", "Job", name, uid)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
