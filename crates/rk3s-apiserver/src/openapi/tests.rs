//! Tests of the OpenAPI v3 documents against hand-built registries (Pod, ConfigMap, Deployment
//! and an untyped custom kind), independent of the built-in registry table.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use rk3s_core::{Registry, ResourceType, Subresource, TypedCodec};
use schemars::JsonSchema;
use serde_json::Value;

use super::schemas::ref_target;
use super::*;

fn codec<T: JsonSchema + serde::de::DeserializeOwned + serde::Serialize>() -> TypedCodec {
    TypedCodec {
        roundtrip: |v| {
            let typed: T = serde_json::from_value(v)?;
            serde_json::to_value(typed)
        },
        schema: |g| g.subschema_for::<T>(),
        schema_name: || T::schema_name().into_owned(),
    }
}

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource(
    group: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    codec: Option<TypedCodec>,
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced,
        verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
        subresources: Vec::new(),
        storage_prefix: format!("/registry/{plural}"),
        codec,
        custom: None,
    }
}

fn subresource(name: &str, group: &str, kind: &str, verbs: &[&str]) -> Subresource {
    Subresource {
        name: name.into(),
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
    }
}

fn pod() -> ResourceType {
    let mut pod = resource("", "Pod", "pods", true, Some(codec::<Pod>()));
    pod.subresources = vec![
        subresource("status", "", "Pod", &["get", "patch", "update"]),
        subresource("log", "", "Pod", &["get"]),
        subresource("exec", "", "PodExecOptions", &["create", "get"]),
    ];
    pod
}

fn deployment() -> ResourceType {
    let mut deployment = resource(
        "apps",
        "Deployment",
        "deployments",
        true,
        Some(codec::<Deployment>()),
    );
    deployment.subresources = vec![
        subresource("status", "apps", "Deployment", &["get", "patch", "update"]),
        subresource("scale", "autoscaling", "Scale", &["get", "patch", "update"]),
    ];
    deployment
}

fn test_registry() -> Registry {
    Registry::new(vec![
        pod(),
        resource(
            "",
            "ConfigMap",
            "configmaps",
            true,
            Some(codec::<ConfigMap>()),
        ),
        deployment(),
        resource("stable.example.com", "CronTab", "crontabs", true, None),
    ])
}

const CONTAINERS_KEYS: &[&str] = &["name"];

fn pod_extensions() -> Vec<FieldExtensions<'static>> {
    vec![FieldExtensions {
        type_name: "io.k8s.api.core.v1.PodSpec",
        field: "containers",
        patch_strategy: Some("merge"),
        patch_merge_key: Some("name"),
        list_type: Some("map"),
        list_map_keys: CONTAINERS_KEYS,
    }]
}

fn core_v1() -> Value {
    group_version_document(&test_registry(), "", "v1", &pod_extensions())
        .expect("core/v1 is served")
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// Every `$ref` string anywhere in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

/// Every object key anywhere in `v`.
fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                out.push(k.clone());
                keys(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        _ => {}
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    serde_json::json!({ "group": group, "kind": kind, "version": version })
}

#[test]
fn pod_patch_operation_has_inline_field_validation_and_pod_gvk() {
    let doc = core_v1();
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert_eq!(patch["operationId"], "patchCoreV1NamespacedPod");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        gvk("", "v1", "Pod")
    );
    assert_eq!(patch["x-kubernetes-action"], "patch");
    let params = patch["parameters"]
        .as_array()
        .expect("patch has parameters");
    for name in ["dryRun", "fieldManager", "fieldValidation", "force"] {
        let param = params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(param["in"], "query");
        assert!(param.get("$ref").is_none());
    }
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("patch body content");
    for ct in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(content.contains_key(ct), "{ct} missing");
    }
}

#[test]
fn kubectl_field_validation_probe_finds_a_patch_for_every_typed_kind() {
    // Mirrors kubectl's query-parameter verifier: some path's PATCH has the GVK and an inline
    // query parameter named fieldValidation.
    let registry = test_registry();
    for t in registry.all() {
        let doc = group_version_document(&registry, &t.group, &t.version, &[]).expect("served");
        let wanted = gvk(&t.group, &t.version, &t.kind);
        let supported = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .any(|item| {
                let patch = &item["patch"];
                patch["x-kubernetes-group-version-kind"] == wanted
                    && patch["parameters"].as_array().is_some_and(|ps| {
                        ps.iter()
                            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                    })
            });
        assert!(
            supported,
            "{} has no patch operation with fieldValidation",
            t.kind
        );
    }
}

