//! Printers for workload kinds: pods and their controllers, jobs, autoscalers and disruption
//! budgets.

use jiff::Timestamp;
use serde_json::Value;

use super::fields::{self, age, containers_and_images, get, int, items, name, opt_int, text};
use super::selector::{format_label_selector, format_labels, selector_string};
use super::{AGE, Column, NAME, Printer, duration, pod};

const CONTAINERS: Column = Column::wide(
    "Containers",
    "string",
    "Names of the containers in the pod template.",
);
const IMAGES: Column = Column::wide(
    "Images",
    "string",
    "Images of the containers in the pod template.",
);
const SELECTOR: Column = Column::wide("Selector", "string", "The label selector for the pods.");

pub(crate) fn core_printer(plural: &str) -> Option<&'static Printer> {
    match plural {
        "pods" => Some(&PODS),
        "replicationcontrollers" => Some(&REPLICATION_CONTROLLERS),
        "podtemplates" => Some(&POD_TEMPLATES),
        _ => None,
    }
}

pub(crate) fn printer(group: &str, plural: &str) -> Option<&'static Printer> {
    match (group, plural) {
        ("apps", "deployments") => Some(&DEPLOYMENTS),
        ("apps", "replicasets") => Some(&REPLICA_SETS),
        ("apps", "statefulsets") => Some(&STATEFUL_SETS),
        ("apps", "daemonsets") => Some(&DAEMON_SETS),
        ("apps", "controllerrevisions") => Some(&CONTROLLER_REVISIONS),
        ("batch", "jobs") => Some(&JOBS),
        ("batch", "cronjobs") => Some(&CRON_JOBS),
        ("autoscaling", "horizontalpodautoscalers") => Some(&HPAS),
        ("policy", "poddisruptionbudgets") => Some(&PDBS),
        _ => None,
    }
}

const PODS: Printer = Printer {
    columns: pod::COLUMNS,
    cells: pod::cells,
};

/// `spec.replicas`, which the server defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    opt_int(obj, &["spec", "replicas"]).unwrap_or(1)
}

fn pod_template_spec(obj: &Value) -> Option<&Value> {
    get(obj, &["spec", "template", "spec"])
}

const REPLICATION_CONTROLLERS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", "Number of desired pods."),
        Column::new("Current", "integer", "Number of pods currently running."),
        Column::new("Ready", "integer", "Number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (containers, images) = containers_and_images(pod_template_spec(obj));
        vec![
            name(obj).into(),
            desired_replicas(obj).into(),
            int(obj, &["status", "replicas"]).into(),
            int(obj, &["status", "readyReplicas"]).into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
            format_labels(obj, &["spec", "selector"]).into(),
        ]
    },
};

const REPLICA_SETS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Desired", "integer", "Number of desired pods."),
        Column::new("Current", "integer", "Number of pods currently running."),
        Column::new("Ready", "integer", "Number of ready pods."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (containers, images) = containers_and_images(pod_template_spec(obj));
        vec![
            name(obj).into(),
            desired_replicas(obj).into(),
            int(obj, &["status", "replicas"]).into(),
            int(obj, &["status", "readyReplicas"]).into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
            format_label_selector(get(obj, &["spec", "selector"])).into(),
        ]
    },
};

const POD_TEMPLATES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Containers",
            "string",
            "Names of the containers in the template.",
        ),
        Column::new(
            "Images",
            "string",
            "Images of the containers in the template.",
        ),
        Column::new(
            "Pod Labels",
            "string",
            "Labels the template gives its pods.",
        ),
    ],
    cells: |obj, _now| {
        let (containers, images) = containers_and_images(get(obj, &["template", "spec"]));
        vec![
            name(obj).into(),
            containers.into(),
            images.into(),
            format_labels(obj, &["template", "metadata", "labels"]).into(),
        ]
    },
};

const DEPLOYMENTS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Ready replicas out of desired replicas."),
        Column::new(
            "Up-to-date",
            "integer",
            "Replicas running the latest pod template.",
        ),
        Column::new("Available", "integer", "Replicas available to users."),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (containers, images) = containers_and_images(pod_template_spec(obj));
        // Unlike the other controllers, an empty deployment selector prints as an empty cell.
        let selector = selector_string(get(obj, &["spec", "selector"]))
            .unwrap_or_else(|_| "<invalid>".to_owned());
        vec![
            name(obj).into(),
            format!(
                "{}/{}",
                int(obj, &["status", "readyReplicas"]),
                desired_replicas(obj)
            )
            .into(),
            int(obj, &["status", "updatedReplicas"]).into(),
            int(obj, &["status", "availableReplicas"]).into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
            selector.into(),
        ]
    },
};

