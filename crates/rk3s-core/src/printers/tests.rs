use super::*;
use proptest::prelude::*;
use serde_json::json;

const KINDS: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("", "services"),
    ("", "endpoints"),
    ("", "namespaces"),
    ("", "nodes"),
    ("", "events"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "serviceaccounts"),
    ("", "componentstatuses"),
    ("", "limitranges"),
    ("", "resourcequotas"),
    ("", "persistentvolumes"),
    ("", "persistentvolumeclaims"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("apps", "controllerrevisions"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("policy", "poddisruptionbudgets"),
    ("discovery.k8s.io", "endpointslices"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingressclasses"),
    ("networking.k8s.io", "networkpolicies"),
    ("networking.k8s.io", "servicecidrs"),
    ("networking.k8s.io", "ipaddresses"),
    ("storage.k8s.io", "storageclasses"),
    ("storage.k8s.io", "volumeattachments"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "csistoragecapacities"),
    ("storage.k8s.io", "volumeattributesclasses"),
    ("events.k8s.io", "events"),
    ("coordination.k8s.io", "leases"),
    ("scheduling.k8s.io", "priorityclasses"),
    ("node.k8s.io", "runtimeclasses"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    ),
    (
        "admissionregistration.k8s.io",
        "validatingadmissionpolicybindings",
    ),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("certificates.k8s.io", "clustertrustbundles"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    (
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfigurations",
    ),
    ("apiregistration.k8s.io", "apiservices"),
];

fn now() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// Column headers as kubectl prints them: upper-cased names, wide ones marked.
fn headers(group: &str, plural: &str) -> Vec<String> {
    columns(group, plural)
        .iter()
        .map(|c| {
            let upper = c.name.to_uppercase();
            if c.priority == 1 {
                format!("{upper}*")
            } else {
                upper
            }
        })
        .collect()
}

#[test]
fn headers_match_what_kubectl_get_prints() {
    let expect: &[(&str, &str, &str)] = &[
        (
            "",
            "pods",
            "NAME READY STATUS RESTARTS AGE IP* NODE* NOMINATED NODE* READINESS GATES*",
        ),
        (
            "apps",
            "deployments",
            "NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS* IMAGES* SELECTOR*",
        ),
        (
            "apps",
            "replicasets",
            "NAME DESIRED CURRENT READY AGE CONTAINERS* IMAGES* SELECTOR*",
        ),
        ("apps", "statefulsets", "NAME READY AGE CONTAINERS* IMAGES*"),
        (
            "apps",
            "daemonsets",
            "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS* IMAGES* SELECTOR*",
        ),
        (
            "batch",
            "jobs",
            "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS* IMAGES* SELECTOR*",
        ),
        (
            "batch",
            "cronjobs",
            "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS* IMAGES* SELECTOR*",
        ),
        (
            "",
            "services",
            "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR*",
        ),
        ("", "endpoints", "NAME ENDPOINTS AGE"),
        (
            "discovery.k8s.io",
            "endpointslices",
            "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
        ),
        ("", "configmaps", "NAME DATA AGE"),
        ("", "secrets", "NAME TYPE DATA AGE"),
        ("", "namespaces", "NAME STATUS AGE"),
        (
            "",
            "nodes",
            "NAME STATUS ROLES AGE VERSION INTERNAL-IP* EXTERNAL-IP* OS-IMAGE* KERNEL-VERSION* CONTAINER-RUNTIME*",
        ),
        ("", "serviceaccounts", "NAME SECRETS AGE"),
        (
            "",
            "events",
            "LAST SEEN TYPE REASON OBJECT SUBOBJECT* SOURCE* MESSAGE FIRST SEEN* COUNT* NAME*",
        ),
        (
            "",
            "persistentvolumes",
            "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE VOLUMEMODE*",
        ),
        (
            "",
            "persistentvolumeclaims",
            "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE VOLUMEMODE*",
        ),
        (
            "storage.k8s.io",
            "storageclasses",
            "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
        ),
        (
            "networking.k8s.io",
            "ingresses",
            "NAME CLASS HOSTS ADDRESS PORTS AGE",
        ),
        (
            "networking.k8s.io",
            "ingressclasses",
            "NAME CONTROLLER PARAMETERS AGE",
        ),
        (
            "networking.k8s.io",
            "networkpolicies",
            "NAME POD-SELECTOR AGE",
        ),
        (
            "rbac.authorization.k8s.io",
            "clusterroles",
            "NAME CREATED AT",
        ),
        (
            "rbac.authorization.k8s.io",
            "rolebindings",
            "NAME ROLE AGE USERS* GROUPS* SERVICEACCOUNTS*",
        ),
        ("coordination.k8s.io", "leases", "NAME HOLDER AGE"),
        (
            "scheduling.k8s.io",
            "priorityclasses",
            "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
        ),
        (
            "policy",
            "poddisruptionbudgets",
            "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
        ),
        (
            "autoscaling",
            "horizontalpodautoscalers",
            "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
        ),
        ("", "limitranges", "NAME CREATED AT"),
        ("", "resourcequotas", "NAME AGE REQUEST LIMIT"),
        (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            "NAME CREATED AT",
        ),
        ("node.k8s.io", "runtimeclasses", "NAME HANDLER AGE"),
        (
            "certificates.k8s.io",
            "certificatesigningrequests",
            "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION",
        ),
        ("", "componentstatuses", "NAME STATUS MESSAGE ERROR"),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "NAME WEBHOOKS AGE",
        ),
        (
            "apiregistration.k8s.io",
            "apiservices",
            "NAME SERVICE AVAILABLE AGE",
        ),
    ];
    for (group, plural, want) in expect {
        assert_eq!(headers(group, plural).join(" "), *want, "{group}/{plural}");
    }
}

#[test]
fn every_table_has_exactly_one_name_column() {
    for (group, plural) in KINDS.iter().copied().chain([("example.com", "widgets")]) {
        let cols = columns(group, plural);
        let named: Vec<_> = cols.iter().filter(|c| c.format == "name").collect();
        assert_eq!(named.len(), 1, "{group}/{plural}");
        assert_eq!(named[0].name, "Name", "{group}/{plural}");
        for c in &cols {
            assert!(
                ["string", "integer", "number", "boolean", "date"].contains(&c.type_),
                "{}",
                c.name
            );
            assert!(c.priority == 0 || c.priority == 1, "{}", c.name);
        }
    }
}

#[test]
fn realistic_objects_fill_every_column() {
    let pod = json!({
        "metadata": {"name": "web-1", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"containers": [{"name": "a"}]},
        "status": {"phase": "Running"},
    });
    for (group, plural) in KINDS {
        let row = cells(group, plural, &pod, now());
        assert_eq!(row.len(), columns(group, plural).len(), "{group}/{plural}");
        assert!(
            row.iter().all(|c| !c.is_null()),
            "{group}/{plural}: {row:?}"
        );
    }
}

#[test]
fn through_the_public_api_a_pod_row_reads_as_kubectl_shows_it() {
    let pod = json!({
        "metadata": {"name": "web-1", "creationTimestamp": "2024-04-30T12:00:00Z"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-a"},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.42.0.5"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 1, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 137, "finishedAt": "2024-05-01T11:57:00Z"}}},
                {"name": "b", "ready": true, "restartCount": 0, "state": {"running": {}}},
            ],
        },
    });
    assert_eq!(
        cells("", "pods", &pod, now()),
        vec![
            json!("web-1"),
            json!("2/2"),
            json!("Running"),
            json!("1 (3m ago)"),
            json!("24h"),
            json!("10.42.0.5"),
            json!("node-a"),
            json!("<none>"),
            json!("<none>"),
        ]
    );
}

