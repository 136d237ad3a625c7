//! Printers for core cluster kinds: namespaces, nodes, events, configuration objects, quotas and
//! small scheduling/coordination kinds.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::fields::{self, age, get, int, items, map_len, name, non_empty, opt_str, text};
use super::{AGE, CREATED_AT, Column, NAME, Printer, duration};

pub(crate) fn core_printer(plural: &str) -> Option<&'static Printer> {
    match plural {
        "namespaces" => Some(&NAMESPACES),
        "nodes" => Some(&NODES),
        "events" => Some(&CORE_EVENTS),
        "configmaps" => Some(&CONFIG_MAPS),
        "secrets" => Some(&SECRETS),
        "serviceaccounts" => Some(&SERVICE_ACCOUNTS),
        "componentstatuses" => Some(&COMPONENT_STATUSES),
        "limitranges" => Some(&LIMIT_RANGES),
        "resourcequotas" => Some(&RESOURCE_QUOTAS),
        _ => None,
    }
}

pub(crate) fn printer(group: &str, plural: &str) -> Option<&'static Printer> {
    match (group, plural) {
        ("events.k8s.io", "events") => Some(&EVENTS_K8S_IO),
        ("coordination.k8s.io", "leases") => Some(&LEASES),
        ("scheduling.k8s.io", "priorityclasses") => Some(&PRIORITY_CLASSES),
        ("node.k8s.io", "runtimeclasses") => Some(&RUNTIME_CLASSES),
        _ => None,
    }
}

const NAMESPACES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "The namespace's phase."),
        AGE,
    ],
    cells: |obj, now| {
        // The server sets the phase on creation; an unset one can only mean Active.
        let phase = non_empty(obj, &["status", "phase"]).unwrap_or("Active");
        vec![name(obj).into(), phase.into(), age(obj, now).into()]
    },
};

const NODES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Status",
            "string",
            "Whether the node is ready, and schedulable.",
        ),
        Column::new(
            "Roles",
            "string",
            "Roles from the node's node-role.kubernetes.io labels.",
        ),
        AGE,
        Column::new("Version", "string", "The kubelet version."),
        Column::wide(
            "Internal-IP",
            "string",
            "The node's first internal address.",
        ),
        Column::wide(
            "External-IP",
            "string",
            "The node's first external address.",
        ),
        Column::wide("OS-Image", "string", "The operating system image."),
        Column::wide("Kernel-Version", "string", "The kernel version."),
        Column::wide(
            "Container-Runtime",
            "string",
            "The container runtime and its version.",
        ),
    ],
    cells: |obj, now| {
        let info = |key: &str| non_empty(obj, &["status", "nodeInfo", key]).unwrap_or("<unknown>");
        vec![
            name(obj).into(),
            node_status(obj).into(),
            node_roles(obj).into(),
            age(obj, now).into(),
            text(obj, &["status", "nodeInfo", "kubeletVersion"]).into(),
            node_address(obj, "InternalIP").into(),
            node_address(obj, "ExternalIP").into(),
            info("osImage").into(),
            info("kernelVersion").into(),
            info("containerRuntimeVersion").into(),
        ]
    },
};

