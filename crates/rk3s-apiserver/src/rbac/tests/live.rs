use std::sync::Arc;
use std::time::Duration;

use rk3s_store::{Backend, SqliteBackend, SqliteOptions, Synchronous};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{binding, cluster_role, groups, role};
use crate::rbac::{Attributes, RbacAuthorizer, bootstrap_objects};

fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Backend> {
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..SqliteOptions::default()
    };
    Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap())
}

async fn put(store: &Arc<dyn Backend>, key: &str, obj: &Value) {
    let bytes = serde_json::to_vec(obj).unwrap();
    match store.get(key, 0).await.unwrap() {
        Some(kv) => {
            store.update(key, bytes, kv.mod_revision).await.unwrap();
        }
        None => {
            store.create(key, bytes).await.unwrap();
        }
    }
}

/// Polls until `check` holds; the watch applies events asynchronously.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn list_pods(ns: &str) -> Attributes {
    Attributes::resource("list", "", "pods", ns)
}

#[tokio::test]
async fn decisions_follow_bindings_created_and_deleted_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    for (key, obj) in bootstrap_objects() {
        put(&store, &key, &obj).await;
    }
    put(
        &store,
        "/registry/roles/team/pod-reader",
        &role(
            "team",
            "pod-reader",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        ),
    )
    .await;
    let shutdown = CancellationToken::new();
    let authz = RbacAuthorizer::start(Arc::clone(&store), shutdown.clone())
        .await
        .unwrap();
    let authed = groups(&["system:authenticated"]);
    // The initial list is in place when start returns.
    assert!(
        authz
            .authorize("alice", &authed, &Attributes::non_resource("get", "/api"))
            .allowed
    );
    assert!(
        !authz
            .authorize("alice", &authed, &list_pods("team"))
            .allowed
    );

    let rb = binding(
        "team",
        "alice-reads",
        "Role",
        "pod-reader",
        json!([{"kind": "User", "name": "alice"}]),
    );
    put(&store, "/registry/rolebindings/team/alice-reads", &rb).await;
    eventually("binding grants", || {
        authz
            .authorize("alice", &authed, &list_pods("team"))
            .allowed
    })
    .await;
    assert!(
        !authz
            .authorize("alice", &authed, &list_pods("other"))
            .allowed
    );

    // Changing the role changes the grant.
    put(
        &store,
        "/registry/roles/team/pod-reader",
        &role(
            "team",
            "pod-reader",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        ),
    )
    .await;
    eventually("role update revokes list", || {
        !authz
            .authorize("alice", &authed, &list_pods("team"))
            .allowed
    })
    .await;
    let get = Attributes::resource("get", "", "pods", "team").with_name("p");
    assert!(authz.authorize("alice", &authed, &get).allowed);

    store
        .delete("/registry/rolebindings/team/alice-reads", None)
        .await
        .unwrap();
    eventually("delete revokes", || {
        !authz.authorize("alice", &authed, &get).allowed
    })
    .await;

    let review = authz.rules_for("alice", &authed, "team");
    assert!(
        review
            .resource_rules
            .iter()
            .any(|r| r.resources == ["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
    );
    assert!(
        authz
            .rules_for("root", &groups(&["system:masters"]), "")
            .resource_rules[0]
            .resources
            == ["*"]
    );
    shutdown.cancel();
}

#[tokio::test]
async fn cluster_role_changes_and_malformed_values_are_applied_from_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let shutdown = CancellationToken::new();
    let authz = RbacAuthorizer::start(Arc::clone(&store), shutdown.clone())
        .await
        .unwrap();
    let crb = binding(
        "",
        "b",
        "ClusterRole",
        "r",
        json!([{"kind": "Group", "name": "devs"}]),
    );
    put(&store, "/registry/clusterrolebindings/b", &crb).await;
    let devs = groups(&["devs"]);
    eventually("missing role reported", || {
        authz.authorize("bob", &devs, &list_pods("x")).reason
            == "RBAC: clusterrole.rbac.authorization.k8s.io \"r\" not found"
    })
    .await;
    put(
        &store,
        "/registry/clusterroles/r",
        &cluster_role(
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]),
        ),
    )
    .await;
    eventually("cluster role grants", || {
        authz.authorize("bob", &devs, &list_pods("x")).allowed
    })
    .await;
    // A value that is not JSON replaces the role with nothing.
    let kv = store
        .get("/registry/clusterroles/r", 0)
        .await
        .unwrap()
        .unwrap();
    store
        .update(
            "/registry/clusterroles/r",
            b"{not json".to_vec(),
            kv.mod_revision,
        )
        .await
        .unwrap();
    eventually("garbage revokes", || {
        !authz.authorize("bob", &devs, &list_pods("x")).allowed
    })
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn node_chain_uses_the_pod_index_then_falls_back_to_rbac() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    for (key, obj) in bootstrap_objects() {
        put(&store, &key, &obj).await;
    }
    let shutdown = CancellationToken::new();
    let authz = RbacAuthorizer::start(Arc::clone(&store), shutdown.clone())
        .await
        .unwrap();
    let node_groups = groups(&["system:nodes", "system:authenticated"]);
    let secret = Attributes::resource("get", "", "secrets", "app").with_name("tls");
    let d = authz.authorize("system:node:n1", &node_groups, &secret);
    assert!(!d.allowed);
    assert_eq!(
        d.reason,
        "no relationship found between node 'n1' and this object"
    );
    let pod = json!({
        "metadata": {"name": "web", "namespace": "app"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}],
                 "volumes": [{"name": "s", "secret": {"secretName": "tls"}}]},
    });
    put(&store, "/registry/pods/app/web", &pod).await;
    eventually("pod grants secret", || {
        authz
            .authorize("system:node:n1", &node_groups, &secret)
            .allowed
    })
    .await;
    assert!(
        !authz
            .authorize("system:node:n2", &node_groups, &secret)
            .allowed
    );
    // Without the nodes group the same user is an ordinary user.
    assert!(
        !authz
            .authorize(
                "system:node:n1",
                &groups(&["system:authenticated"]),
                &secret
            )
            .allowed
    );
    // Requests the node authorizer does not decide fall through to RBAC (system:discovery).
    assert!(
        authz
            .authorize(
                "system:node:n1",
                &node_groups,
                &Attributes::non_resource("get", "/apis")
            )
            .allowed
    );
    assert!(
        authz
            .authorize("system:node:n1", &node_groups, &list_pods(""))
            .allowed
    );
    // An RBAC grant to the node works for what the node authorizer refuses.
    let extra = binding(
        "app",
        "n1-secrets",
        "ClusterRole",
        "edit",
        json!([{"kind": "User", "name": "system:node:n1"}]),
    );
    let other_secret = Attributes::resource("get", "", "secrets", "app").with_name("other");
    assert!(
        !authz
            .authorize("system:node:n1", &node_groups, &other_secret)
            .allowed
    );
    put(&store, "/registry/rolebindings/app/n1-secrets", &extra).await;
    eventually("rbac grant to node", || {
        authz
            .authorize("system:node:n1", &node_groups, &other_secret)
            .allowed
    })
    .await;

    store.delete("/registry/pods/app/web", None).await.unwrap();
    let status = Attributes::resource("update", "", "pods", "app")
        .with_name("web")
        .with_subresource("status");
    eventually("pod delete revokes", || {
        !authz
            .authorize("system:node:n1", &node_groups, &status)
            .allowed
    })
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn superusers_are_allowed_whatever_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let shutdown = CancellationToken::new();
    let authz = RbacAuthorizer::start(store, shutdown.clone())
        .await
        .unwrap();
    let masters = groups(&["system:masters"]);
    assert!(
        authz
            .authorize(
                "x",
                &masters,
                &Attributes::resource("delete", "", "nodes", "")
            )
            .allowed
    );
    assert!(
        !authz
            .authorize(
                "x",
                &groups(&["system:authenticated"]),
                &Attributes::resource("get", "", "nodes", "")
            )
            .allowed
    );
    shutdown.cancel();
}

#[tokio::test]
async fn after_shutdown_the_snapshot_stops_following_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    put(
        &store,
        "/registry/clusterroles/r",
        &cluster_role(
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        ),
    )
    .await;
    let shutdown = CancellationToken::new();
    let authz = RbacAuthorizer::start(Arc::clone(&store), shutdown.clone())
        .await
        .unwrap();
    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let crb = binding(
        "",
        "b",
        "ClusterRole",
        "r",
        json!([{"kind": "User", "name": "alice"}]),
    );
    put(&store, "/registry/clusterrolebindings/b", &crb).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!authz.authorize("alice", &[], &list_pods("x")).allowed);
}
