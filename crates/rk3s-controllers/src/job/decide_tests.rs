use super::*;
use crate::pods::test_pods::{pod, ts};
use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, PodSpec, PodTemplateSpec,
};

fn job(completions: Option<i32>, parallelism: i32) -> Job {
    let mut j = Job::default();
    j.metadata.name = Some("pi".into());
    j.metadata.namespace = Some("default".into());
    j.metadata.uid = Some("job-uid".into());
    j.spec = Some(JobSpec {
        completions,
        parallelism: Some(parallelism),
        backoff_limit: Some(6),
        template: PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                containers: vec![Container {
                    name: "c".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        },
        ..Default::default()
    });
    j
}

fn started(mut j: Job, at: i64) -> Job {
    j.status.get_or_insert_with(Default::default).start_time = Some(Time(ts(at)));
    j
}

fn failed_pod(name: &str, finished: i64) -> Pod {
    let mut p = pod(name, 0, "Failed", None);
    if let Some(s) = p.status.as_mut() {
        s.container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 1,
                    finished_at: Some(Time(ts(finished))),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }]);
    }
    p
}

fn indexed_pod(name: &str, index: &str, phase: &str) -> Pod {
    let mut p = pod(name, 0, phase, None);
    p.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(COMPLETION_INDEX.into(), index.into());
    p
}

fn indexed(completions: i32, parallelism: i32) -> Job {
    let mut j = job(Some(completions), parallelism);
    if let Some(s) = j.spec.as_mut() {
        s.completion_mode = Some("Indexed".into());
    }
    j
}

fn cond<'a>(p: &'a Plan, type_: &str) -> Option<&'a JobCondition> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

#[test]
fn a_new_job_starts_parallelism_pods_and_records_its_start() {
    let p = plan(&job(Some(3), 2), &[], ts(100)).unwrap();
    assert_eq!(p.create, vec![None, None]);
    let st = p.status.unwrap();
    assert_eq!(st.active, Some(2));
    assert_eq!(st.start_time, Some(Time(ts(100))));
    assert_eq!(st.succeeded, Some(0));
}

#[test]
fn the_last_completion_only_needs_one_more_pod() {
    let done = [
        pod("a", 0, "Succeeded", None),
        pod("b", 0, "Succeeded", None),
    ];
    let refs: Vec<&Pod> = done.iter().collect();
    let p = plan(&started(job(Some(3), 2), 1), &refs, ts(100)).unwrap();
    assert_eq!(p.create, vec![None]);
    assert_eq!(p.status.unwrap().succeeded, Some(2));
}

#[test]
fn enough_successes_complete_the_job_and_stop_leftover_pods() {
    let pods = [
        pod("a", 0, "Succeeded", None),
        pod("b", 0, "Succeeded", None),
        pod("c", 0, "Succeeded", None),
        pod("d", 0, "Running", None),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&started(job(Some(3), 2), 1), &refs, ts(100)).unwrap();
    assert_eq!(p.delete, vec!["d".to_string()]);
    assert!(p.create.is_empty());
    assert_eq!(cond(&p, "Complete").unwrap().status, "True");
    assert_eq!(cond(&p, "SuccessCriteriaMet").unwrap().status, "True");
    let st = p.status.as_ref().unwrap();
    assert_eq!(st.completion_time, Some(Time(ts(100))));
    assert_eq!(st.active, Some(0));
    assert_eq!(p.events[0].reason, "Completed");
}

#[test]
fn a_work_queue_job_completes_when_one_pod_succeeded_and_none_run() {
    let running = [pod("a", 0, "Succeeded", None), pod("b", 0, "Running", None)];
    let refs: Vec<&Pod> = running.iter().collect();
    let p = plan(&started(job(None, 2), 1), &refs, ts(100)).unwrap();
    assert!(p.create.is_empty(), "no new pods after a success");
    assert!(cond(&p, "Complete").is_none());
    let p = plan(&started(job(None, 2), 1), &refs[..1], ts(100)).unwrap();
    assert_eq!(cond(&p, "Complete").unwrap().status, "True");
}

