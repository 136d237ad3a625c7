//! List pagination and watch after the store compacted the revisions they need: 410 Expired,
//! with a fresh continue token for lists and an ERROR event for watches.

use std::sync::Arc;

use axum::body::Body;
use futures::StreamExt;
use http_body_util::BodyExt;
use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};
use rk3s_store::{Backend, SqliteBackend, SqliteOptions, Synchronous};
use serde_json::Value;

async fn request(
    state: &Arc<ApiState>,
    method: &str,
    uri: &str,
    body: &str,
) -> http::Response<Body> {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    rk3s_apiserver::handlers::handle(state.clone(), PeerIdentity(Some(Identity::loopback())), req)
        .await
}

async fn json(state: &Arc<ApiState>, method: &str, uri: &str, body: &str) -> (u16, Value) {
    let resp = request(state, method, uri, body).await;
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn setup() -> (tempfile::TempDir, Arc<ApiState>, Arc<SqliteBackend>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..Default::default()
    };
    let store = Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap());
    let state = Arc::new(ApiState::new(
        rk3s_core::Registry::builtin(),
        store.clone(),
        "127.0.0.1:6443".into(),
    ));
    (dir, state, store)
}

#[tokio::test]
async fn expired_continue_token_is_410_with_a_fresh_token_that_finishes_the_list() {
    let (_dir, state, store) = setup();
    rk3s_apiserver::bootstrap::ensure_system_namespaces(&state)
        .await
        .unwrap();
    for i in 0..6 {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i}"}}}}"#);
        let (code, _) = json(
            &state,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &body,
        )
        .await;
        assert_eq!(code, 201);
    }
    let (code, page1) = json(
        &state,
        "GET",
        "/api/v1/namespaces/default/configmaps?limit=2",
        "",
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let token = page1["metadata"]["continue"].as_str().unwrap().to_string();
    // Change an object and compact past the page's revision.
    let (code, _) = json(
        &state,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/c0",
        "",
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = json(
        &state,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/c5",
        "",
    )
    .await;
    assert_eq!(code, 200);
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    let (code, status) = json(
        &state,
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?limit=2&continue={token}"),
        "",
    )
    .await;
    assert_eq!(code, 410, "{status}");
    assert_eq!(status["reason"], "Expired");
    let fresh = status["metadata"]["continue"]
        .as_str()
        .expect("a fresh continue token")
        .to_string();
    let (code, rest) = json(
        &state,
        "GET",
        &format!("/api/v1/namespaces/default/configmaps?limit=10&continue={fresh}"),
        "",
    )
    .await;
    assert_eq!(code, 200, "{rest}");
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["c2", "c3", "c4"],
        "the remainder after the last key of page one, c5 deleted"
    );
}

#[tokio::test]
async fn watch_from_a_compacted_revision_gets_an_expired_error_event() {
    let (_dir, state, store) = setup();
    rk3s_apiserver::bootstrap::ensure_system_namespaces(&state)
        .await
        .unwrap();
    for i in 0..3 {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"w{i}"}}}}"#);
        json(
            &state,
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &body,
        )
        .await;
    }
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    let resp = request(
        &state,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2",
        "",
    )
    .await;
    let code = resp.status().as_u16();
    let first = if code == 200 {
        let mut stream = resp.into_body().into_data_stream();
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        serde_json::from_slice::<Value>(&chunk).unwrap()
    } else {
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        serde_json::json!({"type": "ERROR", "object": serde_json::from_slice::<Value>(&bytes).unwrap()})
    };
    assert_eq!(first["type"], "ERROR", "{first}");
    assert_eq!(first["object"]["code"], 410);
    assert_eq!(first["object"]["reason"], "Expired");
}
