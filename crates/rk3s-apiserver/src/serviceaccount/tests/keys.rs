use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn keys_are_created_private_and_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let first = keys_in(&tls);
    assert_eq!(mode(&tls.join("service.key")), 0o600);
    let key_pem = fs::read_to_string(tls.join("service.key")).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let pub_pem = fs::read_to_string(tls.join("service.pub")).unwrap();
    assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(!pub_pem.contains("PRIVATE"));
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(&tls)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let second = keys_in(&tls);
    assert_eq!(first.key_id(), second.key_id());
    assert_eq!(
        fs::read_to_string(tls.join("service.key")).unwrap(),
        key_pem
    );
    let (token, _) = first
        .issue(&request("default", "default", "u1"), NOW)
        .unwrap();
    assert!(second.verify(&token, NOW).is_ok());
}

#[test]
fn a_corrupt_private_key_is_an_error_and_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("service.key"), "not a key").unwrap();
    let err = TokenKeys::load_or_create(dir.path()).unwrap_err();
    assert!(
        matches!(err, ServiceAccountError::BadPrivateKey { .. }),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("service.key")).unwrap(),
        "not a key"
    );
    // A PEM block of the right label holding garbage is refused too.
    fs::write(
        dir.path().join("service.key"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert!(TokenKeys::load_or_create(dir.path()).is_err());
}

#[test]
fn a_key_readable_by_others_is_tightened_and_a_lost_public_key_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let key = dir.path().join("service.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    fs::remove_file(dir.path().join("service.pub")).unwrap();
    let again = keys_in(dir.path());
    assert_eq!(mode(&key), 0o600);
    assert_eq!(again.key_id(), keys.key_id());
    assert_eq!(
        fs::read_to_string(dir.path().join("service.pub")).unwrap(),
        keys.public_key_pem()
    );
}

#[test]
fn key_id_is_the_base64url_sha256_of_the_der_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let digest = ring::digest::digest(&ring::digest::SHA256, keys.public_key_der());
    assert_eq!(b64url(keys.key_id()), digest.as_ref());
    assert_eq!(keys.key_id().len(), 43);
    let jwks = keys.jwks();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kid"], keys.key_id());
    assert_eq!(jwk["alg"], "ES256");
    let x = b64url(jwk["x"].as_str().unwrap());
    let y = b64url(jwk["y"].as_str().unwrap());
    assert_eq!(x.len(), 32);
    // The JWK's coordinates are the tail of the DER key (after the 0x04 point marker).
    assert_eq!(&keys.public_key_der()[27..59], &x[..]);
    assert_eq!(&keys.public_key_der()[59..], &y[..]);
}

#[test]
fn debug_output_never_shows_the_private_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let debug = format!("{keys:?}");
    assert!(debug.contains(keys.key_id()));
    assert!(!debug.contains("pair"));
}
