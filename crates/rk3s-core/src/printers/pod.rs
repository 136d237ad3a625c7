//! The pod printer: READY, the STATUS reason kubectl users read, RESTARTS with the last restart.

use jiff::Timestamp;
use serde_json::Value;

use super::fields::{self, get, int, items, non_empty, opt_bool, text, timestamp};
use super::{AGE, Column, NAME, duration};

pub(crate) const COLUMNS: &[Column] = &[
    NAME,
    Column::new(
        "Ready",
        "string",
        "Ready containers out of all containers of the pod.",
    ),
    Column::new(
        "Status",
        "string",
        "The pod's phase, or the reason it is not running.",
    ),
    Column::new(
        "Restarts",
        "string",
        "Container restarts, with how long ago the last one was.",
    ),
    AGE,
    Column::wide("IP", "string", "The pod's first IP address."),
    Column::wide("Node", "string", "The node the pod is bound to."),
    Column::wide(
        "Nominated Node",
        "string",
        "The node preemption nominated for the pod.",
    ),
    Column::wide(
        "Readiness Gates",
        "string",
        "Readiness gates that are true, out of all.",
    ),
];

/// Set by the node lifecycle controller on pods of a node that stopped reporting.
const NODE_LOST_REASON: &str = "NodeLost";

/// Counts restarts and remembers when the latest one ended.
#[derive(Default, Clone, Copy)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &Value) {
        self.count = self.count.saturating_add(int(status, &["restartCount"]));
        let finished = timestamp(status, &["lastState", "terminated", "finishedAt"])
            .filter(|t| !duration::is_zero(*t));
        if finished > self.last {
            self.last = finished;
        }
    }

    fn cell(self, now: Timestamp) -> String {
        match self.last {
            Some(last) if self.count != 0 => {
                format!("{} ({} ago)", self.count, duration::since(Some(last), now))
            }
            _ => self.count.to_string(),
        }
    }
}

