//! Tests of the JSON patch and merge patch engines, the patch types and the metadata table.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

#[test]
fn content_types_map_to_patch_types() {
    assert_eq!(
        PatchType::from_content_type("application/json-patch+json"),
        Some(PatchType::Json)
    );
    assert_eq!(
        PatchType::from_content_type("application/merge-patch+json"),
        Some(PatchType::Merge)
    );
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json; charset=utf-8"),
        Some(PatchType::StrategicMerge)
    );
    assert_eq!(
        PatchType::from_content_type("Application/Apply-Patch+YAML"),
        Some(PatchType::Apply)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(PatchType::from_content_type(""), None);
    for t in PatchType::ALL {
        assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
    }
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
    })
}

#[test]
fn json_patch_adds_replaces_and_removes() {
    let patch = json!([
        {"op": "add", "path": "/metadata/labels/tier", "value": "frontend"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "nginx:1.26"},
        {"op": "remove", "path": "/metadata/labels/app"},
        {"op": "add", "path": "/spec/containers/-", "value": {"name": "sidecar", "image": "busybox"}}
    ]);
    let out = json_patch(&pod(), &patch).unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"tier": "frontend"}));
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx:1.26");
    assert_eq!(out["spec"]["containers"][1]["name"], "sidecar");
}

#[test]
fn json_patch_test_failure_is_unprocessable() {
    let patch = json!([
        {"op": "replace", "path": "/metadata/name", "value": "other"},
        {"op": "test", "path": "/spec/containers/0/image", "value": "nginx:9"}
    ]);
    let err = json_patch(&pod(), &patch).unwrap_err();
    assert_eq!(
        err,
        PatchError::TestFailed {
            index: 1,
            path: "/spec/containers/0/image".to_string()
        }
    );
    assert_eq!(err.status_code(), 422);
    assert!(err.to_string().contains("operation 1"), "{err}");
}

#[test]
fn json_patch_passing_test_lets_the_patch_apply() {
    let patch = json!([
        {"op": "test", "path": "/metadata/name", "value": "web"},
        {"op": "replace", "path": "/metadata/name", "value": "other"}
    ]);
    assert_eq!(
        json_patch(&pod(), &patch).unwrap()["metadata"]["name"],
        "other"
    );
}

#[test]
fn json_patch_on_a_missing_path_names_the_operation() {
    let patch = json!([{"op": "remove", "path": "/spec/nodeName"}]);
    let err = json_patch(&pod(), &patch).unwrap_err();
    assert!(
        matches!(&err, PatchError::OperationFailed { index: 0, op: "remove", path, .. } if path == "/spec/nodeName")
    );
    assert_eq!(err.status_code(), 422);
    let add_under_missing = json!([{"op": "add", "path": "/status/phase", "value": "Running"}]);
    assert!(matches!(
        json_patch(&pod(), &add_under_missing),
        Err(PatchError::OperationFailed { op: "add", .. })
    ));
}

#[test]
fn json_patch_cannot_move_a_value_inside_itself() {
    let patch = json!([{"op": "move", "from": "/spec", "path": "/spec/containers/0/spec"}]);
    assert!(matches!(
        json_patch(&pod(), &patch),
        Err(PatchError::OperationFailed { op: "move", .. })
    ));
}

