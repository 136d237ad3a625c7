//! CronJob decisions without I/O: the schedule time to run now (if any), the concurrency policy,
//! the active list, history cleanup and the Job to create. Entry point: [`plan`].

use std::time::Duration;

use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::schedule::Schedule;
use crate::job::decide::finished;
use crate::replicaset::decide::{controller_of, controller_ref};

/// Annotation on each created Job: the schedule time it stands for, in the CronJob's zone.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed runs than this get a warning (only the latest is started anyway).
pub const MISSED_WARNING: usize = 100;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecideError {
    #[error("cron job has no name, namespace or uid")]
    MissingIdentity,
}

/// An event to record on the cron job.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What one sync should do.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Finished jobs beyond the history limits, oldest first.
    pub delete_history: Vec<String>,
    /// Running jobs that `Replace` removes before the new run.
    pub replace: Vec<String>,
    /// The schedule time to create a Job for now.
    pub run: Option<Timestamp>,
    /// Status before the new run is added (the run's job adds itself once created).
    pub status: CronJobStatus,
    pub events: Vec<Note>,
    /// When the next schedule time comes (`None`: never, or nothing to wait for).
    pub requeue: Option<Duration>,
}

/// The most recent schedule time in `(earliest, now]`, and whether more than
/// [`MISSED_WARNING`] were missed.
pub fn most_recent(
    sched: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> (Option<Timestamp>, bool) {
    let mut latest = None;
    let mut seen = 0usize;
    let mut t = earliest;
    while let Some(next) = sched.next_after(t, tz).filter(|n| *n <= now) {
        latest = Some(next);
        seen += 1;
        t = next;
        if seen > MISSED_WARNING {
            // Too many to walk: the latest lies within the last stretch of the window, which
            // is searched from ever further back until it holds a run.
            return (latest_in_window(sched, tz, t, now).or(latest), true);
        }
    }
    (latest, false)
}

fn latest_in_window(
    sched: &Schedule,
    tz: &TimeZone,
    floor: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let mut window = SignedDuration::from_hours(1);
    loop {
        let from = now.checked_sub(window).unwrap_or(floor).max(floor);
        let mut latest = None;
        let mut t = from;
        while let Some(next) = sched.next_after(t, tz).filter(|n| *n <= now) {
            latest = Some(next);
            t = next;
        }
        if latest.is_some() || from == floor {
            return latest;
        }
        window = window.checked_mul(4)?;
    }
}

/// The name of the Job for schedule time `t`: the minutes since the epoch, as upstream.
pub fn job_name(cron_job: &str, t: Timestamp) -> String {
    format!("{cron_job}-{}", t.as_second().div_euclid(60))
}

fn rfc3339(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job for schedule time `t`, from the template, controlled by the cron job.
pub fn job_for(cj: &CronJob, t: Timestamp, tz: &TimeZone) -> Result<Job, DecideError> {
    let (Some(name), Some(ns), Some(uid)) = (
        cj.metadata.name.as_deref(),
        cj.metadata.namespace.as_deref(),
        cj.metadata.uid.as_deref(),
    ) else {
        return Err(DecideError::MissingIdentity);
    };
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(t, tz));
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(job_name(name, t)),
            namespace: Some(ns.into()),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref("batch/v1", "CronJob", name, uid)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    })
}

/// The reference the cron job's `status.active` keeps for a job.
pub fn job_reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

fn note(warning: bool, reason: &'static str, message: String) -> Note {
    Note {
        warning,
        reason,
        message,
    }
}

