//! The server's PKI on disk, k3s layout: [`ensure_server_pki`] creates it on first start and
//! reloads it afterwards, re-issuing only leaves that no longer fit; [`issue_client_cert`] signs
//! client certificates with the client CA.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::KeyPair;
use tracing::{info, warn};

use crate::certs::{
    Ca, CertInfo, LeafRequest, LoadError, RENEW_BEFORE_SECS, Usage, generate_key, unix_now,
};
use crate::error::PkiError;
use crate::files::{
    PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, ensure_private_dir, read_optional, read_required,
    write_atomic,
};
use crate::sans::{San, serving_sans};

/// File stems under the TLS directory, as k3s names them.
const SERVER_CA: &str = "server-ca";
const CLIENT_CA: &str = "client-ca";
const SERVING: &str = "serving-kube-apiserver";
const ADMIN: &str = "client-admin";

const SERVING_COMMON_NAME: &str = "kube-apiserver";
pub const ADMIN_USER: &str = "system:admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// The server's certificates and keys as PEM text, exactly as stored under `dir`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerPki {
    pub server_ca_cert: String,
    pub client_ca_cert: String,
    pub serving_cert: String,
    pub serving_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    pub dir: PathBuf,
}

impl fmt::Debug for ServerPki {
    // Keys must not end up in logs through a stray `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerPki")
            .field("dir", &self.dir)
            .field("serving_key", &"<redacted>")
            .field("admin_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl ServerPki {
    pub fn server_ca_cert_path(&self) -> PathBuf {
        cert_path(&self.dir, SERVER_CA)
    }
    pub fn client_ca_cert_path(&self) -> PathBuf {
        cert_path(&self.dir, CLIENT_CA)
    }
    pub fn serving_cert_path(&self) -> PathBuf {
        cert_path(&self.dir, SERVING)
    }
    pub fn serving_key_path(&self) -> PathBuf {
        key_path(&self.dir, SERVING)
    }
}

/// Creates (first start) or loads (restart) the PKI in `dir` (`<data-dir>/server/tls`).
///
/// CAs are never regenerated once their certificate exists: every client trusts them, so a
/// damaged CA is an error naming the file. The serving certificate is re-issued when its SAN set
/// differs from `sans` plus the defaults, when it expires within 90 days or no longer chains to
/// the server CA; the admin certificate likewise for expiry, CA or subject. Re-issued leaves keep
/// their key.
pub fn ensure_server_pki(dir: &Path, sans: &[String]) -> Result<ServerPki, PkiError> {
    ensure_server_pki_at(dir, sans, unix_now())
}

/// [`ensure_server_pki`] with an explicit clock (seconds since the Unix epoch).
pub fn ensure_server_pki_at(dir: &Path, sans: &[String], now: i64) -> Result<ServerPki, PkiError> {
    let wanted_sans = serving_sans(sans)?;
    ensure_private_dir(dir)?;
    let server_ca = ensure_ca(dir, SERVER_CA, &format!("rk3s-server-ca@{now}"), now)?;
    let client_ca = ensure_ca(dir, CLIENT_CA, &format!("rk3s-client-ca@{now}"), now)?;

    let serving = ensure_leaf(
        dir,
        SERVING,
        &server_ca,
        &LeafRequest {
            common_name: SERVING_COMMON_NAME,
            organizations: &[],
            sans: &wanted_sans,
            usage: Usage::ServerAuth,
        },
        now,
        |info| (info.sans != wanted_sans).then_some("subject alternative names changed"),
    )?;
    let no_sans = BTreeSet::new();
    let admin = ensure_leaf(
        dir,
        ADMIN,
        &client_ca,
        &LeafRequest {
            common_name: ADMIN_USER,
            organizations: &[ADMIN_GROUP],
            sans: &no_sans,
            usage: Usage::ClientAuth,
        },
        now,
        |info| {
            let right_subject = info.common_name.as_deref() == Some(ADMIN_USER)
                && info.organizations == [ADMIN_GROUP];
            (!right_subject).then_some("subject is not system:admin in system:masters")
        },
    )?;

    Ok(ServerPki {
        server_ca_cert: server_ca.cert_pem().to_string(),
        client_ca_cert: client_ca.cert_pem().to_string(),
        serving_cert: serving.cert_pem,
        serving_key: serving.key_pem,
        admin_cert: admin.cert_pem,
        admin_key: admin.key_pem,
        dir: dir.to_path_buf(),
    })
}

/// Issues a client certificate signed by the client CA in `pki_dir`, with a fresh key; nothing is
/// written to disk. Kubernetes reads the user from `common_name` and groups from `organizations`
/// (for a node: `system:node:NAME` in `system:nodes`). At most two organizations are supported.
pub fn issue_client_cert(
    pki_dir: &Path,
    common_name: &str,
    organizations: &[&str],
) -> Result<(String, String), PkiError> {
    let ca = load_ca(pki_dir, CLIENT_CA)?;
    let key = generate_key()?;
    let no_sans = BTreeSet::new();
    let cert_pem = ca.issue(
        &LeafRequest {
            common_name,
            organizations,
            sans: &no_sans,
            usage: Usage::ClientAuth,
        },
        &key,
        unix_now(),
    )?;
    Ok((cert_pem, key.serialize_pem()))
}

fn cert_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.crt"))
}

