//! Kubeconfig files for certificate users: [`render_kubeconfig`] builds the document (JSON, which
//! kubectl reads as YAML), [`write_kubeconfig`] stores it atomically with a chosen mode.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::certs::CertInfo;
use crate::error::PkiError;
use crate::files::{ensure_parent_dir, write_atomic};

/// Names of the single cluster, user and context, as k3s writes them.
const NAME: &str = "default";

/// Builds a kubeconfig with cluster, user and context `default`, embedding the CA and the client
/// certificate and key. Inputs are checked so a mistake shows here rather than as a TLS failure.
pub fn render_kubeconfig(
    server_url: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<String, PkiError> {
    let invalid = PkiError::InvalidKubeconfigInput;
    let Some(host) = server_url.strip_prefix("https://") else {
        return Err(invalid("server URL must start with https://"));
    };
    if host.is_empty()
        || server_url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("server URL has no host or contains whitespace"));
    }
    CertInfo::from_pem(ca_pem).map_err(|_| invalid("CA is not a PEM certificate"))?;
    let cert = CertInfo::from_pem(cert_pem)
        .map_err(|_| invalid("client certificate is not a PEM certificate"))?;
    let key = rcgen::KeyPair::from_pem(key_pem)
        .map_err(|_| invalid("client key is not a PEM private key"))?;
    if !cert.matches_key(&key) {
        return Err(invalid(
            "client key does not belong to the client certificate",
        ));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": NAME,
            "cluster": {
                "server": server_url,
                "certificate-authority-data": STANDARD.encode(ca_pem),
            },
        }],
        "users": [{
            "name": NAME,
            "user": {
                "client-certificate-data": STANDARD.encode(cert_pem),
                "client-key-data": STANDARD.encode(key_pem),
            },
        }],
        "contexts": [{
            "name": NAME,
            "context": { "cluster": NAME, "user": NAME },
        }],
        "current-context": NAME,
        "preferences": {},
    });
    let mut text =
        serde_json::to_string_pretty(&doc).map_err(|_| invalid("cannot serialize kubeconfig"))?;
    text.push('\n');
    Ok(text)
}

/// Writes [`render_kubeconfig`]'s document to `path` atomically with exactly `mode`, creating
/// parent directories.
pub fn write_kubeconfig(
    path: &Path,
    mode: u32,
    server_url: &str,
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), PkiError> {
    if mode & !0o777 != 0 {
        return Err(PkiError::InvalidKubeconfigInput(
            "mode has bits beyond permissions",
        ));
    }
    let text = render_kubeconfig(server_url, ca_pem, cert_pem, key_pem)?;
    ensure_parent_dir(path)?;
    write_atomic(path, text.as_bytes(), mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use crate::server::ensure_server_pki_at;

    struct Fixture {
        _tmp: tempfile::TempDir,
        root: std::path::PathBuf,
        ca: String,
        cert: String,
        key: String,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let pki = ensure_server_pki_at(&root.join("tls"), &[], 1_750_000_000).unwrap();
        Fixture {
            _tmp: tmp,
            root,
            ca: pki.server_ca_cert,
            cert: pki.admin_cert,
            key: pki.admin_key,
        }
    }

    fn decode(v: &serde_json::Value) -> String {
        String::from_utf8(STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn written_kubeconfig_has_the_mode_and_the_default_entries() {
        let f = fixture();
        let path = f.root.join("etc").join("rk3s").join("rk3s.yaml");
        write_kubeconfig(
            &path,
            0o600,
            "https://127.0.0.1:6443",
            &f.ca,
            &f.cert,
            &f.key,
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["current-context"], "default");
        assert_eq!(doc["clusters"][0]["name"], "default");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            decode(&doc["clusters"][0]["cluster"]["certificate-authority-data"]),
            f.ca
        );
        assert_eq!(doc["users"][0]["name"], "default");
        assert_eq!(
            decode(&doc["users"][0]["user"]["client-certificate-data"]),
            f.cert
        );
        assert_eq!(decode(&doc["users"][0]["user"]["client-key-data"]), f.key);
        assert_eq!(doc["contexts"][0]["context"]["cluster"], "default");
        assert_eq!(doc["contexts"][0]["context"]["user"], "default");

        // Rewriting with a wider mode applies it exactly, regardless of the umask.
        write_kubeconfig(
            &path,
            0o644,
            "https://10.0.0.1:6443",
            &f.ca,
            &f.cert,
            &f.key,
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn kubectl_reads_the_written_kubeconfig() {
        let f = fixture();
        let path = f.root.join("kubeconfig.yaml");
        write_kubeconfig(
            &path,
            0o600,
            "https://127.0.0.1:6443",
            &f.ca,
            &f.cert,
            &f.key,
        )
        .unwrap();
        let out = Command::new("/usr/bin/kubectl")
            .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
            .arg(&path)
            .env("HOME", &f.root)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(view["current-context"], "default");
        assert_eq!(
            view["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            decode(&view["clusters"][0]["cluster"]["certificate-authority-data"]),
            f.ca
        );
        assert_eq!(
            decode(&view["users"][0]["user"]["client-certificate-data"]),
            f.cert
        );
        assert_eq!(decode(&view["users"][0]["user"]["client-key-data"]), f.key);
    }

    #[test]
    fn bad_inputs_are_rejected_and_nothing_is_written() {
        let f = fixture();
        let path = f.root.join("k.yaml");
        let url = "https://127.0.0.1:6443";
        let cases: [(&str, u32, &str, &str, &str, &str); 7] = [
            (
                "http",
                0o600,
                "http://127.0.0.1:6443",
                &f.ca,
                &f.cert,
                &f.key,
            ),
            ("no host", 0o600, "https://", &f.ca, &f.cert, &f.key),
            ("space", 0o600, "https://a b", &f.ca, &f.cert, &f.key),
            ("ca", 0o600, url, "junk", &f.cert, &f.key),
            ("cert is a key", 0o600, url, &f.ca, &f.key, &f.key),
            ("key of the CA cert", 0o600, url, &f.ca, &f.ca, &f.key),
            ("mode", 0o4600, url, &f.ca, &f.cert, &f.key),
        ];
        for (what, mode, url, ca, cert, key) in cases {
            assert!(
                write_kubeconfig(&path, mode, url, ca, cert, key).is_err(),
                "{what}"
            );
            assert!(!path.exists(), "{what}");
        }
    }
}