const STATEFUL_SETS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Ready", "string", "Ready replicas out of desired replicas."),
        AGE,
        CONTAINERS,
        IMAGES,
    ],
    cells: |obj, now| {
        let (containers, images) = containers_and_images(pod_template_spec(obj));
        vec![
            name(obj).into(),
            format!(
                "{}/{}",
                int(obj, &["status", "readyReplicas"]),
                desired_replicas(obj)
            )
            .into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
        ]
    },
};

const DAEMON_SETS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Desired",
            "integer",
            "Nodes that should run the daemon pod.",
        ),
        Column::new(
            "Current",
            "integer",
            "Nodes running at least one daemon pod.",
        ),
        Column::new("Ready", "integer", "Nodes whose daemon pod is ready."),
        Column::new(
            "Up-to-date",
            "integer",
            "Nodes running the latest daemon pod.",
        ),
        Column::new(
            "Available",
            "integer",
            "Nodes whose daemon pod is available.",
        ),
        Column::new(
            "Node Selector",
            "string",
            "The node selector of the pod template.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let (containers, images) = containers_and_images(pod_template_spec(obj));
        vec![
            name(obj).into(),
            int(obj, &["status", "desiredNumberScheduled"]).into(),
            int(obj, &["status", "currentNumberScheduled"]).into(),
            int(obj, &["status", "numberReady"]).into(),
            int(obj, &["status", "updatedNumberScheduled"]).into(),
            int(obj, &["status", "numberAvailable"]).into(),
            format_labels(obj, &["spec", "template", "spec", "nodeSelector"]).into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
            format_label_selector(get(obj, &["spec", "selector"])).into(),
        ]
    },
};

const CONTROLLER_REVISIONS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Controller",
            "string",
            "The controller that owns the revision.",
        ),
        Column::new("Revision", "integer", "The revision number."),
        AGE,
    ],
    cells: |obj, now| {
        let owner = items(obj, &["metadata", "ownerReferences"])
            .iter()
            .find(|r| fields::opt_bool(r, &["controller"]) == Some(true));
        let controller = match owner {
            Some(r) => {
                let kind = text(r, &["kind"]);
                let group = text(r, &["apiVersion"])
                    .rsplit_once('/')
                    .map_or("", |(g, _)| g);
                let group_kind = if group.is_empty() {
                    kind.to_owned()
                } else {
                    format!("{kind}.{group}")
                };
                if group_kind.is_empty() {
                    text(r, &["name"]).to_owned()
                } else {
                    format!("{}/{}", group_kind.to_lowercase(), text(r, &["name"]))
                }
            }
            None => "<none>".to_owned(),
        };
        vec![
            name(obj).into(),
            controller.into(),
            int(obj, &["revision"]).into(),
            age(obj, now).into(),
        ]
    },
};

const JOBS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "The job's state, from its conditions."),
        Column::new(
            "Completions",
            "string",
            "Succeeded pods out of desired completions.",
        ),
        Column::new(
            "Duration",
            "string",
            "How long the job ran or has been running.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: job_cells,
};

fn job_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int(obj, &["status", "succeeded"]);
    let completions = match opt_int(obj, &["spec", "completions"]) {
        Some(want) => format!("{succeeded}/{want}"),
        None => match opt_int(obj, &["spec", "parallelism"]).unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let started = fields::timestamp(obj, &["status", "startTime"]);
    let completed = fields::timestamp(obj, &["status", "completionTime"]);
    let job_duration = match (started, completed) {
        (None, _) => String::new(),
        (Some(start), None) => duration::human_signed(now.duration_since(start)),
        (Some(start), Some(end)) => duration::human_signed(end.duration_since(start)),
    };
    let conditions = items(obj, &["status", "conditions"]);
    let has = |t: &str| fields::condition_true(conditions, t);
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if fields::is_deleting(obj) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (containers, images) = containers_and_images(pod_template_spec(obj));
    vec![
        name(obj).into(),
        status.into(),
        completions.into(),
        job_duration.into(),
        age(obj, now).into(),
        containers.into(),
        images.into(),
        format_label_selector(get(obj, &["spec", "selector"])).into(),
    ]
}

