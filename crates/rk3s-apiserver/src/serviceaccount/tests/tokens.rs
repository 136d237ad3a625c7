use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::serviceaccount::jws;

fn bound_pod_request() -> IssueRequest {
    IssueRequest {
        audiences: vec!["api".into(), "vault".into()],
        expiration_seconds: 1200,
        bound: Some(BoundObject {
            kind: BoundKind::Pod,
            name: "web-0".into(),
            uid: "pod-uid".into(),
        }),
        ..request("shop", "builder", "sa-uid")
    }
}

#[test]
fn an_issued_token_verifies_and_carries_upstreams_claims() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, exp) = keys.issue(&bound_pod_request(), NOW).unwrap();
    assert_eq!(exp, NOW + 1200);
    let claims = keys.verify(&token, NOW + 5).unwrap();
    assert_eq!(claims.sub, "system:serviceaccount:shop:builder");
    assert_eq!(claims.iss, DEFAULT_ISSUER);
    assert_eq!(claims.aud, vec!["api", "vault"]);
    assert_eq!((claims.iat, claims.nbf, claims.exp), (NOW, NOW, NOW + 1200));
    assert_eq!(claims.jti.len(), 36);
    assert_eq!(claims.kubernetes.namespace, "shop");
    assert_eq!(claims.kubernetes.serviceaccount.uid, "sa-uid");
    assert_eq!(claims.kubernetes.pod.as_ref().unwrap().name, "web-0");
    assert!(claims.kubernetes.secret.is_none());
    // Two tokens for the same request differ (jti, and ECDSA's random nonce).
    let (other, _) = keys.issue(&bound_pod_request(), NOW).unwrap();
    assert_ne!(token, other);
}

#[test]
fn the_header_and_payload_decode_with_plain_base64url() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, _) = keys.issue(&bound_pod_request(), NOW).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(!token.contains('=') && !token.contains('+') && !token.contains('/'));
    let header: Value = serde_json::from_slice(&b64url(parts[0])).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "kid": keys.key_id()}));
    let payload: Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
    assert_eq!(payload["aud"], json!(["api", "vault"]));
    assert_eq!(payload["exp"], json!(NOW + 1200));
    assert_eq!(payload["iss"], json!(DEFAULT_ISSUER));
    assert_eq!(
        payload["kubernetes.io"],
        json!({
            "namespace": "shop",
            "pod": {"name": "web-0", "uid": "pod-uid"},
            "serviceaccount": {"name": "builder", "uid": "sa-uid"},
        })
    );
    assert_eq!(b64url(parts[2]).len(), 64);
}

#[test]
fn expiration_is_defaulted_and_clamped() {
    let mut r = request("a", "b", "c");
    assert_eq!(r.effective_expiration_seconds(), 3600);
    r.expiration_seconds = 1;
    assert_eq!(r.effective_expiration_seconds(), 600);
    r.expiration_seconds = 7 * 24 * 3600;
    assert_eq!(r.effective_expiration_seconds(), 48 * 3600);
    r.expiration_seconds = i64::MAX;
    let dir = tempfile::tempdir().unwrap();
    let (_, exp) = keys_in(dir.path()).issue(&r, NOW).unwrap();
    assert_eq!(exp, NOW + 48 * 3600);
}

#[test]
fn expired_tokens_are_rejected_once_the_leeway_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, exp) = keys.issue(&request("a", "b", "c"), NOW).unwrap();
    assert!(keys.verify(&token, exp + 60).is_ok());
    assert!(matches!(
        keys.verify(&token, exp + 61),
        Err(ServiceAccountError::Expired)
    ));
}

#[test]
fn tokens_from_the_future_are_rejected_beyond_the_leeway() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, _) = keys.issue(&request("a", "b", "c"), NOW).unwrap();
    assert!(keys.verify(&token, NOW - 60).is_ok());
    assert!(matches!(
        keys.verify(&token, NOW - 61),
        Err(ServiceAccountError::NotYetValid)
    ));
}

