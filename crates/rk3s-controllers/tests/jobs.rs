//! Jobs and CronJobs end to end: the real server, the real kubectl, this crate's controllers, and
//! simulated nodes (rk3s-agent, in process) whose containers exit as the pods' annotations say.
//! Pods name their node in the template, so no scheduler is needed.

mod harness;

use std::time::{Duration, Instant};

use harness::{Controllers, Nodes, Server, controller_uid, names, tail};
use serde_json::Value;

/// Simulated nodes `sim-node-0..n` (the harness's, in process), once all are registered.
fn fleet(s: &Server, nodes: usize) -> Nodes {
    let fleet = Nodes::start(&s.kubeconfig(), nodes);
    wait_for(s, "the simulated nodes", Duration::from_secs(30), || {
        s.ok(&["get", "nodes", "-o", "name"]).lines().count() == nodes
    });
    fleet
}

fn wait_for(s: &Server, what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n--- server log ---\n{}",
            tail(&s.log())
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A Job manifest whose containers exit with `code` a second after they start.
fn job_yaml(name: &str, extra_spec: &str, code: i32) -> String {
    format!(
        "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
{extra_spec}
  template:
    metadata:
      annotations:
        rk3s.io/simulate-exit-after: 1s
        rk3s.io/simulate-exit-code: \"{code}\"
    spec:
      nodeName: sim-node-0
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
"
    )
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")
}

fn pods_of(s: &Server, job: &str) -> Vec<Value> {
    s.items(&["pods", "-l", &format!("batch.kubernetes.io/job-name={job}")])
}

#[test]
fn jobs_complete_with_parallel_and_indexed_pods_and_fail_past_their_backoff_limit() {
    let s = Server::start();
    let _fleet = fleet(&s, 1);
    let _c = Controllers::start(&s.kubeconfig(), "jobs-manager");
    s.apply(&job_yaml("three", "  completions: 3\n  parallelism: 2", 0));
    s.apply(&job_yaml(
        "indexed",
        "  completions: 2\n  parallelism: 2\n  completionMode: Indexed",
        0,
    ));
    s.apply(&job_yaml("doomed", "  backoffLimit: 1", 1));
    s.apply(&job_yaml("ephemeral", "  ttlSecondsAfterFinished: 0", 0));

    // completions=3, parallelism=2: three pods succeed, never more than two at once.
    let mut most_active = 0;
    wait_for(&s, "job three to complete", Duration::from_secs(60), || {
        let j = s.json(&["get", "job", "three"]);
        most_active = most_active.max(j["status"]["active"].as_i64().unwrap_or(0));
        condition(&j, "Complete").is_some()
    });
    s.ok(&[
        "wait",
        "--for=condition=complete",
        "job/three",
        "--timeout=5s",
    ]);
    let j = s.json(&["get", "job", "three"]);
    assert_eq!(j["status"]["succeeded"], 3, "{j}");
    assert!(j["status"]["completionTime"].is_string(), "{j}");
    assert!(condition(&j, "SuccessCriteriaMet").is_some(), "{j}");
    assert!(
        most_active <= 2,
        "at most parallelism pods run: {most_active}"
    );
    let pods = pods_of(&s, "three");
    assert_eq!(
        pods.len(),
        3,
        "exactly completions pods: {:?}",
        names(&pods)
    );
    let job_uid = j["metadata"]["uid"].as_str().map(str::to_string);
    for p in &pods {
        assert_eq!(p["status"]["phase"], "Succeeded", "{p}");
        assert_eq!(controller_uid(p), job_uid, "{p}");
        assert_eq!(
            p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"].as_str(),
            job_uid.as_deref()
        );
        assert_eq!(p["metadata"]["labels"]["job-name"], "three");
    }

    // Indexed: one pod per index, named and addressed by it.
    wait_for(
        &s,
        "the indexed job to complete",
        Duration::from_secs(30),
        || condition(&s.json(&["get", "job", "indexed"]), "Complete").is_some(),
    );
    let j = s.json(&["get", "job", "indexed"]);
    assert_eq!(j["status"]["completedIndexes"], "0-1", "{j}");
    let mut hosts: Vec<String> = pods_of(&s, "indexed")
        .iter()
        .map(|p| {
            let index = &p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"];
            assert_eq!(
                p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
                *index
            );
            p["spec"]["hostname"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["indexed-0", "indexed-1"]);

    // backoffLimit=1: the second failed pod fails the job.
    wait_for(&s, "job doomed to fail", Duration::from_secs(60), || {
        condition(&s.json(&["get", "job", "doomed"]), "Failed").is_some()
    });
    let j = s.json(&["get", "job", "doomed"]);
    assert_eq!(
        condition(&j, "Failed").map(|c| c["reason"].clone()),
        Some(Value::from("BackoffLimitExceeded")),
        "{j}"
    );
    assert_eq!(j["status"]["failed"], 2, "{j}");
    assert_eq!(j["status"]["active"], 0, "{j}");
    assert!(
        s.ok(&["describe", "job", "doomed"])
            .contains("BackoffLimitExceeded")
    );

    // ttlSecondsAfterFinished=0: the finished job is deleted.
    wait_for(
        &s,
        "the ephemeral job to go",
        Duration::from_secs(30),
        || !s.kubectl(&["get", "job", "ephemeral"]).status.success(),
    );
}

#[test]
fn a_cron_job_every_minute_starts_a_job_named_after_its_minute() {
    let s = Server::start();
    let _fleet = fleet(&s, 1);
    let _c = Controllers::start(&s.kubeconfig(), "cron-manager");
    s.apply(
        "apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: '* * * * *'
  timeZone: Etc/UTC
  jobTemplate:
    metadata:
      labels: {app: tick}
    spec:
      template:
        metadata:
          annotations:
            rk3s.io/simulate-exit-after: 1s
        spec:
          nodeName: sim-node-0
          restartPolicy: Never
          containers:
          - name: work
            image: busybox
",
    );
    let cj = s.json(&["get", "cronjob", "tick"]);
    let cj_uid = cj["metadata"]["uid"].as_str().map(str::to_string);
    wait_for(&s, "a job of the cron job", Duration::from_secs(75), || {
        !s.items(&["jobs", "-l", "app=tick"]).is_empty()
    });
    let job = s.items(&["jobs", "-l", "app=tick"]).remove(0);
    assert_eq!(controller_uid(&job), cj_uid, "{job}");
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    let minute: i64 = name
        .strip_prefix("tick-")
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("job named tick-<minute>: {name}"));
    let scheduled =
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    let at: jiff::Timestamp = scheduled.parse().expect("an RFC 3339 scheduled time");
    assert_eq!(at.as_second(), minute * 60);
    assert!(scheduled.ends_with('Z'), "{scheduled}");

    // The job runs to completion; the cron job records the run and the success.
    wait_for(
        &s,
        "the run to be recorded",
        Duration::from_secs(30),
        || {
            let cj = s.json(&["get", "cronjob", "tick"]);
            cj["status"]["lastSuccessfulTime"].is_string()
        },
    );
    let cj = s.json(&["get", "cronjob", "tick"]);
    let last: jiff::Timestamp = cj["status"]["lastScheduleTime"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("lastScheduleTime");
    assert!(last >= at, "{cj}");
    let job = s.json(&["get", "job", name]);
    assert!(condition(&job, "Complete").is_some(), "{job}");
}
