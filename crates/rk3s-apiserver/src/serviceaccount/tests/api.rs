//! TokenRequest, TokenReview and the default ServiceAccount.

use serde_json::{Value, json};

use super::store::{open_store, pod, put, service_account};
use super::*;

fn token_request(spec: Value) -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
}

fn refusal(keys: &TokenKeys, spec: Value, bound: Option<&Value>) -> String {
    let sa = service_account("ns", "default", "sa-uid");
    token_request_response(keys, &sa, &token_request(spec), bound, &[], NOW)
        .unwrap_err()
        .into_api_error("default")
        .to_string()
}

#[test]
fn a_token_request_is_defaulted_and_answered_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let sa = service_account("ns", "default", "sa-uid");
    let out =
        token_request_response(&keys, &sa, &token_request(json!({})), None, &[], NOW).unwrap();
    assert_eq!(out["kind"], "TokenRequest");
    assert_eq!(out["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(out["metadata"]["name"], "default");
    assert_eq!(out["metadata"]["namespace"], "ns");
    assert_eq!(out["spec"]["audiences"], json!([DEFAULT_ISSUER]));
    assert_eq!(out["spec"]["expirationSeconds"], 3600);
    assert_eq!(out["spec"]["boundObjectRef"], Value::Null);
    // NOW + 3600 = 2026-05-28T21:26:40Z.
    assert_eq!(out["status"]["expirationTimestamp"], "2026-05-28T21:26:40Z");
    let claims = keys
        .verify(out["status"]["token"].as_str().unwrap(), NOW)
        .unwrap();
    assert_eq!(claims.sub, "system:serviceaccount:ns:default");
    assert_eq!(claims.kubernetes.serviceaccount.uid, "sa-uid");
    assert_eq!(claims.exp, NOW + 3600);

    let api = vec!["https://api.example".to_string()];
    let out =
        token_request_response(&keys, &sa, &token_request(json!({})), None, &api, NOW).unwrap();
    assert_eq!(out["spec"]["audiences"], json!(api));
}

#[test]
fn requested_audiences_and_long_durations_are_honoured_up_to_the_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let sa = service_account("ns", "default", "sa-uid");
    let body = token_request(json!({"audiences": ["vault"], "expirationSeconds": 604800}));
    let out = token_request_response(&keys, &sa, &body, None, &[], NOW).unwrap();
    assert_eq!(out["spec"]["audiences"], json!(["vault"]));
    assert_eq!(out["spec"]["expirationSeconds"], 172800);
    let claims = keys
        .verify(out["status"]["token"].as_str().unwrap(), NOW)
        .unwrap();
    assert_eq!(claims.aud, vec!["vault"]);
    assert_eq!(claims.exp, NOW + 172800);
}