#[test]
fn failures_past_the_backoff_limit_fail_the_job() {
    let mut j = started(job(Some(1), 1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.backoff_limit = Some(1);
    }
    let one = [failed_pod("a", 10)];
    let refs: Vec<&Pod> = one.iter().collect();
    let p = plan(&j, &refs, ts(11)).unwrap();
    assert!(
        cond(&p, "Failed").is_none(),
        "one failure is within the limit"
    );
    assert!(p.create.is_empty(), "the replacement waits for the backoff");
    assert_eq!(p.requeue, Some(Duration::from_secs(9)));
    let p = plan(&j, &refs, ts(20)).unwrap();
    assert_eq!(p.create, vec![None]);

    let two = [failed_pod("a", 10), failed_pod("b", 30)];
    let refs: Vec<&Pod> = two.iter().collect();
    let p = plan(&j, &refs, ts(31)).unwrap();
    let failed = cond(&p, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(cond(&p, "FailureTarget").unwrap().status, "True");
    assert_eq!(p.status.as_ref().unwrap().failed, Some(2));
    assert!(p.events[0].warning);
}

#[test]
fn backoff_doubles_per_failure_up_to_a_cap() {
    assert_eq!(backoff_delay(0), Duration::ZERO);
    assert_eq!(backoff_delay(1), Duration::from_secs(10));
    assert_eq!(backoff_delay(3), Duration::from_secs(40));
    assert_eq!(backoff_delay(10), MAX_BACKOFF);
    assert_eq!(backoff_delay(i64::MAX), MAX_BACKOFF);
}

#[test]
fn container_restarts_count_against_the_limit_with_restart_on_failure() {
    let mut j = started(job(Some(1), 1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.backoff_limit = Some(2);
        if let Some(ps) = s.template.spec.as_mut() {
            ps.restart_policy = Some("OnFailure".into());
        }
    }
    let mut p1 = pod("a", 0, "Running", None);
    if let Some(s) = p1.status.as_mut() {
        s.container_statuses = Some(vec![ContainerStatus {
            name: "c".into(),
            restart_count: 2,
            ..Default::default()
        }]);
    }
    let p = plan(&j, &[&p1], ts(5)).unwrap();
    assert_eq!(
        cond(&p, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(p.delete, vec!["a".to_string()]);
}

#[test]
fn the_active_deadline_fails_the_job_and_is_waited_for_until_then() {
    let mut j = started(job(Some(1), 1), 100);
    if let Some(s) = j.spec.as_mut() {
        s.active_deadline_seconds = Some(30);
    }
    let running = pod("a", 100, "Running", None);
    let p = plan(&j, &[&running], ts(110)).unwrap();
    assert!(cond(&p, "Failed").is_none());
    assert_eq!(p.requeue, Some(Duration::from_secs(20)));
    let p = plan(&j, &[&running], ts(130)).unwrap();
    assert_eq!(
        cond(&p, "Failed").unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    assert_eq!(p.delete, vec!["a".to_string()]);
}

#[test]
fn a_suspended_job_deletes_its_pods_and_a_resumed_one_restarts_its_clock() {
    let mut j = started(job(Some(2), 2), 1);
    if let Some(s) = j.spec.as_mut() {
        s.suspend = Some(true);
    }
    let running = pod("a", 0, "Running", None);
    let p = plan(&j, &[&running], ts(50)).unwrap();
    assert_eq!(p.delete, vec!["a".to_string()]);
    assert!(p.create.is_empty());
    assert_eq!(cond(&p, "Suspended").unwrap().status, "True");
    assert_eq!(p.status.as_ref().unwrap().active, Some(0));

    j.status = p.status;
    if let Some(s) = j.spec.as_mut() {
        s.suspend = Some(false);
    }
    let p = plan(&j, &[], ts(60)).unwrap();
    assert_eq!(p.create.len(), 2);
    let c = cond(&p, "Suspended").unwrap();
    assert_eq!(
        (c.status.as_str(), c.reason.as_deref()),
        ("False", Some("JobResumed"))
    );
    assert_eq!(p.status.unwrap().start_time, Some(Time(ts(60))));
}

#[test]
fn indexed_jobs_start_the_lowest_pending_indexes_and_complete_when_all_are_done() {
    let j = started(indexed(4, 2), 1);
    let pods = [
        indexed_pod("p0", "0", "Succeeded"),
        indexed_pod("p1", "1", "Running"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&j, &refs, ts(5)).unwrap();
    assert_eq!(p.create, vec![Some(2)]);
    assert_eq!(p.status.unwrap().completed_indexes.as_deref(), Some("0"));

    let pods = [
        indexed_pod("p0", "0", "Succeeded"),
        indexed_pod("p1", "1", "Succeeded"),
        indexed_pod("p2", "2", "Succeeded"),
        indexed_pod("p3", "3", "Succeeded"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&j, &refs, ts(5)).unwrap();
    assert_eq!(cond(&p, "Complete").unwrap().status, "True");
    assert_eq!(p.status.unwrap().completed_indexes.as_deref(), Some("0-3"));
}

#[test]
fn indexed_pods_with_duplicate_bad_or_completed_indexes_are_deleted() {
    let mut j = started(indexed(3, 3), 1);
    if let Some(s) = j.status.as_mut() {
        s.completed_indexes = Some("2".into());
    }
    let pods = [
        indexed_pod("a", "0", "Running"),
        indexed_pod("dup", "0", "Running"),
        indexed_pod("bad", "seven", "Running"),
        indexed_pod("big", "99", "Running"),
        indexed_pod("done", "2", "Running"),
    ];
    let refs: Vec<&Pod> = pods.iter().collect();
    let p = plan(&j, &refs, ts(5)).unwrap();
    let mut deleted = p.delete.clone();
    deleted.sort();
    assert_eq!(deleted, ["bad", "big", "done", "dup"]);
    assert_eq!(p.create, vec![Some(1)]);
}

#[test]
fn indexed_pods_carry_their_index_and_hostname() {
    let pod = pod_for(&indexed(3, 1), Some(2)).unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-2-"));
    assert_eq!(
        pod.metadata.annotations.as_ref().unwrap()[COMPLETION_INDEX],
        "2"
    );
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[COMPLETION_INDEX], "2");
    assert_eq!(labels[CONTROLLER_UID_LABEL], "job-uid");
    assert_eq!(labels[LEGACY_JOB_NAME_LABEL], "pi");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("pi-2"));
    let env = spec.containers[0].env.as_ref().unwrap();
    assert_eq!(env[0].name, "JOB_COMPLETION_INDEX");
    let owner = &pod.metadata.owner_references.unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
}

#[test]
fn plain_pods_are_labelled_with_the_job_identity() {
    let pod = pod_for(&job(Some(1), 1), None).unwrap();
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("pi-"));
    let labels = pod.metadata.labels.unwrap();
    assert_eq!(labels[JOB_NAME_LABEL], "pi");
    assert_eq!(labels[LEGACY_CONTROLLER_UID_LABEL], "job-uid");
    assert!(pod.metadata.annotations.is_none());
}

#[test]
fn a_job_without_selector_selects_its_uid_label() {
    let sel = selector(&job(Some(1), 1)).unwrap();
    let mut labels = BTreeMap::new();
    labels.insert(CONTROLLER_UID_LABEL.to_string(), "job-uid".to_string());
    assert!(sel.matches(&labels));
    labels.insert(CONTROLLER_UID_LABEL.to_string(), "other".to_string());
    assert!(!sel.matches(&labels));
    let mut anonymous = job(Some(1), 1);
    anonymous.metadata.uid = None;
    assert_eq!(
        selector(&anonymous).unwrap_err(),
        DecideError::MissingIdentity
    );
    assert_eq!(
        pod_for(&anonymous, None).unwrap_err(),
        DecideError::MissingIdentity
    );
}

#[test]
fn a_finished_job_is_deleted_once_its_ttl_runs_out() {
    let mut j = job(Some(1), 1);
    if let Some(s) = j.spec.as_mut() {
        s.ttl_seconds_after_finished = Some(30);
    }
    j.status = Some(JobStatus {
        conditions: Some(vec![JobCondition {
            type_: "Complete".into(),
            status: "True".into(),
            last_transition_time: Some(Time(ts(100))),
            ..Default::default()
        }]),
        ..Default::default()
    });
    let p = plan(&j, &[], ts(110)).unwrap();
    assert!(!p.delete_job);
    assert_eq!(p.requeue, Some(Duration::from_secs(20)));
    assert!(p.status.is_none(), "a finished job's status is left alone");
    assert!(plan(&j, &[], ts(130)).unwrap().delete_job);
}

#[test]
fn a_job_managed_elsewhere_is_recognised() {
    let mut j = job(Some(1), 1);
    assert!(!managed_elsewhere(&j));
    if let Some(s) = j.spec.as_mut() {
        s.managed_by = Some("example.com/queue".into());
    }
    assert!(managed_elsewhere(&j));
}

#[test]
fn a_job_without_spec_is_an_error_not_a_panic() {
    let mut j = job(Some(1), 1);
    j.spec = None;
    assert_eq!(plan(&j, &[], ts(1)).unwrap_err(), DecideError::MissingSpec);
}

#[test]
fn an_unchanged_status_is_not_rewritten() {
    let j = job(Some(1), 1);
    let first = plan(&j, &[], ts(1)).unwrap();
    let mut j2 = j.clone();
    j2.status = first.status;
    let running = pod("x", 1, "Running", None);
    let again = plan(&j2, &[&running], ts(2)).unwrap();
    assert!(again.create.is_empty());
    assert!(again.status.is_none());
}
