//! Authentication against a real SQLite store.

use rk3s_store::{Backend, SqliteBackend, SqliteOptions, Synchronous};
use serde_json::json;

use super::*;

pub(super) fn open_store(dir: &Path) -> SqliteBackend {
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..Default::default()
    };
    SqliteBackend::open(&dir.join("state.db"), opts).unwrap()
}

pub(super) async fn put(store: &SqliteBackend, key: &str, obj: serde_json::Value) {
    store
        .create(key, serde_json::to_vec(&obj).unwrap())
        .await
        .unwrap();
}

pub(super) fn service_account(ns: &str, name: &str, uid: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns, "uid": uid},
    })
}

pub(super) fn pod(ns: &str, name: &str, uid: &str, sa: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": uid},
        "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": "busybox"}]},
    })
}

#[tokio::test]
async fn a_token_authenticates_only_while_its_service_account_lives() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    let key = "/registry/serviceaccounts/shop/builder";
    put(&store, key, service_account("shop", "builder", "uid-1")).await;
    let (token, _) = keys
        .issue(&request("shop", "builder", "uid-1"), NOW)
        .unwrap();

    let (user, groups, auds) = authenticate(&keys, &store, &token, &[], NOW).await.unwrap();
    assert_eq!(user, "system:serviceaccount:shop:builder");
    assert_eq!(
        groups,
        vec![
            "system:serviceaccounts",
            "system:serviceaccounts:shop",
            "system:authenticated"
        ]
    );
    assert_eq!(auds, vec![DEFAULT_ISSUER]);

    store.delete(key, None).await.unwrap();
    let gone = authenticate_detailed(&keys, &store, &token, &[], NOW).await;
    assert!(
        matches!(gone, Err(ServiceAccountError::ServiceAccountGone { .. })),
        "{gone:?}"
    );

    // Recreated under the same name: a different account, so the old token stays dead.
    put(&store, key, service_account("shop", "builder", "uid-2")).await;
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_none()
    );
    let (fresh, _) = keys
        .issue(&request("shop", "builder", "uid-2"), NOW)
        .unwrap();
    assert!(
        authenticate(&keys, &store, &fresh, &[], NOW)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_audience_must_intersect_the_servers_audiences() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    put(
        &store,
        "/registry/serviceaccounts/ns/sa",
        service_account("ns", "sa", "u"),
    )
    .await;
    let req = IssueRequest {
        audiences: vec!["vault".into(), "api".into()],
        ..request("ns", "sa", "u")
    };
    let (token, _) = keys.issue(&req, NOW).unwrap();
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_none()
    );
    let api = vec!["api".to_string(), "other".to_string()];
    let (_, _, auds) = authenticate(&keys, &store, &token, &api, NOW)
        .await
        .unwrap();
    assert_eq!(auds, vec!["api"]);
    let err = authenticate_detailed(&keys, &store, &token, &["x".into()], NOW)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"token audiences ["vault", "api"] is invalid for the target audiences ["x"]"#
    );
}

#[tokio::test]
async fn a_token_bound_to_a_pod_dies_with_the_pod() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    put(
        &store,
        "/registry/serviceaccounts/ns/sa",
        service_account("ns", "sa", "u"),
    )
    .await;
    let pod_key = "/registry/pods/ns/web";
    put(&store, pod_key, pod("ns", "web", "pod-1", "sa")).await;
    let req = IssueRequest {
        bound: Some(BoundObject {
            kind: BoundKind::Pod,
            name: "web".into(),
            uid: "pod-1".into(),
        }),
        ..request("ns", "sa", "u")
    };
    let (token, _) = keys.issue(&req, NOW).unwrap();
    let a = authenticate_detailed(&keys, &store, &token, &[], NOW)
        .await
        .unwrap();
    assert_eq!(
        a.extra["authentication.kubernetes.io/pod-name"],
        vec!["web"]
    );

    // Terminating for up to the leeway: still accepted; for longer: refused.
    let deleted_at = jiff::Timestamp::from_second(NOW).unwrap();
    let mut terminating = pod("ns", "web", "pod-1", "sa");
    terminating["metadata"]["deletionTimestamp"] =
        json!(deleted_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    let kv = store.get(pod_key, 0).await.unwrap().unwrap();
    store
        .update(
            pod_key,
            serde_json::to_vec(&terminating).unwrap(),
            kv.mod_revision,
        )
        .await
        .unwrap();
    assert!(
        authenticate(&keys, &store, &token, &[], NOW + 60)
            .await
            .is_some()
    );
    assert!(
        authenticate(&keys, &store, &token, &[], NOW + 61)
            .await
            .is_none()
    );

    store.delete(pod_key, None).await.unwrap();
    let gone = authenticate_detailed(&keys, &store, &token, &[], NOW).await;
    assert!(
        matches!(
            gone,
            Err(ServiceAccountError::BoundObjectGone { kind: "Pod", .. })
        ),
        "{gone:?}"
    );
    put(&store, pod_key, pod("ns", "web", "pod-2", "sa")).await;
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_token_bound_to_a_secret_dies_with_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    put(
        &store,
        "/registry/serviceaccounts/ns/sa",
        service_account("ns", "sa", "u"),
    )
    .await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns", "uid": "s-1"}});
    put(&store, "/registry/secrets/ns/s", secret).await;
    let req = IssueRequest {
        bound: Some(BoundObject {
            kind: BoundKind::Secret,
            name: "s".into(),
            uid: "s-1".into(),
        }),
        ..request("ns", "sa", "u")
    };
    let (token, _) = keys.issue(&req, NOW).unwrap();
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_some()
    );
    store.delete("/registry/secrets/ns/s", None).await.unwrap();
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn names_that_would_escape_the_storage_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    // Whatever sits at a deeper key must not stand in for an account named with a slash.
    put(
        &store,
        "/registry/serviceaccounts/ns/a/b",
        service_account("ns", "a/b", "u"),
    )
    .await;
    let (token, _) = keys.issue(&request("ns", "a/b", "u"), NOW).unwrap();
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_none()
    );
}