fn key_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.key"))
}

/// Loads the CA `stem`, creating it only when its certificate has never been written. The key is
/// written before the certificate, so a crash in between leaves a key without a certificate, which
/// no client can have trusted yet and is safe to replace.
fn ensure_ca(dir: &Path, stem: &str, common_name: &str, now: i64) -> Result<Ca, PkiError> {
    let crt = cert_path(dir, stem);
    let key = key_path(dir, stem);
    if read_optional(&crt)?.is_some() {
        return load_ca(dir, stem);
    }
    if read_optional(&key)?.is_some() {
        warn!(file = %key.display(), "replacing a CA key whose certificate was never written");
    }
    let (ca, key_pem) = Ca::create(common_name, now)?;
    write_atomic(&key, key_pem.as_bytes(), PRIVATE_FILE_MODE)?;
    write_atomic(&crt, ca.cert_pem().as_bytes(), PUBLIC_FILE_MODE)?;
    info!(file = %crt.display(), "created certificate authority");
    Ok(ca)
}

fn load_ca(dir: &Path, stem: &str) -> Result<Ca, PkiError> {
    let crt = cert_path(dir, stem);
    let key = key_path(dir, stem);
    let cert_pem = read_required(&crt)?;
    let Some(key_pem) = read_optional(&key)? else {
        return Err(PkiError::MissingKey {
            cert_path: crt,
            key_path: key,
        });
    };
    let ca = Ca::load(&cert_pem, &key_pem).map_err(|e| match e {
        LoadError::Certificate(reason) => PkiError::BadCertificate {
            path: crt.clone(),
            reason,
        },
        LoadError::Key(reason) => PkiError::BadKey {
            path: key.clone(),
            reason,
        },
        LoadError::Mismatch => PkiError::KeyMismatch {
            cert_path: crt.clone(),
            key_path: key.clone(),
        },
    })?;
    if ca.info().expires_within(unix_now(), RENEW_BEFORE_SECS) {
        // Rotating a CA means redistributing trust to every client; that is an operator's call.
        warn!(file = %crt.display(), not_after = ca.info().not_after, "certificate authority expires soon");
    }
    Ok(ca)
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
}

/// Loads the leaf `stem`, issuing it when missing, expiring, not signed by `ca`, or when `stale`
/// names a reason. A key that exists is kept; a certificate that does not match its key is an
/// error, since only an outside hand can produce that pairing.
fn ensure_leaf(
    dir: &Path,
    stem: &str,
    ca: &Ca,
    request: &LeafRequest<'_>,
    now: i64,
    stale: impl Fn(&CertInfo) -> Option<&'static str>,
) -> Result<Leaf, PkiError> {
    let crt = cert_path(dir, stem);
    let key_file = key_path(dir, stem);
    let existing_key = match read_optional(&key_file)? {
        Some(pem) => {
            let pair = KeyPair::from_pem(&pem).map_err(|e| PkiError::BadKey {
                path: key_file.clone(),
                reason: e.to_string(),
            })?;
            Some((pem, pair))
        }
        None => None,
    };
    let reason = match read_optional(&crt)? {
        None => Some("missing"),
        Some(cert_pem) => {
            let info =
                CertInfo::from_pem(&cert_pem).map_err(|reason| PkiError::BadCertificate {
                    path: crt.clone(),
                    reason,
                })?;
            match &existing_key {
                None => Some("private key missing"),
                Some((_, pair)) if !info.matches_key(pair) => {
                    return Err(PkiError::KeyMismatch {
                        cert_path: crt,
                        key_path: key_file,
                    });
                }
                Some((key_pem, _)) => {
                    let reason = if !ca.signed(&info) {
                        Some("not signed by the current CA")
                    } else if info.expires_within(now, RENEW_BEFORE_SECS) {
                        Some("expires within 90 days")
                    } else {
                        stale(&info)
                    };
                    if reason.is_none() {
                        return Ok(Leaf {
                            cert_pem,
                            key_pem: key_pem.clone(),
                        });
                    }
                    reason
                }
            }
        }
    };
    let (key_pem, pair) = match existing_key {
        Some(k) => k,
        None => {
            let pair = generate_key()?;
            let pem = pair.serialize_pem();
            write_atomic(&key_file, pem.as_bytes(), PRIVATE_FILE_MODE)?;
            (pem, pair)
        }
    };
    let cert_pem = ca.issue(request, &pair, now)?;
    write_atomic(&crt, cert_pem.as_bytes(), PUBLIC_FILE_MODE)?;
    info!(file = %crt.display(), reason = reason.unwrap_or("missing"), "issued certificate");
    Ok(Leaf { cert_pem, key_pem })
}

