//! The wiring `rk3s server` uses: controllers on a `kube::Client` whose transport is the API
//! server's own request handler (no TLS, no socket), with a fixed in-process identity.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};
use rk3s_controllers::ControllerOptions;
use rk3s_store::{SqliteBackend, SqliteOptions};
use tokio_util::sync::CancellationToken;

/// A client whose every request goes straight into the handler, authenticated as `identity`
/// and still subject to authorization and admission.
fn in_process_client(state: Arc<ApiState>, identity: Identity) -> Client {
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let state = state.clone();
        let peer = PeerIdentity(Some(identity.clone()));
        async move {
            let req = req.map(axum::body::Body::new);
            Ok::<_, std::convert::Infallible>(
                rk3s_apiserver::handlers::handle(state, peer, req).await,
            )
        }
    });
    Client::new(svc, "default")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_run_on_an_in_process_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(
        SqliteBackend::open(&dir.path().join("state.db"), SqliteOptions::default()).expect("store"),
    );
    let state = Arc::new(ApiState::new(
        rk3s_core::Registry::builtin(),
        store,
        "127.0.0.1:6443".into(),
    ));
    rk3s_apiserver::bootstrap::ensure_system_namespaces(&state)
        .await
        .expect("namespaces");
    let client = in_process_client(state, Identity::loopback());
    let shutdown = CancellationToken::new();
    let manager = tokio::spawn(rk3s_controllers::run(
        client.clone(),
        ControllerOptions::new("in-process"),
        shutdown.clone(),
    ));

    let rs: ReplicaSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "inproc"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "inproc"}},
            "template": {
                "metadata": {"labels": {"app": "inproc"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}
            }
        }
    }))
    .expect("replica set");
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .expect("create replica set");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = pods
            .list(&ListParams::default().labels("app=inproc"))
            .await
            .expect("list pods")
            .items
            .len();
        if n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "pods never appeared (have {n})");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), manager).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "manager stops on shutdown: {ended:?}"
    );
}
