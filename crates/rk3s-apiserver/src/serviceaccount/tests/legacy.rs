//! Legacy secret-held tokens: claims, the token controller's decisions, and authentication
//! that ends with the secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rk3s_store::Backend;
use serde_json::{Value, json};

use super::store::{open_store, put, service_account};
use super::*;

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

fn token_secret(ns: &str, name: &str, sa: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
        "metadata": {"name": name, "namespace": ns, "uid": "secret-uid",
            "annotations": {NAME_ANNOTATION: sa}},
    })
}

fn filled(keys: &TokenKeys, secret: &Value, sa: &Value) -> Value {
    match reconcile_token_secret(keys, secret, Some(sa), Some(CA)).unwrap() {
        SecretAction::Fill(s) => s,
        other => panic!("expected a fill, got {other:?}"),
    }
}

fn token_of(secret: &Value) -> String {
    String::from_utf8(stored_token(secret).unwrap()).unwrap()
}

#[test]
fn a_legacy_token_carries_upstreams_claims_and_verifies_without_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let claims = LegacyClaims::new("shop", "builder", "uid-1", "builder-token");
    let token = keys.issue_legacy(&claims).unwrap();
    let payload: Value = serde_json::from_slice(&b64url(token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(
        payload,
        json!({
            "iss": "kubernetes/serviceaccount",
            "kubernetes.io/serviceaccount/namespace": "shop",
            "kubernetes.io/serviceaccount/secret.name": "builder-token",
            "kubernetes.io/serviceaccount/service-account.name": "builder",
            "kubernetes.io/serviceaccount/service-account.uid": "uid-1",
            "sub": "system:serviceaccount:shop:builder",
        })
    );
    // Years later it still verifies: it has no expiry.
    let later = NOW + 10 * 365 * 86400;
    assert_eq!(
        keys.verify_any(&token, later).unwrap(),
        VerifiedClaims::Legacy(claims)
    );
    // The bound-token check does not take a legacy token for one.
    assert!(keys.verify(&token, NOW).is_err());
}

#[test]
fn legacy_claims_that_disagree_or_are_incomplete_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let mut claims = LegacyClaims::new("shop", "builder", "uid-1", "t");
    claims.sub = "system:serviceaccount:kube-system:admin".into();
    let token = keys.issue_legacy(&claims).unwrap();
    assert!(matches!(
        keys.verify_any(&token, NOW),
        Err(ServiceAccountError::Malformed(_))
    ));
    let incomplete = LegacyClaims::new("shop", "builder", "", "t");
    let token = keys.issue_legacy(&incomplete).unwrap();
    assert!(keys.verify_any(&token, NOW).is_err());
    // Signed by another key: refused before the claims are read.
    let other = keys_in(&dir.path().join("other"));
    let token = other
        .issue_legacy(&LegacyClaims::new("shop", "builder", "uid-1", "t"))
        .unwrap();
    assert!(keys.verify_any(&token, NOW).is_err());
}

#[test]
fn the_controller_fills_token_ca_namespace_and_uid_once() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let sa = service_account("shop", "builder", "uid-1");
    let secret = token_secret("shop", "builder-token", "builder");
    let out = filled(&keys, &secret, &sa);
    assert_eq!(out["metadata"]["annotations"][UID_ANNOTATION], "uid-1");
    assert_eq!(out["data"]["ca.crt"], STANDARD.encode(CA));
    assert_eq!(out["data"]["namespace"], STANDARD.encode("shop"));
    let token = token_of(&out);
    match keys.verify_any(&token, NOW).unwrap() {
        VerifiedClaims::Legacy(c) => {
            assert_eq!(c.secret_name, "builder-token");
            assert_eq!(c.sa_uid, "uid-1");
        }
        other => panic!("{other:?}"),
    }
    // A complete secret is left alone, its token kept.
    assert_eq!(
        reconcile_token_secret(&keys, &out, Some(&sa), Some(CA)).unwrap(),
        SecretAction::Nothing
    );
    // A lost ca.crt comes back; the token stays the same.
    let mut edited = out.clone();
    edited["data"].as_object_mut().unwrap().remove("ca.crt");
    let again = filled(&keys, &edited, &sa);
    assert_eq!(again["data"]["ca.crt"], STANDARD.encode(CA));
    assert_eq!(token_of(&again), token);
}

#[test]
fn secrets_of_missing_or_replaced_service_accounts_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let secret = token_secret("shop", "t", "builder");
    assert_eq!(
        reconcile_token_secret(&keys, &secret, None, Some(CA)).unwrap(),
        SecretAction::Delete
    );
    let mut pinned = secret.clone();
    pinned["metadata"]["annotations"][UID_ANNOTATION] = json!("uid-old");
    let recreated = service_account("shop", "builder", "uid-new");
    assert_eq!(
        reconcile_token_secret(&keys, &pinned, Some(&recreated), Some(CA)).unwrap(),
        SecretAction::Delete
    );
}

