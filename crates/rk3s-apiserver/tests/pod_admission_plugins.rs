//! The Priority and DefaultTolerationSeconds admission plugins through the HTTP API: built-in
//! classes at bootstrap, priority resolved from the class or the global default, upstream's
//! 403s, and the not-ready/unreachable tolerations added to new pods.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};
use rk3s_store::{SqliteBackend, SqliteOptions, Synchronous};
use serde_json::{Value, json};

const PODS: &str = "/api/v1/namespaces/default/pods";
const CLASSES: &str = "/apis/scheduling.k8s.io/v1/priorityclasses";

async fn call(state: &Arc<ApiState>, method: &str, uri: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = rk3s_apiserver::handlers::handle(
        state.clone(),
        PeerIdentity(Some(Identity::loopback())),
        req,
    )
    .await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn setup() -> (tempfile::TempDir, Arc<ApiState>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..Default::default()
    };
    let store = Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap());
    let state = Arc::new(ApiState::new(
        rk3s_core::Registry::builtin(),
        store,
        "127.0.0.1:6443".into(),
    ));
    rk3s_apiserver::bootstrap::ensure_system_namespaces(&state)
        .await
        .unwrap();
    rk3s_apiserver::bootstrap::ensure_system_priority_classes(&state)
        .await
        .unwrap();
    (dir, state)
}

fn pod(name: &str, spec_extra: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "c", "image": "busybox"}]});
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

fn class(name: &str, value: i64, extra: Value) -> Value {
    let mut c = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
        "metadata": {"name": name}, "value": value});
    if let (Some(o), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            o.insert(k.clone(), v.clone());
        }
    }
    c
}

#[tokio::test]
async fn system_priority_classes_exist_after_bootstrap_and_bootstrap_is_repeatable() {
    let (_dir, state) = setup().await;
    rk3s_apiserver::bootstrap::ensure_system_priority_classes(&state)
        .await
        .unwrap();
    let (code, list) = call(&state, "GET", CLASSES, Value::Null).await;
    assert_eq!(code, 200, "{list}");
    let value_of = |n: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metadata"]["name"] == n)
            .map(|c| c["value"].clone())
    };
    assert_eq!(value_of("system-node-critical"), Some(json!(2_000_001_000)));
    assert_eq!(
        value_of("system-cluster-critical"),
        Some(json!(2_000_000_000))
    );
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn pod_priority_comes_from_its_class() {
    let (_dir, state) = setup().await;
    let (code, p) = call(
        &state,
        "POST",
        PODS,
        pod("crit", json!({"priorityClassName": "system-node-critical"})),
    )
    .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["spec"]["priority"], 2_000_001_000);
    assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");

    let (code, c) = call(
        &state,
        "POST",
        CLASSES,
        class("quiet", 500, json!({"preemptionPolicy": "Never"})),
    )
    .await;
    assert_eq!(code, 201, "{c}");
    let (code, p) = call(
        &state,
        "POST",
        PODS,
        pod("q", json!({"priorityClassName": "quiet"})),
    )
    .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["spec"]["priority"], 500);
    assert_eq!(p["spec"]["preemptionPolicy"], "Never");

    // A replacement that leaves the computed fields out keeps them.
    let mut replaced = p.clone();
    let spec = replaced["spec"].as_object_mut().unwrap();
    spec.remove("priority");
    spec.remove("preemptionPolicy");
    let (code, after) = call(&state, "PUT", &format!("{PODS}/q"), replaced).await;
    assert_eq!(code, 200, "{after}");
    assert_eq!(after["spec"]["priority"], 500);
    assert_eq!(after["spec"]["preemptionPolicy"], "Never");

    let (code, p) = call(&state, "POST", PODS, pod("plain", json!({}))).await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["spec"]["priority"], 0);
    assert_eq!(p["spec"]["preemptionPolicy"], "PreemptLowerPriority");
}

#[tokio::test]
async fn unknown_class_and_disagreeing_priority_are_forbidden_as_upstream() {
    let (_dir, state) = setup().await;
    let (code, status) = call(
        &state,
        "POST",
        PODS,
        pod("x", json!({"priorityClassName": "foo"})),
    )
    .await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"x\" is forbidden: no PriorityClass with name foo was found"
    );
    let (code, status) = call(
        &state,
        "POST",
        PODS,
        pod(
            "y",
            json!({"priorityClassName": "system-cluster-critical", "priority": 7}),
        ),
    )
    .await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        "pods \"y\" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 2000000000 from the given PriorityClass name"
    );
    let (code, _) = call(&state, "GET", &format!("{PODS}/x"), Value::Null).await;
    assert_eq!(code, 404, "refused pods are not stored");
}

#[tokio::test]
async fn global_default_class_applies_to_pods_without_a_class_and_is_unique() {
    let (_dir, state) = setup().await;
    let (code, c) = call(
        &state,
        "POST",
        CLASSES,
        class("everyone", 42, json!({"globalDefault": true})),
    )
    .await;
    assert_eq!(code, 201, "{c}");
    let (code, p) = call(&state, "POST", PODS, pod("d", json!({}))).await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["spec"]["priorityClassName"], "everyone");
    assert_eq!(p["spec"]["priority"], 42);

    let (code, status) = call(
        &state,
        "POST",
        CLASSES,
        class("another", 43, json!({"globalDefault": true})),
    )
    .await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        "priorityclasses.scheduling.k8s.io \"another\" is forbidden: PriorityClass everyone is already marked as default. Only one default can exist"
    );
    let (code, c) = call(&state, "POST", CLASSES, class("later", 43, json!({}))).await;
    assert_eq!(code, 201, "{c}");
    let mut promoted = c.clone();
    promoted["globalDefault"] = json!(true);
    let (code, status) = call(&state, "PUT", &format!("{CLASSES}/later"), promoted).await;
    assert_eq!(code, 403, "{status}");
}

#[tokio::test]
async fn new_pods_tolerate_not_ready_and_unreachable_for_five_minutes() {
    let (_dir, state) = setup().await;
    let (code, p) = call(&state, "POST", PODS, pod("t", json!({}))).await;
    assert_eq!(code, 201, "{p}");
    let tolerations = p["spec"]["tolerations"].as_array().unwrap().clone();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        assert!(
            tolerations.contains(&json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})),
            "{tolerations:?}"
        );
    }
    assert_eq!(tolerations.len(), 2);

    // A pod that already tolerates one of them keeps its own and gets only the other.
    let own = json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10});
    let (code, p) = call(
        &state,
        "POST",
        PODS,
        pod("own", json!({"tolerations": [own.clone()]})),
    )
    .await;
    assert_eq!(code, 201, "{p}");
    let tolerations = p["spec"]["tolerations"].as_array().unwrap().clone();
    assert_eq!(tolerations.len(), 2, "{tolerations:?}");
    assert_eq!(tolerations[0], own);
    assert_eq!(tolerations[1]["key"], "node.kubernetes.io/unreachable");

    // Tolerating every taint covers both.
    let (code, p) = call(
        &state,
        "POST",
        PODS,
        pod("all", json!({"tolerations": [{"operator": "Exists"}]})),
    )
    .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(p["spec"]["tolerations"], json!([{"operator": "Exists"}]));
}
