use std::sync::Arc;
use std::time::Duration;

use rk3s_store::{Backend, ListRequest, SqliteBackend, SqliteOptions, Synchronous};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::rbac::{
    bootstrap_objects, ensure_bootstrap_policy, reconcile_aggregation, run_aggregation,
};

fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Backend> {
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..SqliteOptions::default()
    };
    Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap())
}

async fn read(store: &Arc<dyn Backend>, key: &str) -> Value {
    let kv = store.get(key, 0).await.unwrap().unwrap();
    serde_json::from_slice(&kv.value).unwrap()
}

fn crd_viewer() -> Value {
    json!({
        "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}],
    })
}

fn has_widgets(role: &Value) -> bool {
    role["rules"]
        .as_array()
        .is_some_and(|rs| rs.iter().any(|r| r["resources"] == json!(["widgets"])))
}

#[tokio::test]
async fn bootstrap_creates_missing_objects_once_and_keeps_edits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let n = ensure_bootstrap_policy(store.as_ref()).await.unwrap();
    assert_eq!(n, bootstrap_objects().len());
    let listed = store
        .list(ListRequest {
            prefix: "/registry/clusterrolebindings/".into(),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert!(
        listed
            .kvs
            .iter()
            .any(|kv| kv.key == "/registry/clusterrolebindings/cluster-admin")
    );
    let kv = store
        .get("/registry/clusterroles/view", 0)
        .await
        .unwrap()
        .unwrap();
    store
        .update(
            "/registry/clusterroles/view",
            b"{}".to_vec(),
            kv.mod_revision,
        )
        .await
        .unwrap();
    assert_eq!(ensure_bootstrap_policy(store.as_ref()).await.unwrap(), 0);
    assert_eq!(read(&store, "/registry/clusterroles/view").await, json!({}));
}

#[tokio::test]
async fn aggregation_pass_propagates_a_new_view_role_up_to_edit_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    ensure_bootstrap_policy(store.as_ref()).await.unwrap();
    assert_eq!(reconcile_aggregation(store.as_ref()).await.unwrap(), 0);
    store
        .create(
            "/registry/clusterroles/widgets-view",
            serde_json::to_vec(&crd_viewer()).unwrap(),
        )
        .await
        .unwrap();
    store
        .create("/registry/clusterroles/garbage", b"not json".to_vec())
        .await
        .unwrap();
    assert_eq!(reconcile_aggregation(store.as_ref()).await.unwrap(), 3);
    for name in ["view", "edit", "admin"] {
        let role = read(&store, &format!("/registry/clusterroles/{name}")).await;
        assert!(has_widgets(&role), "{name} lacks the aggregated rule");
        // Everything but the rules is kept.
        assert_eq!(
            role["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
    }
    assert_eq!(reconcile_aggregation(store.as_ref()).await.unwrap(), 0);
}

#[tokio::test]
async fn running_aggregation_follows_cluster_role_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    ensure_bootstrap_policy(store.as_ref()).await.unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_aggregation(Arc::clone(&store), shutdown.clone()));
    store
        .create(
            "/registry/clusterroles/widgets-view",
            serde_json::to_vec(&crd_viewer()).unwrap(),
        )
        .await
        .unwrap();
    let mut ok = false;
    for _ in 0..200 {
        if has_widgets(&read(&store, "/registry/clusterroles/admin").await) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "admin never aggregated the new rule");
    store
        .delete("/registry/clusterroles/widgets-view", None)
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..200 {
        if !has_widgets(&read(&store, "/registry/clusterroles/view").await) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "view kept the rule of a deleted role");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}
