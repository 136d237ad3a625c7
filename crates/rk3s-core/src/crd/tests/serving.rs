//! Resource types, version priority, printer columns and None conversion of a CRD.

use serde_json::json;

use super::*;

#[test]
fn resource_types_cover_served_versions_in_priority_order() {
    let types = resource_types(&defaulted_crd()).unwrap();
    let versions: Vec<&str> = types.iter().map(|t| t.version.as_str()).collect();
    assert_eq!(versions, vec!["v2", "v1"]);
    let v1 = &types[1];
    assert_eq!(v1.group, "stable.example.com");
    assert_eq!(v1.kind, "CronTab");
    assert_eq!(v1.plural, "crontabs");
    assert_eq!(v1.singular, "crontab");
    assert_eq!(v1.short_names, vec!["ct"]);
    assert_eq!(v1.categories, vec!["all", "example"]);
    assert!(v1.namespaced);
    assert_eq!(v1.storage_prefix, "/registry/stable.example.com/crontabs");
    assert_eq!(types[0].storage_prefix, v1.storage_prefix);
    assert!(v1.codec.is_none());
    for verb in [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "delete",
        "deletecollection",
    ] {
        assert!(v1.has_verb(verb), "{verb}");
    }
    let status = v1.subresource("status").unwrap();
    assert_eq!(
        (
            status.group.as_str(),
            status.version.as_str(),
            status.kind.as_str()
        ),
        ("stable.example.com", "v1", "CronTab")
    );
    let scale = v1.subresource("scale").unwrap();
    assert_eq!(
        (
            scale.group.as_str(),
            scale.version.as_str(),
            scale.kind.as_str()
        ),
        ("autoscaling", "v1", "Scale")
    );
    assert_eq!(scale.verbs, vec!["get", "patch", "update"]);
    assert!(types[0].subresources.is_empty());
    assert_eq!(
        v1.key(Some("default"), "x"),
        "/registry/stable.example.com/crontabs/default/x"
    );
}

#[test]
fn cluster_scoped_crd_gives_cluster_types() {
    let mut crd = defaulted_crd();
    crd["spec"]["scope"] = json!("Cluster");
    let types = resource_types(&crd).unwrap();
    assert!(types.iter().all(|t| !t.namespaced));
}

#[test]
fn resource_types_of_incomplete_crd_is_an_error() {
    assert_eq!(
        resource_types(&json!({"spec": {"names": {"plural": "a", "kind": "A"}}})).unwrap_err(),
        CrdError::MissingField("spec.group")
    );
    assert_eq!(
        resource_types(&json!({"spec": {"group": "a.b", "names": {"plural": "a", "kind": "A"}}}))
            .unwrap_err(),
        CrdError::MissingField("spec.versions")
    );
}

#[test]
fn versions_sort_like_upstream() {
    let mut v = vec![
        "v1alpha1",
        "foo",
        "v2",
        "v1beta2",
        "v1",
        "v11alpha2",
        "v1beta1",
        "bar",
        "v10",
    ];
    v.sort_by(|a, b| compare_versions(a, b));
    assert_eq!(
        v,
        vec![
            "v10",
            "v2",
            "v1",
            "v1beta2",
            "v1beta1",
            "v11alpha2",
            "v1alpha1",
            "bar",
            "foo"
        ]
    );
}

#[test]
fn printer_columns_come_from_the_version() {
    let cols = v1().printer_columns();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["Spec", "Replicas", "Age"]);
    let v2 = StructuralSchema::from_crd_version(&defaulted_crd(), "v2").unwrap();
    assert_eq!(v2.printer_columns()[0].name, "Age");
}

#[test]
fn unknown_version_is_an_error() {
    assert_eq!(
        StructuralSchema::from_crd_version(&defaulted_crd(), "v3").unwrap_err(),
        CrdError::UnknownVersion("v3".into())
    );
}

#[test]
fn convert_none_rewrites_only_api_version() {
    let mut obj =
        json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab", "spec": {"a": 1}});
    convert_none(&mut obj, "stable.example.com", "v2");
    assert_eq!(
        obj,
        json!({"apiVersion": "stable.example.com/v2", "kind": "CronTab", "spec": {"a": 1}})
    );
    let mut not_object = json!([1]);
    convert_none(&mut not_object, "g", "v");
    assert_eq!(not_object, json!([1]));
}