fn node_status(obj: &Value) -> String {
    // The last condition of a type wins, as when conditions are collected into a map.
    let ready = items(obj, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| text(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(c) if text(c, &["status"]) == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if fields::opt_bool(obj, &["spec", "unschedulable"]) == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

fn node_roles(obj: &Value) -> String {
    const ROLE_PREFIX: &str = "node-role.kubernetes.io/";
    const LEGACY_ROLE_LABEL: &str = "kubernetes.io/role";
    let roles: BTreeSet<&str> = fields::string_map(obj, &["metadata", "labels"])
        .into_iter()
        .filter_map(|(k, v)| match k.strip_prefix(ROLE_PREFIX) {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if k == LEGACY_ROLE_LABEL && !v.is_empty() => Some(v),
            None => None,
        })
        .collect();
    if roles.is_empty() {
        "<none>".to_owned()
    } else {
        roles.into_iter().collect::<Vec<_>>().join(",")
    }
}

fn node_address<'a>(obj: &'a Value, type_: &str) -> &'a str {
    items(obj, &["status", "addresses"])
        .iter()
        .find(|a| text(a, &["type"]) == type_)
        .map_or("<none>", |a| text(a, &["address"]))
}

const EVENT_COLUMNS: &[Column] = &[
    Column::new(
        "Last Seen",
        "string",
        "Time since the event was last observed.",
    ),
    Column::new("Type", "string", "Normal or Warning."),
    Column::new("Reason", "string", "Why the event happened, in CamelCase."),
    Column::new(
        "Object",
        "string",
        "The object the event is about, as kind/name.",
    ),
    Column::wide(
        "Subobject",
        "string",
        "The part of the object the event is about.",
    ),
    Column::wide("Source", "string", "The component that reported the event."),
    Column::new("Message", "string", "What happened."),
    Column::wide(
        "First Seen",
        "string",
        "Time since the event was first observed.",
    ),
    Column::wide("Count", "string", "How many times the event was observed."),
    Column {
        name: "Name",
        type_: "string",
        format: "name",
        description: "Name of the event object.",
        priority: 1,
    },
];

/// Where a kind of event keeps each field: `core/v1` and `events.k8s.io/v1` name them differently.
struct EventFields {
    object: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
}

const CORE_EVENT_FIELDS: EventFields = EventFields {
    object: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
};

const EVENTS_K8S_IO_FIELDS: EventFields = EventFields {
    object: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
};

const CORE_EVENTS: Printer = Printer {
    columns: EVENT_COLUMNS,
    cells: |obj, now| event_cells(obj, now, &CORE_EVENT_FIELDS),
};

const EVENTS_K8S_IO: Printer = Printer {
    columns: EVENT_COLUMNS,
    cells: |obj, now| event_cells(obj, now, &EVENTS_K8S_IO_FIELDS),
};

fn event_cells(obj: &Value, now: Timestamp, f: &EventFields) -> Vec<Value> {
    let valid = |t: Option<Timestamp>| t.filter(|t| !duration::is_zero(*t));
    let first_ts = valid(fields::timestamp(obj, &[f.first]));
    let first = match first_ts {
        Some(t) => duration::since(Some(t), now),
        None => duration::since(fields::timestamp(obj, &["eventTime"]), now),
    };
    let mut last = match valid(fields::timestamp(obj, &[f.last])) {
        Some(t) => duration::since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int(obj, &[f.count]);
    if let Some(series) = get(obj, &["series"]) {
        last = duration::since(fields::timestamp(series, &["lastObservedTime"]), now);
        count = int(series, &["count"]);
    } else if count == 0 {
        // Events written through the new API leave the count unset for single occurrences.
        count = 1;
    }
    let kind = text(obj, &[f.object, "kind"]).to_lowercase();
    let target = match non_empty(obj, &[f.object, "name"]) {
        Some(n) => format!("{kind}/{n}"),
        None => kind,
    };
    let component =
        non_empty(obj, &[f.source, "component"]).unwrap_or(text(obj, &["reportingController"]));
    let host = non_empty(obj, &[f.source, "host"]).unwrap_or(text(obj, &["reportingInstance"]));
    let source = match (component, host) {
        (c, "") => c.to_owned(),
        (c, h) => format!("{c}, {h}"),
    };
    vec![
        last.into(),
        text(obj, &["type"]).into(),
        text(obj, &["reason"]).into(),
        target.into(),
        text(obj, &[f.object, "fieldPath"]).into(),
        source.into(),
        text(obj, &[f.message]).trim().into(),
        first.into(),
        count.into(),
        name(obj).into(),
    ]
}

const CONFIG_MAPS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Data", "string", "Number of keys in data and binaryData."),
        AGE,
    ],
    cells: |obj, now| {
        let keys = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
        vec![name(obj).into(), keys.into(), age(obj, now).into()]
    },
};