#[test]
fn other_secrets_and_terminating_ones_are_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let sa = service_account("shop", "builder", "uid-1");
    let mut opaque = token_secret("shop", "t", "builder");
    opaque["type"] = json!("Opaque");
    let mut unnamed = token_secret("shop", "t", "builder");
    unnamed["metadata"]["annotations"] = json!({});
    let mut terminating = token_secret("shop", "t", "builder");
    terminating["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let mut hostile = token_secret("shop", "t", "builder");
    hostile["data"] = json!("not an object");
    for s in [&opaque, &unnamed, &terminating, &json!(null), &json!([1])] {
        assert_eq!(
            reconcile_token_secret(&keys, s, Some(&sa), Some(CA)).unwrap(),
            SecretAction::Nothing,
            "{s}"
        );
    }
    // A non-object `data` is replaced rather than panicked on.
    let out = filled(&keys, &hostile, &sa);
    assert!(stored_token(&out).is_some());
}

#[tokio::test]
async fn a_legacy_token_authenticates_only_while_its_secret_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    let sa = service_account("shop", "builder", "uid-1");
    put(&store, "/registry/serviceaccounts/shop/builder", sa.clone()).await;
    let secret = filled(&keys, &token_secret("shop", "bt", "builder"), &sa);
    let token = token_of(&secret);
    let key = "/registry/secrets/shop/bt";
    put(&store, key, secret.clone()).await;

    let a = authenticate_detailed(&keys, &store, &token, &[], NOW)
        .await
        .unwrap();
    assert_eq!(a.user, "system:serviceaccount:shop:builder");
    assert_eq!(a.uid, "uid-1");
    assert_eq!(a.audiences, vec![DEFAULT_ISSUER]);
    assert!(
        a.groups
            .contains(&"system:serviceaccounts:shop".to_string())
    );
    // A legacy token has whatever audiences the server is configured with.
    let custom = authenticate_detailed(&keys, &store, &token, &["vault".into()], NOW)
        .await
        .unwrap();
    assert_eq!(custom.audiences, vec!["vault"]);

    // A secret whose token was replaced no longer vouches for the old one.
    let mut replaced = secret.clone();
    replaced["data"]["token"] = json!(STANDARD.encode("something-else"));
    let kv = store.get(key, 0).await.unwrap().unwrap();
    store
        .update(key, serde_json::to_vec(&replaced).unwrap(), kv.mod_revision)
        .await
        .unwrap();
    assert!(matches!(
        authenticate_detailed(&keys, &store, &token, &[], NOW).await,
        Err(ServiceAccountError::TokenInvalidated)
    ));

    store.delete(key, None).await.unwrap();
    let gone = authenticate_detailed(&keys, &store, &token, &[], NOW).await;
    assert!(
        matches!(gone, Err(ServiceAccountError::SecretGone { .. })),
        "{gone:?}"
    );
}

#[tokio::test]
async fn a_legacy_token_dies_with_its_service_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    let sa = service_account("shop", "builder", "uid-1");
    let sa_key = "/registry/serviceaccounts/shop/builder";
    put(&store, sa_key, sa.clone()).await;
    let secret = filled(&keys, &token_secret("shop", "bt", "builder"), &sa);
    let token = token_of(&secret);
    put(&store, "/registry/secrets/shop/bt", secret).await;
    assert!(
        authenticate(&keys, &store, &token, &[], NOW)
            .await
            .is_some()
    );
    store.delete(sa_key, None).await.unwrap();
    put(&store, sa_key, service_account("shop", "builder", "uid-2")).await;
    assert!(matches!(
        authenticate_detailed(&keys, &store, &token, &[], NOW).await,
        Err(ServiceAccountError::ServiceAccountGone { .. })
    ));
}

#[tokio::test]
async fn a_token_review_for_another_audience_refuses_a_legacy_token() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    let sa = service_account("shop", "builder", "uid-1");
    put(&store, "/registry/serviceaccounts/shop/builder", sa.clone()).await;
    let secret = filled(&keys, &token_secret("shop", "bt", "builder"), &sa);
    let token = token_of(&secret);
    put(&store, "/registry/secrets/shop/bt", secret).await;
    let review = json!({"spec": {"token": token, "audiences": ["vault"]}});
    let out = token_review_response(&keys, &store, &review, &[], NOW)
        .await
        .unwrap();
    assert!(
        out["status"]["error"]
            .as_str()
            .unwrap()
            .contains("is invalid for the target audiences")
    );
    let review = json!({"spec": {"token": token}});
    let out = token_review_response(&keys, &store, &review, &[], NOW)
        .await
        .unwrap();
    assert_eq!(out["status"]["authenticated"], true);
    assert_eq!(
        out["status"]["user"]["username"],
        "system:serviceaccount:shop:builder"
    );
}