fn started_at(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .or(job.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

/// Finished jobs of one outcome beyond `limit`, oldest first.
fn beyond_limit(jobs: &[&Job], outcome: &str, limit: Option<i32>) -> Vec<String> {
    let Some(limit) = limit else {
        return Vec::new();
    };
    let mut done: Vec<&Job> = jobs
        .iter()
        .copied()
        .filter(|j| finished(j).is_some_and(|(t, _)| t == outcome))
        .collect();
    let keep = usize::try_from(limit.max(0)).unwrap_or(0);
    if done.len() <= keep {
        return Vec::new();
    }
    done.sort_by_key(|j| started_at(j));
    done[..done.len() - keep]
        .iter()
        .filter_map(|j| j.metadata.name.clone())
        .collect()
}

/// Decides one sync of `cj`, given the jobs in its namespace (those it controls are picked out
/// here), the schedule read in `tz`, and the time.
pub fn plan(cj: &CronJob, jobs: &[Job], sched: &Schedule, tz: &TimeZone, now: Timestamp) -> Plan {
    let mut plan = Plan {
        status: cj.status.clone().unwrap_or_default(),
        ..Default::default()
    };
    let uid = cj.metadata.uid.as_deref().unwrap_or_default();
    let mine: Vec<&Job> = jobs
        .iter()
        .filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == uid))
        .collect();

    // The active list against the jobs that exist.
    let mut active: Vec<ObjectReference> = plan.status.active.take().unwrap_or_default();
    let mut last_success = plan.status.last_successful_time.as_ref().map(|t| t.0);
    for j in &mine {
        let juid = j.metadata.uid.as_deref();
        let listed = active.iter().any(|r| r.uid.as_deref() == juid);
        let name = j.metadata.name.clone().unwrap_or_default();
        match (listed, finished(j)) {
            (true, Some((outcome, _))) => {
                active.retain(|r| r.uid.as_deref() != juid);
                plan.events.push(note(
                    false,
                    "SawCompletedJob",
                    format!("Saw completed job: {name}, condition: {outcome}"),
                ));
                if outcome == "Complete" {
                    let done = j
                        .status
                        .as_ref()
                        .and_then(|s| s.completion_time.as_ref())
                        .map(|t| t.0);
                    last_success = last_success.max(done);
                }
            }
            (false, None) => {
                // Created by a sync whose status write was lost: tracked again so the
                // concurrency policy sees it.
                plan.events.push(note(
                    true,
                    "UnexpectedJob",
                    format!("Saw a job that the controller did not create or forgot: {name}"),
                ));
                active.push(job_reference(j));
            }
            _ => {}
        }
    }
    active.retain(|r| {
        let exists = mine.iter().any(|j| j.metadata.uid == r.uid);
        if !exists {
            let name = r.name.clone().unwrap_or_default();
            plan.events.push(note(
                false,
                "MissingJob",
                format!("Active job went missing: {name}"),
            ));
        }
        exists
    });
    plan.status.last_successful_time = last_success.map(Time);

    let spec = cj.spec.as_ref();
    plan.delete_history = beyond_limit(
        &mine,
        "Complete",
        spec.and_then(|s| s.successful_jobs_history_limit),
    );
    plan.delete_history.extend(beyond_limit(
        &mine,
        "Failed",
        spec.and_then(|s| s.failed_jobs_history_limit),
    ));
    let requeue = sched
        .next_after(now, tz)
        .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO));
    plan.requeue = requeue;
    plan.status.active = (!active.is_empty()).then_some(active);

    if cj.metadata.deletion_timestamp.is_some() || spec.and_then(|s| s.suspend) == Some(true) {
        return plan;
    }
    let deadline = spec.and_then(|s| s.starting_deadline_seconds);
    let mut earliest = plan
        .status
        .last_schedule_time
        .as_ref()
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);
    if let Some(secs) = deadline {
        let floor = now
            .checked_sub(SignedDuration::from_secs(secs.max(0)))
            .unwrap_or(Timestamp::MIN);
        earliest = earliest.max(floor);
    }
    let (run, too_many) = most_recent(sched, tz, earliest, now);
    if too_many {
        plan.events.push(note(
            true,
            "TooManyMissedTimes",
            format!(
                "too many missed start times: more than {MISSED_WARNING}; set or decrease \
                 .spec.startingDeadlineSeconds or check clock skew"
            ),
        ));
    }
    let Some(run) = run else {
        return plan;
    };
    if let Some(secs) = deadline {
        let late = run
            .checked_add(SignedDuration::from_secs(secs.max(0)))
            .is_ok_and(|d| d < now);
        if late {
            plan.events.push(note(
                true,
                "MissSchedule",
                format!("Missed scheduled time to start a job: {}", rfc3339(run, tz)),
            ));
            return plan;
        }
    }
    let running = plan.status.active.clone().unwrap_or_default();
    match spec.and_then(|s| s.concurrency_policy.as_deref()) {
        Some("Forbid") if !running.is_empty() => {
            plan.events.push(note(
                false,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is \
                 Forbid"
                    .into(),
            ));
            return plan;
        }
        Some("Replace") => {
            plan.replace = running.iter().filter_map(|r| r.name.clone()).collect();
            plan.status.active = None;
        }
        _ => {}
    }
    plan.run = Some(run);
    plan.status.last_schedule_time = Some(Time(run));
    plan
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