#[test]
fn token_request_validation_uses_upstreams_messages() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    assert_eq!(
        refusal(&keys, json!({"expirationSeconds": 300}), None),
        "TokenRequest.authentication.k8s.io \"default\" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"
    );
    assert_eq!(
        refusal(&keys, json!({"expirationSeconds": 5_000_000_000_i64}), None),
        "TokenRequest.authentication.k8s.io \"default\" is invalid: spec.expirationSeconds: Invalid value: 5000000000: may not specify a duration larger than 2^32 seconds"
    );
    assert_eq!(
        refusal(
            &keys,
            json!({"boundObjectRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}}),
            None
        ),
        "cannot bind token to object of type /v1, Kind=ConfigMap"
    );
    assert_eq!(
        refusal(
            &keys,
            json!({"boundObjectRef": {"apiVersion": "apps/v1", "kind": "Pod", "name": "p"}}),
            None
        ),
        "cannot bind token to object of type apps/v1, Kind=Pod"
    );
    let pod_ref = json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web"}});
    assert_eq!(
        refusal(&keys, pod_ref.clone(), None),
        "pods \"web\" not found"
    );
    assert_eq!(
        refusal(&keys, pod_ref, Some(&pod("ns", "web", "p1", "builder"))),
        "cannot bind token for serviceaccount \"default\" to pod running with different serviceaccount name."
    );
    assert_eq!(
        refusal(
            &keys,
            json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "old"}}),
            Some(&pod("ns", "web", "p1", "default"))
        ),
        "Operation cannot be fulfilled on Pod \"web\": the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated"
    );
    for bad in [
        json!({"audiences": "api"}),
        json!({"audiences": [1]}),
        json!({"expirationSeconds": "1h"}),
        json!({"boundObjectRef": "pod"}),
        json!("spec"),
    ] {
        let msg = refusal(&keys, bad.clone(), None);
        assert!(
            msg.contains("cannot be handled as a TokenRequest"),
            "{bad}: {msg}"
        );
    }
    let sa = service_account("ns", "default", "sa-uid");
    assert!(token_request_response(&keys, &sa, &json!([1, 2]), None, &[], NOW).is_err());
    let no_uid = json!({"metadata": {"name": "default", "namespace": "ns"}});
    let e = token_request_response(&keys, &no_uid, &token_request(json!({})), None, &[], NOW)
        .unwrap_err();
    assert_eq!(
        e.into_api_error("default").code(),
        http::StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[test]
fn a_pod_bound_request_names_the_pod_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keys_in(dir.path());
    let body = token_request(
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "p1"}}),
    );
    assert_eq!(
        bound_object_key("ns", &body).unwrap().as_deref(),
        Some("/registry/pods/ns/web")
    );
    assert_eq!(
        bound_object_key("ns", &token_request(json!({}))).unwrap(),
        None
    );
    let secret = token_request(
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "s"}}),
    );
    assert_eq!(
        bound_object_key("ns", &secret).unwrap().as_deref(),
        Some("/registry/secrets/ns/s")
    );
    let escape = token_request(
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "../x"}}),
    );
    assert!(bound_object_key("ns", &escape).is_err());

    let sa = service_account("ns", "default", "sa-uid");
    let pod = pod("ns", "web", "p1", "default");
    let out = token_request_response(&keys, &sa, &body, Some(&pod), &[], NOW).unwrap();
    assert_eq!(out["spec"]["boundObjectRef"]["name"], "web");
    let claims = keys
        .verify(out["status"]["token"].as_str().unwrap(), NOW)
        .unwrap();
    let bound = claims.kubernetes.pod.unwrap();
    assert_eq!((bound.name.as_str(), bound.uid.as_str()), ("web", "p1"));
}

#[tokio::test]
async fn token_review_reports_the_user_of_a_good_token_and_the_error_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let keys = keys_in(&dir.path().join("tls"));
    put(
        &store,
        "/registry/serviceaccounts/ns/default",
        service_account("ns", "default", "sa-uid"),
    )
    .await;
    put(
        &store,
        "/registry/pods/ns/web",
        pod("ns", "web", "p1", "default"),
    )
    .await;
    let sa = service_account("ns", "default", "sa-uid");
    let body = token_request(
        json!({"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web"}}),
    );
    let pod = pod("ns", "web", "p1", "default");
    let issued = token_request_response(&keys, &sa, &body, Some(&pod), &[], NOW).unwrap();
    let token = issued["status"]["token"].as_str().unwrap();
    let jti = keys.verify(token, NOW).unwrap().jti;

    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let out = token_review_response(&keys, &store, &review, &[], NOW)
        .await
        .unwrap();
    assert_eq!(
        out["status"],
        json!({
            "authenticated": true,
            "user": {
                "username": "system:serviceaccount:ns:default",
                "uid": "sa-uid",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"],
                "extra": {
                    "authentication.kubernetes.io/credential-id": [format!("JTI={jti}")],
                    "authentication.kubernetes.io/pod-name": ["web"],
                    "authentication.kubernetes.io/pod-uid": ["p1"],
                },
            },
            "audiences": [DEFAULT_ISSUER],
        })
    );
    assert_eq!(out["spec"]["token"], token);

    let bad = json!({"spec": {"token": "not.a.token"}});
    let out = token_review_response(&keys, &store, &bad, &[], NOW)
        .await
        .unwrap();
    assert_eq!(out["kind"], "TokenReview");
    assert!(out["status"].get("authenticated").is_none());
    assert_eq!(out["status"]["user"], json!({}));
    assert!(
        out["status"]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid bearer token, token is malformed")
    );

    // A review for another audience fails with the audience reason.
    let other = json!({"spec": {"token": token, "audiences": ["vault"]}});
    let out = token_review_response(&keys, &store, &other, &[], NOW)
        .await
        .unwrap();
    assert!(
        out["status"]["error"]
            .as_str()
            .unwrap()
            .contains("is invalid for the target audiences [\"vault\"]")
    );

    let empty = json!({"spec": {}});
    let e = token_review_response(&keys, &store, &empty, &[], NOW)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "token is required for TokenReview in authentication"
    );
}

#[test]
fn every_namespace_gets_a_default_service_account() {
    assert_eq!(
        default_service_account("shop"),
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "shop"},
        })
    );
}