const CRON_JOBS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Schedule", "string", "The cron schedule."),
        Column::new(
            "Timezone",
            "string",
            "The time zone the schedule is read in.",
        ),
        Column::new("Suspend", "boolean", "Whether new runs are suspended."),
        Column::new("Active", "integer", "Jobs currently running."),
        Column::new(
            "Last Schedule",
            "string",
            "Time since a job was last scheduled.",
        ),
        AGE,
        CONTAINERS,
        IMAGES,
        SELECTOR,
    ],
    cells: |obj, now| {
        let last_schedule = match fields::timestamp(obj, &["status", "lastScheduleTime"]) {
            Some(t) => duration::since(Some(t), now),
            None => "<none>".to_owned(),
        };
        let suspend = match fields::opt_bool(obj, &["spec", "suspend"]) {
            Some(true) => "True",
            Some(false) => "False",
            None => "<unset>",
        };
        let (containers, images) = containers_and_images(get(
            obj,
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ));
        vec![
            name(obj).into(),
            text(obj, &["spec", "schedule"]).into(),
            fields::opt_str(obj, &["spec", "timeZone"])
                .unwrap_or("<none>")
                .into(),
            suspend.into(),
            items(obj, &["status", "active"]).len().into(),
            last_schedule.into(),
            age(obj, now).into(),
            containers.into(),
            images.into(),
            format_label_selector(get(obj, &["spec", "jobTemplate", "spec", "selector"])).into(),
        ]
    },
};

const PDBS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Min Available",
            "string",
            "Pods that must stay available during disruptions.",
        ),
        Column::new(
            "Max Unavailable",
            "string",
            "Pods that may be unavailable during disruptions.",
        ),
        Column::new(
            "Allowed Disruptions",
            "integer",
            "Pod disruptions currently allowed.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let min = fields::int_or_string(obj, &["spec", "minAvailable"])
            .unwrap_or_else(|| "N/A".to_owned());
        let max = fields::int_or_string(obj, &["spec", "maxUnavailable"])
            .unwrap_or_else(|| "N/A".to_owned());
        vec![
            name(obj).into(),
            min.into(),
            max.into(),
            int(obj, &["status", "disruptionsAllowed"]).into(),
            age(obj, now).into(),
        ]
    },
};

const HPAS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Reference", "string", "The scaled object, as kind/name."),
        Column::new(
            "Targets",
            "string",
            "Current and target values of the metrics.",
        ),
        Column::new("MinPods", "string", "The lower replica limit."),
        Column::new("MaxPods", "integer", "The upper replica limit."),
        Column::new("Replicas", "integer", "Current number of replicas."),
        AGE,
    ],
    cells: |obj, now| {
        let reference = format!(
            "{}/{}",
            text(obj, &["spec", "scaleTargetRef", "kind"]),
            text(obj, &["spec", "scaleTargetRef", "name"])
        );
        let min = opt_int(obj, &["spec", "minReplicas"])
            .map_or_else(|| "<unset>".to_owned(), |m| m.to_string());
        vec![
            name(obj).into(),
            reference.into(),
            hpa_targets(obj).into(),
            min.into(),
            int(obj, &["spec", "maxReplicas"]).into(),
            int(obj, &["status", "currentReplicas"]).into(),
            age(obj, now).into(),
        ]
    },
};

/// The TARGETS cell: `current/target` per metric, at most two, for both the v2 `metrics` shape
/// and the v1 `targetCPUUtilizationPercentage` shape.
fn hpa_targets(obj: &Value) -> String {
    let specs = items(obj, &["spec", "metrics"]);
    if specs.is_empty() {
        return match opt_int(obj, &["spec", "targetCPUUtilizationPercentage"]) {
            Some(target) => {
                let current = opt_int(obj, &["status", "currentCPUUtilizationPercentage"])
                    .map_or_else(|| "<unknown>".to_owned(), |c| format!("{c}%"));
                format!("cpu: {current}/{target}%")
            }
            None => "<none>".to_owned(),
        };
    }
    let statuses = items(obj, &["status", "currentMetrics"]);
    const MAX: usize = 2;
    let shown: Vec<String> = specs
        .iter()
        .enumerate()
        .take(MAX)
        .map(|(i, spec)| hpa_metric(spec, statuses.get(i)))
        .collect();
    let joined = shown.join(", ");
    if specs.len() > MAX {
        format!("{joined} + {} more...", specs.len() - MAX)
    } else {
        joined
    }
}