#[test]
fn json_patch_that_is_not_a_list_of_operations_is_a_bad_request() {
    for body in [
        json!({"op": "add", "path": "/a", "value": 1}),
        json!("add"),
        json!([{"op": "frobnicate", "path": "/a"}]),
        json!([{"op": "add", "value": 1}]),
        json!([{"op": "add", "path": "no-leading-slash", "value": 1}]),
        json!([42]),
    ] {
        let err = json_patch(&pod(), &body).unwrap_err();
        assert!(
            matches!(err, PatchError::InvalidJsonPatch(_)),
            "{body}: {err:?}"
        );
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn json_patch_with_too_many_operations_is_rejected() {
    let ops: Vec<Value> = (0..=MAX_JSON_PATCH_OPERATIONS)
        .map(|_| json!({"op": "test", "path": "", "value": 1}))
        .collect();
    let err = json_patch(&pod(), &Value::Array(ops)).unwrap_err();
    assert_eq!(err.status_code(), 413);
}

#[test]
fn json_patch_failure_leaves_the_input_untouched() {
    let doc = pod();
    let patch = json!([{"op": "remove", "path": "/metadata"}, {"op": "test", "path": "/kind", "value": "Node"}]);
    assert!(json_patch(&doc, &patch).is_err());
    assert_eq!(doc, pod());
}

/// RFC 7386 appendix A: (target, patch, result).
#[test]
fn merge_patch_follows_the_rfc_7386_examples() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (
            json!({"a": [{"b": "c"}]}),
            json!({"a": [1]}),
            json!({"a": [1]}),
        ),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
        (
            json!([1, 2]),
            json!({"a": "b", "c": null}),
            json!({"a": "b"}),
        ),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ];
    for (target, patch, expected) in cases {
        assert_eq!(
            merge_patch(&target, &patch),
            expected,
            "target {target} patch {patch}"
        );
    }
}

#[test]
fn merge_patch_replaces_lists_and_removes_labels() {
    let patch = json!({"metadata": {"labels": {"app": null, "tier": "db"}}, "spec": {"containers": [{"name": "db"}]}});
    let out = merge_patch(&pod(), &patch);
    assert_eq!(out["metadata"]["labels"], json!({"tier": "db"}));
    assert_eq!(out["spec"]["containers"], json!([{"name": "db"}]));
    assert_eq!(out["metadata"]["name"], "web");
}

#[test]
fn meta_table_entries_are_unique_and_consistent() {
    let table = patch_meta_table();
    for (i, (t, f, m)) in table.iter().enumerate() {
        assert!(
            !table[..i].iter().any(|(t2, f2, _)| t2 == t && f2 == f),
            "duplicate entry {t}.{f}"
        );
        if m.list_type == Some("map") {
            assert!(
                !m.list_map_keys.is_empty(),
                "{t}.{f}: map list without keys"
            );
            if let Some(key) = m.merge_key {
                assert!(
                    m.list_map_keys.contains(&key),
                    "{t}.{f}: merge key not a list map key"
                );
            }
        } else {
            assert!(
                m.list_map_keys.is_empty(),
                "{t}.{f}: list map keys on a non-map list"
            );
        }
        if let Some(s) = m.strategy {
            assert!(
                ["merge", "retainKeys", "merge,retainKeys", "replace"].contains(&s),
                "{t}.{f}: {s}"
            );
        }
    }
    assert_eq!(
        patch_meta("io.k8s.api.core.v1.PodSpec", "containers"),
        Some(PatchMeta {
            strategy: Some("merge"),
            merge_key: Some("name"),
            list_type: Some("map"),
            list_map_keys: &["name"]
        })
    );
    assert_eq!(patch_meta("io.k8s.api.core.v1.PodSpec", "nodeName"), None);
    assert_eq!(
        patch_meta("io.k8s.api.core.v1.Container", "containers"),
        None
    );
}

