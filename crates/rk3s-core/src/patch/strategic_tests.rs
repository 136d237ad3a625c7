//! Tests of the strategic merge patch engine with kubectl-style patches on real kinds.

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Node, core::v1::Pod, core::v1::Service};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::registry::TypedCodec;

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    T::json_schema(generator)
}

fn name_of<T: schemars::JsonSchema>() -> String {
    T::schema_name().into_owned()
}

fn roundtrip_of<T: serde::de::DeserializeOwned + serde::Serialize>(
    v: Value,
) -> Result<Value, serde_json::Error> {
    serde_json::to_value(serde_json::from_value::<T>(v)?)
}

fn nav<T: schemars::JsonSchema + serde::de::DeserializeOwned + serde::Serialize>() -> SchemaNav {
    SchemaNav::for_codec(&TypedCodec {
        roundtrip: roundtrip_of::<T>,
        schema: schema_of::<T>,
        schema_name: name_of::<T>,
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "frontend"},
            "finalizers": ["example.com/a", "example.com/b"]
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.25",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "1"}]
                        },
                        {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]}
                    ],
                    "volumes": [{"name": "config", "configMap": {"name": "web-config"}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}]
                }
            }
        }
    })
}

/// Generating a kind's schema takes a while; the property tests reuse one.
static DEPLOYMENT_NAV: std::sync::LazyLock<SchemaNav> = std::sync::LazyLock::new(nav::<Deployment>);

fn smp(doc: &Value, patch: Value) -> Value {
    strategic_merge_patch(doc, &patch, &DEPLOYMENT_NAV).unwrap()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[test]
fn schema_nav_knows_the_type_at_each_field() {
    let nav = nav::<Deployment>();
    let root = nav.root();
    assert_eq!(root.type_name(), Some("io.k8s.api.apps.v1.Deployment"));
    let pod_spec = root.field("spec").field("template").field("spec");
    assert_eq!(pod_spec.type_name(), Some("io.k8s.api.core.v1.PodSpec"));
    assert_eq!(
        pod_spec.field("containers").items().type_name(),
        Some("io.k8s.api.core.v1.Container")
    );
    assert_eq!(
        root.field("metadata").type_name(),
        Some("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
    );
    assert_eq!(root.field("metadata").field("labels").type_name(), None);
    assert_eq!(pod_spec.field("noSuchField").type_name(), None);
    assert_eq!(SchemaNav::default().root().field("spec").type_name(), None);
}

#[test]
fn schema_nav_resolves_refs_under_any_definitions_path() {
    let defs = json!({
        "T": {"type": "object", "properties": {"child": {"$ref": "#/definitions/U"}}},
        "U": {"type": "object", "properties": {"loop": {"$ref": "#/definitions/Loop"}}},
        "Loop": {"$ref": "#/definitions/Loop"}
    });
    let Value::Object(defs) = defs else {
        unreachable!()
    };
    let nav = SchemaNav::new(None, json!({"$ref": "#/$defs/T"}), defs);
    assert_eq!(nav.root().type_name(), Some("T"));
    assert_eq!(nav.root().field("child").type_name(), Some("U"));
    // A `$ref` cycle ends in an unknown type instead of looping.
    assert_eq!(
        nav.root()
            .field("child")
            .field("loop")
            .field("x")
            .type_name(),
        None
    );
}

#[test]
fn apply_changing_one_image_keeps_the_other_container() {
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
            "containers": [{"image": "nginx:1.26", "name": "web"}]
        }}}
    });
    let out = smp(&deployment(), patch);
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["web", "sidecar"]);
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(
        containers[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(containers[0]["env"][0]["name"], "MODE");
    assert_eq!(
        containers[1],
        deployment()["spec"]["template"]["spec"]["containers"][1]
    );
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{}"
    );
    assert_eq!(
        out["metadata"]["labels"],
        deployment()["metadata"]["labels"]
    );
}

#[test]
fn set_image_patch_updates_only_the_named_container() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}});
    let out = smp(&deployment(), patch);
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["web", "sidecar"]);
    assert_eq!(
        containers[0],
        deployment()["spec"]["template"]["spec"]["containers"][0]
    );
    assert_eq!(containers[1]["image"], "busybox:1.37");
    assert_eq!(containers[1]["args"], json!(["sleep", "3600"]));
}

#[test]
fn patch_delete_directive_removes_one_env_var() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"$patch": "delete", "name": "DEBUG"}]}
    ]}}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "MODE", "value": "prod"}])
    );
}

