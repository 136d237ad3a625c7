//! Proof of the formats against an independent implementation: the `openssl` command.

use std::fs;
use std::process::Command;

use serde_json::json;

use super::*;
use crate::serviceaccount::jws;

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed")
}

/// Raw r||s (JWS) to a DER `ECDSA-Sig-Value` (what OpenSSL reads and writes).
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|&x| x == 0).collect();
        if v.first().is_none_or(|&x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = int(&raw[..32]);
    body.extend(int(&raw[32..]));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    der
}

fn der_to_raw(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    assert!(der[1] < 0x80, "short-form length for P-256");
    let mut rest = &der[2..];
    let mut raw = Vec::new();
    for _ in 0..2 {
        assert_eq!(rest[0], 0x02);
        let len = rest[1] as usize;
        let int: Vec<u8> = rest[2..2 + len]
            .iter()
            .copied()
            .skip_while(|&x| x == 0)
            .collect();
        raw.extend(std::iter::repeat_n(0, 32 - int.len()));
        raw.extend(int);
        rest = &rest[2 + len..];
    }
    raw
}

#[test]
fn openssl_verifies_the_signature_of_our_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, _) = keys.issue(&request("ns", "sa", "uid"), NOW).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    fs::write(dir.path().join("input"), input).unwrap();
    fs::write(dir.path().join("sig.der"), raw_to_der(&b64url(sig))).unwrap();
    let args = [
        "dgst",
        "-sha256",
        "-verify",
        "service.pub",
        "-signature",
        "sig.der",
        "input",
    ];
    let out = openssl(&args, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "Verified OK");

    fs::write(dir.path().join("input"), format!("{input}x")).unwrap();
    assert!(!openssl(&args, dir.path()).status.success());
}

#[test]
fn a_token_signed_by_openssl_with_our_key_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let header = json!({"alg": "ES256", "kid": keys.key_id(), "typ": "JWT"});
    let payload = json!({
        "iss": DEFAULT_ISSUER,
        "sub": "system:serviceaccount:ns:sa",
        "aud": DEFAULT_ISSUER,
        "exp": NOW + 600, "iat": NOW, "nbf": NOW,
        "kubernetes.io": {"namespace": "ns", "serviceaccount": {"name": "sa", "uid": "u"}},
    });
    let input = format!(
        "{}.{}",
        jws::encode_part(header.to_string().as_bytes()),
        jws::encode_part(payload.to_string().as_bytes())
    );
    fs::write(dir.path().join("input"), &input).unwrap();
    let out = openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "service.key",
            "-out",
            "sig.der",
            "input",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = der_to_raw(&fs::read(dir.path().join("sig.der")).unwrap());
    let token = jws::join(&input, &raw);
    let claims = keys.verify(&token, NOW).unwrap();
    assert_eq!(claims.aud, vec![DEFAULT_ISSUER]);
    assert_eq!(claims.sub, "system:serviceaccount:ns:sa");
    assert!(claims.jti.is_empty());

    // The same signature over other bytes fails.
    let other = jws::join(&format!("{input}A"), &raw);
    assert!(keys.verify(&other, NOW).is_err());
}

#[test]
fn a_key_generated_by_openssl_is_loaded_and_its_kid_matches_openssls_digest() {
    let dir = tempfile::tempdir().unwrap();
    let out = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "service.key",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = keys_in(dir.path());
    let public = openssl(&["pkey", "-in", "service.key", "-pubout"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&public.stdout),
        fs::read_to_string(dir.path().join("service.pub")).unwrap()
    );
    let der = openssl(
        &[
            "pkey",
            "-in",
            "service.key",
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "pub.der",
        ],
        dir.path(),
    );
    assert!(der.status.success());
    let digest = openssl(&["dgst", "-sha256", "-binary", "pub.der"], dir.path());
    assert_eq!(b64url(keys.key_id()), digest.stdout);
}
