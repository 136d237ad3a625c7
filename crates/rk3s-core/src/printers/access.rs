//! Printers for API access and apiserver configuration: RBAC, admission, certificate requests,
//! flow control and API services.

use serde_json::Value;

use super::fields::{age, created_at, get, int, items, name, non_empty, opt_int, text};
use super::selector::selector_string;
use super::{AGE, CREATED_AT, Column, NAME, Printer, duration};

pub(crate) fn printer(group: &str, plural: &str) -> Option<&'static Printer> {
    match (group, plural) {
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => Some(&ROLES),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            Some(&ROLE_BINDINGS)
        }
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => Some(&WEBHOOK_CONFIGURATIONS),
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => {
            Some(&VALIDATING_ADMISSION_POLICIES)
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            Some(&VALIDATING_ADMISSION_POLICY_BINDINGS)
        }
        ("certificates.k8s.io", "certificatesigningrequests") => Some(&CSRS),
        ("certificates.k8s.io", "clustertrustbundles") => Some(&CLUSTER_TRUST_BUNDLES),
        ("flowcontrol.apiserver.k8s.io", "flowschemas") => Some(&FLOW_SCHEMAS),
        ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations") => Some(&PRIORITY_LEVELS),
        ("apiregistration.k8s.io", "apiservices") => Some(&API_SERVICES),
        _ => None,
    }
}

const ROLES: Printer = Printer {
    columns: &[NAME, CREATED_AT],
    cells: |obj, _now| vec![name(obj).into(), created_at(obj).into()],
};

const ROLE_BINDINGS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Role", "string", "The role bound, as kind/name."),
        AGE,
        Column::wide("Users", "string", "Users bound to the role."),
        Column::wide("Groups", "string", "Groups bound to the role."),
        Column::wide(
            "ServiceAccounts",
            "string",
            "Service accounts bound, as namespace/name.",
        ),
    ],
    cells: |obj, now| {
        let role = format!(
            "{}/{}",
            text(obj, &["roleRef", "kind"]),
            text(obj, &["roleRef", "name"])
        );
        let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
        for subject in items(obj, &["subjects"]) {
            let subject_name = text(subject, &["name"]);
            match text(subject, &["kind"]) {
                "User" => users.push(subject_name.to_owned()),
                "Group" => groups.push(subject_name.to_owned()),
                "ServiceAccount" => {
                    accounts.push(format!("{}/{subject_name}", text(subject, &["namespace"])))
                }
                _ => {}
            }
        }
        vec![
            name(obj).into(),
            role.into(),
            age(obj, now).into(),
            users.join(", ").into(),
            groups.join(", ").into(),
            accounts.join(", ").into(),
        ]
    },
};

const WEBHOOK_CONFIGURATIONS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Webhooks",
            "integer",
            "Number of webhooks in the configuration.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        vec![
            name(obj).into(),
            items(obj, &["webhooks"]).len().into(),
            age(obj, now).into(),
        ]
    },
};

const VALIDATING_ADMISSION_POLICIES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Validations",
            "integer",
            "Number of validation expressions.",
        ),
        Column::new(
            "ParamKind",
            "string",
            "The kind of the policy's parameter objects.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let param_kind = match get(obj, &["spec", "paramKind"]) {
            Some(p) => format!("{}/{}", text(p, &["apiVersion"]), text(p, &["kind"])),
            None => "<unset>".to_owned(),
        };
        vec![
            name(obj).into(),
            items(obj, &["spec", "validations"]).len().into(),
            param_kind.into(),
            age(obj, now).into(),
        ]
    },
};

const VALIDATING_ADMISSION_POLICY_BINDINGS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("PolicyName", "string", "The policy bound."),
        Column::new(
            "ParamRef",
            "string",
            "The parameter objects the binding passes.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let param = match get(obj, &["spec", "paramRef"]) {
            Some(p) => match non_empty(p, &["name"]) {
                // A cluster-scoped parameter cannot be told apart here, so no namespace means any.
                Some(n) => format!("{}/{n}", non_empty(p, &["namespace"]).unwrap_or("*")),
                None => match get(p, &["selector"]) {
                    Some(sel) => {
                        selector_string(Some(sel)).unwrap_or_else(|_| "<error>".to_owned())
                    }
                    None => "<unset>".to_owned(),
                },
            },
            None => "<unset>".to_owned(),
        };
        vec![
            name(obj).into(),
            text(obj, &["spec", "policyName"]).into(),
            param.into(),
            age(obj, now).into(),
        ]
    },
};