#[test]
fn unknown_kinds_get_the_custom_resource_default_table() {
    let cols = columns("example.com", "widgets");
    assert_eq!(
        cols.iter().map(|c| (c.name, c.type_)).collect::<Vec<_>>(),
        vec![("Name", "string"), ("Age", "date")]
    );
    let obj = json!({"metadata": {"name": "w", "creationTimestamp": "2024-05-01T11:59:00Z"}});
    assert_eq!(
        cells("example.com", "widgets", &obj, now()),
        vec![json!("w"), json!("60s")]
    );
    // A core plural without a printer is not mistaken for a known kind.
    assert_eq!(columns("", "bindings").len(), 2);
}

#[test]
fn built_in_kinds_without_printers_show_created_at() {
    let crd = json!({"metadata": {"name": "widgets.example.com", "creationTimestamp": "2024-02-03T04:05:06Z"}});
    assert_eq!(
        cells(
            "apiextensions.k8s.io",
            "customresourcedefinitions",
            &crd,
            now()
        ),
        vec![json!("widgets.example.com"), json!("2024-02-03T04:05:06Z")]
    );
    let missing = json!({"metadata": {"name": "x"}});
    assert_eq!(
        cells("rbac.authorization.k8s.io", "roles", &missing, now())[1],
        json!("0001-01-01T00:00:00Z")
    );
}

