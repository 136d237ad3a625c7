//! Service accounts as a kubectl user sees them against the built binary: the token volume on
//! new pods, `kube-root-ca.crt` in every namespace (put back after `kubectl delete`), and a
//! legacy token secret usable with `kubectl --token` until the secret is deleted.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Server, kubectl_with};

fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not happen in time");
}

#[test]
fn pods_get_the_token_volume_and_a_missing_service_account_is_forbidden() {
    let s = Server::start();
    s.ok(&["run", "web", "--image=busybox"]);
    let p = s.json(&["get", "pod", "web"]);
    assert_eq!(p["spec"]["serviceAccountName"], "default");
    let volume = &p["spec"]["volumes"][0];
    assert!(
        volume["name"]
            .as_str()
            .unwrap()
            .starts_with("kube-api-access-"),
        "{p}"
    );
    assert_eq!(
        volume["projected"]["sources"][1]["configMap"]["name"],
        "kube-root-ca.crt"
    );
    assert_eq!(
        p["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    s.ok(&[
        "run",
        "quiet",
        "--image=busybox",
        "--overrides",
        r#"{"spec":{"automountServiceAccountToken":false}}"#,
    ]);
    let p = s.json(&["get", "pod", "quiet"]);
    assert!(p["spec"].get("volumes").is_none(), "{p}");

    let err = s.fails(&[
        "run",
        "lost",
        "--image=busybox",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"ghost"}}"#,
    ]);
    assert!(
        err.contains("pods \"lost\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found"),
        "{err}"
    );
}

#[test]
fn kube_root_ca_holds_the_server_ca_and_comes_back_after_delete() {
    let s = Server::start();
    let ca = std::fs::read_to_string(s.data_dir().join("server/tls/server-ca.crt")).unwrap();
    s.ok(&["create", "namespace", "shop"]);
    let cm = s.json(&["get", "configmap", "kube-root-ca.crt", "-n", "shop"]);
    assert_eq!(cm["data"]["ca.crt"], ca.as_str());
    let uid = cm["metadata"]["uid"].clone();
    s.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "shop"]);
    eventually("kube-root-ca.crt restored", || {
        let out = s.kubectl(&[
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "shop",
            "-o",
            "json",
        ]);
        out.status.success()
            && serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .is_ok_and(|cm| cm["data"]["ca.crt"] == ca.as_str() && cm["metadata"]["uid"] != uid)
    });
}

#[test]
fn a_legacy_token_secret_logs_in_until_it_is_deleted() {
    let s = Server::start();
    s.ok(&["create", "serviceaccount", "robot"]);
    s.apply(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n  annotations:\n    kubernetes.io/service-account.name: robot\ntype: kubernetes.io/service-account-token\n",
    );
    let mut token = String::new();
    eventually("the token secret filled", || {
        let secret = s.json(&["get", "secret", "robot-token"]);
        match secret["data"]["token"].as_str() {
            Some(t) => {
                token = String::from_utf8(STANDARD.decode(t).unwrap()).unwrap();
                true
            }
            None => false,
        }
    });
    // A kubeconfig with the token alone: the admin kubeconfig's client certificate would win.
    let ca = s.data_dir().join("server/tls/server-ca.crt");
    let kubeconfig = s.dir.path().join("robot.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\nusers:\n- name: robot\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context: {{cluster: c, user: robot}}\ncurrent-context: c\n",
            s.port,
            ca.display()
        ),
    )
    .unwrap();
    let whoami = || {
        kubectl_with(
            &kubeconfig,
            s.dir.path(),
            &["auth", "whoami", "-o", "json"],
            None,
        )
    };
    let out = whoami();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let review: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        review["status"]["userInfo"]["username"],
        "system:serviceaccount:default:robot"
    );

    s.ok(&["delete", "secret", "robot-token"]);
    let out = whoami();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Unauthorized"), "{err}");
}