const CSRS: Printer = Printer {
    columns: &[
        NAME,
        AGE,
        Column::new(
            "SignerName",
            "string",
            "The signer asked to sign the request.",
        ),
        Column::new("Requestor", "string", "The user who created the request."),
        Column::new(
            "RequestedDuration",
            "string",
            "The validity period asked for.",
        ),
        Column::new(
            "Condition",
            "string",
            "Approval state, and whether a certificate was issued.",
        ),
    ],
    cells: |obj, now| {
        let requested = match opt_int(obj, &["spec", "expirationSeconds"]) {
            Some(secs) => {
                duration::human_duration(std::time::Duration::from_secs(secs.max(0).unsigned_abs()))
            }
            None => "<none>".to_owned(),
        };
        vec![
            name(obj).into(),
            age(obj, now).into(),
            non_empty(obj, &["spec", "signerName"])
                .unwrap_or("<none>")
                .into(),
            text(obj, &["spec", "username"]).into(),
            requested.into(),
            csr_condition(obj).into(),
        ]
    },
};

fn csr_condition(obj: &Value) -> String {
    let conditions = items(obj, &["status", "conditions"]);
    let has = |t: &str| conditions.iter().any(|c| text(c, &["type"]) == t);
    // Denied outranks Approved: a request can carry both while the signer catches up.
    let mut status = if has("Denied") {
        "Denied".to_owned()
    } else if has("Approved") {
        "Approved".to_owned()
    } else {
        "Pending".to_owned()
    };
    if has("Failed") {
        status.push_str(",Failed");
    }
    if non_empty(obj, &["status", "certificate"]).is_some() {
        status.push_str(",Issued");
    }
    status
}

const CLUSTER_TRUST_BUNDLES: Printer = Printer {
    columns: &[
        NAME,
        Column::new("SignerName", "string", "The signer the bundle belongs to."),
    ],
    cells: |obj, _now| {
        vec![
            name(obj).into(),
            non_empty(obj, &["spec", "signerName"])
                .unwrap_or("<none>")
                .into(),
        ]
    },
};

const FLOW_SCHEMAS: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "PriorityLevel",
            "string",
            "The priority level requests are assigned to.",
        ),
        Column::new(
            "MatchingPrecedence",
            "string",
            "Lower values are matched first.",
        ),
        Column::new(
            "DistinguisherMethod",
            "string",
            "How requests are split into flows.",
        ),
        AGE,
        Column::new(
            "MissingPL",
            "string",
            "Whether the priority level does not exist.",
        ),
    ],
    cells: |obj, now| {
        let dangling = items(obj, &["status", "conditions"])
            .iter()
            .find(|c| text(c, &["type"]) == "Dangling")
            .map_or("?", |c| text(c, &["status"]));
        vec![
            name(obj).into(),
            text(obj, &["spec", "priorityLevelConfiguration", "name"]).into(),
            int(obj, &["spec", "matchingPrecedence"]).into(),
            non_empty(obj, &["spec", "distinguisherMethod", "type"])
                .unwrap_or("<none>")
                .into(),
            age(obj, now).into(),
            dangling.into(),
        ]
    },
};

const PRIORITY_LEVELS: Printer = Printer {
    columns: &[
        NAME,
        Column::new("Type", "string", "Limited or Exempt."),
        Column::new(
            "NominalConcurrencyShares",
            "string",
            "Share of the server's concurrency.",
        ),
        Column::new("Queues", "string", "Number of queues."),
        Column::new("HandSize", "string", "Queues each flow is shuffled over."),
        Column::new("QueueLengthLimit", "string", "Requests a queue may hold."),
        AGE,
    ],
    cells: |obj, now| {
        let none = || Value::from("<none>");
        let limited = get(obj, &["spec", "limited"]);
        let shares = limited.map_or_else(none, |l| int(l, &["nominalConcurrencyShares"]).into());
        let queuing = limited.and_then(|l| get(l, &["limitResponse", "queuing"]));
        let queue_field = |key: &str| queuing.map_or_else(none, |q| int(q, &[key]).into());
        vec![
            name(obj).into(),
            text(obj, &["spec", "type"]).into(),
            shares,
            queue_field("queues"),
            queue_field("handSize"),
            queue_field("queueLengthLimit"),
            age(obj, now).into(),
        ]
    },
};