const SECRETS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", "The secret's type."),
        Column::new("Data", "string", "Number of keys in the secret."),
        AGE,
    ],
    cells: |obj, now| {
        // stringData is folded into data on write; count it too in case an object skipped that.
        let mut keys: BTreeSet<&str> = BTreeSet::new();
        for map in [get(obj, &["data"]), get(obj, &["stringData"])]
            .into_iter()
            .flatten()
        {
            keys.extend(
                map.as_object()
                    .into_iter()
                    .flat_map(|m| m.keys().map(String::as_str)),
            );
        }
        vec![
            name(obj).into(),
            opt_str(obj, &["type"]).unwrap_or("Opaque").into(),
            keys.len().into(),
            age(obj, now).into(),
        ]
    },
};

const SERVICE_ACCOUNTS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Secrets",
            "string",
            "Number of secrets listed by the account.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            items(obj, &["secrets"]).len().into(),
            age(obj, now).into(),
        ]
    },
};

const COMPONENT_STATUSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Status", "string", "Whether the component is healthy."),
        Column::new("Message", "string", "The component's message."),
        Column::new("Error", "string", "The component's error."),
    ],
    cells: |obj, _now| {
        let healthy = items(obj, &["conditions"])
            .iter()
            .find(|c| text(c, &["type"]) == "Healthy");
        let (status, message, error) = match healthy {
            Some(c) => (
                if text(c, &["status"]) == "True" {
                    "Healthy"
                } else {
                    "Unhealthy"
                },
                text(c, &["message"]),
                text(c, &["error"]),
            ),
            None => ("Unknown", "", ""),
        };
        vec![
            name(obj).into(),
            status.into(),
            message.into(),
            error.into(),
        ]
    },
};

const LIMIT_RANGES: Printer = Printer {
    columns: &[NAME, CREATED_AT],
    cells: |obj, _now| vec![name(obj).into(), fields::created_at(obj).into()],
};

const RESOURCE_QUOTAS: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new(
            "Request",
            "string",
            "Used and hard amounts of non-limit resources.",
        ),
        Column::new(
            "Limit",
            "string",
            "Used and hard amounts of limits.* resources.",
        ),
    ],
    cells: |obj, now| {
        let mut requests = Vec::new();
        let mut limits = Vec::new();
        let hard = get(obj, &["status", "hard"]).and_then(Value::as_object);
        let mut resources: Vec<&String> = hard.map(|h| h.keys().collect()).unwrap_or_default();
        resources.sort_unstable();
        for resource in resources {
            let used = fields::quantity(obj, &["status", "used", resource])
                .unwrap_or_else(|| "0".to_owned());
            let limit = fields::quantity(obj, &["status", "hard", resource])
                .unwrap_or_else(|| "0".to_owned());
            let entry = format!("{resource}: {used}/{limit}");
            if resource.split('.').next() == Some("limits") && resource.contains('.') {
                limits.push(entry);
            } else {
                requests.push(entry);
            }
        }
        vec![
            name(obj).into(),
            age(obj, now).into(),
            requests.join(", ").into(),
            limits.join(", ").into(),
        ]
    },
};

const LEASES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Holder", "string", "The current holder of the lease."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            text(obj, &["spec", "holderIdentity"]).into(),
            age(obj, now).into(),
        ]
    },
};

const PRIORITY_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Value", "integer", "The priority pods of this class get."),
        Column::new(
            "Global-Default",
            "boolean",
            "Whether pods without a class get this one.",
        ),
        AGE,
        Column::new(
            "PreemptionPolicy",
            "string",
            "Whether pods of this class preempt others.",
        ),
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            int(obj, &["value"]).into(),
            fields::opt_bool(obj, &["globalDefault"])
                .unwrap_or(false)
                .into(),
            age(obj, now).into(),
            opt_str(obj, &["preemptionPolicy"])
                .unwrap_or("PreemptLowerPriority")
                .into(),
        ]
    },
};

