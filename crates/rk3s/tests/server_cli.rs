//! `rk3s server` start-up: files it writes, flags and config file, authentication.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::Server;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_writes_pki_token_and_private_kubeconfig() {
    let s = Server::start();
    let tls = s.data_dir().join("server/tls");
    for key in [
        "server-ca.key",
        "client-ca.key",
        "serving-kube-apiserver.key",
        "client-admin.key",
    ] {
        assert_eq!(mode(&tls.join(key)), 0o600, "{key}");
    }
    assert_eq!(mode(&s.kubeconfig()), 0o600);
    let token = std::fs::read_to_string(s.data_dir().join("server/token")).unwrap();
    assert!(
        token.starts_with("K10") && token.contains("::server:"),
        "{token}"
    );
    let log = s.log();
    for needle in [
        "data_dir",
        "datastore",
        "listening",
        "wrote kubeconfig",
        "ready",
    ] {
        assert!(
            log.contains(needle),
            "start-up log lacks {needle:?}:\n{log}"
        );
    }
}

#[test]
fn restart_reuses_certificates_and_keeps_data() {
    let mut s = Server::start();
    let ca = std::fs::read(s.data_dir().join("server/tls/server-ca.crt")).unwrap();
    s.ok(&["create", "configmap", "keep-me"]);
    s.restart();
    assert_eq!(
        ca,
        std::fs::read(s.data_dir().join("server/tls/server-ca.crt")).unwrap()
    );
    s.ok(&["get", "configmap", "keep-me"]);
}

#[test]
fn unauthenticated_requests_get_401_and_non_admins_403() {
    let s = Server::start();
    // A kubeconfig with the CA and a token the server does not know, no client certificate
    // (with no credentials at all kubectl would prompt for a password).
    let raw: serde_json::Value =
        serde_json::from_str(&s.ok(&["config", "view", "--raw", "-o", "json"])).unwrap();
    let ca = raw["clusters"][0]["cluster"]["certificate-authority-data"]
        .as_str()
        .unwrap();
    let server = raw["clusters"][0]["cluster"]["server"].as_str().unwrap();
    let anon = s.dir.path().join("anon.json");
    std::fs::write(
        &anon,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "a",
            "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": ca}}],
            "users": [{"name": "u", "user": {"token": "not-a-valid-token"}}],
            "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
        })
        .to_string(),
    )
    .unwrap();
    let out = common::kubectl_with(&anon, s.dir.path(), &["get", "configmaps"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("You must be logged in to the server"),
        "{err}"
    );

    // A valid client certificate for a user outside system:masters.
    let tls = s.data_dir().join("server/tls");
    let (cert, key) = rk3s_pki::issue_client_cert(&tls, "alice", &["developers"]).unwrap();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let alice = s.dir.path().join("alice.json");
    std::fs::write(
        &alice,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "a",
            "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": ca}}],
            "users": [{"name": "u", "user": {"client-certificate-data": b64(&cert), "client-key-data": b64(&key)}}],
            "contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}],
        })
        .to_string(),
    )
    .unwrap();
    let out = common::kubectl_with(&alice, s.dir.path(), &["get", "configmaps"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("Forbidden")
            && err.contains("User \"alice\" cannot list resource \"configmaps\""),
        "{err}"
    );
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let kc = dir.path().join("kc.yaml");
    for (flag, value) in [
        ("--write-kubeconfig-mode", "999"),
        ("--bind-address", "not-an-ip"),
        ("--cluster-cidr", "10.42.0.0"),
        ("--service-node-port-range", "5-1"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_rk3s"))
            .args(["server", "--data-dir"])
            .arg(&data)
            .arg("--write-kubeconfig")
            .arg(&kc)
            .arg(format!("{flag}={value}"))
            .env_remove("RK3S_CONFIG_FILE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(flag), "error must name {flag}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one-line error: {err}");
        assert!(
            !data.exists() && !kc.exists(),
            "nothing may be written for {flag}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rk3s"))
        .args(["server", "--https-listen-port", "http"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn malformed_or_unknown_config_file_keys_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for (content, needle) in [
        ("https-listen-port: [1, 2\n", "malformed"),
        ("no-such-flag: 1\n", "no-such-flag"),
        ("bind-address: nope\n", "--bind-address"),
    ] {
        let cfg = dir.path().join("config.yaml");
        std::fs::write(&cfg, content).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rk3s"))
            .args(["server", "--config"])
            .arg(&cfg)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{content}: {err}");
        assert!(err.contains(needle), "{content}: {err}");
        assert!(!data.exists());
    }
}

#[test]
fn config_file_sets_flags_and_command_line_flags_win() {
    let mut s = Server::start();
    // The config file asks for mode 644 and a TLS SAN; the command line (set by the harness)
    // chooses the port, which the file tries to override.
    std::fs::write(
        s.config_path(),
        "write-kubeconfig-mode: \"644\"\ntls-san:\n  - rk3s.test.example\nhttps-listen-port: 1\n",
    )
    .unwrap();
    s.restart();
    assert_eq!(mode(&s.kubeconfig()), 0o644);
    let cert = std::fs::read_to_string(s.data_dir().join("server/tls/serving-kube-apiserver.crt"))
        .unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(cert.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("rk3s.test.example"));
    // Still reachable on the command-line port.
    s.ok(&["get", "namespaces"]);
}

#[test]
fn rk3s_kubectl_runs_kubectl_with_the_given_kubeconfig() {
    let s = Server::start();
    let out = Command::new(env!("CARGO_BIN_EXE_rk3s"))
        .args(["kubectl", "get", "ns", "default", "-o", "name"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "namespace/default"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rk3s"))
        .args(["kubectl", "version", "--client"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kubectl was not found"));
}
