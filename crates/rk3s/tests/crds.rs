//! CustomResourceDefinitions end to end with the real kubectl.

mod common;

use std::time::{Duration, Instant};

use common::Server;

const CRD: &str = include_str!("fixtures/crontab-crd.yaml");

fn wait_served(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = s.kubectl(&["get", "crontabs"]);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "crontabs not served: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_crd_is_served_validated_defaulted_pruned_and_cleaned_up() {
    let s = Server::start();
    s.apply(CRD);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    wait_served(&s);
    let out = s.kubectl_stdin(
        &["apply", "-f", "-"],
        Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: nightly\nspec:\n  cronSpec: '0 3 * * *'\n  bogus: dropped\n  extra: {anything: kept}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ct = s.json(&["get", "crontab", "nightly"]);
    assert_eq!(ct["spec"]["image"], "busybox", "schema default: {ct}");
    assert_eq!(ct["spec"]["replicas"], 1);
    assert!(ct["spec"].get("bogus").is_none(), "pruned: {ct}");
    assert_eq!(ct["spec"]["extra"]["anything"], "kept");
    // Printer columns and short names.
    let table = s.ok(&["get", "ct"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    assert!(table.contains("0 3 * * *"), "{table}");
    // Schema validation: 422 naming the field.
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: bad\nspec:\n  cronSpec: 'not a schedule'\n  replicas: 50\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("spec.replicas") && err.contains("spec.cronSpec"),
        "{err}"
    );
    // Scale subresource.
    s.ok(&["scale", "crontab", "nightly", "--replicas=4"]);
    assert_eq!(
        s.json(&["get", "crontab", "nightly"])["spec"]["replicas"],
        4
    );
    // In `kubectl get all` through the category.
    let all = s.ok(&["get", "all"]);
    assert!(all.contains("crontab.stable.example.com/nightly"), "{all}");
    // Deleting the CRD removes its objects and stops serving the kind.
    s.ok(&["delete", "crd", "crontabs.stable.example.com"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = s.kubectl(&[
            "get",
            "--raw",
            "/apis/stable.example.com/v1/namespaces/default/crontabs",
        ]);
        if !out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still served after the CRD was deleted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    s.apply(CRD);
    s.ok(&[
        "wait",
        "--for=condition=established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    wait_served(&s);
    let out = s.ok(&["get", "crontabs", "-o", "name"]);
    assert_eq!(
        out.trim(),
        "",
        "objects of a deleted CRD must not come back"
    );
}

#[test]
fn an_invalid_crd_is_rejected_naming_the_field() {
    let s = Server::start();
    let bad = CRD.replace(
        "name: crontabs.stable.example.com",
        "name: wrong.stable.example.com",
    );
    let out = s.kubectl_stdin(&["apply", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("metadata.name"),
        "{err}"
    );
}