#[test]
fn set_element_order_reorders_containers() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]
    }}}});
    let out = smp(&deployment(), patch);
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["sidecar", "web"]);
    assert_eq!(containers[1]["image"], "nginx:1.25");
    assert!(
        out["spec"]["template"]["spec"]
            .get("$setElementOrder/containers")
            .is_none()
    );
}

#[test]
fn set_element_order_places_a_new_container_where_listed() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}, {"name": "debug"}],
        "containers": [{"name": "debug", "image": "alpine"}]
    }}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        names(&out["spec"]["template"]["spec"]["containers"]),
        ["web", "sidecar", "debug"]
    );
}

#[test]
fn new_container_without_order_directive_goes_first_as_upstream() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "debug", "image": "alpine"}]}}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        names(&out["spec"]["template"]["spec"]["containers"]),
        ["debug", "web", "sidecar"]
    );
}

#[test]
fn apply_removing_a_container_and_an_env_var_deletes_only_those() {
    // What `kubectl apply` sends after the sidecar and DEBUG were dropped from the manifest.
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [
            {"$setElementOrder/env": [{"name": "MODE"}], "env": [{"$patch": "delete", "name": "DEBUG"}], "name": "web"},
            {"$patch": "delete", "name": "sidecar"}
        ]
    }}}});
    let out = smp(&deployment(), patch);
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(names(containers), ["web"]);
    assert_eq!(
        containers[0]["env"],
        json!([{"name": "MODE", "value": "prod"}])
    );
    assert_eq!(containers[0]["image"], "nginx:1.25");
}

#[test]
fn deleting_an_absent_item_changes_nothing() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "ghost"}]}}}});
    assert_eq!(smp(&deployment(), patch), deployment());
}

#[test]
fn patch_list_out_of_order_with_set_element_order_is_rejected() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
        "containers": [{"name": "sidecar", "image": "a"}, {"name": "web", "image": "b"}]
    }}}});
    let err = strategic_merge_patch(&deployment(), &patch, &nav::<Deployment>()).unwrap_err();
    assert!(
        matches!(err, PatchError::SetElementOrderMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(err.status_code(), 400);
}

#[test]
fn retain_keys_drops_rolling_update_when_switching_to_recreate() {
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}});
    let out = smp(&deployment(), patch);
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    let without_null = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    assert_eq!(
        smp(&deployment(), without_null)["spec"]["strategy"],
        json!({"type": "Recreate"})
    );
}

#[test]
fn retain_keys_in_a_volume_item_switches_its_source() {
    let patch = json!({"spec": {"template": {"spec": {"volumes": [
        {"$retainKeys": ["name", "secret"], "name": "config", "secret": {"secretName": "web-secret"}}
    ]}}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "config", "secret": {"secretName": "web-secret"}}])
    );
}

#[test]
fn delete_from_primitive_list_removes_a_finalizer() {
    let patch = json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": ["example.com/a"],
        "$setElementOrder/finalizers": ["example.com/b", "example.com/c"],
        "finalizers": ["example.com/c"]
    }});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["example.com/b", "example.com/c"])
    );
    assert!(
        out["metadata"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with('$'))
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let patch = json!({"metadata": {"finalizers": ["example.com/b", "example.com/c"]}});
    let out = smp(&deployment(), patch);
    let finalizers = out["metadata"]["finalizers"].as_array().unwrap();
    assert_eq!(finalizers.len(), 3);
    for f in ["example.com/a", "example.com/b", "example.com/c"] {
        assert!(
            finalizers.contains(&json!(f)),
            "{f} missing from {finalizers:?}"
        );
    }
}

#[test]
fn null_removes_a_label_and_other_labels_merge() {
    let patch = json!({"metadata": {"labels": {"tier": null, "track": "stable"}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "track": "stable"})
    );
}

#[test]
fn lists_without_merge_strategy_are_replaced() {
    let patch = json!({"spec": {"template": {"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "containers": [{"name": "sidecar", "args": ["sleep", "60"]}]
    }}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1]["args"],
        json!(["sleep", "60"])
    );
}

#[test]
fn container_ports_merge_by_container_port() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "ports": [{"containerPort": 9090, "name": "metrics"}, {"containerPort": 80, "name": "http"}]}
    ]}}}});
    let out = smp(&deployment(), patch);
    let ports = &out["spec"]["template"]["spec"]["containers"][0]["ports"];
    assert_eq!(
        ports,
        &json!([{"containerPort": 9090, "name": "metrics"}, {"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
}

#[test]
fn patch_replace_in_a_list_replaces_the_whole_list() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "alpine"}, {"$patch": "replace"}
    ]}}}});
    let out = smp(&deployment(), patch);
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "only", "image": "alpine"}])
    );
}

