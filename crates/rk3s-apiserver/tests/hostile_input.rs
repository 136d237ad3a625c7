//! Property tests: malformed and hostile requests through the whole handler pipeline (routing,
//! negotiation, decoders, admission, patch engines, store) never panic, never answer 5xx, and
//! never leave a half-written or corrupt object behind.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use proptest::prelude::*;
use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};
use rk3s_store::{ListRequest, SqliteBackend, SqliteOptions, Synchronous};

struct Fixture {
    _dir: tempfile::TempDir,
    state: Arc<ApiState>,
    rt: tokio::runtime::Runtime,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..Default::default()
    };
    let store = SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap();
    let state = Arc::new(ApiState::new(
        rk3s_core::Registry::builtin(),
        Arc::new(store),
        "127.0.0.1:6443".into(),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(rk3s_apiserver::bootstrap::ensure_system_namespaces(&state))
        .unwrap();
    // A known object for updates and patches to aim at.
    let cm =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"target"},"data":{"a":"b"}}"#;
    let (code, _) = rt.block_on(call(
        &state,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        cm.to_vec(),
    ));
    assert_eq!(code, 201);
    let dep = br#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#;
    let (code, _) = rt.block_on(call(
        &state,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        dep.to_vec(),
    ));
    assert_eq!(code, 201);
    Fixture {
        _dir: dir,
        state,
        rt,
    }
}

async fn call(
    state: &Arc<ApiState>,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = rk3s_apiserver::handlers::handle(
        state.clone(),
        PeerIdentity(Some(Identity::loopback())),
        req,
    )
    .await;
    let code = resp.status().as_u16();
    // Watches stream forever; only read bodies of ordinary responses.
    let bytes = if uri.contains("watch") {
        Vec::new()
    } else {
        resp.into_body()
            .collect()
            .await
            .map(|c| c.to_bytes().to_vec())
            .unwrap_or_default()
    };
    (code, bytes)
}

fn methods() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE"])
}

fn content_types() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
        "application/apply-patch+yaml",
        "text/plain",
        "",
    ])
}

fn paths() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "/api/v1/namespaces/default/configmaps".to_string(),
        "/api/v1/namespaces/default/configmaps/target".to_string(),
        "/apis/apps/v1/namespaces/default/deployments/web".to_string(),
        "/apis/apps/v1/namespaces/default/deployments/web/scale".to_string(),
        "/apis/apps/v1/namespaces/default/deployments/web/status".to_string(),
        "/apis/apps/v1/namespaces/default/deployments".to_string(),
        "/api/v1/namespaces".to_string(),
        "/api/v1/nodes".to_string(),
        "/api/v1/namespaces/default/pods".to_string(),
        "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(".to_string(),
        "/api/v1/namespaces/default/configmaps?fieldSelector=spec.x%3D1".to_string(),
        "/api/v1/namespaces/default/configmaps?limit=-5&continue=%%%".to_string(),
        "/api/v1/namespaces/default/configmaps?resourceVersion=abc".to_string(),
    ]);
    let random = "/(api|apis)(/[a-z0-9%.?=&-]{0,12}){0,6}".prop_map(|s| s.replace("//", "/"));
    prop_oneof![3 => fixed, 1 => random]
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let json_like = prop_oneof![
        Just(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"target"},"data":{"a":1}}"#.to_vec()),
        Just(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"UPPER"}}"#.to_vec()),
        Just(br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"no"}}"#.to_vec()),
        Just(br#"[{"op":"remove","path":"/metadata"}]"#.to_vec()),
        Just(br#"[{"op":"replace","path":"/metadata/name","value":"other"}]"#.to_vec()),
        Just(br#"{"metadata":{"name":null}}"#.to_vec()),
        Just(br#"{"spec":{"replicas":-3}}"#.to_vec()),
        Just(br#"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete"}]}}}}"#.to_vec()),
        Just(br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":"x"}"#.to_vec()),
        Just(b"k8s\0\x0a\x02\x08\x01".to_vec()),
        Just(b"{{{{".to_vec()),
        Just(b"a: [1, 2\n".to_vec()),
        Just(b"- !!binary |\n  AAAA".to_vec()),
    ];
    let random_json = any::<String>().prop_map(|s| {
        serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name": s}})
            .to_string()
            .into_bytes()
    });
    prop_oneof![4 => json_like, 2 => prop::collection::vec(any::<u8>(), 0..256), 1 => random_json]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
    #[test]
    fn hostile_requests_never_panic_or_answer_5xx(
        method in methods(),
        path in paths(),
        ct in content_types(),
        body in bodies(),
    ) {
        let f = FIXTURE.with(|f| f.clone());
        let (code, resp) = f.rt.block_on(call(&f.state, method, &path, ct, body));
        prop_assert!(code < 500, "{method} {path} ({ct}) answered {code}: {}", String::from_utf8_lossy(&resp));
        if code >= 400 && !resp.is_empty() {
            let status: serde_json::Value = serde_json::from_slice(&resp).expect("errors are Status JSON");
            prop_assert_eq!(&status["kind"], "Status");
            prop_assert_eq!(status["code"].as_u64(), Some(code as u64));
        }
        // Every stored object is still valid JSON with a name.
        let res = f.rt.block_on(f.state.store.list(ListRequest { prefix: "/registry/".into(), ..Default::default() })).unwrap();
        for kv in res.kvs {
            let v: serde_json::Value = serde_json::from_slice(&kv.value).expect("stored value is JSON");
            prop_assert!(v["metadata"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{}", kv.key);
        }
    }
}

thread_local! {
    static FIXTURE: Arc<Fixture> = Arc::new(fixture());
}
