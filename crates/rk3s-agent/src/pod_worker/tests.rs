use super::*;
use serde_json::json;

const T0: i64 = 1_700_000_000;

fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(T0 + secs).unwrap()
}

fn env(secs: i64) -> Env<'static> {
    Env {
        now: at(secs),
        host_ip: "172.16.0.10",
        pod_ip: "10.42.0.2",
        start_delay: Duration::ZERO,
    }
}

fn pod(restart: &str, annotations: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "default", "uid": "u1", "annotations": annotations},
        "spec": {"nodeName": "n", "restartPolicy": restart, "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Pending", "qosClass": "BestEffort", "conditions": [{"type": "PodScheduled", "status": "True"}]}
    }))
    .unwrap()
}

fn written(action: Action) -> (PodStatus, Option<Duration>) {
    match action {
        Action::Write { status, recheck } => (status, recheck),
        other => panic!("expected a write, got {other:?}"),
    }
}

fn with(mut p: Pod, status: PodStatus) -> Pod {
    p.status = Some(status);
    p
}

fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == t)
        .unwrap()
}

fn state(s: &PodStatus) -> &ContainerState {
    s.container_statuses.as_ref().unwrap()[0]
        .state
        .as_ref()
        .unwrap()
}

#[test]
fn new_pod_goes_running_with_addresses_and_ready_containers() {
    let (s, recheck) = written(step(&pod("Always", json!({})), &env(0)));
    assert_eq!(recheck, None);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.pod_ip.as_deref(), Some("10.42.0.2"));
    assert_eq!(s.host_ip.as_deref(), Some("172.16.0.10"));
    assert_eq!(s.start_time, Some(Time(at(0))));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert!(c.ready);
    assert_eq!(c.started, Some(true));
    assert_eq!(c.image, "busybox");
    assert!(c.image_id.starts_with("docker.io/library/busybox@sha256:"));
    assert_eq!(
        c.image_id.len(),
        "docker.io/library/busybox@sha256:".len() + 64
    );
    assert!(
        c.container_id
            .as_deref()
            .unwrap()
            .starts_with("simulated://u1-c")
    );
    assert_eq!(
        state(&s).running.as_ref().unwrap().started_at,
        Some(Time(at(0)))
    );
    for t in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodScheduled",
    ] {
        assert_eq!(cond(&s, t).status, "True", "{t}");
    }
}

#[test]
fn running_pod_without_exit_rule_needs_nothing() {
    let p = pod("Always", json!({}));
    let (s, _) = written(step(&p, &env(0)));
    assert_eq!(step(&with(p, s), &env(100)), Action::Wait(None));
}

#[test]
fn start_delay_shows_container_creating_first() {
    let p = pod("Always", json!({}));
    let e = Env {
        start_delay: Duration::from_secs(3),
        ..env(0)
    };
    let (s, recheck) = written(step(&p, &e));
    assert_eq!(recheck, Some(Duration::from_secs(3)));
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(s.pod_ip, None);
    assert_eq!(
        state(&s).waiting.as_ref().unwrap().reason.as_deref(),
        Some("ContainerCreating")
    );
    assert_eq!(cond(&s, "Ready").status, "False");
    let p = with(p, s);
    assert_eq!(
        step(
            &p,
            &Env {
                now: at(1),
                ..e.clone()
            }
        ),
        Action::Wait(Some(Duration::from_secs(2)))
    );
    let (s, _) = written(step(&p, &Env { now: at(3), ..e }));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&s, "Ready").last_transition_time, Some(Time(at(3))));
    assert_eq!(cond(&s, "PodScheduled").status, "True");
}