#[test]
fn column_definitions_serialize_with_api_field_names() {
    let defs = to_json_column_definitions(&columns("", "services"));
    assert_eq!(
        defs[0],
        json!({
            "name": "Name", "type": "string", "format": "name",
            "description": NAME.description, "priority": 0,
        })
    );
    assert_eq!(defs[6]["name"], "Selector");
    assert_eq!(defs[6]["priority"], 1);
    assert_eq!(defs[6]["format"], "");
    assert_eq!(to_json_column_definitions(&[]), json!([]));
}

#[test]
fn hostile_shapes_never_panic() {
    let odd = [
        json!(null),
        json!(42),
        json!("pod"),
        json!([1, 2]),
        json!({}),
        json!({"metadata": null, "spec": [], "status": "x"}),
        json!({"metadata": {"name": 7, "creationTimestamp": "yesterday", "deletionTimestamp": {}}}),
        json!({"spec": {"containers": "a", "replicas": -5, "completions": 1e300, "ports": [null, 1, {"port": "x"}]},
               "status": {"containerStatuses": [null, {"state": {"terminated": 5}}, {"restartCount": 9223372036854775807u64},
                                                {"restartCount": 9223372036854775807u64}],
                          "initContainerStatuses": [{}, {"state": {"waiting": {}}}],
                          "conditions": {"type": "Ready"}}}),
        json!({"metadata": {"creationTimestamp": "9999-12-31T23:59:59Z"}, "status": {"startTime": "-009999-01-01T00:00:00Z"}}),
    ];
    for (group, plural) in KINDS.iter().copied().chain([("x.io", "things")]) {
        for obj in &odd {
            let row = cells(group, plural, obj, now());
            assert_eq!(
                row.len(),
                columns(group, plural).len(),
                "{group}/{plural} {obj}"
            );
        }
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("2024-05-01T11:00:00Z".to_owned()),
            Just("True".to_owned()),
            Just("Running".to_owned()),
            Just("Always".to_owned()),
            "[a-zA-Z0-9 :./-]{0,12}",
        ]
        .prop_map(Value::from),
    ];
    // Keys the printers read, so generated objects reach deep into the code paths.
    let key = prop_oneof![
        Just("metadata"),
        Just("spec"),
        Just("status"),
        Just("name"),
        Just("creationTimestamp"),
        Just("deletionTimestamp"),
        Just("containers"),
        Just("initContainers"),
        Just("containerStatuses"),
        Just("initContainerStatuses"),
        Just("state"),
        Just("waiting"),
        Just("terminated"),
        Just("running"),
        Just("lastState"),
        Just("finishedAt"),
        Just("restartCount"),
        Just("ready"),
        Just("started"),
        Just("restartPolicy"),
        Just("reason"),
        Just("conditions"),
        Just("type"),
        Just("ports"),
        Just("port"),
        Just("selector"),
        Just("matchLabels"),
        Just("matchExpressions"),
        Just("operator"),
        Just("values"),
        Just("key"),
        Just("labels"),
        Just("metrics"),
        Just("resource"),
        Just("target"),
        Just("subsets"),
        Just("addresses"),
        Just("rules"),
        Just("host"),
        Just("series"),
        Just("hard"),
        Just("used"),
        Just("replicas"),
        Just("template"),
        Just("phase"),
        Just("capacity"),
        Just("storage"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_objects_give_one_cell_per_column(obj in arbitrary_json(), now_secs in -100_000_000_000i64..100_000_000_000) {
        let now = Timestamp::from_second(now_secs).unwrap_or(Timestamp::UNIX_EPOCH);
        for (group, plural) in KINDS {
            let row = cells(group, plural, &obj, now);
            prop_assert_eq!(row.len(), columns(group, plural).len());
        }
    }
}
