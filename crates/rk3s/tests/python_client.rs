//! The official Python client against the built binary.

mod common;

use common::Server;

#[test]
fn python_client_watch_receives_every_event_in_order() {
    let s = Server::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/watch_test.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(s.kubeconfig())
        .output()
        .expect("python3 is installed (./install.sh --test-deps)");
    assert!(
        out.status.success(),
        "python watch test failed:\nstdout: {}\nstderr: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        common::tail(&s.log())
    );
}

#[test]
fn python_client_service_account_token_authenticates() {
    let s = Server::start();
    // Every namespace has a default service account.
    s.ok(&["get", "serviceaccount", "default"]);
    s.ok(&["create", "namespace", "fresh"]);
    s.ok(&["-n", "fresh", "get", "serviceaccount", "default"]);
    let token = s.ok(&["create", "token", "default", "--duration=10m"]);
    assert_eq!(token.trim().matches('.').count(), 2, "{token}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sa_token_test.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(s.kubeconfig())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python SA token test failed:\nstdout: {}\nstderr: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        common::tail(&s.log())
    );
}