const RUNTIME_CLASSES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Handler", "string", "The CRI handler the class selects."),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            text(obj, &["handler"]).into(),
            age(obj, now).into(),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn ready_control_plane_node_row() {
        let node = json!({
            "metadata": {"name": "server-1", "creationTimestamp": "2024-04-21T12:00:00Z", "labels": {
                "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "",
                "node-role.kubernetes.io/": "x", "kubernetes.io/hostname": "server-1"}},
            "status": {
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.5"}, {"type": "Hostname", "address": "server-1"}],
                "nodeInfo": {"kubeletVersion": "v1.32.5+rk3s1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                             "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "containerd://1.7.20"},
            },
        });
        assert_eq!(
            (NODES.cells)(&node, now()),
            vec![
                json!("server-1"),
                json!("Ready"),
                json!("control-plane,master"),
                json!("10d"),
                json!("v1.32.5+rk3s1"),
                json!("192.168.1.5"),
                json!("<none>"),
                json!("Debian GNU/Linux 12 (bookworm)"),
                json!("6.1.0-18-amd64"),
                json!("containerd://1.7.20"),
            ]
        );
    }

    #[test]
    fn cordoned_not_ready_and_unknown_nodes() {
        let node = json!({
            "metadata": {"name": "n", "labels": {"kubernetes.io/role": "worker"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
        });
        let row = (NODES.cells)(&node, now());
        assert_eq!(
            row[1..3],
            [json!("NotReady,SchedulingDisabled"), json!("worker")]
        );
        assert_eq!(row[7], json!("<unknown>"));
        let bare = json!({"metadata": {"name": "n"}});
        assert_eq!(
            (NODES.cells)(&bare, now())[1..3],
            [json!("Unknown"), json!("<none>")]
        );
    }

    #[test]
    fn core_event_row() {
        let ev = json!({
            "metadata": {"name": "web-1.17c1", "creationTimestamp": "2024-05-01T11:50:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
            "reason": "Pulled", "type": "Normal", "message": "Successfully pulled image \"nginx\"\n",
            "source": {"component": "kubelet", "host": "server-1"},
            "firstTimestamp": "2024-05-01T11:50:00Z", "lastTimestamp": "2024-05-01T11:58:00Z", "count": 3,
        });
        assert_eq!(
            (CORE_EVENTS.cells)(&ev, now()),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-1"),
                json!("spec.containers{app}"),
                json!("kubelet, server-1"),
                json!("Successfully pulled image \"nginx\""),
                json!("10m"),
                json!(3),
                json!("web-1.17c1"),
            ]
        );
    }

    #[test]
    fn new_style_events_use_event_time_series_and_reporting_controller() {
        let ev = json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Node"},
            "eventTime": "2024-05-01T11:59:00.123456Z",
            "reportingController": "rk3s-scheduler",
            "reason": "Scheduled", "type": "Normal", "message": "ok",
        });
        let row = (CORE_EVENTS.cells)(&ev, now());
        // 59.88s: the fraction is dropped, not rounded.
        assert_eq!(row[0], json!("59s"));
        assert_eq!(row[3], json!("node"));
        assert_eq!(row[5], json!("rk3s-scheduler"));
        assert_eq!(row[7], json!("59s"));
        assert_eq!(row[8], json!(1));

        let series = json!({
            "metadata": {"name": "s"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": " backoff ",
            "eventTime": "2024-05-01T11:00:00Z",
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:50Z"},
            "reportingController": "kubelet", "reportingInstance": "node-a",
        });
        let row = (EVENTS_K8S_IO.cells)(&series, now());
        assert_eq!(row[0], json!("10s"));
        assert_eq!(row[3], json!("pod/p"));
        assert_eq!(row[5], json!("kubelet, node-a"));
        assert_eq!(row[6], json!("backoff"));
        assert_eq!(row[7], json!("60m"));
        assert_eq!(row[8], json!(7));
    }

    #[test]
    fn config_and_secret_rows_count_keys() {
        let cm = json!({"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(
            (CONFIG_MAPS.cells)(&cm, now())[..2],
            [json!("cfg"), json!(3)]
        );
        let secret = json!({"metadata": {"name": "tls"}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": "", "tls.key": ""}, "stringData": {"tls.key": "x", "ca.crt": "y"}});
        assert_eq!(
            (SECRETS.cells)(&secret, now())[..3],
            [json!("tls"), json!("kubernetes.io/tls"), json!(3)]
        );
        let empty = json!({"metadata": {"name": "e"}});
        assert_eq!(
            (SECRETS.cells)(&empty, now())[1..3],
            [json!("Opaque"), json!(0)]
        );
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "t"}]});
        assert_eq!(
            (SERVICE_ACCOUNTS.cells)(&sa, now())[..2],
            [json!("default"), json!(1)]
        );
    }

    #[test]
    fn namespace_rows() {
        let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "status": {"phase": "Active"}});
        assert_eq!(
            (NAMESPACES.cells)(&ns, now()),
            vec![json!("kube-system"), json!("Active"), json!("60m")]
        );
        let gone = json!({"metadata": {"name": "old"}, "status": {"phase": "Terminating"}});
        assert_eq!((NAMESPACES.cells)(&gone, now())[1], json!("Terminating"));
    }

    #[test]
    fn resource_quota_splits_requests_and_limits() {
        let rq = json!({
            "metadata": {"name": "q"},
            "status": {"hard": {"pods": "10", "limits.cpu": "4", "requests.cpu": "2", "limits": "1"},
                       "used": {"pods": "3", "requests.cpu": "500m"}},
        });
        let row = (RESOURCE_QUOTAS.cells)(&rq, now());
        assert_eq!(
            row[2],
            json!("limits: 0/1, pods: 3/10, requests.cpu: 500m/2")
        );
        assert_eq!(row[3], json!("limits.cpu: 0/4"));
    }

    #[test]
    fn small_kind_rows() {
        let lease = json!({"metadata": {"name": "kube-scheduler"}, "spec": {"holderIdentity": "server-1_abc"}});
        assert_eq!(
            (LEASES.cells)(&lease, now())[..2],
            [json!("kube-scheduler"), json!("server-1_abc")]
        );
        let pc = json!({"metadata": {"name": "system-node-critical"}, "value": 2000001000,
            "preemptionPolicy": "PreemptLowerPriority"});
        let row = (PRIORITY_CLASSES.cells)(&pc, now());
        assert_eq!(
            row[..3],
            [
                json!("system-node-critical"),
                json!(2000001000),
                json!(false)
            ]
        );
        assert_eq!(row[4], json!("PreemptLowerPriority"));
        let rc = json!({"metadata": {"name": "gvisor"}, "handler": "runsc"});
        assert_eq!((RUNTIME_CLASSES.cells)(&rc, now())[1], json!("runsc"));
        let cs = json!({"metadata": {"name": "etcd-0"}, "conditions": [
            {"type": "Healthy", "status": "True", "message": "ok"}]});
        assert_eq!(
            (COMPONENT_STATUSES.cells)(&cs, now()),
            vec![json!("etcd-0"), json!("Healthy"), json!("ok"), json!("")]
        );
        let lr = json!({"metadata": {"name": "lr", "creationTimestamp": "2024-05-01T10:00:00Z"}});
        assert_eq!(
            (LIMIT_RANGES.cells)(&lr, now()),
            vec![json!("lr"), json!("2024-05-01T10:00:00Z")]
        );
    }
}