#[test]
fn patch_replace_in_a_map_replaces_the_map() {
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "only": "1", "gone": null}}});
    let out = smp(&deployment(), patch);
    assert_eq!(out["metadata"]["labels"], json!({"only": "1"}));
}

#[test]
fn patch_delete_in_a_map_empties_it() {
    let out = smp(
        &deployment(),
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
}

#[test]
fn patch_merge_directive_merges() {
    let out = smp(
        &deployment(),
        json!({"metadata": {"labels": {"$patch": "merge", "x": "y"}}}),
    );
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "tier": "frontend", "x": "y"})
    );
}

#[test]
fn unknown_directives_are_rejected() {
    let nav = nav::<Deployment>();
    let cases = [
        json!({"metadata": {"labels": {"$patch": "frobnicate"}}}),
        json!({"metadata": {"labels": {"$patch": 7}}}),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "sideways"}]}}}}),
        json!({"spec": {"template": {"spec": {"$frobnicate/containers": []}}}}),
    ];
    for patch in cases {
        let err = strategic_merge_patch(&deployment(), &patch, &nav).unwrap_err();
        assert!(
            matches!(err, PatchError::UnknownDirective { .. }),
            "{patch}: {err:?}"
        );
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn malformed_directive_values_are_rejected() {
    let nav = nav::<Deployment>();
    let cases = [
        json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
        json!({"spec": {"strategy": {"$retainKeys": [1]}}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "example.com/a"}}),
        json!({"spec": {"template": {"spec": {"$setElementOrder/containers": {"name": "web"}}}}}),
    ];
    for patch in cases {
        let err = strategic_merge_patch(&deployment(), &patch, &nav).unwrap_err();
        assert!(
            matches!(err, PatchError::InvalidDirective { .. }),
            "{patch}: {err:?}"
        );
    }
}

#[test]
fn merge_list_items_without_the_merge_key_are_rejected() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}});
    let err = strategic_merge_patch(&deployment(), &patch, &nav::<Deployment>()).unwrap_err();
    assert_eq!(
        err,
        PatchError::MissingMergeKey {
            path: "/spec/template/spec/containers/0".to_string(),
            key: "name".to_string()
        }
    );
    let delete_without_key =
        json!({"spec": {"template": {"spec": {"containers": [{"$patch": "delete"}]}}}});
    assert!(matches!(
        strategic_merge_patch(&deployment(), &delete_without_key, &nav::<Deployment>()),
        Err(PatchError::MissingMergeKey { .. })
    ));
}

#[test]
fn merge_list_mixing_objects_and_strings_is_rejected() {
    let patch = json!({"spec": {"template": {"spec": {"containers": ["web"]}}}});
    let err = strategic_merge_patch(&deployment(), &patch, &nav::<Deployment>()).unwrap_err();
    assert!(matches!(err, PatchError::MixedListItems { .. }), "{err:?}");
}

#[test]
fn patch_and_document_must_be_objects() {
    let nav = nav::<Deployment>();
    assert_eq!(
        strategic_merge_patch(&deployment(), &json!([1]), &nav),
        Err(PatchError::NotAnObject {
            what: "a strategic merge patch"
        })
    );
    assert!(strategic_merge_patch(&json!("x"), &json!({}), &nav).is_err());
}

#[test]
fn unknown_schema_merges_maps_and_replaces_lists() {
    let out = strategic_merge_patch(
        &deployment(),
        &json!({"metadata": {"labels": {"x": "y"}}, "spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}),
        &SchemaNav::default(),
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "tier": "frontend", "x": "y"})
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web"}])
    );
    assert_eq!(out["spec"]["replicas"], 2);
}

#[test]
fn fields_missing_from_the_schema_fall_back_to_merge_patch() {
    let doc = json!({"spec": {"extra": {"a": 1, "list": [1, 2]}}});
    let out = strategic_merge_patch(
        &doc,
        &json!({"spec": {"extra": {"b": 2, "list": [3]}}}),
        &nav::<Deployment>(),
    )
    .unwrap();
    assert_eq!(out["spec"]["extra"], json!({"a": 1, "b": 2, "list": [3]}));
}

#[test]
fn new_fields_are_added_without_nulls_or_directives() {
    let doc = json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": {}}}});
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b", "image": "x", "command": null}, {"name": "a", "env": [{"name": "E", "value": null}]}]
    }}}});
    let out = strategic_merge_patch(&doc, &patch, &nav::<Deployment>()).unwrap();
    assert_eq!(
        out["spec"]["template"]["spec"],
        json!({"containers": [{"name": "b", "image": "x"}, {"name": "a", "env": [{"name": "E"}]}]})
    );
}