#[test]
fn a_changed_payload_or_signature_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, _) = keys.issue(&request("a", "b", "c"), NOW).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&b64url(parts[1])).unwrap();
    payload["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    payload["sub"] = json!("system:serviceaccount:a:admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        jws::encode_part(&serde_json::to_vec(&payload).unwrap()),
        parts[2]
    );
    assert!(matches!(
        keys.verify(&forged, NOW),
        Err(ServiceAccountError::BadSignature)
    ));
    let mut sig = b64url(parts[2]);
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], jws::encode_part(&sig));
    assert!(matches!(
        keys.verify(&flipped, NOW),
        Err(ServiceAccountError::BadSignature)
    ));
}

#[test]
fn a_token_from_another_issuer_or_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let ours = keys_in(dir.path());
    let elsewhere = keys_in(dir.path()).with_issuer("https://other.example");
    let (token, _) = elsewhere.issue(&request("a", "b", "c"), NOW).unwrap();
    assert!(matches!(
        ours.verify(&token, NOW),
        Err(ServiceAccountError::WrongIssuer(i)) if i == "https://other.example"
    ));
    // After an issuer change, both the old and the new issuer are accepted.
    assert!(elsewhere.verify(&token, NOW).is_ok());
    let (old, _) = ours.issue(&request("a", "b", "c"), NOW).unwrap();
    assert!(elsewhere.verify(&old, NOW).is_ok());
    let only_new = keys_in(dir.path()).with_issuers(&["https://other.example".into()]);
    assert!(only_new.verify(&old, NOW).is_err());

    let other_dir = tempfile::tempdir().unwrap();
    let stranger = keys_in(other_dir.path());
    let (foreign, _) = stranger.issue(&request("a", "b", "c"), NOW).unwrap();
    assert!(matches!(
        ours.verify(&foreign, NOW),
        Err(ServiceAccountError::UnknownKey)
    ));
    // Without a kid the signature check still catches it.
    let parts: Vec<&str> = foreign.split('.').collect();
    let no_kid = format!(
        "{}.{}.{}",
        jws::encode_part(br#"{"alg":"ES256"}"#),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        ours.verify(&no_kid, NOW),
        Err(ServiceAccountError::BadSignature)
    ));
}

#[test]
fn malformed_tokens_are_rejected_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let (token, _) = keys.issue(&request("a", "b", "c"), NOW).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header = |h: &str| {
        format!(
            "{}.{}.{}",
            jws::encode_part(h.as_bytes()),
            parts[1],
            parts[2]
        )
    };
    let huge = "a".repeat(20 * 1024 * 1024);
    let cases = vec![
        String::new(),
        "garbage".into(),
        "a.b".into(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.extra"),
        "!!!.???.***".into(),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        format!("{}.%%%.{}", parts[0], parts[2]),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.AAAA", parts[0], parts[1]),
        header(r#"{"alg":"none","kid":"x"}"#),
        header(r#"{"alg":"HS256"}"#),
        header(r#"{"alg":"ES256","crit":["exp"]}"#),
        header("not json"),
        header("[]"),
        format!("{}.{}.{}", parts[0], jws::encode_part(b"{}"), parts[2]),
        format!("{huge}.{huge}.{huge}"),
        "..".into(),
        "\u{1F600}.\u{1F600}.\u{1F600}".into(),
    ];
    for case in cases {
        let shown: String = case.chars().take(60).collect();
        assert!(keys.verify(&case, NOW).is_err(), "accepted {shown:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_strings_are_never_accepted(s in ".{0,300}") {
        let keys = TokenKeys::from_pkcs8(&fixed_pkcs8()).unwrap();
        prop_assert!(keys.verify(&s, NOW).is_err());
    }

    #[test]
    fn any_single_character_change_breaks_a_token(pos in 0usize..400, c in "[A-Za-z0-9_.-]") {
        let keys = TokenKeys::from_pkcs8(&fixed_pkcs8()).unwrap();
        let (token, _) = keys.issue(&request("a", "b", "c"), NOW).unwrap();
        let pos = pos % token.len();
        let mut changed = token.clone();
        changed.replace_range(pos..pos + 1, &c);
        prop_assume!(changed != token);
        prop_assert!(keys.verify(&changed, NOW).is_err());
    }
}

fn fixed_pkcs8() -> Vec<u8> {
    use std::sync::OnceLock;
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap()
        .as_ref()
        .to_vec()
    })
    .clone()
}
