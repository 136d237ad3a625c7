//! Tests of server-side apply and update tracking with kubectl-style flows on real kinds.

use std::sync::LazyLock;

use k8s_openapi::api::apps::v1::Deployment;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::fieldset::{FieldSet, display_path};
use super::*;

/// Generating a kind's schema takes a while; tests share one.
static DEPLOYMENT: LazyLock<SchemaNav> =
    LazyLock::new(|| SchemaNav::for_codec(&crate::builtin::codec::<Deployment>()));

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";

fn manifest(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
                ]}
            }
        }
    })
}

fn request<'a>(
    live: Option<&'a Value>,
    applied: &'a Value,
    manager: &'a str,
    now: &'a str,
) -> ApplyRequest<'a> {
    ApplyRequest {
        live,
        applied,
        manager,
        force: false,
        api_version: "apps/v1",
        now,
        schema: &DEPLOYMENT,
    }
}

fn server_side_apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    now: &str,
) -> Result<Value, ApplyError> {
    apply(&request(live, applied, manager, now))
}

/// What the API server adds on create: identity and defaults (a defaulted list-map key too).
fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("0b7e6c1e-1111-2222-3333-444455556666");
    object["metadata"]["resourceVersion"] = json!("1001");
    object["metadata"]["creationTimestamp"] = json!(T1);
    object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
    object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    object
}

fn entries(object: &Value) -> &Vec<Value> {
    object["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
}

fn entry<'a>(object: &'a Value, manager: &str) -> Option<&'a Value> {
    entries(object).iter().find(|e| e["manager"] == manager)
}

fn owns(object: &Value, manager: &str, path: &[&str]) -> bool {
    let Some(entry) = entry(object, manager) else {
        return false;
    };
    let mut node = &entry["fieldsV1"];
    for step in path {
        match node.get(*step) {
            Some(next) => node = next,
            None => return false,
        }
    }
    node.as_object()
        .is_some_and(|m| m.is_empty() || m.contains_key("."))
}

fn conflicts(err: ApplyError) -> Vec<Conflict> {
    match err {
        ApplyError::Conflicts(c) => c,
        other => panic!("expected conflicts, got {other:?}"),
    }
}

#[test]
fn server_side_apply_creates_the_object_and_records_the_applied_fields() {
    let created = server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap();
    assert_eq!(created["spec"]["replicas"], 2);
    assert_eq!(created["metadata"]["name"], "web");
    let all = entries(&created);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["manager"], "kubectl");
    assert_eq!(all[0]["operation"], "Apply");
    assert_eq!(all[0]["apiVersion"], "apps/v1");
    assert_eq!(all[0]["time"], T1);
    assert_eq!(all[0]["fieldsType"], "FieldsV1");
    assert_eq!(
        all[0]["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {},
                            "f:containerPort": {}
                        }}
                    }}}
                }
            }
        })
    );
}

#[test]
fn reapplying_the_same_manifest_changes_nothing() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let again =
        server_side_apply(Some(&created), &manifest(2, "nginx:1.25"), "kubectl", T2).unwrap();
    assert_eq!(again, created);
}

#[test]
fn reapplying_with_other_replicas_changes_them_and_the_time() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let scaled =
        server_side_apply(Some(&created), &manifest(3, "nginx:1.25"), "kubectl", T2).unwrap();
    assert_eq!(scaled["spec"]["replicas"], 3);
    assert_eq!(entry(&scaled, "kubectl").unwrap()["time"], T2);
    // Defaults and server metadata survive.
    assert_eq!(scaled["metadata"]["uid"], created["metadata"]["uid"]);
    let container = &scaled["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        container["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
}

/// `kubectl scale` then `kubectl apply --server-side` with the manifest's own replicas.
#[test]
fn apply_conflicts_with_the_manager_that_scaled() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = track_update(
        Some(&created),
        &scaled,
        "kubectl-scale",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert!(owns(&scaled, "kubectl-scale", &["f:spec", "f:replicas"]));
    assert!(!owns(&scaled, "kubectl", &["f:spec", "f:replicas"]));

    let err =
        server_side_apply(Some(&scaled), &manifest(2, "nginx:1.25"), "kubectl", T3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
    );
    let found = conflicts(err);
    assert_eq!(found[0].manager, "kubectl-scale");
    assert_eq!(found[0].field, ".spec.replicas");
    assert_eq!(found[0].owner(), "\"kubectl-scale\" using apps/v1");

    // Applying the value the scaler set is no conflict: the field is shared.
    let shared =
        server_side_apply(Some(&scaled), &manifest(5, "nginx:1.25"), "kubectl", T3).unwrap();
    assert!(owns(&shared, "kubectl", &["f:spec", "f:replicas"]));
    assert!(owns(&shared, "kubectl-scale", &["f:spec", "f:replicas"]));
}

