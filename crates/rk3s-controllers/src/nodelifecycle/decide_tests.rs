use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus, PodSpec, PodStatus, Toleration};

use super::*;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn cond(type_: &str, status: &str, heartbeat: i64) -> NodeCondition {
    NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some("KubeletSays".into()),
        message: Some("kubelet message".into()),
        last_heartbeat_time: Some(Time(ts(heartbeat))),
        last_transition_time: Some(Time(ts(0))),
    }
}

/// A node created at 0 whose kubelet posted the four conditions at `heartbeat`, Ready = `ready`.
fn node(ready: &str, heartbeat: i64) -> Node {
    let mut n = Node::default();
    n.metadata.name = Some("n1".into());
    n.metadata.creation_timestamp = Some(Time(ts(0)));
    n.spec = Some(NodeSpec::default());
    n.status = Some(NodeStatus {
        conditions: Some(vec![
            cond("MemoryPressure", "False", heartbeat),
            cond("DiskPressure", "False", heartbeat),
            cond("PIDPressure", "False", heartbeat),
            cond("Ready", ready, heartbeat),
        ]),
        ..Default::default()
    });
    n
}

fn taint(key: &str, effect: &str, added: Option<i64>) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        value: None,
        time_added: added.map(|s| Time(ts(s))),
    }
}

fn with_taints(mut n: Node, taints: Vec<Taint>) -> Node {
    n.spec.get_or_insert_with(Default::default).taints = Some(taints);
    n
}

fn toleration(key: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        toleration_seconds: seconds,
        value: None,
    }
}

fn pod(tolerations: Vec<Toleration>) -> Pod {
    Pod {
        metadata: Default::default(),
        spec: Some(PodSpec {
            tolerations: Some(tolerations),
            ..Default::default()
        }),
        status: Some(PodStatus {
            conditions: Some(vec![
                PodCondition {
                    type_: "PodScheduled".into(),
                    status: "True".into(),
                    ..Default::default()
                },
                PodCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_transition_time: Some(Time(ts(1))),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }),
    }
}

fn opts() -> NodeLifecycleOptions {
    NodeLifecycleOptions::default()
}

#[test]
fn defaults_are_upstreams() {
    assert_eq!(opts().node_monitor_grace_period, Duration::from_secs(40));
    assert_eq!(opts().node_startup_grace_period, Duration::from_secs(60));
}

#[test]
fn a_fresh_lease_keeps_a_node_alive_after_its_status_heartbeat_ages() {
    let n = node("True", 10);
    assert!(!is_stale(&n, Some(ts(100)), &opts(), ts(130)));
    assert_eq!(
        until_stale(&n, Some(ts(100)), &opts(), ts(130)),
        Duration::from_secs(10)
    );
    assert!(is_stale(&n, Some(ts(100)), &opts(), ts(140)));
}

#[test]
fn without_a_lease_the_ready_heartbeat_counts() {
    let n = node("True", 100);
    assert!(!is_stale(&n, None, &opts(), ts(139)));
    assert!(is_stale(&n, None, &opts(), ts(141)));
}

#[test]
fn a_node_that_never_posted_status_gets_the_startup_grace_from_creation() {
    let mut n = node("True", 0);
    n.status = None;
    assert!(!is_stale(&n, None, &opts(), ts(59)));
    assert!(is_stale(&n, None, &opts(), ts(61)));
}

#[test]
fn a_node_without_any_timestamp_is_stale() {
    let n = Node::default();
    assert!(is_stale(&n, None, &opts(), ts(0)));
}

#[test]
fn a_shorter_grace_period_applies() {
    let o = NodeLifecycleOptions {
        node_monitor_grace_period: Duration::from_secs(5),
        ..opts()
    };
    assert!(is_stale(&node("True", 0), Some(ts(10)), &o, ts(16)));
}

#[test]
fn a_lease_renewed_in_the_future_does_not_underflow() {
    let n = node("True", 0);
    assert_eq!(
        until_stale(&n, Some(ts(1000)), &opts(), ts(10)),
        Duration::from_secs(1030)
    );
}

#[test]
fn silent_node_conditions_turn_unknown_with_upstreams_reason() {
    let n = node("True", 10);
    let out = unknown_conditions(&n, ts(60)).unwrap();
    assert_eq!(out.len(), 4);
    for c in &out {
        assert_eq!(c.status, "Unknown", "{}", c.type_);
        assert_eq!(c.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            c.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(c.last_transition_time, Some(Time(ts(60))));
        // The heartbeat stays the kubelet's last one.
        assert_eq!(c.last_heartbeat_time, Some(Time(ts(10))));
    }
}

#[test]
fn already_unknown_conditions_are_left_alone() {
    let n = node("True", 10);
    let mut n2 = n.clone();
    n2.status.as_mut().unwrap().conditions = unknown_conditions(&n, ts(60));
    assert_eq!(unknown_conditions(&n2, ts(70)), None);
}

#[test]
fn missing_conditions_are_added_as_never_updated_and_others_kept() {
    let mut n = node("True", 0);
    n.status.as_mut().unwrap().conditions = Some(vec![cond("NetworkUnavailable", "False", 0)]);
    let out = unknown_conditions(&n, ts(60)).unwrap();
    assert_eq!(out.len(), 5);
    assert_eq!(out[0].type_, "NetworkUnavailable");
    assert_eq!(out[0].status, "False");
    let ready = out.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusNeverUpdated"));
    assert_eq!(
        ready.message.as_deref(),
        Some("Kubelet never posted node status.")
    );
}

#[test]
fn an_unknown_node_gets_both_unreachable_taints_with_time_added_on_no_execute() {
    let mut n = node("Unknown", 0);
    n = with_taints(n, vec![taint("dedicated", "NoSchedule", None)]);
    let out = reconcile_taints(&n, ts(50)).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].key, "dedicated");
    let ne = out
        .iter()
        .find(|t| t.key == TAINT_UNREACHABLE && t.effect == "NoExecute")
        .unwrap();
    assert_eq!(ne.time_added, Some(Time(ts(50))));
    let ns = out
        .iter()
        .find(|t| t.key == TAINT_UNREACHABLE && t.effect == "NoSchedule")
        .unwrap();
    assert_eq!(ns.time_added, None);
}

#[test]
fn a_not_ready_node_gets_not_ready_taints() {
    let out = reconcile_taints(&node("False", 0), ts(5)).unwrap();
    let keys: Vec<(&str, &str)> = out
        .iter()
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (TAINT_NOT_READY, "NoExecute"),
            (TAINT_NOT_READY, "NoSchedule")
        ]
    );
}

