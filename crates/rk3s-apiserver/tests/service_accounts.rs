//! Service-account machinery through the HTTP API: the ServiceAccount admission plugin on
//! pod creation, the root CA ConfigMap in every namespace (restored after deletion or edits),
//! and legacy token secrets filled by the token controller, authenticating until the secret
//! or its service account goes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use rk3s_apiserver::ApiState;
use rk3s_apiserver::auth::{Identity, PeerIdentity};
use rk3s_store::{SqliteBackend, SqliteOptions, Synchronous};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBfakeCAforTests\n-----END CERTIFICATE-----\n";
const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

struct Cluster {
    _dir: tempfile::TempDir,
    state: Arc<ApiState>,
    shutdown: CancellationToken,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Cluster {
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteOptions {
            synchronous: Synchronous::Normal,
            compaction: None,
            ..Default::default()
        };
        let store: Arc<dyn rk3s_store::Backend> =
            Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap());
        let shutdown = CancellationToken::new();
        rk3s_apiserver::rbac::ensure_bootstrap_policy(store.as_ref())
            .await
            .unwrap();
        let authz = rk3s_apiserver::rbac::RbacAuthorizer::start(store.clone(), shutdown.clone())
            .await
            .unwrap();
        let keys =
            rk3s_apiserver::serviceaccount::TokenKeys::load_or_create(&dir.path().join("tls"))
                .unwrap();
        let state = Arc::new(
            ApiState::new(
                rk3s_core::Registry::builtin(),
                store,
                "127.0.0.1:6443".into(),
            )
            .with_token_keys(keys)
            .with_root_ca(CA)
            .with_authorizer(authz),
        );
        rk3s_apiserver::bootstrap::ensure_system_namespaces(&state)
            .await
            .unwrap();
        rk3s_apiserver::bootstrap::ensure_system_priority_classes(&state)
            .await
            .unwrap();
        rk3s_apiserver::rootca::spawn_publisher(state.clone(), shutdown.clone());
        rk3s_apiserver::serviceaccount::spawn_token_controller(state.clone(), shutdown.clone());
        Cluster {
            _dir: dir,
            state,
            shutdown,
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: Value,
        token: Option<&str>,
    ) -> (u16, Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        let peer = match token {
            Some(t) => {
                req = req.header("authorization", format!("Bearer {t}"));
                PeerIdentity(None)
            }
            None => PeerIdentity(Some(Identity::loopback())),
        };
        let resp = rk3s_apiserver::handlers::handle(
            self.state.clone(),
            peer,
            req.body(Body::from(body)).unwrap(),
        )
        .await;
        let code = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn call(&self, method: &str, uri: &str, body: Value) -> (u16, Value) {
        self.send(method, uri, body, None).await
    }

    /// Poll `uri` until `ready` holds for the answer, for up to five seconds.
    async fn wait_for(&self, uri: &str, ready: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
        let mut last = (0, Value::Null);
        for _ in 0..100 {
            last = self.call("GET", uri, Value::Null).await;
            if ready(last.0, &last.1) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{uri} never became ready; last answer {} {}",
            last.0, last.1
        );
    }
}

fn pod(name: &str, spec_extra: Value) -> Value {
    let mut spec = json!({
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "busybox"}],
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})
}