/// Every (type, field) of the table must name a real schema and one of its properties, or the
/// entry can never apply.
#[test]
fn meta_table_names_real_types_and_fields() {
    use k8s_openapi::api;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
    let mut g = schemars::SchemaGenerator::default();
    // `subschema_for` registers each kind itself among the definitions, not only its parts.
    g.subschema_for::<api::core::v1::Pod>();
    g.subschema_for::<api::core::v1::Node>();
    g.subschema_for::<api::core::v1::Service>();
    g.subschema_for::<api::core::v1::Endpoints>();
    g.subschema_for::<api::core::v1::Namespace>();
    g.subschema_for::<api::core::v1::PersistentVolume>();
    g.subschema_for::<api::core::v1::PersistentVolumeClaim>();
    g.subschema_for::<api::core::v1::ServiceAccount>();
    g.subschema_for::<api::core::v1::ReplicationController>();
    g.subschema_for::<api::core::v1::LimitRange>();
    g.subschema_for::<api::core::v1::ResourceQuota>();
    g.subschema_for::<api::core::v1::ComponentStatus>();
    g.subschema_for::<api::apps::v1::Deployment>();
    g.subschema_for::<api::apps::v1::DaemonSet>();
    g.subschema_for::<api::apps::v1::StatefulSet>();
    g.subschema_for::<api::apps::v1::ReplicaSet>();
    g.subschema_for::<api::batch::v1::Job>();
    g.subschema_for::<api::batch::v1::CronJob>();
    g.subschema_for::<api::autoscaling::v2::HorizontalPodAutoscaler>();
    g.subschema_for::<api::policy::v1::PodDisruptionBudget>();
    g.subschema_for::<api::networking::v1::NetworkPolicy>();
    g.subschema_for::<api::networking::v1::Ingress>();
    g.subschema_for::<api::discovery::v1::EndpointSlice>();
    g.subschema_for::<api::rbac::v1::Role>();
    g.subschema_for::<api::rbac::v1::ClusterRole>();
    g.subschema_for::<api::rbac::v1::RoleBinding>();
    g.subschema_for::<api::rbac::v1::ClusterRoleBinding>();
    g.subschema_for::<api::storage::v1::StorageClass>();
    g.subschema_for::<api::storage::v1::CSIDriver>();
    g.subschema_for::<api::storage::v1::CSINode>();
    g.subschema_for::<api::admissionregistration::v1::ValidatingWebhookConfiguration>();
    g.subschema_for::<api::admissionregistration::v1::MutatingWebhookConfiguration>();
    g.subschema_for::<api::admissionregistration::v1::ValidatingAdmissionPolicy>();
    g.subschema_for::<api::certificates::v1::CertificateSigningRequest>();
    g.subschema_for::<api::flowcontrol::v1::FlowSchema>();
    g.subschema_for::<api::flowcontrol::v1::PriorityLevelConfiguration>();
    g.subschema_for::<api::node::v1::RuntimeClass>();
    g.subschema_for::<apiext::CustomResourceDefinition>();
    g.subschema_for::<apireg::APIService>();
    let defs = g.take_definitions(false);
    assert!(defs.contains_key("io.k8s.api.rbac.v1.ClusterRole"));
    let mut missing = Vec::new();
    for (t, f, _) in patch_meta_table() {
        let found = defs
            .get(*t)
            .and_then(|d| d.get("properties"))
            .and_then(|p| p.get(*f))
            .is_some();
        if !found {
            missing.push(format!("{t}.{f}"));
        }
    }
    assert!(
        missing.is_empty(),
        "table entries without a schema field: {missing:?}"
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z$/]{0,6}".prop_map(Value::String),
        prop::sample::select(vec!["name", "web", "replace", "delete", "merge", "type"])
            .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        let keys = prop::sample::select(vec![
            "a",
            "b",
            "name",
            "image",
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$deleteFromPrimitiveList/finalizers",
            "containers",
            "finalizers",
            "metadata",
            "spec",
            "template",
            "env",
            "ports",
            "containerPort",
            "$frob",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..5).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn merge_patch_with_an_empty_patch_returns_the_object(doc in json_value()) {
        let doc = match doc { Value::Object(_) => doc, other => json!({"x": other}) };
        prop_assert_eq!(merge_patch(&doc, &json!({})), doc);
    }

    #[test]
    fn merge_patch_result_never_holds_patched_nulls(doc in json_value(), patch in json_value()) {
        let out = merge_patch(&doc, &patch);
        if let (Value::Object(out), Value::Object(patch)) = (&out, &patch) {
            for (k, v) in patch {
                if v.is_null() { prop_assert!(!out.contains_key(k)); }
            }
        }
    }

    #[test]
    fn json_patch_never_panics(doc in json_value(), ops in prop::collection::vec(
        (prop::sample::select(vec!["add", "remove", "replace", "move", "copy", "test", "bogus"]),
         "(/[a-z0-9~-]{0,3}){0,3}", "(/[a-z0-9~-]{0,3}){0,3}", json_value()), 0..6)) {
        let patch = Value::Array(ops.into_iter().map(|(op, path, from, value)| {
            json!({"op": op, "path": path, "from": from, "value": value})
        }).collect());
        let _ = json_patch(&doc, &patch);
    }
}