#[test]
fn job_container_exits_after_the_annotated_time_and_succeeds() {
    let p = pod("Never", json!({EXIT_AFTER_ANNOTATION: "2s"}));
    let (s, recheck) = written(step(&p, &env(0)));
    assert_eq!(recheck, Some(Duration::from_secs(2)));
    let p = with(p, s);
    assert_eq!(
        step(&p, &env(1)),
        Action::Wait(Some(Duration::from_secs(1)))
    );
    let (s, recheck) = written(step(&p, &env(2)));
    assert_eq!(recheck, None);
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
    let t = state(&s).terminated.as_ref().unwrap();
    assert_eq!(t.exit_code, 0);
    assert_eq!(t.reason.as_deref(), Some("Completed"));
    assert_eq!(t.started_at, Some(Time(at(0))));
    assert_eq!(t.finished_at, Some(Time(at(2))));
    assert!(!s.container_statuses.as_ref().unwrap()[0].ready);
    assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
    assert_eq!(step(&with(p, s), &env(10)), Action::Wait(None));
}

#[test]
fn nonzero_exit_with_restart_never_fails_the_pod() {
    let p = pod(
        "Never",
        json!({EXIT_AFTER_ANNOTATION: "1s", EXIT_CODE_ANNOTATION: "3"}),
    );
    let (s, _) = written(step(&p, &env(0)));
    let (s, _) = written(step(&with(p, s), &env(1)));
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let t = state(&s).terminated.as_ref().unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (3, Some("Error")));
}

#[test]
fn garbage_exit_code_counts_as_failure() {
    let p = pod(
        "Never",
        json!({EXIT_AFTER_ANNOTATION: "1s", EXIT_CODE_ANNOTATION: "boom"}),
    );
    let (s, _) = written(step(&p, &env(0)));
    let (s, _) = written(step(&with(p, s), &env(1)));
    assert_eq!(s.phase.as_deref(), Some("Failed"));
}

#[test]
fn on_failure_restarts_failing_containers_and_counts_restarts() {
    let p = pod(
        "OnFailure",
        json!({EXIT_AFTER_ANNOTATION: "1s", EXIT_CODE_ANNOTATION: "1"}),
    );
    let (s, _) = written(step(&p, &env(0)));
    let p = with(p, s);
    let (s, recheck) = written(step(&p, &env(1)));
    assert_eq!(recheck, Some(Duration::from_secs(1)));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let c = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(c.restart_count, 1);
    assert_eq!(
        c.last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert_eq!(
        state(&s).running.as_ref().unwrap().started_at,
        Some(Time(at(1)))
    );
    assert_eq!(
        s.start_time,
        Some(Time(at(0))),
        "the pod's start time stays"
    );
    let (s, _) = written(step(&with(p, s), &env(2)));
    assert_eq!(s.container_statuses.as_ref().unwrap()[0].restart_count, 2);
}

#[test]
fn on_failure_with_success_completes() {
    let p = pod("OnFailure", json!({EXIT_AFTER_ANNOTATION: "1s"}));
    let (s, _) = written(step(&p, &env(0)));
    let (s, _) = written(step(&with(p, s), &env(5)));
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
}

#[test]
fn restart_always_keeps_restarting_even_on_success() {
    let p = pod("Always", json!({EXIT_AFTER_ANNOTATION: "1s"}));
    let (s, _) = written(step(&p, &env(0)));
    let (s, _) = written(step(&with(p, s), &env(1)));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.container_statuses.as_ref().unwrap()[0].restart_count, 1);
}

#[test]
fn deleting_a_running_pod_stops_containers_then_finishes() {
    let p = pod("Always", json!({}));
    let (s, _) = written(step(&p, &env(0)));
    let mut p = with(p, s);
    p.metadata.deletion_timestamp = Some(Time(at(5)));
    let Action::Finish { status: Some(s) } = step(&p, &env(6)) else {
        panic!("expected finish with a status");
    };
    let t = state(&s).terminated.as_ref().unwrap();
    assert_eq!(t.started_at, Some(Time(at(0))));
    assert_eq!(t.finished_at, Some(Time(at(6))));
}