const API_SERVICES: Printer = Printer {
    columns: &[
        NAME,
        Column::new(
            "Service",
            "string",
            "The service serving the API, or Local.",
        ),
        Column::new(
            "Available",
            "string",
            "Whether the API is reachable, with the reason if not.",
        ),
        AGE,
    ],
    cells: |obj, now| {
        let service = match get(obj, &["spec", "service"]) {
            Some(s) => format!("{}/{}", text(s, &["namespace"]), text(s, &["name"])),
            None => "Local".to_owned(),
        };
        let available = items(obj, &["status", "conditions"])
            .iter()
            .find(|c| text(c, &["type"]) == "Available")
            .map_or_else(
                || "Unknown".to_owned(),
                |c| match (text(c, &["status"]), non_empty(c, &["reason"])) {
                    ("True", _) => "True".to_owned(),
                    (status, Some(reason)) => format!("{status} ({reason})"),
                    (status, None) => status.to_owned(),
                },
            );
        vec![
            name(obj).into(),
            service.into(),
            available.into(),
            age(obj, now).into(),
        ]
    },
};

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn roles_print_created_at() {
        let role =
            json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-02T03:04:05Z"}});
        assert_eq!(
            (ROLES.cells)(&role, now()),
            vec![json!("admin"), json!("2024-01-02T03:04:05Z")]
        );
    }

    #[test]
    fn role_binding_row_splits_subjects() {
        let rb = json!({
            "metadata": {"name": "admins", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [
                {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                {"kind": "Group", "name": "system:masters"},
                {"kind": "ServiceAccount", "namespace": "kube-system", "name": "deployer"},
                {"kind": "Robot", "name": "r2"},
            ],
        });
        assert_eq!(
            (ROLE_BINDINGS.cells)(&rb, now()),
            vec![
                json!("admins"),
                json!("ClusterRole/cluster-admin"),
                json!("60m"),
                json!("alice, bob"),
                json!("system:masters"),
                json!("kube-system/deployer"),
            ]
        );
    }

    #[test]
    fn csr_row_reports_approval_and_issue() {
        let csr = json!({
            "metadata": {"name": "node-csr-x", "creationTimestamp": "2024-05-01T11:59:00Z"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:node:n1",
                     "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
        });
        assert_eq!(
            (CSRS.cells)(&csr, now()),
            vec![
                json!("node-csr-x"),
                json!("60s"),
                json!("kubernetes.io/kube-apiserver-client-kubelet"),
                json!("system:node:n1"),
                json!("24h"),
                json!("Approved,Issued"),
            ]
        );
        let denied = json!({"status": {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]}});
        assert_eq!(csr_condition(&denied), "Denied,Failed");
        assert_eq!(csr_condition(&json!({})), "Pending");
    }

    #[test]
    fn admission_rows() {
        let hooks = json!({"metadata": {"name": "h"}, "webhooks": [{}, {}]});
        assert_eq!(
            (WEBHOOK_CONFIGURATIONS.cells)(&hooks, now())[..2],
            [json!("h"), json!(2)]
        );
        let vap = json!({"metadata": {"name": "p"}, "spec": {"validations": [{}],
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}}});
        assert_eq!(
            (VALIDATING_ADMISSION_POLICIES.cells)(&vap, now())[..3],
            [json!("p"), json!(1), json!("v1/ConfigMap")]
        );
        let binding = json!({"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": {"name": "cfg"}}});
        assert_eq!(
            (VALIDATING_ADMISSION_POLICY_BINDINGS.cells)(&binding, now())[2],
            json!("*/cfg")
        );
        let binding = json!({"metadata": {"name": "b"}, "spec": {"paramRef": {"selector": {"matchLabels": {"a": "b"}}}}});
        assert_eq!(
            (VALIDATING_ADMISSION_POLICY_BINDINGS.cells)(&binding, now())[2],
            json!("a=b")
        );
    }

    #[test]
    fn flow_control_and_api_service_rows() {
        let fs = json!({"metadata": {"name": "exempt"}, "spec": {"priorityLevelConfiguration": {"name": "exempt"},
            "matchingPrecedence": 1}, "status": {"conditions": [{"type": "Dangling", "status": "False"}]}});
        let row = (FLOW_SCHEMAS.cells)(&fs, now());
        assert_eq!(
            row[..4],
            [json!("exempt"), json!("exempt"), json!(1), json!("<none>")]
        );
        assert_eq!(row[5], json!("False"));
        let pl = json!({"metadata": {"name": "workload-low"}, "spec": {"type": "Limited", "limited": {
            "nominalConcurrencyShares": 100, "limitResponse": {"type": "Queue",
            "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50}}}}});
        assert_eq!(
            (PRIORITY_LEVELS.cells)(&pl, now())[..6],
            [
                json!("workload-low"),
                json!("Limited"),
                json!(100),
                json!(128),
                json!(6),
                json!(50)
            ]
        );
        let exempt = json!({"metadata": {"name": "exempt"}, "spec": {"type": "Exempt"}});
        assert_eq!((PRIORITY_LEVELS.cells)(&exempt, now())[2], json!("<none>"));
        let local = json!({"metadata": {"name": "v1.apps"}, "status": {"conditions": [
            {"type": "Available", "status": "True", "reason": "Local"}]}});
        assert_eq!(
            (API_SERVICES.cells)(&local, now())[..3],
            [json!("v1.apps"), json!("Local"), json!("True")]
        );
        let broken = json!({"metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}]}});
        assert_eq!(
            (API_SERVICES.cells)(&broken, now())[1..3],
            [
                json!("kube-system/metrics-server"),
                json!("False (MissingEndpoints)")
            ]
        );
    }
}