#[test]
fn existing_taints_keep_their_time_added_and_nothing_changes() {
    let n = with_taints(
        node("Unknown", 0),
        vec![
            taint(TAINT_UNREACHABLE, "NoExecute", Some(7)),
            taint(TAINT_UNREACHABLE, "NoSchedule", None),
        ],
    );
    assert_eq!(reconcile_taints(&n, ts(50)), None);
}

#[test]
fn a_recovered_node_loses_managed_taints_and_keeps_foreign_ones() {
    let n = with_taints(
        node("True", 0),
        vec![
            taint(TAINT_UNREACHABLE, "NoExecute", Some(7)),
            taint("example.com/special", "NoExecute", None),
            taint(TAINT_UNREACHABLE, "NoSchedule", None),
        ],
    );
    let out = reconcile_taints(&n, ts(50)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].key, "example.com/special");
}

#[test]
fn unknown_turning_false_swaps_unreachable_for_not_ready() {
    let n = with_taints(
        node("False", 0),
        vec![
            taint(TAINT_UNREACHABLE, "NoExecute", Some(7)),
            taint(TAINT_UNREACHABLE, "NoSchedule", None),
        ],
    );
    let out = reconcile_taints(&n, ts(50)).unwrap();
    assert!(out.iter().all(|t| t.key == TAINT_NOT_READY));
    assert_eq!(out.len(), 2);
}

#[test]
fn pressure_conditions_and_cordoning_taint_no_schedule() {
    let mut n = node("True", 0);
    for c in n.status.as_mut().unwrap().conditions.as_mut().unwrap() {
        if c.type_ == "DiskPressure" {
            c.status = "True".into();
        }
    }
    n.spec.as_mut().unwrap().unschedulable = Some(true);
    let out = reconcile_taints(&n, ts(1)).unwrap();
    let keys: Vec<(&str, &str)> = out
        .iter()
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (TAINT_DISK_PRESSURE, "NoSchedule"),
            (TAINT_UNSCHEDULABLE, "NoSchedule")
        ]
    );
}

#[test]
fn a_healthy_untainted_node_needs_no_change() {
    assert_eq!(reconcile_taints(&node("True", 0), ts(1)), None);
    assert_eq!(reconcile_taints(&Node::default(), ts(1)), None);
}