#[test]
fn deleting_a_finished_pod_only_removes_it() {
    let mut p = pod("Never", json!({}));
    p.status.as_mut().unwrap().phase = Some("Succeeded".into());
    p.metadata.deletion_timestamp = Some(Time(at(5)));
    assert_eq!(step(&p, &env(6)), Action::Finish { status: None });
}

#[test]
fn other_writers_conditions_survive() {
    let mut p = pod("Always", json!({}));
    p.status
        .as_mut()
        .unwrap()
        .conditions
        .as_mut()
        .unwrap()
        .push(PodCondition {
            type_: "example.com/Gate".into(),
            status: "True".into(),
            ..Default::default()
        });
    let (s, _) = written(step(&p, &env(0)));
    assert_eq!(cond(&s, "example.com/Gate").status, "True");
}

#[test]
fn init_containers_are_reported_completed() {
    let mut p = pod("Always", json!({}));
    p.spec.as_mut().unwrap().init_containers = Some(vec![Container {
        name: "setup".into(),
        image: Some("busybox".into()),
        ..Default::default()
    }]);
    let (s, _) = written(step(&p, &env(0)));
    let init = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        init.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .reason
            .as_deref(),
        Some("Completed")
    );
}

#[test]
fn pod_without_spec_does_not_panic() {
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    let (s, _) = written(step(&p, &env(0)));
    assert_eq!(s.container_statuses.as_ref().map(Vec::len), Some(0));
}

#[test]
fn durations_parse_like_go_and_reject_garbage() {
    assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
    assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
    for bad in [
        "",
        "s",
        "10",
        "1x",
        "-1s",
        "1.5s",
        "99999999999999999999999s",
        "4294967296h",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad:?}");
    }
}

#[test]
fn image_ids_are_qualified() {
    assert!(image_id("nginx:1.25").starts_with("docker.io/library/nginx@sha256:"));
    assert!(image_id("bitnami/redis").starts_with("docker.io/bitnami/redis@sha256:"));
    assert!(image_id("registry.k8s.io/pause:3.9").starts_with("registry.k8s.io/pause@sha256:"));
    assert!(image_id("localhost:5000/app").starts_with("localhost:5000/app@sha256:"));
    assert_ne!(image_id("a"), image_id("b"));
}

#[test]
fn starting_containers_records_pulled_created_started() {
    let p = pod("Always", json!({}));
    let (s, _) = written(step(&p, &env(0)));
    let events = transition_events(&p, &s);
    let reasons: Vec<_> = events.iter().map(|e| e.reason).collect();
    assert_eq!(reasons, ["Pulled", "Created", "Started"]);
    assert_eq!(
        events[0].message,
        "Container image \"busybox\" already present on machine"
    );
    assert_eq!(events[2].message, "Started container c");
    let p = with(p, s.clone());
    assert!(
        transition_events(&p, &s).is_empty(),
        "no events when nothing starts"
    );
}

#[test]
fn restarts_record_new_starts_and_deletion_records_killing() {
    let p = pod("Always", json!({EXIT_AFTER_ANNOTATION: "1s"}));
    let (s, _) = written(step(&p, &env(0)));
    let p = with(p, s);
    let (s, _) = written(step(&p, &env(1)));
    assert_eq!(transition_events(&p, &s).len(), 3);
    let killing = stopping_events(&p);
    assert_eq!(
        killing,
        vec![PodEvent {
            type_: "Normal",
            reason: "Killing",
            message: "Stopping container c".into()
        }]
    );
    assert!(stopping_events(&pod("Always", json!({}))).is_empty());
}

#[test]
fn absurd_restart_counts_do_not_overflow() {
    let p = pod("Always", json!({EXIT_AFTER_ANNOTATION: "1s"}));
    let (mut s, _) = written(step(&p, &env(0)));
    s.container_statuses.as_mut().unwrap()[0].restart_count = i32::MAX;
    let (s, _) = written(step(&with(p, s), &env(1)));
    assert_eq!(
        s.container_statuses.as_ref().unwrap()[0].restart_count,
        i32::MAX
    );
}