#[test]
fn pod_schema_carries_gvk_and_description_without_required_metadata() {
    let doc = core_v1();
    let pod = schema(&doc, "io.k8s.api.core.v1.Pod");
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk("", "v1", "Pod")])
    );
    assert!(
        pod["description"]
            .as_str()
            .is_some_and(|d| d.contains("collection of containers"))
    );
    assert!(
        pod["required"]
            .as_array()
            .is_none_or(|r| !r.contains(&Value::from("metadata")))
    );
    let spec = &pod["properties"]["spec"];
    assert!(spec["description"].is_string());
    assert_eq!(
        spec["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.PodSpec"
    );
    assert!(
        spec.get("$ref").is_none(),
        "a $ref with siblings is wrapped in allOf"
    );
}

#[test]
fn required_fields_of_nested_types_are_kept() {
    let doc = core_v1();
    let required = schema(&doc, "io.k8s.api.core.v1.PodSpec")["required"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(required.contains(&Value::from("containers")));
    let required = schema(&doc, "io.k8s.api.core.v1.Container")["required"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(required.contains(&Value::from("name")));
}

#[test]
fn list_schemas_are_synthesized_with_gvk_items_and_list_meta() {
    let doc = core_v1();
    let list = schema(&doc, "io.k8s.api.core.v1.PodList");
    assert_eq!(
        list["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk("", "v1", "PodList")])
    );
    assert_eq!(
        list["properties"]["items"]["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Pod"
    );
    assert_eq!(
        list["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
    );
    let get = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["get"];
    assert_eq!(get["operationId"], "listCoreV1NamespacedConfigMap");
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.ConfigMapList"
    );
}

#[test]
fn documents_contain_no_json_schema_2020_constructs() {
    let registry = test_registry();
    for gv in registry.groups() {
        for version in &gv.versions {
            let doc = group_version_document(&registry, &gv.group, version, &pod_extensions())
                .expect("served");
            let text = doc.to_string();
            assert!(
                !text.contains("$defs"),
                "{}/{version} mentions $defs",
                gv.group
            );
            let mut all_keys = Vec::new();
            keys(&doc, &mut all_keys);
            for banned in ["$schema", "const", "examples", "prefixItems", "definitions"] {
                assert!(
                    !all_keys.iter().any(|k| k == banned),
                    "{banned} in {}/{version}",
                    gv.group
                );
            }
            let mut types = Vec::new();
            collect_type_values(&doc, &mut types);
            assert!(
                types.iter().all(Value::is_string),
                "type arrays are not OpenAPI 3.0"
            );
        }
    }
}

fn collect_type_values(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                // `properties` maps field names to schemas; a field may be called "type".
                if k == "type" && !child.is_object() {
                    out.push(child.clone());
                }
                collect_type_values(child, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_type_values(i, out)),
        _ => {}
    }
}

#[test]
fn every_ref_resolves_inside_its_document() {
    let registry = test_registry();
    for gv in registry.groups() {
        for version in &gv.versions {
            let doc = group_version_document(&registry, &gv.group, version, &pod_extensions())
                .expect("served");
            let schemas = doc["components"]["schemas"].as_object().expect("schemas");
            let mut all = Vec::new();
            refs(&doc, &mut all);
            assert!(!all.is_empty());
            for r in all {
                assert!(r.starts_with("#/components/schemas/"), "{r}");
                let target = ref_target(&r).expect("components ref");
                assert!(
                    schemas.contains_key(&target),
                    "{r} does not resolve in {}/{version}",
                    gv.group
                );
            }
        }
    }
}

#[test]
fn operation_documents_include_the_meta_types() {
    let doc = core_v1();
    for name in [
        "ObjectMeta",
        "ListMeta",
        "Status",
        "DeleteOptions",
        "Patch",
        "WatchEvent",
    ] {
        let full = format!("io.k8s.apimachinery.pkg.apis.meta.v1.{name}");
        assert!(schema(&doc, &full).is_object(), "{full} missing");
    }
}

#[test]
fn patch_extensions_appear_on_pod_spec_containers() {
    let doc = core_v1();
    let containers = &schema(&doc, "io.k8s.api.core.v1.PodSpec")["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    assert_eq!(
        containers["x-kubernetes-list-map-keys"],
        serde_json::json!(["name"])
    );
    assert_eq!(containers["type"], "array");
    assert_eq!(
        containers["items"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.Container"
    );
}

#[test]
fn extensions_for_unknown_types_or_fields_are_ignored() {
    let ext = [
        FieldExtensions {
            type_name: "io.k8s.api.core.v1.Nope",
            field: "x",
            ..pod_extensions()[0]
        },
        FieldExtensions {
            type_name: "io.k8s.api.core.v1.PodSpec",
            field: "nope",
            ..pod_extensions()[0]
        },
        FieldExtensions {
            type_name: "",
            field: "",
            ..pod_extensions()[0]
        },
    ];
    let with = group_version_document(&test_registry(), "", "v1", &ext).expect("served");
    let without = group_version_document(&test_registry(), "", "v1", &[]).expect("served");
    assert_eq!(with, without);
}

#[test]
fn extension_on_a_ref_field_moves_the_ref_into_all_of() {
    let ext = [FieldExtensions {
        type_name: "io.k8s.api.core.v1.Container",
        field: "resources",
        patch_strategy: Some("retainKeys"),
        patch_merge_key: None,
        list_type: None,
        list_map_keys: &[],
    }];
    let doc = group_version_document(&test_registry(), "", "v1", &ext).expect("served");
    let resources = &schema(&doc, "io.k8s.api.core.v1.Container")["properties"]["resources"];
    assert_eq!(resources["x-kubernetes-patch-strategy"], "retainKeys");
    assert!(resources.get("$ref").is_none());
    assert!(resources["allOf"][0]["$ref"].is_string());
    assert!(resources.get("x-kubernetes-list-map-keys").is_none());
}

#[test]
fn int_or_string_and_quantity_are_valid_openapi_30() {
    let doc = group_version_document(&test_registry(), "apps", "v1", &[]).expect("served");
    let ios = schema(&doc, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assert_eq!(ios["x-kubernetes-int-or-string"], true);
    assert_eq!(ios["format"], "int-or-string");
    assert_eq!(ios["oneOf"].as_array().map(Vec::len), Some(2));
    let quantity = schema(&doc, "io.k8s.apimachinery.pkg.api.resource.Quantity");
    assert_eq!(quantity["oneOf"].as_array().map(Vec::len), Some(2));
    let time = schema(&doc, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
    assert_eq!(time["type"], "string");
    assert_eq!(time["format"], "date-time");
}

#[test]
fn paths_follow_upstream_shapes_and_operation_ids() {
    let doc = core_v1();
    let paths = doc["paths"].as_object().expect("paths");
    let op = |path: &str, method: &str| {
        paths[path][method]["operationId"]
            .as_str()
            .map(str::to_string)
    };
    let ns_pods = "/api/v1/namespaces/{namespace}/pods";
    assert_eq!(
        op(ns_pods, "get").as_deref(),
        Some("listCoreV1NamespacedPod")
    );
    assert_eq!(
        op(ns_pods, "post").as_deref(),
        Some("createCoreV1NamespacedPod")
    );
    assert_eq!(
        op(ns_pods, "delete").as_deref(),
        Some("deleteCoreV1CollectionNamespacedPod")
    );
    let pod = "/api/v1/namespaces/{namespace}/pods/{name}";
    assert_eq!(op(pod, "get").as_deref(), Some("readCoreV1NamespacedPod"));
    assert_eq!(
        op(pod, "put").as_deref(),
        Some("replaceCoreV1NamespacedPod")
    );
    assert_eq!(
        op(pod, "delete").as_deref(),
        Some("deleteCoreV1NamespacedPod")
    );
    assert_eq!(
        op("/api/v1/pods", "get").as_deref(),
        Some("listCoreV1PodForAllNamespaces")
    );
    assert_eq!(
        op(&format!("{pod}/status"), "patch").as_deref(),
        Some("patchCoreV1NamespacedPodStatus")
    );
    assert_eq!(
        op(&format!("{pod}/log"), "get").as_deref(),
        Some("readCoreV1NamespacedPodLog")
    );
    assert_eq!(
        op(&format!("{pod}/exec"), "post").as_deref(),
        Some("connectPostCoreV1NamespacedPodExec")
    );
    assert_eq!(
        op("/api/v1/watch/namespaces/{namespace}/pods", "get").as_deref(),
        Some("watchCoreV1NamespacedPodList")
    );

    let list = &paths[ns_pods]["get"];
    assert_eq!(list["x-kubernetes-action"], "list");
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for wanted in [
        "labelSelector",
        "fieldSelector",
        "limit",
        "continue",
        "resourceVersion",
        "resourceVersionMatch",
        "timeoutSeconds",
        "watch",
        "allowWatchBookmarks",
        "sendInitialEvents",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from list");
    }
    let path_params = paths[pod]["parameters"].as_array().expect("path params");
    for wanted in ["name", "namespace"] {
        let p = path_params
            .iter()
            .find(|p| p["name"] == wanted)
            .expect("path param");
        assert_eq!(p["in"], "path");
        assert_eq!(p["required"], true);
    }
    let create = &paths[ns_pods]["post"];
    assert!(
        create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].is_string()
    );
    let create_params: Vec<&str> = create["parameters"]
        .as_array()
        .expect("params")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(create_params, ["dryRun", "fieldManager", "fieldValidation"]);
}

#[test]
fn cluster_scoped_kinds_have_no_namespace_in_paths() {
    let registry = Registry::new(vec![resource(
        "",
        "Node",
        "nodes",
        false,
        Some(codec::<k8s_openapi::api::core::v1::Node>()),
    )]);
    let doc = group_version_document(&registry, "", "v1", &[]).expect("served");
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(
        paths["/api/v1/nodes/{name}"]["get"]["operationId"],
        "readCoreV1Node"
    );
    assert_eq!(
        paths["/api/v1/nodes"]["get"]["operationId"],
        "listCoreV1Node"
    );
    assert_eq!(
        paths["/api/v1/watch/nodes/{name}"]["get"]["operationId"],
        "watchCoreV1Node"
    );
    assert!(paths.keys().all(|p| !p.contains("{namespace}")));
}

#[test]
fn scale_subresource_uses_the_autoscaling_scale_kind() {
    let doc = group_version_document(&test_registry(), "apps", "v1", &[]).expect("served");
    let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentScale"
    );
    assert_eq!(
        scale["patch"]["x-kubernetes-group-version-kind"],
        gvk("autoscaling", "v1", "Scale")
    );
    assert_eq!(
        scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    );
    let scale_schema = schema(&doc, "io.k8s.api.autoscaling.v1.Scale");
    assert_eq!(
        scale_schema["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk("autoscaling", "v1", "Scale")])
    );
    let deployment = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    assert_eq!(
        deployment["patch"]["x-kubernetes-group-version-kind"],
        gvk("apps", "v1", "Deployment")
    );
}

#[test]
fn verbs_a_resource_lacks_have_no_operations() {
    let mut readonly = resource(
        "",
        "ConfigMap",
        "configmaps",
        true,
        Some(codec::<ConfigMap>()),
    );
    readonly.verbs = vec!["get".into(), "list".into()];
    let doc =
        group_version_document(&Registry::new(vec![readonly]), "", "v1", &[]).expect("served");
    let item = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    assert!(item["get"].is_object());
    assert!(
        item.get("patch").is_none() && item.get("put").is_none() && item.get("delete").is_none()
    );
    assert!(
        doc["paths"]
            .get("/api/v1/watch/namespaces/{namespace}/configmaps")
            .is_none()
    );
}

#[test]
fn untyped_kinds_get_a_permissive_schema_and_no_strategic_merge() {
    let registry = test_registry();
    let doc = group_version_document(&registry, "stable.example.com", "v1", &[]).expect("served");
    let crontab = schema(&doc, "com.example.stable.v1.CronTab");
    assert_eq!(crontab["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(crontab["type"], "object");
    assert_eq!(
        crontab["x-kubernetes-group-version-kind"],
        serde_json::json!([gvk("stable.example.com", "v1", "CronTab")])
    );
    let patch = &doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
        ["patch"];
    assert_eq!(
        patch["operationId"],
        "patchStableExampleComV1NamespacedCronTab"
    );
    let content = patch["requestBody"]["content"]
        .as_object()
        .expect("content");
    assert!(!content.contains_key("application/strategic-merge-patch+json"));
    assert!(content.contains_key("application/merge-patch+json"));
}

#[test]
fn unserved_group_version_has_no_document() {
    let registry = test_registry();
    assert!(group_version_document(&registry, "apps", "v2", &[]).is_none());
    assert!(group_version_document(&registry, "nope", "v1", &[]).is_none());
    assert!(group_version_document(&Registry::default(), "", "v1", &[]).is_none());
}

#[test]
fn index_lists_every_group_version_with_its_hash() {
    let built = OpenApiV3::build(&test_registry(), &pod_extensions());
    let index: Value = serde_json::from_slice(built.index_json()).expect("index is json");
    let paths = index["paths"].as_object().expect("paths");
    assert_eq!(
        paths.keys().collect::<Vec<_>>(),
        ["api/v1", "apis/apps/v1", "apis/stable.example.com/v1"]
    );
    for (path, entry) in paths {
        let hash = built.document_hash(path).expect("hash");
        assert_eq!(
            entry["serverRelativeURL"],
            format!("/openapi/v3/{path}?hash={hash}")
        );
        assert!(
            hash.len() >= 16
                && hash
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
        let bytes = built.document_json(path).expect("document");
        let doc: Value = serde_json::from_slice(bytes).expect("document is json");
        assert_eq!(doc["openapi"], "3.0.0");
        assert_eq!(doc["info"]["title"], "Kubernetes");
    }
    assert_eq!(
        built.document_json("/api/v1"),
        built.document_json("api/v1")
    );
    assert!(built.document_json("apis/apps/v2").is_none());
    assert!(built.document_json("").is_none());
    assert!(built.document_json("../../etc/passwd").is_none());
}

#[test]
fn index_without_a_hash_omits_the_parameter() {
    let index = index(&test_registry(), &BTreeMap::new());
    assert_eq!(
        index["paths"]["api/v1"]["serverRelativeURL"],
        "/openapi/v3/api/v1"
    );
}

#[test]
fn builds_are_deterministic() {
    let a = OpenApiV3::build(&test_registry(), &pod_extensions());
    let b = OpenApiV3::build(&test_registry(), &pod_extensions());
    assert_eq!(a.index_json(), b.index_json());
    for path in a.document_paths() {
        assert_eq!(a.document_json(path), b.document_json(path));
    }
}

#[test]
fn hash_changes_when_the_registry_or_extensions_change() {
    let base = OpenApiV3::build(&test_registry(), &pod_extensions());

    let mut types: Vec<ResourceType> = test_registry().all().map(|t| t.as_ref().clone()).collect();
    types.push(resource(
        "",
        "Secret",
        "secrets",
        true,
        Some(codec::<k8s_openapi::api::core::v1::Secret>()),
    ));
    let more = OpenApiV3::build(&Registry::new(types), &pod_extensions());
    assert_ne!(base.document_hash("api/v1"), more.document_hash("api/v1"));
    assert_eq!(
        base.document_hash("apis/apps/v1"),
        more.document_hash("apis/apps/v1")
    );
    assert_ne!(base.index_json(), more.index_json());

    let no_ext = OpenApiV3::build(&test_registry(), &[]);
    assert_ne!(base.document_hash("api/v1"), no_ext.document_hash("api/v1"));
}

#[test]
fn codec_returning_an_inline_schema_is_handled_like_a_ref() {
    let mut inline = resource(
        "",
        "ConfigMap",
        "configmaps",
        true,
        Some(codec::<ConfigMap>()),
    );
    if let Some(c) = inline.codec.as_mut() {
        c.schema = |g| ConfigMap::json_schema(g);
    }
    let by_ref = group_version_document(
        &Registry::new(vec![resource(
            "",
            "ConfigMap",
            "configmaps",
            true,
            Some(codec::<ConfigMap>()),
        )]),
        "",
        "v1",
        &[],
    );
    let by_inline = group_version_document(&Registry::new(vec![inline]), "", "v1", &[]);
    assert_eq!(by_ref, by_inline);
}

#[test]
fn json_schema_2020_constructs_convert_to_openapi_30() {
    let mut hoisted = serde_json::Map::new();
    let mut s = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "a": { "type": ["string", "null"], "description": "x" },
            "b": { "$ref": "#/$defs/B", "description": "with sibling" },
            "c": { "anyOf": [{ "$ref": "#/$defs/B" }, { "type": "null" }] },
            "d": { "const": "fixed" },
            "e": true,
            "f": { "type": "array", "prefixItems": [{ "type": "string" }], "examples": [["x"], ["y"]] },
            "g": { "type": ["integer", "string"] },
        },
        "$defs": { "B": { "type": "object", "properties": { "self": { "$ref": "#/$defs/B" } } } },
    });
    super::schemas::to_openapi30(&mut s, &mut hoisted);
    let p = &s["properties"];
    assert_eq!(
        p["a"],
        serde_json::json!({ "type": "string", "description": "x", "nullable": true })
    );
    assert_eq!(p["b"]["allOf"][0]["$ref"], "#/components/schemas/B");
    assert_eq!(p["b"]["description"], "with sibling");
    assert_eq!(p["c"]["nullable"], true);
    assert_eq!(
        p["c"]["anyOf"],
        serde_json::json!([{ "$ref": "#/components/schemas/B" }])
    );
    assert_eq!(p["d"]["enum"], serde_json::json!(["fixed"]));
    assert_eq!(p["e"], serde_json::json!({}));
    assert_eq!(p["f"]["example"], serde_json::json!(["x"]));
    assert!(p["f"]["items"].is_object());
    assert!(p["g"].get("type").is_none());
    assert_eq!(p["g"]["anyOf"].as_array().map(Vec::len), Some(2));
    assert!(s.get("$schema").is_none() && s.get("$defs").is_none());
    assert_eq!(
        hoisted["B"]["properties"]["self"]["$ref"],
        "#/components/schemas/B"
    );
}

#[test]
fn hostile_schema_values_do_not_panic() {
    let mut hoisted = serde_json::Map::new();
    for mut s in [
        serde_json::json!(null),
        serde_json::json!(42),
        serde_json::json!({ "type": [] }),
        serde_json::json!({ "type": ["null"] }),
        serde_json::json!({ "$ref": 7, "allOf": "not an array" }),
        serde_json::json!({ "$ref": "#/$defs/a~1b", "allOf": "x", "description": "d" }),
        serde_json::json!({ "items": [], "anyOf": [{ "type": "null" }] }),
        serde_json::json!({ "$defs": { "X": false }, "properties": { "p": false } }),
        serde_json::json!({ "$ref": "http://elsewhere/x" }),
    ] {
        super::schemas::to_openapi30(&mut s, &mut hoisted);
    }
    assert_eq!(hoisted["X"], serde_json::json!({ "not": {} }));
}

#[test]
fn odd_registry_entries_do_not_panic() {
    let mut weird = resource("a..b-", "", "", true, None);
    weird.subresources = vec![subresource(
        "",
        "",
        "",
        &["get", "patch", "create", "update"],
    )];
    let built = OpenApiV3::build(&Registry::new(vec![weird]), &[]);
    assert_eq!(built.document_paths().count(), 1);
}

fn builtin_extensions() -> Vec<FieldExtensions<'static>> {
    rk3s_core::patch::patch_meta_table()
        .iter()
        .map(|(type_name, field, m)| FieldExtensions {
            type_name,
            field,
            patch_strategy: m.strategy,
            patch_merge_key: m.merge_key,
            list_type: m.list_type,
            list_map_keys: m.list_map_keys,
        })
        .collect()
}

#[test]
fn builtin_registry_documents_resolve_and_pass_kubectls_validation_probe() {
    let registry = Registry::builtin();
    assert!(registry.all().count() > 0, "the builtin registry is empty");
    let ext = builtin_extensions();
    let built = OpenApiV3::build(&registry, &ext);
    let mut docs = BTreeMap::new();
    for path in built.document_paths() {
        let bytes = built.document_json(path).expect("listed document");
        let doc: Value = serde_json::from_slice(bytes).expect("document is json");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in all {
            let target = ref_target(&r).expect("components ref");
            assert!(
                schemas.contains_key(&target),
                "{r} does not resolve in {path}"
            );
        }
        assert!(!String::from_utf8_lossy(bytes).contains("$defs"));
        docs.insert(path.to_string(), doc);
    }
    for t in registry
        .all()
        .filter(|t| t.codec.is_some() && t.has_verb("patch"))
    {
        let doc = &docs[&group_version_path(&t.group, &t.version)];
        let wanted = gvk(&t.group, &t.version, &t.kind);
        let probe_passes = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .any(|item| {
                item["patch"]["x-kubernetes-group-version-kind"] == wanted
                    && item["patch"]["parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation"))
            });
        assert!(
            probe_passes,
            "{}/{} {} fails the probe",
            t.group, t.version, t.kind
        );
        let name = t.codec.map(|c| (c.schema_name)()).expect("typed");
        let kinds = &doc["components"]["schemas"][&name]["x-kubernetes-group-version-kind"];
        assert!(
            kinds.as_array().is_some_and(|k| k.contains(&wanted)),
            "{name} lacks its GVK"
        );
    }
    // Every extension entry lands on a property of some document.
    for e in &ext {
        let found = docs
            .values()
            .any(|d| d["components"]["schemas"][e.type_name]["properties"][e.field].is_object());
        assert!(found, "{}.{} is in no document", e.type_name, e.field);
    }
}