#[test]
fn pods_lose_readiness_once() {
    let p = pod(vec![]);
    let out = not_ready_conditions(&p, ts(9)).unwrap();
    assert_eq!(out[0].status, "True", "other conditions kept");
    assert_eq!(out[1].status, "False");
    assert_eq!(out[1].last_transition_time, Some(Time(ts(9))));
    let mut p2 = p.clone();
    p2.status.as_mut().unwrap().conditions = Some(out);
    assert_eq!(not_ready_conditions(&p2, ts(10)), None);
}

#[test]
fn pods_without_status_or_being_deleted_are_not_marked() {
    assert_eq!(not_ready_conditions(&Pod::default(), ts(1)), None);
    let mut p = pod(vec![]);
    p.metadata.deletion_timestamp = Some(Time(ts(0)));
    assert_eq!(not_ready_conditions(&p, ts(1)), None);
}

#[test]
fn an_untolerated_no_execute_taint_evicts_at_once() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(0))];
    assert_eq!(eviction(&pod(vec![]), &taints, ts(1)), Eviction::Now);
    let wrong = pod(vec![toleration(TAINT_NOT_READY, "NoExecute", None)]);
    assert_eq!(eviction(&wrong, &taints, ts(1)), Eviction::Now);
}

#[test]
fn no_schedule_taints_never_evict() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoSchedule", None)];
    assert_eq!(eviction(&pod(vec![]), &taints, ts(1)), Eviction::Stay);
}

#[test]
fn a_toleration_without_seconds_keeps_the_pod_forever() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(0))];
    let p = pod(vec![toleration(TAINT_UNREACHABLE, "NoExecute", None)]);
    assert_eq!(eviction(&p, &taints, ts(1_000_000)), Eviction::Stay);
}

#[test]
fn toleration_seconds_count_from_time_added() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(100))];
    let p = pod(vec![toleration(TAINT_UNREACHABLE, "NoExecute", Some(2))]);
    assert_eq!(eviction(&p, &taints, ts(101)), Eviction::At(ts(102)));
    assert_eq!(eviction(&p, &taints, ts(102)), Eviction::Now);
}

#[test]
fn a_taint_without_time_added_starts_the_clock_now() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", None)];
    let p = pod(vec![toleration(TAINT_UNREACHABLE, "NoExecute", Some(30))]);
    assert_eq!(eviction(&p, &taints, ts(5)), Eviction::At(ts(35)));
}

#[test]
fn zero_or_negative_seconds_evict_at_once() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(100))];
    for s in [0, -5] {
        let p = pod(vec![toleration(TAINT_UNREACHABLE, "NoExecute", Some(s))]);
        assert_eq!(eviction(&p, &taints, ts(100)), Eviction::Now, "{s}");
    }
}

#[test]
fn the_earliest_deadline_of_several_taints_wins() {
    let taints = vec![
        taint(TAINT_UNREACHABLE, "NoExecute", Some(100)),
        taint("example.com/x", "NoExecute", Some(10)),
    ];
    let p = pod(vec![
        toleration(TAINT_UNREACHABLE, "NoExecute", Some(300)),
        toleration("example.com/x", "NoExecute", Some(60)),
    ]);
    assert_eq!(eviction(&p, &taints, ts(50)), Eviction::At(ts(70)));
}

#[test]
fn one_untolerated_taint_among_tolerated_ones_evicts() {
    let taints = vec![
        taint(TAINT_UNREACHABLE, "NoExecute", Some(100)),
        taint("example.com/x", "NoExecute", Some(100)),
    ];
    let p = pod(vec![toleration(TAINT_UNREACHABLE, "NoExecute", None)]);
    assert_eq!(eviction(&p, &taints, ts(100)), Eviction::Now);
}

#[test]
fn huge_toleration_seconds_do_not_overflow() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(100))];
    let p = pod(vec![toleration(
        TAINT_UNREACHABLE,
        "NoExecute",
        Some(i64::MAX),
    )]);
    assert!(matches!(eviction(&p, &taints, ts(100)), Eviction::At(_)));
}

#[test]
fn an_empty_key_exists_toleration_tolerates_everything() {
    let taints = vec![taint(TAINT_UNREACHABLE, "NoExecute", Some(100))];
    let p = pod(vec![Toleration {
        operator: Some("Exists".into()),
        ..Default::default()
    }]);
    assert_eq!(eviction(&p, &taints, ts(100)), Eviction::Stay);
}

#[test]
fn no_execute_taints_are_detected() {
    assert!(!has_no_execute_taint(&node("True", 0)));
    let n = with_taints(
        node("True", 0),
        vec![taint(TAINT_UNREACHABLE, "NoExecute", None)],
    );
    assert!(has_no_execute_taint(&n));
}