#[test]
fn forced_apply_takes_the_field_from_its_owner() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    let scaled = track_update(
        Some(&created),
        &scaled,
        "kubectl-scale",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    let applied = manifest(2, "nginx:1.25");
    let forced = apply(&ApplyRequest {
        force: true,
        ..request(Some(&scaled), &applied, "kubectl", T3)
    })
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], 2);
    assert!(owns(&forced, "kubectl", &["f:spec", "f:replicas"]));
    // The scaler owned nothing else, so its entry is gone.
    assert!(entry(&forced, "kubectl-scale").is_none());
}

/// A Deployment created by client-side `kubectl apply`, then applied server-side with changes.
#[test]
fn apply_over_client_side_apply_reports_every_conflict() {
    let created = stored(manifest(2, "nginx:1.25"));
    let created = track_update(
        None,
        &created,
        "kubectl-client-side-apply",
        "apps/v1",
        T1,
        &DEPLOYMENT,
    );
    let err =
        server_side_apply(Some(&created), &manifest(3, "nginx:1.26"), "kubectl", T2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn conflicts_with_several_managers_are_grouped_by_manager() {
    let created = stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "alpha", T1).unwrap());
    let err =
        server_side_apply(Some(&created), &manifest(3, "nginx:1.26"), "beta", T2).unwrap_err();
    assert_eq!(conflicts(err.clone()).len(), 2);
    let other = {
        let mut o = created.clone();
        o["spec"]["paused"] = json!(true);
        track_update(Some(&created), &o, "gamma", "apps/v1", T2, &DEPLOYMENT)
    };
    let mut wanted = manifest(3, "nginx:1.25");
    wanted["spec"]["paused"] = json!(false);
    let err = server_side_apply(Some(&other), &wanted, "beta", T3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"alpha\":\n- .spec.replicas\n\
         conflicts with \"gamma\" using apps/v1:\n- .spec.paused"
    );
}

#[test]
fn removing_a_field_from_the_manifest_removes_it_from_the_object() {
    let mut first = manifest(2, "nginx:1.25");
    first["metadata"]["labels"]["tier"] = json!("frontend");
    first["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "busybox"}));
    first["spec"]["minReadySeconds"] = json!(5);
    let created = stored(server_side_apply(None, &first, "kubectl", T1).unwrap());

    let second = manifest(2, "nginx:1.25");
    let updated = server_side_apply(Some(&created), &second, "kubectl", T2).unwrap();
    assert_eq!(updated["metadata"]["labels"], json!({"app": "web"}));
    assert!(updated["spec"].get("minReadySeconds").is_none());
    let containers = updated["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["name"], "web");
    assert!(!owns(
        &updated,
        "kubectl",
        &["f:metadata", "f:labels", "f:tier"]
    ));
    // Identity survives even though nobody tracks it.
    assert_eq!(updated["metadata"]["name"], "web");
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
}

#[test]
fn a_dropped_field_another_manager_owns_stays() {
    let mut first = manifest(2, "nginx:1.25");
    first["metadata"]["labels"]["tier"] = json!("frontend");
    let created = stored(server_side_apply(None, &first, "a", T1).unwrap());
    let shared = server_side_apply(Some(&created), &first, "b", T2).unwrap();
    assert!(owns(&shared, "a", &["f:metadata", "f:labels", "f:tier"]));
    assert!(owns(&shared, "b", &["f:metadata", "f:labels", "f:tier"]));

    let dropped = server_side_apply(Some(&shared), &manifest(2, "nginx:1.25"), "a", T3).unwrap();
    assert_eq!(dropped["metadata"]["labels"]["tier"], "frontend");
    assert!(!owns(&dropped, "a", &["f:metadata", "f:labels", "f:tier"]));
    assert!(owns(&dropped, "b", &["f:metadata", "f:labels", "f:tier"]));
}

#[test]
fn two_appliers_setting_the_same_value_share_it_without_conflict() {
    let created = stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "a", T1).unwrap());
    let partial = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2}
    });
    let both = server_side_apply(Some(&created), &partial, "b", T2).unwrap();
    assert!(owns(&both, "a", &["f:spec", "f:replicas"]));
    assert!(owns(&both, "b", &["f:spec", "f:replicas"]));
    // Nothing changed, so the new entry has the time of its first apply and a keeps its own.
    assert_eq!(entry(&both, "a").unwrap()["time"], T1);
    // b may now change it only with force, and a keeps the rest.
    let bumped = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 4}});
    assert_eq!(
        conflicts(server_side_apply(Some(&both), &bumped, "b", T3).unwrap_err())[0].manager,
        "a"
    );
}

