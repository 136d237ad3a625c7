use super::*;
use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobStatus, JobTemplateSpec};
use std::collections::BTreeMap;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn cron(schedule: &str, created: &str) -> CronJob {
    let mut cj = CronJob::default();
    cj.metadata.name = Some("hello".into());
    cj.metadata.namespace = Some("default".into());
    cj.metadata.uid = Some("cj-uid".into());
    cj.metadata.creation_timestamp = Some(Time(ts(created)));
    let mut labels = BTreeMap::new();
    labels.insert("app".to_string(), "hello".to_string());
    cj.spec = Some(CronJobSpec {
        schedule: schedule.into(),
        concurrency_policy: Some("Allow".into()),
        successful_jobs_history_limit: Some(3),
        failed_jobs_history_limit: Some(1),
        job_template: JobTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..Default::default()
            }),
            spec: None,
        },
        ..Default::default()
    });
    cj
}

fn owned_job(name: &str, outcome: Option<&str>, started: &str) -> Job {
    let mut j = Job::default();
    j.metadata.name = Some(name.into());
    j.metadata.namespace = Some("default".into());
    j.metadata.uid = Some(format!("uid-{name}"));
    j.metadata.owner_references = Some(vec![controller_ref(
        "batch/v1", "CronJob", "hello", "cj-uid",
    )]);
    j.status = Some(JobStatus {
        start_time: Some(Time(ts(started))),
        completion_time: (outcome == Some("Complete")).then(|| Time(ts(started))),
        conditions: outcome.map(|o| {
            vec![JobCondition {
                type_: o.into(),
                status: "True".into(),
                ..Default::default()
            }]
        }),
        ..Default::default()
    });
    j
}

fn with_active(mut cj: CronJob, jobs: &[&Job]) -> CronJob {
    cj.status.get_or_insert_with(Default::default).active =
        Some(jobs.iter().map(|j| job_reference(j)).collect());
    cj
}

fn run(cj: &CronJob, jobs: &[Job], now: &str) -> Plan {
    let sched = Schedule::parse(&cj.spec.as_ref().unwrap().schedule).unwrap();
    plan(cj, jobs, &sched, &TimeZone::UTC, ts(now))
}

#[test]
fn the_most_recent_missed_time_is_run_once() {
    let cj = cron("*/5 * * * *", "2024-03-01T10:00:00Z");
    let p = run(&cj, &[], "2024-03-01T10:17:30Z");
    assert_eq!(p.run, Some(ts("2024-03-01T10:15:00Z")));
    assert_eq!(
        p.status.last_schedule_time,
        Some(Time(ts("2024-03-01T10:15:00Z")))
    );
    assert_eq!(p.requeue, Some(Duration::from_secs(150)));
    assert!(p.events.is_empty());
}

#[test]
fn nothing_runs_before_the_first_schedule_time() {
    let cj = cron("0 * * * *", "2024-03-01T10:00:30Z");
    let p = run(&cj, &[], "2024-03-01T10:30:00Z");
    assert_eq!(p.run, None);
    assert_eq!(p.requeue, Some(Duration::from_secs(1800)));
}

#[test]
fn a_time_already_scheduled_is_not_run_again() {
    let mut cj = cron("* * * * *", "2024-03-01T10:00:00Z");
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(ts("2024-03-01T10:05:00Z"))),
        ..Default::default()
    });
    assert_eq!(run(&cj, &[], "2024-03-01T10:05:40Z").run, None);
    assert_eq!(
        run(&cj, &[], "2024-03-01T10:06:00Z").run,
        Some(ts("2024-03-01T10:06:00Z"))
    );
}

#[test]
fn more_than_a_hundred_missed_times_warn_but_still_run_the_latest() {
    let cj = cron("* * * * *", "2024-03-01T00:00:00Z");
    let p = run(&cj, &[], "2024-03-03T12:34:56Z");
    assert_eq!(p.run, Some(ts("2024-03-03T12:34:00Z")));
    assert_eq!(p.events[0].reason, "TooManyMissedTimes");
    // Sparse runs far back are found too.
    let sched = Schedule::parse("0 0 1 * *").unwrap();
    let (latest, many) = most_recent(
        &sched,
        &TimeZone::UTC,
        ts("2000-01-01T00:00:00Z"),
        ts("2024-03-03T00:00:00Z"),
    );
    assert!(many);
    assert_eq!(latest, Some(ts("2024-03-01T00:00:00Z")));
}

#[test]
fn the_starting_deadline_limits_how_far_back_a_run_is_caught_up() {
    let mut cj = cron("0 * * * *", "2024-03-01T00:00:00Z");
    if let Some(s) = cj.spec.as_mut() {
        s.starting_deadline_seconds = Some(60);
    }
    assert_eq!(run(&cj, &[], "2024-03-01T10:30:00Z").run, None);
    assert_eq!(
        run(&cj, &[], "2024-03-01T10:00:45Z").run,
        Some(ts("2024-03-01T10:00:00Z"))
    );
}