fn token_volume(p: &Value) -> Option<Value> {
    p["spec"]["volumes"].as_array().and_then(|vs| {
        vs.iter()
            .find(|v| {
                v["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("kube-api-access-"))
            })
            .cloned()
    })
}

fn token_mounts(p: &Value) -> usize {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| p["spec"][k].as_array().cloned().unwrap_or_default())
        .flat_map(|c| c["volumeMounts"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["mountPath"] == MOUNT)
        .count()
}

#[tokio::test]
async fn a_new_pod_runs_as_default_with_the_token_volume_mounted_everywhere() {
    let c = Cluster::start().await;
    let (code, created) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod("web", json!({})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let (code, p) = c
        .call("GET", "/api/v1/namespaces/default/pods/web", Value::Null)
        .await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["spec"]["serviceAccountName"], "default");
    assert_eq!(p["spec"]["serviceAccount"], "default");
    let volume = token_volume(&p).expect("token volume");
    let name = volume["name"].as_str().unwrap();
    assert_eq!(name.len(), "kube-api-access-".len() + 5, "{name}");
    assert_eq!(
        volume["projected"],
        json!({
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        })
    );
    for k in ["initContainers", "containers"] {
        for ctr in p["spec"][k].as_array().unwrap() {
            assert_eq!(
                ctr["volumeMounts"],
                json!([{"name": name, "readOnly": true, "mountPath": MOUNT}]),
                "{ctr}"
            );
        }
    }
}

#[tokio::test]
async fn automount_false_on_the_pod_or_its_service_account_mounts_nothing() {
    let c = Cluster::start().await;
    let (code, p) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod("quiet", json!({"automountServiceAccountToken": false})),
        )
        .await;
    assert_eq!(code, 201, "{p}");
    assert!(token_volume(&p).is_none(), "{p}");
    assert_eq!(token_mounts(&p), 0);

    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "bot"}, "automountServiceAccountToken": false,
        "imagePullSecrets": [{"name": "registry"}]});
    let (code, out) = c
        .call("POST", "/api/v1/namespaces/default/serviceaccounts", sa)
        .await;
    assert_eq!(code, 201, "{out}");
    let (code, p) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod("bot-pod", json!({"serviceAccountName": "bot"})),
        )
        .await;
    assert_eq!(code, 201, "{p}");
    assert!(token_volume(&p).is_none(), "{p}");
    assert_eq!(p["spec"]["imagePullSecrets"], json!([{"name": "registry"}]));

    // The pod's own setting wins over the service account's.
    let (code, p) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod(
                "bot-pod-2",
                json!({"serviceAccountName": "bot", "automountServiceAccountToken": true}),
            ),
        )
        .await;
    assert_eq!(code, 201, "{p}");
    assert_eq!(token_mounts(&p), 3);
}

#[tokio::test]
async fn a_pod_naming_a_missing_service_account_is_forbidden() {
    let c = Cluster::start().await;
    let (code, status) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod("lost", json!({"serviceAccountName": "ghost"})),
        )
        .await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"lost\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"
    );
    // Names that would escape the storage key are refused the same way, not looked up.
    let (code, _) = c
        .call(
            "POST",
            "/api/v1/namespaces/default/pods",
            pod("odd", json!({"serviceAccountName": "../secrets/x"})),
        )
        .await;
    assert!(code == 403 || code == 422, "{code}");
}

#[tokio::test]
async fn mirror_pods_are_not_given_a_token_or_checked() {
    let c = Cluster::start().await;
    let mut p = pod("static-web", json!({"serviceAccountName": "ghost"}));
    p["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
    let (code, out) = c.call("POST", "/api/v1/namespaces/default/pods", p).await;
    assert_eq!(code, 201, "{out}");
    assert!(token_volume(&out).is_none(), "{out}");
}

#[tokio::test]
async fn every_namespace_holds_the_root_ca_and_gets_it_back_after_delete_or_edit() {
    let c = Cluster::start().await;
    let (code, cm) = c
        .call(
            "GET",
            "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200, "{cm}");
    assert_eq!(cm["data"]["ca.crt"], CA);

    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    let (code, out) = c.call("POST", "/api/v1/namespaces", ns).await;
    assert_eq!(code, 201, "{out}");
    let uri = "/api/v1/namespaces/shop/configmaps/kube-root-ca.crt";
    // Created with the namespace, not eventually.
    let (code, cm) = c.call("GET", uri, Value::Null).await;
    assert_eq!(code, 200, "{cm}");
    assert_eq!(cm["data"], json!({"ca.crt": CA}));

    let (code, out) = c.call("DELETE", uri, Value::Null).await;
    assert_eq!(code, 200, "{out}");
    let (_, back) = c.wait_for(uri, |code, _| code == 200).await;
    assert_eq!(back["data"]["ca.crt"], CA);
    assert_ne!(back["metadata"]["uid"], cm["metadata"]["uid"]);

    let patch = json!({"data": {"ca.crt": "forged", "extra": "x"}});
    let req = http::Request::builder()
        .method("PATCH")
        .uri(uri)
        .header("content-type", "application/merge-patch+json")
        .body(Body::from(patch.to_string()))
        .unwrap();
    let resp = rk3s_apiserver::handlers::handle(
        c.state.clone(),
        PeerIdentity(Some(Identity::loopback())),
        req,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    c.wait_for(uri, |_, cm| cm["data"] == json!({"ca.crt": CA}))
        .await;
}

#[tokio::test]
async fn a_terminating_namespace_does_not_get_its_root_ca_back() {
    let c = Cluster::start().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}});
    let (code, _) = c.call("POST", "/api/v1/namespaces", ns).await;
    assert_eq!(code, 201);
    let (code, out) = c
        .call("DELETE", "/api/v1/namespaces/gone", Value::Null)
        .await;
    assert!(code == 200 || code == 202, "{code} {out}");
    c.wait_for("/api/v1/namespaces/gone", |code, _| code == 404)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, _) = c
        .call(
            "GET",
            "/api/v1/namespaces/gone/configmaps/kube-root-ca.crt",
            Value::Null,
        )
        .await;
    assert_eq!(code, 404);
}