#[test]
fn containers_merge_by_name_and_keep_other_managers_items() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    // Another client adds a sidecar in front (say, an injector).
    let mut injected = created.clone();
    injected["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"name": "proxy", "image": "envoy:1.30"}));
    let injected = track_update(
        Some(&created),
        &injected,
        "injector",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert!(owns(
        &injected,
        "injector",
        &[
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"proxy\"}"
        ]
    ));

    let updated =
        server_side_apply(Some(&injected), &manifest(2, "nginx:1.26"), "kubectl", T3).unwrap();
    let containers = updated["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["proxy", "web"]);
    assert_eq!(containers[1]["image"], "nginx:1.26");
    assert_eq!(containers[1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(containers[1]["ports"].as_array().unwrap().len(), 1);
}

#[test]
fn labels_merge_key_by_key() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let mut labelled = created.clone();
    labelled["metadata"]["labels"]["team"] = json!("blue");
    let labelled = track_update(
        Some(&created),
        &labelled,
        "kubectl-label",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert_eq!(
        entry(&labelled, "kubectl-label").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:team": {}}}})
    );
    let mut next = manifest(2, "nginx:1.25");
    next["metadata"]["labels"]["env"] = json!("prod");
    let applied = server_side_apply(Some(&labelled), &next, "kubectl", T3).unwrap();
    assert_eq!(
        applied["metadata"]["labels"],
        json!({"app": "web", "team": "blue", "env": "prod"})
    );
}

#[test]
fn atomic_selector_is_owned_and_replaced_whole() {
    let mut first = manifest(2, "nginx:1.25");
    first["spec"]["selector"] = json!({"matchLabels": {"app": "web", "x": "y"}});
    let created = stored(server_side_apply(None, &first, "kubectl", T1).unwrap());
    let mut second = manifest(2, "nginx:1.25");
    second["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    let updated = server_side_apply(Some(&created), &second, "kubectl", T2).unwrap();
    assert_eq!(
        updated["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
}

#[test]
fn the_last_applied_follow_up_patch_only_owns_the_annotation() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let annotation = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}
    });
    let updated =
        server_side_apply(Some(&created), &annotation, "kubectl-last-applied", T2).unwrap();
    assert_eq!(updated["spec"], created["spec"]);
    assert_eq!(
        entry(&updated, "kubectl-last-applied").unwrap()["fieldsV1"],
        json!({"f:metadata": {"f:annotations": {"f:kubectl.kubernetes.io/last-applied-configuration": {}}}})
    );
    let entries = entries(&updated);
    assert_eq!(entries[0]["manager"], "kubectl");
    assert_eq!(entries[1]["manager"], "kubectl-last-applied");
}

#[test]
fn first_apply_to_an_untracked_object_conflicts_with_before_first_apply() {
    let untracked = stored(manifest(2, "nginx:1.25"));
    let err =
        server_side_apply(Some(&untracked), &manifest(3, "nginx:1.25"), "kubectl", T2).unwrap_err();
    assert_eq!(conflicts(err)[0].manager, BEFORE_FIRST_APPLY);
    let same =
        server_side_apply(Some(&untracked), &manifest(2, "nginx:1.25"), "kubectl", T2).unwrap();
    assert!(owns(&same, BEFORE_FIRST_APPLY, &["f:spec", "f:replicas"]));
    assert!(owns(&same, "kubectl", &["f:spec", "f:replicas"]));
}

#[test]
fn invalid_configurations_are_refused() {
    let invalid = |applied: Value| {
        matches!(
            server_side_apply(None, &applied, "kubectl", T1),
            Err(ApplyError::Invalid(_))
        )
    };
    assert!(invalid(json!([1, 2])));
    assert!(invalid(json!("deployment")));
    assert!(invalid(json!({"metadata": "web"})));
    let mut managed = manifest(1, "x");
    managed["metadata"]["managedFields"] = json!([{"manager": "me"}]);
    assert!(invalid(managed));
    let mut twice = manifest(1, "x");
    twice["spec"]["template"]["spec"]["containers"] =
        json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]);
    assert!(invalid(twice));
    let mut nameless = manifest(1, "x");
    nameless["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let err = server_side_apply(None, &nameless, "kubectl", T1).unwrap_err();
    assert!(
        err.to_string().contains(".spec.template.spec.containers"),
        "{err}"
    );
    // An explicitly empty managedFields is fine.
    let mut empty = manifest(1, "x");
    empty["metadata"]["managedFields"] = json!([]);
    assert!(server_side_apply(None, &empty, "kubectl", T1).is_ok());
}

#[test]
fn server_assigned_metadata_is_never_changed_or_tracked() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let mut hostile = manifest(2, "nginx:1.25");
    hostile["metadata"]["creationTimestamp"] = Value::Null;
    hostile["metadata"]["uid"] = json!("forged");
    let updated = server_side_apply(Some(&created), &hostile, "kubectl", T2).unwrap();
    assert_eq!(updated["metadata"]["creationTimestamp"], T1);
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    let fields = &entry(&updated, "kubectl").unwrap()["fieldsV1"]["f:metadata"];
    assert!(fields.get("f:name").is_none() && fields.get("f:uid").is_none());
}

#[test]
fn track_update_records_a_create_and_updates_its_entry_in_place() {
    let created = track_update(
        None,
        &stored(manifest(2, "nginx:1.25")),
        "kubectl-create",
        "apps/v1",
        T1,
        &DEPLOYMENT,
    );
    assert_eq!(entries(&created).len(), 1);
    assert!(owns(&created, "kubectl-create", &["f:spec", "f:replicas"]));
    assert!(!owns(&created, "kubectl-create", &["f:metadata", "f:uid"]));

    let mut edited = created.clone();
    edited["spec"]["replicas"] = json!(4);
    let edited = track_update(
        Some(&created),
        &edited,
        "kubectl-create",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert_eq!(entries(&edited).len(), 1);
    assert_eq!(entries(&edited)[0]["time"], T2);

    // Another version is another entry; a write that changes nothing touches nothing.
    let same = track_update(
        Some(&edited),
        &edited,
        "kubectl-create",
        "apps/v1beta1",
        T3,
        &DEPLOYMENT,
    );
    assert_eq!(same, edited);
}

#[test]
fn track_update_drops_entries_left_empty_and_removed_fields() {
    let created =
        stored(server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap());
    let mut edited = created.clone();
    edited["spec"]["replicas"] = json!(9);
    edited["metadata"]["labels"] = json!({});
    let edited = track_update(
        Some(&created),
        &edited,
        "editor",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert!(!owns(&edited, "kubectl", &["f:spec", "f:replicas"]));
    assert!(!owns(
        &edited,
        "kubectl",
        &["f:metadata", "f:labels", "f:app"]
    ));
    assert!(owns(&edited, "editor", &["f:spec", "f:replicas"]));

    // Everything kubectl owned taken away: its entry goes.
    let mut wiped = edited.clone();
    wiped["spec"] = json!({"replicas": 9});
    let wiped = track_update(Some(&edited), &wiped, "editor", "apps/v1", T3, &DEPLOYMENT);
    assert!(entry(&wiped, "kubectl").is_none());
}

#[test]
fn track_update_leaves_untracked_objects_untracked_and_honours_sent_managed_fields() {
    let untracked = stored(manifest(2, "nginx:1.25"));
    let mut edited = untracked.clone();
    edited["spec"]["replicas"] = json!(3);
    let out = track_update(
        Some(&untracked),
        &edited,
        "editor",
        "apps/v1",
        T2,
        &DEPLOYMENT,
    );
    assert!(out["metadata"].get("managedFields").is_none());

    // Sending `managedFields: [{}]` clears them.
    let tracked = server_side_apply(None, &manifest(2, "nginx:1.25"), "kubectl", T1).unwrap();
    let mut reset = tracked.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    let out = track_update(Some(&tracked), &reset, "editor", "apps/v1", T2, &DEPLOYMENT);
    assert!(out["metadata"].get("managedFields").is_none(), "{out}");
}

#[test]
fn many_updaters_fold_the_oldest_into_ancient_changes() {
    let mut object = track_update(
        None,
        &stored(manifest(2, "nginx:1.25")),
        "creator",
        "apps/v1",
        T1,
        &DEPLOYMENT,
    );
    for i in 0..12 {
        let mut next = object.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        let now = format!("2024-05-02T10:{i:02}:00Z");
        object = track_update(
            Some(&object),
            &next,
            &format!("writer-{i}"),
            "apps/v1",
            &now,
            &DEPLOYMENT,
        );
    }
    let updaters = entries(&object)
        .iter()
        .filter(|e| e["operation"] == "Update")
        .count();
    assert_eq!(updaters, 10);
    assert!(entry(&object, "creator").is_none());
    assert!(entry(&object, "writer-2").is_none());
    assert!(owns(&object, "ancient-changes", &["f:spec", "f:replicas"]));
    assert!(owns(
        &object,
        "ancient-changes",
        &["f:metadata", "f:labels", "f:l2"]
    ));
    assert!(owns(
        &object,
        "writer-11",
        &["f:metadata", "f:labels", "f:l11"]
    ));
}

#[test]
fn schema_less_kinds_merge_objects_and_replace_lists() {
    let nav = SchemaNav::default();
    let first = json!({"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 1, "list": [1, 2], "keep": true}});
    let created = apply(&ApplyRequest {
        schema: &nav,
        api_version: "x/v1",
        ..request(None, &first, "m", T1)
    })
    .unwrap();
    let second = json!({"apiVersion": "x/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"a": 2, "list": [3]}});
    let updated = apply(&ApplyRequest {
        schema: &nav,
        api_version: "x/v1",
        ..request(Some(&created), &second, "m", T2)
    })
    .unwrap();
    assert_eq!(updated["spec"], json!({"a": 2, "list": [3]}));
    assert!(owns(&updated, "m", &["f:spec", "f:list"]));
}

#[test]
fn field_sets_read_back_canonically() {
    let stored = json!({"f:spec": {"f:ports": {"k:{\"protocol\": \"TCP\", \"port\": 80.0}": {".": {}, "f:name": {}}}}, "f:bad": 3, "f:empty": {"f:x": []}});
    let set = FieldSet::from_fields_v1(&stored);
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}}}}})
    );
    // The object itself is never a member: such an entry holds nothing and is dropped.
    assert!(FieldSet::from_fields_v1(&json!({".": {}})).is_empty());
    let paths = set.paths();
    assert_eq!(
        display_path(&paths[0]),
        ".spec.ports[port=80,protocol=\"TCP\"]"
    );
    assert_eq!(
        display_path(&paths[1]),
        ".spec.ports[port=80,protocol=\"TCP\"].name"
    );
    assert_eq!(
        display_path(&["f:metadata".into(), "f:finalizers".into(), "v:\"a\"".into()]),
        ".metadata.finalizers[=\"a\"]"
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 5, |inner| {
        let keys = prop::sample::select(vec![
            "metadata",
            "spec",
            "labels",
            "name",
            "containers",
            "image",
            "replicas",
            "template",
            "managedFields",
            "manager",
            "fieldsV1",
            "f:spec",
            "k:{\"name\":\"a\"}",
            ".",
            "selector",
            "ports",
            "containerPort",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..5).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

/// Wraps arbitrary values into Deployment-shaped places so typed paths get exercised.
fn deployment_like(spec: Value, containers: Value, managed: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "managedFields": managed},
        "spec": {"replicas": spec, "template": {"spec": {"containers": containers}}}
    })
}

proptest! {
    #[test]
    fn apply_and_track_update_never_panic(live in json_value(), applied in json_value(), managed in json_value(), force in any::<bool>()) {
        for schema in [&*DEPLOYMENT, &SchemaNav::default()] {
            let _ = apply(&ApplyRequest { live: Some(&live), force, schema, ..request(None, &applied, "m", T1) });
            let typed_live = deployment_like(live.clone(), applied.clone(), managed.clone());
            let typed_applied = deployment_like(applied.clone(), live.clone(), Value::Null);
            let _ = apply(&ApplyRequest { live: Some(&typed_live), force, schema, ..request(None, &typed_applied, "m", T1) });
            let _ = track_update(Some(&live), &applied, "m", "v1", T1, schema);
            let _ = track_update(Some(&typed_live), &typed_applied, "m", "v1", T1, schema);
            let _ = track_update(None, &typed_live, "m", "v1", T1, schema);
        }
    }

    #[test]
    fn applying_twice_gives_the_same_object(live in json_value(), applied in json_value(), containers in json_value(), managed in json_value()) {
        for schema in [&*DEPLOYMENT, &SchemaNav::default()] {
            let typed_live = deployment_like(live.clone(), containers.clone(), managed.clone());
            let typed_applied = deployment_like(applied.clone(), containers.clone(), Value::Null);
            for (live, applied) in [(&live, &applied), (&typed_live, &typed_applied)] {
                let once = apply(&ApplyRequest { live: Some(live), schema, ..request(None, applied, "m", T1) });
                if let Ok(once) = once {
                    let twice = apply(&ApplyRequest { live: Some(&once), schema, ..request(None, applied, "m", T2) });
                    prop_assert_eq!(twice, Ok(once));
                }
            }
        }
    }
}