#[test]
fn forbid_skips_while_a_job_runs_and_replace_removes_it() {
    let running = owned_job("hello-1", None, "2024-03-01T10:00:00Z");
    let mut cj = with_active(cron("* * * * *", "2024-03-01T10:00:00Z"), &[&running]);
    if let Some(s) = cj.spec.as_mut() {
        s.concurrency_policy = Some("Forbid".into());
    }
    let p = run(&cj, std::slice::from_ref(&running), "2024-03-01T10:02:10Z");
    assert_eq!(p.run, None);
    assert_eq!(p.events[0].reason, "JobAlreadyActive");
    assert_eq!(p.status.last_schedule_time, None);

    if let Some(s) = cj.spec.as_mut() {
        s.concurrency_policy = Some("Replace".into());
    }
    let p = run(&cj, std::slice::from_ref(&running), "2024-03-01T10:02:10Z");
    assert_eq!(p.replace, vec!["hello-1".to_string()]);
    assert_eq!(p.run, Some(ts("2024-03-01T10:02:00Z")));
    assert_eq!(p.status.active, None);

    if let Some(s) = cj.spec.as_mut() {
        s.concurrency_policy = Some("Allow".into());
    }
    let p = run(&cj, &[running], "2024-03-01T10:02:10Z");
    assert!(p.replace.is_empty());
    assert_eq!(p.status.active.map(|a| a.len()), Some(1));
    assert!(p.run.is_some());
}

#[test]
fn finished_jobs_leave_the_active_list_and_record_the_last_success() {
    let done = owned_job("hello-1", Some("Complete"), "2024-03-01T10:01:00Z");
    let cj = with_active(cron("0 0 1 1 *", "2024-03-01T10:00:00Z"), &[&done]);
    let p = run(&cj, &[done], "2024-03-01T10:03:00Z");
    assert_eq!(p.status.active, None);
    assert_eq!(
        p.status.last_successful_time,
        Some(Time(ts("2024-03-01T10:01:00Z")))
    );
    assert_eq!(p.events[0].reason, "SawCompletedJob");
}

#[test]
fn untracked_running_jobs_are_tracked_and_vanished_ones_dropped() {
    let running = owned_job("hello-2", None, "2024-03-01T10:01:00Z");
    let gone = owned_job("hello-1", None, "2024-03-01T10:00:00Z");
    let mut foreign = owned_job("other", None, "2024-03-01T10:00:00Z");
    foreign.metadata.owner_references = None;
    let cj = with_active(cron("0 0 1 1 *", "2024-03-01T10:00:00Z"), &[&gone]);
    let p = run(&cj, &[running, foreign], "2024-03-01T10:03:00Z");
    let active = p.status.active.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].name.as_deref(), Some("hello-2"));
    let reasons: Vec<&str> = p.events.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, ["UnexpectedJob", "MissingJob"]);
}

#[test]
fn history_beyond_the_limits_is_deleted_oldest_first() {
    let jobs = vec![
        owned_job("ok-1", Some("Complete"), "2024-03-01T10:01:00Z"),
        owned_job("ok-4", Some("Complete"), "2024-03-01T10:04:00Z"),
        owned_job("ok-2", Some("Complete"), "2024-03-01T10:02:00Z"),
        owned_job("ok-3", Some("Complete"), "2024-03-01T10:03:00Z"),
        owned_job("bad-1", Some("Failed"), "2024-03-01T10:01:00Z"),
        owned_job("bad-2", Some("Failed"), "2024-03-01T10:02:00Z"),
        owned_job("running", None, "2024-03-01T10:00:00Z"),
    ];
    let cj = cron("0 0 1 1 *", "2024-03-01T10:00:00Z");
    let p = run(&cj, &jobs, "2024-03-01T10:05:00Z");
    assert_eq!(
        p.delete_history,
        vec!["ok-1".to_string(), "bad-1".to_string()]
    );
}

#[test]
fn a_suspended_cron_job_schedules_nothing() {
    let mut cj = cron("* * * * *", "2024-03-01T10:00:00Z");
    if let Some(s) = cj.spec.as_mut() {
        s.suspend = Some(true);
    }
    assert_eq!(run(&cj, &[], "2024-03-01T10:05:00Z").run, None);
}

#[test]
fn jobs_are_named_by_the_scheduled_minute_and_annotated_with_the_time() {
    let cj = cron("* * * * *", "2024-03-01T10:00:00Z");
    let t = ts("2024-03-01T10:05:00Z");
    assert_eq!(job_name("hello", t), "hello-28488125");
    let j = job_for(&cj, t, &TimeZone::UTC).unwrap();
    assert_eq!(j.metadata.name.as_deref(), Some("hello-28488125"));
    assert_eq!(j.metadata.labels.as_ref().unwrap()["app"], "hello");
    assert_eq!(
        j.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP],
        "2024-03-01T10:05:00Z"
    );
    let plus2 = TimeZone::fixed(jiff::tz::offset(2));
    let j = job_for(&cj, t, &plus2).unwrap();
    assert_eq!(
        j.metadata.annotations.as_ref().unwrap()[SCHEDULED_TIMESTAMP],
        "2024-03-01T12:05:00+02:00"
    );
    let owner = &j.metadata.owner_references.unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("CronJob", "cj-uid")
    );
    let mut anonymous = cj.clone();
    anonymous.metadata.uid = None;
    assert_eq!(
        job_for(&anonymous, t, &TimeZone::UTC).unwrap_err(),
        DecideError::MissingIdentity
    );
}