#[test]
fn pod_status_conditions_merge_by_type() {
    let pod = json!({
        "metadata": {"name": "p"},
        "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False"}
        ]}
    });
    let patch = json!({"status": {
        "$setElementOrder/conditions": [{"type": "PodScheduled"}, {"type": "Initialized"}, {"type": "Ready"}],
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        "phase": "Running",
        "podIPs": [{"ip": "10.42.0.5"}]
    }});
    let out = strategic_merge_patch(&pod, &patch, &nav::<Pod>()).unwrap();
    assert_eq!(
        out["status"]["conditions"],
        json!([
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"}
        ])
    );
    assert_eq!(out["status"]["phase"], "Running");
}

#[test]
fn node_addresses_and_conditions_merge_by_type() {
    let node = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": "n1"}],
        "conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure", "status": "False"}]
    }});
    let patch = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "10.0.0.2"}],
        "conditions": [{"type": "Ready", "status": "True"}]
    }});
    let out = strategic_merge_patch(&node, &patch, &nav::<Node>()).unwrap();
    assert_eq!(
        out["status"]["addresses"],
        json!([{"type": "InternalIP", "address": "10.0.0.2"}, {"type": "Hostname", "address": "n1"}])
    );
    assert_eq!(
        out["status"]["conditions"][0],
        json!({"type": "Ready", "status": "True"})
    );
    assert_eq!(out["status"]["conditions"][1]["type"], "MemoryPressure");
}

#[test]
fn service_ports_merge_by_port() {
    let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"app": "web"}}});
    let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
    let out = strategic_merge_patch(&svc, &patch, &nav::<Service>()).unwrap();
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090, "protocol": "TCP"}])
    );
}

#[test]
fn merge_keys_compare_numbers_by_value() {
    let svc = json!({"spec": {"ports": [{"port": 80, "name": "http"}]}});
    let out = strategic_merge_patch(
        &svc,
        &json!({"spec": {"ports": [{"port": 80.0, "targetPort": 1}]}}),
        &nav::<Service>(),
    )
    .unwrap();
    assert_eq!(out["spec"]["ports"].as_array().unwrap().len(), 1);
}

#[test]
fn deeply_nested_patch_is_rejected_not_overflowed() {
    let mut patch = json!("leaf");
    for _ in 0..400 {
        patch = json!({"a": patch});
    }
    let err = strategic_merge_patch(&json!({}), &patch, &SchemaNav::default()).unwrap_err();
    assert!(matches!(err, PatchError::TooDeep { .. }));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i32..4).prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "web", "sidecar", "replace", "delete", "merge", "type", "x"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        let keys = prop::sample::select(vec![
            "name",
            "image",
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$deleteFromPrimitiveList/finalizers",
            "$setElementOrder/finalizers",
            "containers",
            "finalizers",
            "metadata",
            "spec",
            "template",
            "env",
            "ports",
            "containerPort",
            "labels",
            "volumes",
            "strategy",
            "$frob",
            "type",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..5).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn strategic_merge_patch_never_panics(doc in json_value(), patch in json_value()) {
        let typed = &*DEPLOYMENT_NAV;
        let _ = strategic_merge_patch(&doc, &patch, typed);
        let _ = strategic_merge_patch(&doc, &patch, &SchemaNav::default());
        let _ = strategic_merge_patch(&deployment(), &patch, typed);
        let spec_patch = json!({"spec": {"template": {"spec": patch}}});
        let _ = strategic_merge_patch(&deployment(), &spec_patch, typed);
    }

    #[test]
    fn strategic_merge_patch_with_an_empty_patch_returns_the_object(doc in json_value()) {
        let doc = match doc { Value::Object(_) => doc, other => json!({"x": other}) };
        prop_assert_eq!(strategic_merge_patch(&doc, &json!({}), &DEPLOYMENT_NAV).unwrap(), doc);
    }

    #[test]
    fn strategic_merge_patch_output_has_no_directives(patch in json_value()) {
        let spec_patch = json!({"spec": {"template": {"spec": patch}}});
        if let Ok(out) = strategic_merge_patch(&deployment(), &spec_patch, &DEPLOYMENT_NAV) {
            prop_assert!(!has_directive_key(&out), "{}", out);
        }
    }
}

/// Unknown `$` keys may survive in untyped places (they may be data there); directives never.
fn has_directive_key(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            [
                "$patch",
                "$retainKeys",
                "$setElementOrder/",
                "$deleteFromPrimitiveList/",
            ]
            .iter()
            .any(|d| k.starts_with(d))
                || has_directive_key(v)
        }),
        Value::Array(items) => items.iter().any(has_directive_key),
        _ => false,
    }
}