fn hpa_metric(spec: &Value, status: Option<&Value>) -> String {
    let quantity =
        |v: &Value, path: &[&str]| fields::quantity(v, path).unwrap_or_else(|| "0".to_owned());
    let unknown = || "<unknown>".to_owned();
    // Each metric source keeps its data under a key named after its type.
    let (key, with_name) = match text(spec, &["type"]) {
        "External" => ("external", false),
        "Pods" => ("pods", false),
        "Object" => ("object", false),
        "Resource" => ("resource", true),
        "ContainerResource" => ("containerResource", true),
        _ => return "<unknown type>".to_owned(),
    };
    let source = get(spec, &[key]).unwrap_or(&Value::Null);
    let current = status
        .and_then(|s| get(s, &[key]))
        .and_then(|s| get(s, &["current"]));
    let has_average_value = get(source, &["target", "averageValue"]).is_some();
    let pair = if key == "pods" || (has_average_value && with_name) {
        let current = current.map_or_else(unknown, |c| quantity(c, &["averageValue"]));
        format!(
            "{current}/{}",
            quantity(source, &["target", "averageValue"])
        )
    } else if has_average_value {
        let current = current
            .and_then(|c| fields::quantity(c, &["averageValue"]))
            .unwrap_or_else(unknown);
        format!(
            "{current}/{} (avg)",
            quantity(source, &["target", "averageValue"])
        )
    } else if with_name {
        let current = current
            .and_then(|c| opt_int(c, &["averageUtilization"]))
            .map_or_else(unknown, |u| format!("{u}%"));
        let target = opt_int(source, &["target", "averageUtilization"])
            .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
        format!("{current}/{target}")
    } else {
        let current = current.map_or_else(unknown, |c| quantity(c, &["value"]));
        format!("{current}/{}", quantity(source, &["target", "value"]))
    };
    if with_name {
        format!("{}: {pair}", text(source, &["name"]))
    } else {
        pair
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "app", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"},
        ]}})
    }

    #[test]
    fn deployment_row_shows_ready_over_desired() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-04-28T12:00:00Z"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            (DEPLOYMENTS.cells)(&d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("3d"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web"),
            ]
        );
    }

    #[test]
    fn fresh_deployment_defaults_to_one_replica_and_zero_status() {
        let d = json!({"metadata": {"name": "web"}, "spec": {}});
        let row = (DEPLOYMENTS.cells)(&d, now());
        assert_eq!(row[1], json!("0/1"));
        assert_eq!(row[2], json!(0));
        assert_eq!(row[7], json!(""));
    }

    #[test]
    fn replica_set_and_replication_controller_rows() {
        let rs = json!({
            "metadata": {"name": "web-5d4f", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}},
                     "template": template()},
            "status": {"replicas": 2, "readyReplicas": 1},
        });
        assert_eq!(
            (REPLICA_SETS.cells)(&rs, now()),
            vec![
                json!("web-5d4f"),
                json!(2),
                json!(2),
                json!(1),
                json!("60m"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web,pod-template-hash=5d4f"),
            ]
        );
        let rc = json!({
            "metadata": {"name": "old"},
            "spec": {"replicas": 0, "selector": {"app": "old"}},
        });
        let row = (REPLICATION_CONTROLLERS.cells)(&rc, now());
        assert_eq!(row[1..4], [json!(0), json!(0), json!(0)]);
        assert_eq!(row[5], json!(""));
        assert_eq!(row[7], json!("app=old"));
    }

    #[test]
    fn stateful_set_and_daemon_set_rows() {
        let sts = json!({
            "metadata": {"name": "db", "creationTimestamp": "2024-05-01T11:59:00Z"},
            "spec": {"replicas": 3, "template": template()},
            "status": {"readyReplicas": 3},
        });
        assert_eq!(
            (STATEFUL_SETS.cells)(&sts, now()),
            vec![
                json!("db"),
                json!("3/3"),
                json!("60s"),
                json!("app,log"),
                json!("nginx:1.27,busybox")
            ]
        );
        let ds = json!({
            "metadata": {"name": "agent", "creationTimestamp": "2024-05-01T09:00:00Z"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": []}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 3, "numberAvailable": 2},
        });
        assert_eq!(
            (DAEMON_SETS.cells)(&ds, now()),
            vec![
                json!("agent"),
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("kubernetes.io/os=linux"),
                json!("3h"),
                json!(""),
                json!(""),
                json!("app=agent"),
            ]
        );
    }

    #[test]
    fn job_rows_cover_completions_duration_and_status() {
        let job = json!({
            "metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"completions": 1, "parallelism": 1,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
                     "template": template()},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:00:00Z",
                       "completionTime": "2024-05-01T11:00:42Z",
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                      {"type": "Complete", "status": "True"}]},
        });
        assert_eq!(
            (JOBS.cells)(&job, now()),
            vec![
                json!("pi"),
                json!("Complete"),
                json!("1/1"),
                json!("42s"),
                json!("60m"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("batch.kubernetes.io/controller-uid=abc"),
            ]
        );
        let running = json!({
            "metadata": {"name": "q"},
            "spec": {"parallelism": 3},
            "status": {"active": 3, "startTime": "2024-05-01T11:55:00Z"},
        });
        let row = (JOBS.cells)(&running, now());
        assert_eq!(
            row[1..4],
            [json!("Running"), json!("0/1 of 3"), json!("5m")]
        );
        let failed = json!({"metadata": {"name": "f"}, "status": {"conditions": [
            {"type": "Failed", "status": "True"}]}});
        let row = (JOBS.cells)(&failed, now());
        assert_eq!(row[1..4], [json!("Failed"), json!("0/1"), json!("")]);
        let suspended = json!({"metadata": {"name": "s", "deletionTimestamp": "2024-05-01T11:00:00Z"},
            "status": {"conditions": [{"type": "Suspended", "status": "True"}]}});
        assert_eq!((JOBS.cells)(&suspended, now())[1], json!("Terminating"));
    }

    #[test]
    fn cron_job_row() {
        let cj = json!({
            "metadata": {"name": "nightly", "creationTimestamp": "2024-04-01T00:00:00Z"},
            "spec": {"schedule": "0 3 * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": template()}}},
            "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": "2024-05-01T03:00:00Z"},
        });
        assert_eq!(
            (CRON_JOBS.cells)(&cj, now()),
            vec![
                json!("nightly"),
                json!("0 3 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("9h"),
                json!("30d"),
                json!("app,log"),
                json!("nginx:1.27,busybox"),
                json!("<none>"),
            ]
        );
    }

    #[test]
    fn pdb_row_prints_int_or_string_bounds() {
        let pdb = json!({
            "metadata": {"name": "web"},
            "spec": {"minAvailable": "50%"},
            "status": {"disruptionsAllowed": 1},
        });
        assert_eq!(
            (PDBS.cells)(&pdb, now())[..4],
            [json!("web"), json!("50%"), json!("N/A"), json!(1)]
        );
        let pdb = json!({"metadata": {"name": "db"}, "spec": {"maxUnavailable": 1}});
        assert_eq!((PDBS.cells)(&pdb, now())[1..3], [json!("N/A"), json!("1")]);
    }

    #[test]
    fn hpa_targets_for_each_metric_kind() {
        let hpa = json!({
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "minReplicas": 1, "maxReplicas": 10,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                    {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "External", "external": {"target": {"type": "Value", "value": "5"}}},
                ],
            },
            "status": {"currentReplicas": 2, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35, "averageValue": "70m"}}},
            ]},
        });
        assert_eq!(
            (HPAS.cells)(&hpa, now())[..6],
            [
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 35%/80%, <unknown>/1k + 1 more..."),
                json!("1"),
                json!(10),
                json!(2),
            ]
        );
        let v1 = json!({"metadata": {"name": "a"}, "spec": {"maxReplicas": 3, "targetCPUUtilizationPercentage": 50}});
        let row = (HPAS.cells)(&v1, now());
        assert_eq!(row[2..4], [json!("cpu: <unknown>/50%"), json!("<unset>")]);
        let object = json!({"type": "Object", "object": {"target": {"averageValue": "2"}}});
        assert_eq!(hpa_metric(&object, None), "<unknown>/2 (avg)");
        let mem = json!({"type": "ContainerResource", "containerResource": {"name": "memory", "container": "app",
            "target": {"averageValue": "1Gi"}}});
        assert_eq!(hpa_metric(&mem, None), "memory: <unknown>/1Gi");
        assert_eq!(
            hpa_metric(&json!({"type": "Weird"}), None),
            "<unknown type>"
        );
    }

    #[test]
    fn controller_revision_names_its_owner() {
        let cr = json!({
            "metadata": {"name": "web-7c9", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]},
            "revision": 4,
        });
        assert_eq!(
            (CONTROLLER_REVISIONS.cells)(&cr, now())[..3],
            [json!("web-7c9"), json!("statefulset.apps/web"), json!(4)]
        );
        let orphan = json!({"metadata": {"name": "x"}});
        assert_eq!(
            (CONTROLLER_REVISIONS.cells)(&orphan, now())[1],
            json!("<none>")
        );
    }
}
