//! Non-resource endpoints, watch parameters and older kubectl versions against the built binary.

mod common;

use common::Server;

#[test]
fn health_version_and_metrics_endpoints_answer() {
    let s = Server::start();
    assert_eq!(s.ok(&["get", "--raw", "/healthz"]), "ok");
    assert_eq!(s.ok(&["get", "--raw", "/livez"]), "ok");
    assert_eq!(s.ok(&["get", "--raw", "/readyz"]), "ok");
    s.ok(&["create", "configmap", "m"]);
    s.ok(&["get", "configmaps"]);
    let metrics = s.ok(&["get", "--raw", "/metrics"]);
    assert!(
        metrics.contains(
            "apiserver_request_total{verb=\"CREATE\",resource=\"configmaps\",code=\"201\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "apiserver_request_duration_seconds_bucket{verb=\"LIST\",resource=\"configmaps\""
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("rk3s_datastore_operation_duration_seconds_count{operation=\"create\"}"),
        "{metrics}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rk3s"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("rk3s "),
        "{out:?}"
    );
}

/// Events of a raw watch, as (type, name) pairs.
fn events(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}"));
            (
                v["type"].as_str().unwrap_or("").to_string(),
                v["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn watch_from_a_resource_version_replays_later_events_and_honours_timeout() {
    let s = Server::start();
    s.ok(&["create", "configmap", "before"]);
    // The list's own resourceVersion (`kubectl get -o json` rebuilds lists without one).
    let list: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps"]))
            .unwrap();
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rv.parse::<i64>().unwrap() > 0);
    s.ok(&["create", "configmap", "after"]);
    s.ok(&["label", "configmap", "after", "x=1"]);
    s.ok(&["delete", "configmap", "before"]);
    let started = std::time::Instant::now();
    let out = s.ok(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=2"
        ),
    ]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "timeoutSeconds ends the watch"
    );
    let ev = events(&out);
    let ours: Vec<(String, String)> = ev
        .into_iter()
        .filter(|(_, n)| n == "before" || n == "after")
        .collect();
    assert_eq!(
        ours,
        vec![
            ("ADDED".into(), "after".into()),
            ("MODIFIED".into(), "after".into()),
            ("DELETED".into(), "before".into())
        ],
        "{out}"
    );
    // No bookmarks unless asked for; with allowWatchBookmarks a bookmark carries only metadata.
    assert!(!out.contains("BOOKMARK"));
    let out = s.ok(&["get", "--raw", "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"]);
    let ev = events(&out);
    assert!(ev.contains(&("ADDED".into(), "after".into())), "{out}");
    assert!(
        ev.iter().any(|(t, _)| t == "BOOKMARK"),
        "initial-events-end bookmark expected: {out}"
    );
}

#[test]
fn watch_with_label_selector_reports_objects_leaving_the_selection_as_deleted() {
    let s = Server::start();
    s.ok(&["create", "configmap", "sel"]);
    s.ok(&["label", "configmap", "sel", "team=a"]);
    let rv = s.json(&["get", "configmap", "sel"])["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    s.ok(&["label", "configmap", "sel", "team=b", "--overwrite"]);
    s.ok(&["label", "configmap", "sel", "team=a", "--overwrite"]);
    let out = s.ok(&["get", "--raw", &format!("/api/v1/namespaces/default/configmaps?watch=true&labelSelector=team%3Da&resourceVersion={rv}&timeoutSeconds=1")]);
    assert_eq!(
        events(&out),
        vec![
            ("DELETED".into(), "sel".into()),
            ("ADDED".into(), "sel".into())
        ],
        "{out}"
    );
}

#[test]
fn invalid_resource_version_and_unknown_paths_get_status_errors() {
    let s = Server::start();
    let err = s.fails(&[
        "get",
        "--raw",
        "/api/v1/namespaces/default/configmaps?resourceVersion=abc",
    ]);
    assert!(
        err.contains("BadRequest") || err.contains("invalid resource version"),
        "{err}"
    );
    let err = s.fails(&["get", "--raw", "/apis/nonexistent.example.com/v1/things"]);
    assert!(err.contains("NotFound"), "{err}");
}

#[test]
fn older_kubectl_versions_use_their_discovery_forms() {
    let s = Server::start();
    s.ok(&["create", "configmap", "old-clients"]);
    for version in ["1.27", "1.28", "1.30", "1.31", "1.33"] {
        let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{version}");
        if !std::path::Path::new(&bin).exists() {
            panic!("{bin} is expected on the CI machine");
        }
        let out = std::process::Command::new(&bin)
            .args(["get", "configmaps", "-o", "name"])
            .env("KUBECONFIG", s.kubeconfig())
            .env("HOME", s.dir.path())
            .env(
                "KUBECACHEDIR",
                s.dir.path().join(format!("cache-{version}")),
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("configmap/old-clients"),
            "kubectl {version}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn system_namespaces_cannot_be_deleted_and_component_statuses_answer() {
    let s = Server::start();
    for ns in ["default", "kube-system", "kube-public"] {
        let err = s.fails(&["delete", "namespace", ns]);
        assert!(
            err.contains("this namespace may not be deleted"),
            "{ns}: {err}"
        );
    }
    s.ok(&["get", "namespace", "default"]);
    let out = s.ok(&["get", "componentstatuses"]);
    assert!(out.contains("etcd-0") && out.contains("Healthy"), "{out}");
    s.ok(&["get", "cs", "etcd-0"]);
}