/// The SANs an issued serving certificate carries, for callers that want to log or compare them.
pub fn cert_sans(cert_pem: &str) -> Result<BTreeSet<San>, PkiError> {
    CertInfo::from_pem(cert_pem)
        .map(|i| i.sans)
        .map_err(PkiError::ParseCertificate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use x509_parser::extensions::GeneralName;
    use x509_parser::pem::parse_x509_pem;

    use crate::identity::identity_from_cert_der;

    const NOW: i64 = 1_750_000_000;
    const DAY: i64 = 86_400;
    const FILES: [&str; 8] = [
        "server-ca.crt",
        "server-ca.key",
        "client-ca.crt",
        "client-ca.key",
        "serving-kube-apiserver.crt",
        "serving-kube-apiserver.key",
        "client-admin.crt",
        "client-admin.key",
    ];

    fn tls_dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server").join("tls");
        (tmp, dir)
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        FILES
            .iter()
            .map(|f| (f.to_string(), fs::read(dir.join(f)).unwrap()))
            .collect()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn der_of(pem: &str) -> Vec<u8> {
        parse_x509_pem(pem.as_bytes()).unwrap().1.contents
    }

    /// Signature check done directly with x509-parser, independent of `Ca::signed`.
    fn verifies(leaf_pem: &str, ca_pem: &str) -> bool {
        let leaf_der = der_of(leaf_pem);
        let ca_der = der_of(ca_pem);
        let (_, leaf) = x509_parser::parse_x509_certificate(&leaf_der).unwrap();
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
        leaf.verify_signature(Some(ca.public_key())).is_ok()
    }

    fn sans_of(pem: &str) -> Vec<String> {
        let der = der_of(pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let ext = cert.subject_alternative_name().unwrap().unwrap();
        ext.value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => format!("dns:{d}"),
                GeneralName::IPAddress(b) => format!("ip:{b:?}"),
                other => format!("other:{other:?}"),
            })
            .collect()
    }

    #[test]
    fn first_start_creates_every_file_with_private_keys_0600() {
        let (_tmp, dir) = tls_dir();
        let pki = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        assert_eq!(mode(&dir), 0o700);
        for f in FILES {
            let want = if f.ends_with(".key") { 0o600 } else { 0o644 };
            assert_eq!(mode(&dir.join(f)), want, "{f}");
        }
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            FILES.len(),
            "no stray temp files"
        );
        assert_eq!(
            pki.server_ca_cert,
            fs::read_to_string(dir.join("server-ca.crt")).unwrap()
        );
        assert_eq!(
            pki.client_ca_cert,
            fs::read_to_string(dir.join("client-ca.crt")).unwrap()
        );
        assert_eq!(
            pki.serving_key,
            fs::read_to_string(dir.join("serving-kube-apiserver.key")).unwrap()
        );
        assert_eq!(
            pki.admin_cert,
            fs::read_to_string(dir.join("client-admin.crt")).unwrap()
        );
        assert_ne!(pki.server_ca_cert, pki.client_ca_cert);
        let server_ca = CertInfo::from_pem(&pki.server_ca_cert).unwrap();
        assert!(server_ca.is_ca);
        assert_eq!(server_ca.common_name, Some(format!("rk3s-server-ca@{NOW}")));
        assert_eq!(server_ca.not_after, NOW + 10 * 365 * DAY);
        let client_ca = CertInfo::from_pem(&pki.client_ca_cert).unwrap();
        assert_eq!(client_ca.common_name, Some(format!("rk3s-client-ca@{NOW}")));
        assert_eq!(pki.server_ca_cert_path(), dir.join("server-ca.crt"));
    }

    #[test]
    fn restart_reuses_every_file_byte_for_byte() {
        let (_tmp, dir) = tls_dir();
        let sans = vec!["api.example.com".to_string(), "10.0.0.5".to_string()];
        let first = ensure_server_pki_at(&dir, &sans, NOW).unwrap();
        let before = snapshot(&dir);
        let second = ensure_server_pki_at(&dir, &sans, NOW + 30 * DAY).unwrap();
        assert_eq!(first, second);
        assert_eq!(snapshot(&dir), before);
    }

    #[test]
    fn changed_sans_reissue_only_the_serving_cert() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &["a.example".into()], NOW).unwrap();
        let before = snapshot(&dir);
        let pki =
            ensure_server_pki_at(&dir, &["b.example".into(), "10.9.8.7".into()], NOW).unwrap();
        let after = snapshot(&dir);
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            if name == "serving-kube-apiserver.crt" {
                assert_ne!(old, new, "{name} must be re-issued");
            } else {
                assert_eq!(old, new, "{name} must be unchanged");
            }
        }
        let sans = sans_of(&pki.serving_cert);
        assert!(sans.contains(&"dns:b.example".to_string()), "{sans:?}");
        assert!(sans.contains(&"ip:[10, 9, 8, 7]".to_string()), "{sans:?}");
        assert!(!sans.contains(&"dns:a.example".to_string()), "{sans:?}");
        assert!(verifies(&pki.serving_cert, &pki.server_ca_cert));
    }

    #[test]
    fn serving_cert_verifies_against_server_ca_and_carries_all_sans() {
        let (_tmp, dir) = tls_dir();
        let pki =
            ensure_server_pki_at(&dir, &["Node1.Example".into(), "fd00::7".into()], NOW).unwrap();
        assert!(verifies(&pki.serving_cert, &pki.server_ca_cert));
        assert!(!verifies(&pki.serving_cert, &pki.client_ca_cert));
        let sans = sans_of(&pki.serving_cert);
        for want in [
            "dns:localhost",
            "dns:node1.example",
            "dns:kubernetes",
            "dns:kubernetes.default",
            "dns:kubernetes.default.svc",
            "dns:kubernetes.default.svc.cluster.local",
            "ip:[127, 0, 0, 1]",
            "ip:[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]",
            "ip:[253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]",
        ] {
            assert!(
                sans.contains(&want.to_string()),
                "{want} missing from {sans:?}"
            );
        }
        let der = der_of(&pki.serving_cert);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert!(!cert.is_ca());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert_eq!(cert.validity().not_after.timestamp(), NOW + 365 * DAY);
        let key = KeyPair::from_pem(&pki.serving_key).unwrap();
        assert!(
            CertInfo::from_pem(&pki.serving_cert)
                .unwrap()
                .matches_key(&key)
        );
    }

    #[test]
    fn admin_cert_is_system_admin_in_system_masters_signed_by_client_ca() {
        let (_tmp, dir) = tls_dir();
        let pki = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        let id = identity_from_cert_der(&der_of(&pki.admin_cert)).unwrap();
        assert_eq!(id.user, "system:admin");
        assert_eq!(id.groups, vec!["system:masters"]);
        assert!(verifies(&pki.admin_cert, &pki.client_ca_cert));
        assert!(!verifies(&pki.admin_cert, &pki.server_ca_cert));
        let der = der_of(&pki.admin_cert);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
    }

    #[test]
    fn leaves_near_expiry_are_reissued_with_their_keys_while_cas_stay() {
        let (_tmp, dir) = tls_dir();
        let first = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        // 274 days later each one-year leaf has 91 days left: kept.
        let kept = ensure_server_pki_at(&dir, &[], NOW + 274 * DAY).unwrap();
        assert_eq!(kept, first);
        let later = NOW + 300 * DAY;
        let renewed = ensure_server_pki_at(&dir, &[], later).unwrap();
        assert_eq!(renewed.server_ca_cert, first.server_ca_cert);
        assert_eq!(renewed.client_ca_cert, first.client_ca_cert);
        assert_ne!(renewed.serving_cert, first.serving_cert);
        assert_ne!(renewed.admin_cert, first.admin_cert);
        assert_eq!(renewed.serving_key, first.serving_key);
        assert_eq!(renewed.admin_key, first.admin_key);
        assert_eq!(
            CertInfo::from_pem(&renewed.admin_cert).unwrap().not_after,
            later + 365 * DAY
        );
    }

    #[test]
    fn corrupt_ca_certificate_is_an_error_naming_the_file_and_is_not_replaced() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &[], NOW).unwrap();
        let crt = dir.join("server-ca.crt");
        fs::write(
            &crt,
            "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = ensure_server_pki_at(&dir, &[], NOW).unwrap_err();
        assert!(matches!(err, PkiError::BadCertificate { .. }), "{err}");
        assert!(
            err.to_string().contains(&crt.display().to_string()),
            "{err}"
        );
        assert!(fs::read_to_string(&crt).unwrap().contains("garbage"));
    }

    #[test]
    fn ca_key_from_another_ca_is_a_mismatch_naming_both_files() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &[], NOW).unwrap();
        fs::copy(dir.join("client-ca.key"), dir.join("server-ca.key")).unwrap();
        let err = ensure_server_pki_at(&dir, &[], NOW).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, PkiError::KeyMismatch { .. }), "{msg}");
        assert!(
            msg.contains("server-ca.key") && msg.contains("server-ca.crt"),
            "{msg}"
        );
    }

    #[test]
    fn ca_certificate_without_its_key_is_an_error() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &[], NOW).unwrap();
        fs::remove_file(dir.join("client-ca.key")).unwrap();
        let err = ensure_server_pki_at(&dir, &[], NOW).unwrap_err();
        assert!(matches!(err, PkiError::MissingKey { .. }), "{err}");
        assert!(!dir.join("client-ca.key").exists());
    }

    #[test]
    fn garbage_ca_key_is_an_error_naming_the_key_file() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &[], NOW).unwrap();
        fs::write(dir.join("server-ca.key"), "not a key").unwrap();
        let err = ensure_server_pki_at(&dir, &[], NOW).unwrap_err();
        assert!(matches!(err, PkiError::BadKey { .. }), "{err}");
        assert!(err.to_string().contains("server-ca.key"), "{err}");
    }

    #[test]
    fn orphan_ca_key_left_by_a_crash_is_replaced() {
        let (_tmp, dir) = tls_dir();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("server-ca.key"), "half written").unwrap();
        let pki = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        assert!(verifies(&pki.serving_cert, &pki.server_ca_cert));
    }

    #[test]
    fn leaves_of_a_replaced_ca_are_reissued() {
        let (_tmp, dir) = tls_dir();
        let first = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        fs::remove_file(dir.join("server-ca.crt")).unwrap();
        fs::remove_file(dir.join("server-ca.key")).unwrap();
        let second = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        assert_ne!(second.server_ca_cert, first.server_ca_cert);
        assert!(verifies(&second.serving_cert, &second.server_ca_cert));
        assert_eq!(second.admin_cert, first.admin_cert);
    }

    #[test]
    fn serving_key_not_matching_its_certificate_is_an_error() {
        let (_tmp, dir) = tls_dir();
        ensure_server_pki_at(&dir, &[], NOW).unwrap();
        fs::copy(
            dir.join("client-admin.key"),
            dir.join("serving-kube-apiserver.key"),
        )
        .unwrap();
        let err = ensure_server_pki_at(&dir, &[], NOW).unwrap_err();
        assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err}");
    }

    #[test]
    fn invalid_san_is_rejected_before_anything_is_written() {
        let (_tmp, dir) = tls_dir();
        let err =
            ensure_server_pki_at(&dir, &["ok.example".into(), "bad name".into()], NOW).unwrap_err();
        assert!(err.to_string().contains("\"bad name\""), "{err}");
        assert!(!dir.exists());
    }

    #[test]
    fn client_certs_are_signed_by_the_client_ca_with_the_requested_identity() {
        let (_tmp, dir) = tls_dir();
        let pki = ensure_server_pki(&dir, &[]).unwrap();
        let (cert, key) = issue_client_cert(&dir, "system:node:n1", &["system:nodes"]).unwrap();
        assert!(verifies(&cert, &pki.client_ca_cert));
        let id = identity_from_cert_der(&der_of(&cert)).unwrap();
        assert_eq!(
            (id.user.as_str(), id.groups),
            ("system:node:n1", vec!["system:nodes".to_string()])
        );
        let pair = KeyPair::from_pem(&key).unwrap();
        assert!(CertInfo::from_pem(&cert).unwrap().matches_key(&pair));
        assert!(issue_client_cert(&dir, "", &[]).is_err());
        assert!(issue_client_cert(&dir, "x\ny", &[]).is_err());
    }

    #[test]
    fn client_cert_without_a_pki_is_an_error_naming_the_ca_file() {
        let (_tmp, dir) = tls_dir();
        let err = issue_client_cert(&dir, "alice", &[]).unwrap_err();
        assert!(err.to_string().contains("client-ca.crt"), "{err}");
    }

    #[test]
    fn debug_output_hides_private_keys() {
        let (_tmp, dir) = tls_dir();
        let pki = ensure_server_pki_at(&dir, &[], NOW).unwrap();
        let shown = format!("{pki:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}