async fn create_token_secret(c: &Cluster, name: &str, sa: &str) {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name,
        "annotations": {"kubernetes.io/service-account.name": sa}},
        "type": "kubernetes.io/service-account-token"});
    let (code, out) = c
        .call("POST", "/api/v1/namespaces/default/secrets", secret)
        .await;
    assert_eq!(code, 201, "{out}");
}

async fn whoami(c: &Cluster, token: &str) -> (u16, Value) {
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    c.send(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        review,
        Some(token),
    )
    .await
}

#[tokio::test]
async fn a_legacy_token_secret_is_filled_and_authenticates_until_deleted() {
    let c = Cluster::start().await;
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}});
    let (code, sa) = c
        .call("POST", "/api/v1/namespaces/default/serviceaccounts", sa)
        .await;
    assert_eq!(code, 201, "{sa}");
    create_token_secret(&c, "robot-token", "robot").await;
    let uri = "/api/v1/namespaces/default/secrets/robot-token";
    let (_, secret) = c.wait_for(uri, |_, s| s["data"]["token"].is_string()).await;
    let decode = |v: &Value| STANDARD.decode(v.as_str().unwrap()).unwrap();
    assert_eq!(decode(&secret["data"]["ca.crt"]), CA.as_bytes());
    assert_eq!(decode(&secret["data"]["namespace"]), b"default");
    assert_eq!(
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"],
        sa["metadata"]["uid"]
    );
    let token = String::from_utf8(decode(&secret["data"]["token"])).unwrap();

    let (code, review) = whoami(&c, &token).await;
    assert_eq!(code, 201, "{review}");
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:default:robot"
    );
    let groups = review["status"]["userInfo"]["groups"].to_string();
    assert!(
        groups.contains("system:serviceaccounts:default"),
        "{groups}"
    );

    let (code, _) = c.call("DELETE", uri, Value::Null).await;
    assert_eq!(code, 200);
    let (code, status) = whoami(&c, &token).await;
    assert_eq!(code, 401, "{status}");
}

#[tokio::test]
async fn token_secrets_go_with_their_service_account_or_without_one() {
    let c = Cluster::start().await;
    create_token_secret(&c, "orphan", "nobody").await;
    c.wait_for("/api/v1/namespaces/default/secrets/orphan", |code, _| {
        code == 404
    })
    .await;

    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "temp"}});
    let (code, _) = c
        .call("POST", "/api/v1/namespaces/default/serviceaccounts", sa)
        .await;
    assert_eq!(code, 201);
    create_token_secret(&c, "temp-token", "temp").await;
    let uri = "/api/v1/namespaces/default/secrets/temp-token";
    let (_, secret) = c.wait_for(uri, |_, s| s["data"]["token"].is_string()).await;
    let token = String::from_utf8(
        STANDARD
            .decode(secret["data"]["token"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let (code, _) = c
        .call(
            "DELETE",
            "/api/v1/namespaces/default/serviceaccounts/temp",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    c.wait_for(uri, |code, _| code == 404).await;
    let (code, _) = whoami(&c, &token).await;
    assert_eq!(code, 401);
}

#[tokio::test]
async fn a_forged_or_garbled_bearer_token_is_unauthorized() {
    let c = Cluster::start().await;
    for token in [
        "x",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.",
    ] {
        let (code, _) = whoami(&c, token).await;
        assert_eq!(code, 401, "{token}");
    }
}