pub(crate) fn cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let spec_init = items(pod, &["spec", "initContainers"]);
    let is_sidecar = |name: &str| {
        spec_init
            .iter()
            .any(|c| text(c, &["name"]) == name && text(c, &["restartPolicy"]) == "Always")
    };
    let sidecars = spec_init
        .iter()
        .filter(|c| text(c, &["restartPolicy"]) == "Always")
        .count();
    let total = items(pod, &["spec", "containers"]).len() + sidecars;
    let mut ready = 0usize;

    let conditions = items(pod, &["status", "conditions"]);
    let phase = fields::opt_str(pod, &["status", "phase"]).unwrap_or("Pending");
    let mut reason = non_empty(pod, &["status", "reason"])
        .unwrap_or(phase)
        .to_owned();
    if conditions
        .iter()
        .any(|c| text(c, &["type"]) == "PodScheduled" && text(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".to_owned();
    }

    let mut restarts = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let init_statuses = items(pod, &["status", "initContainerStatuses"]);
    let mut initializing = false;
    for (i, status) in init_statuses.iter().enumerate() {
        restarts.add(status);
        let sidecar = is_sidecar(text(status, &["name"]));
        if sidecar {
            sidecar_restarts.add(status);
        }
        let terminated = get(status, &["state", "terminated"]);
        let waiting_reason = non_empty(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && opt_bool(status, &["started"]) == Some(true) {
            if opt_bool(status, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(t) = terminated {
            match non_empty(t, &["reason"]) {
                Some(r) => format!("Init:{r}"),
                None if int(t, &["signal"]) != 0 => format!("Init:Signal:{}", int(t, &["signal"])),
                None => format!("Init:ExitCode:{}", int(t, &["exitCode"])),
            }
        } else if let Some(r) = waiting_reason.filter(|r| *r != "PodInitializing") {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{}", spec_init.len())
        };
        initializing = true;
        break;
    }

    if !initializing || fields::condition_true(conditions, "Initialized") {
        // Only sidecars keep running next to the app containers, so only their restarts carry
        // over once initialization is done.
        restarts = sidecar_restarts;
        let mut has_running = false;
        for status in items(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts.add(status);
            let terminated = get(status, &["state", "terminated"]);
            if let Some(r) = non_empty(status, &["state", "waiting", "reason"]) {
                reason = r.to_owned();
            } else if let Some(t) = terminated {
                reason = match non_empty(t, &["reason"]) {
                    Some(r) => r.to_owned(),
                    None if int(t, &["signal"]) != 0 => format!("Signal:{}", int(t, &["signal"])),
                    None => format!("ExitCode:{}", int(t, &["exitCode"])),
                };
            } else if opt_bool(status, &["ready"]) == Some(true)
                && get(status, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if fields::condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_owned();
        }
    }

    if fields::is_deleting(pod) {
        if text(pod, &["status", "reason"]) == NODE_LOST_REASON {
            reason = "Unknown".to_owned();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_owned();
        }
    }

    let ip = items(pod, &["status", "podIPs"])
        .first()
        .and_then(|ip| non_empty(ip, &["ip"]))
        .or_else(|| non_empty(pod, &["status", "podIP"]))
        .unwrap_or("<none>");
    let node = non_empty(pod, &["spec", "nodeName"]).unwrap_or("<none>");
    let nominated = non_empty(pod, &["status", "nominatedNodeName"]).unwrap_or("<none>");

    vec![
        fields::name(pod).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts.cell(now).into(),
        fields::age(pod, now).into(),
        ip.into(),
        node.into(),
        nominated.into(),
        readiness_gates(pod, conditions).into(),
    ]
}

/// `true/total` over `spec.readinessGates`; a gate counts when its condition (the first with that
/// type) is `True`.
fn readiness_gates(pod: &Value, conditions: &[Value]) -> String {
    let gates = items(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let passing = gates
        .iter()
        .filter(|gate| {
            let wanted = text(gate, &["conditionType"]);
            conditions
                .iter()
                .find(|c| text(c, &["type"]) == wanted)
                .is_some_and(|c| text(c, &["status"]) == "True")
        })
        .count();
    format!("{passing}/{}", gates.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn row(pod: Value) -> Vec<Value> {
        cells(&pod, now())
    }

    fn running(name: &str, restarts: i64, last_finished: Option<&str>) -> Value {
        let mut status = json!({
            "name": name, "ready": true, "restartCount": restarts, "started": true,
            "state": {"running": {"startedAt": "2024-05-01T11:58:00Z"}},
        });
        if let Some(finished) = last_finished {
            status["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": finished}});
        }
        status
    }

    #[test]
    fn running_pod_with_two_ready_containers_and_one_restart() {
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": "2024-05-01T10:00:00Z"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "app"}, {"name": "proxy"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.42.0.7",
                "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    running("app", 1, Some("2024-05-01T11:57:00Z")),
                    running("proxy", 0, None),
                ],
            },
        });
        assert_eq!(
            row(pod),
            vec![
                json!("web-1"),
                json!("2/2"),
                json!("Running"),
                json!("1 (3m ago)"),
                json!("120m"),
                json!("10.42.0.7"),
                json!("node-a"),
                json!("<none>"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn restarts_without_a_finish_time_print_only_the_count() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [running("a", 4, None)]},
        });
        assert_eq!(row(pod)[3], json!("4"));
    }

    #[test]
    fn restart_age_uses_the_latest_finish_across_containers() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [
                running("a", 2, Some("2024-05-01T10:00:00Z")),
                running("b", 1, Some("2024-05-01T11:59:30Z")),
            ]},
        });
        assert_eq!(row(pod)[3], json!("3 (30s ago)"));
    }

    #[test]
    fn waiting_reason_becomes_the_status() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "a", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }]},
        });
        let r = row(pod);
        assert_eq!(r[1], json!("0/1"));
        assert_eq!(r[2], json!("ContainerCreating"));
        assert_eq!(r[3], json!("0"));
    }

    #[test]
    fn crash_looping_container_shows_crash_loop_back_off() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "a", "ready": false, "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                    "finishedAt": "2024-05-01T11:55:00Z"}},
            }]},
        });
        let r = row(pod);
        assert_eq!(r[2], json!("CrashLoopBackOff"));
        assert_eq!(r[3], json!("5 (5m ago)"));
    }

    #[test]
    fn succeeded_pod_shows_completed() {
        let pod = json!({
            "metadata": {"name": "job-x"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [{
                "name": "a", "ready": false, "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
            }]},
        });
        let r = row(pod);
        assert_eq!(r[1], json!("0/1"));
        assert_eq!(r[2], json!("Completed"));
    }

    #[test]
    fn terminated_without_reason_shows_exit_code_or_signal() {
        let mk = |t: Value| {
            json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a"}]},
                "status": {"phase": "Failed", "containerStatuses": [
                    {"name": "a", "state": {"terminated": t}},
                ]},
            })
        };
        assert_eq!(row(mk(json!({"exitCode": 3})))[2], json!("ExitCode:3"));
        assert_eq!(
            row(mk(json!({"exitCode": 137, "signal": 9})))[2],
            json!("Signal:9")
        );
    }

    #[test]
    fn completed_container_next_to_a_running_one_reads_running_or_not_ready() {
        let mk = |ready: &str| {
            json!({
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": ready}],
                    "containerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                        running("b", 0, None),
                    ],
                },
            })
        };
        assert_eq!(row(mk("True"))[2], json!("Running"));
        assert_eq!(row(mk("False"))[2], json!("NotReady"));
        assert_eq!(row(mk("True"))[1], json!("1/2"));
    }

    #[test]
    fn init_containers_in_progress_show_init_progress() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i0"}, {"name": "i1"}], "containers": [{"name": "a"}]},
            "status": {
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    {"name": "i1", "restartCount": 0, "state": {"running": {}}},
                ],
                "containerStatuses": [
                    {"name": "a", "state": {"waiting": {"reason": "PodInitializing"}}},
                ],
            },
        });
        let r = row(pod);
        assert_eq!(r[1], json!("0/1"));
        assert_eq!(r[2], json!("Init:1/2"));
    }

    #[test]
    fn failing_init_container_shows_its_reason() {
        let mk = |state: Value, restarts: i64| {
            json!({
                "metadata": {"name": "p"},
                "spec": {"initContainers": [{"name": "i0"}], "containers": [{"name": "a"}]},
                "status": {"phase": "Pending", "initContainerStatuses": [
                    {"name": "i0", "restartCount": restarts, "state": state,
                     "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:59:00Z"}}},
                ]},
            })
        };
        let r = row(mk(json!({"waiting": {"reason": "CrashLoopBackOff"}}), 2));
        assert_eq!(r[2], json!("Init:CrashLoopBackOff"));
        assert_eq!(r[3], json!("2 (60s ago)"));
        assert_eq!(
            row(mk(json!({"terminated": {"exitCode": 2}}), 0))[2],
            json!("Init:ExitCode:2")
        );
        assert_eq!(
            row(mk(json!({"terminated": {"exitCode": 1, "signal": 15}}), 0))[2],
            json!("Init:Signal:15")
        );
        assert_eq!(
            row(mk(
                json!({"terminated": {"exitCode": 1, "reason": "Error"}}),
                0
            ))[2],
            json!("Init:Error")
        );
        assert_eq!(
            row(mk(json!({"waiting": {"reason": "PodInitializing"}}), 0))[2],
            json!("Init:0/1")
        );
    }

    #[test]
    fn started_sidecar_counts_toward_ready_and_total() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [{"name": "mesh", "restartPolicy": "Always"}],
                "containers": [{"name": "a"}],
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Initialized", "status": "True"}],
                "initContainerStatuses": [{
                    "name": "mesh", "ready": true, "started": true, "restartCount": 2,
                    "state": {"running": {}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:00:00Z"}},
                }],
                "containerStatuses": [running("a", 1, Some("2024-05-01T11:50:00Z"))],
            },
        });
        let r = row(pod);
        assert_eq!(r[1], json!("2/2"));
        assert_eq!(r[2], json!("Running"));
        assert_eq!(r[3], json!("3 (10m ago)"));
    }

    #[test]
    fn deleting_pod_reads_terminating_unless_finished_or_node_lost() {
        let mk = |phase: &str, reason: Option<&str>| {
            let mut pod = json!({
                "metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:59:00Z"},
                "spec": {"containers": [{"name": "a"}]},
                "status": {"phase": phase, "containerStatuses": [running("a", 0, None)]},
            });
            if let Some(r) = reason {
                pod["status"]["reason"] = json!(r);
            }
            pod
        };
        assert_eq!(row(mk("Running", None))[2], json!("Terminating"));
        assert_eq!(row(mk("Succeeded", None))[2], json!("Succeeded"));
        assert_eq!(row(mk("Running", Some("NodeLost")))[2], json!("Unknown"));
    }

    #[test]
    fn scheduling_gated_and_unscheduled_pods() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"},
            ]},
        });
        assert_eq!(row(pod)[2], json!("SchedulingGated"));
        let fresh = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        let r = row(fresh);
        assert_eq!(r[1], json!("0/1"));
        assert_eq!(r[2], json!("Pending"));
        assert_eq!(r[4], json!("<unknown>"));
    }

    #[test]
    fn evicted_pod_shows_the_status_reason() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Failed", "reason": "Evicted"},
        });
        assert_eq!(row(pod)[2], json!("Evicted"));
    }

    #[test]
    fn readiness_gates_count_true_conditions() {
        let pod = json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [],
                "readinessGates": [{"conditionType": "a/x"}, {"conditionType": "a/y"}],
            },
            "status": {"phase": "Running", "nominatedNodeName": "n2", "conditions": [
                {"type": "a/x", "status": "True"}, {"type": "a/y", "status": "False"},
            ]},
        });
        let r = row(pod);
        assert_eq!(r[7], json!("n2"));
        assert_eq!(r[8], json!("1/2"));
    }
}
