//! Bearer-token authentication: a verified token whose audience is ours and whose service
//! account (and bound object) still exist with the uids the token names.

use std::collections::BTreeMap;

use rk3s_store::Backend;
use serde_json::Value;

use super::ServiceAccountError;
use super::claims::{LEEWAY_SECONDS, ObjectRef, VerifiedClaims};
use super::keys::TokenKeys;
use super::legacy::{LegacyClaims, stored_token};

pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";
pub const EXTRA_NODE_NAME: &str = "authentication.kubernetes.io/node-name";
pub const EXTRA_NODE_UID: &str = "authentication.kubernetes.io/node-uid";
pub const EXTRA_CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// Who a token says the caller is, once every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// `system:serviceaccount:<ns>:<name>`.
    pub user: String,
    /// The service account's uid.
    pub uid: String,
    pub groups: Vec<String>,
    /// The token's audiences that the server accepts.
    pub audiences: Vec<String>,
    /// TokenReview `user.extra`: the bound pod or node and the credential id (`JTI=<jti>`).
    pub extra: BTreeMap<String, Vec<String>>,
    pub claims: VerifiedClaims,
}

/// `(user, groups, audiences)` for a valid token, `None` otherwise. The reason for a
/// refusal is in [`authenticate_detailed`]; request handling should answer 401 either way.
pub async fn authenticate(
    keys: &TokenKeys,
    store: &dyn Backend,
    token: &str,
    api_audiences: &[String],
    now: i64,
) -> Option<(String, Vec<String>, Vec<String>)> {
    let a = authenticate_detailed(keys, store, token, api_audiences, now)
        .await
        .ok()?;
    Some((a.user, a.groups, a.audiences))
}

/// As [`authenticate`], with the reason for a refusal. `api_audiences` empty means the
/// issuer (upstream's `--api-audiences` default).
pub async fn authenticate_detailed(
    keys: &TokenKeys,
    store: &dyn Backend,
    token: &str,
    api_audiences: &[String],
    now: i64,
) -> Result<Authenticated, ServiceAccountError> {
    authenticate_for(keys, store, token, api_audiences, api_audiences, now).await
}

/// Authenticate for the `requested` audiences (a TokenReview's, else the server's); legacy
/// tokens carry no audience and count as having the server's `implicit` ones, as upstream
/// treats them. Either list empty means the issuer.
pub(crate) async fn authenticate_for(
    keys: &TokenKeys,
    store: &dyn Backend,
    token: &str,
    requested: &[String],
    implicit: &[String],
    now: i64,
) -> Result<Authenticated, ServiceAccountError> {
    let or_issuer = |list: &[String]| -> Vec<String> {
        if list.is_empty() {
            vec![keys.issuer().to_string()]
        } else {
            list.to_vec()
        }
    };
    let wanted = or_issuer(requested);
    let claims = match keys.verify_any(token, now)? {
        VerifiedClaims::Bound(claims) => claims,
        VerifiedClaims::Legacy(legacy) => {
            let token_audiences = or_issuer(implicit);
            let audiences: Vec<String> = token_audiences
                .iter()
                .filter(|a| wanted.contains(a))
                .cloned()
                .collect();
            if audiences.is_empty() {
                return Err(ServiceAccountError::AudienceMismatch {
                    token: token_audiences,
                    wanted,
                });
            }
            return authenticate_legacy(store, token, legacy, audiences, now).await;
        }
    };
    let audiences: Vec<String> = claims
        .aud
        .iter()
        .filter(|a| wanted.contains(a))
        .cloned()
        .collect();
    if audiences.is_empty() {
        return Err(ServiceAccountError::AudienceMismatch {
            token: claims.aud.clone(),
            wanted,
        });
    }
    let ns = claims.namespace();
    let sa = claims.service_account();
    if !still_there(store, "serviceaccounts", Some(ns), sa, now).await? {
        return Err(ServiceAccountError::ServiceAccountGone {
            namespace: ns.to_string(),
            name: sa.name.clone(),
        });
    }
    let k8s = &claims.kubernetes;
    let bound = [
        ("Pod", "pods", Some(ns), k8s.pod.as_ref()),
        ("Secret", "secrets", Some(ns), k8s.secret.as_ref()),
        ("Node", "nodes", None, k8s.node.as_ref()),
    ];
    for (kind, resource, namespace, object) in bound {
        let Some(object) = object else { continue };
        if !still_there(store, resource, namespace, object, now).await? {
            return Err(ServiceAccountError::BoundObjectGone {
                kind,
                namespace: namespace.unwrap_or("").to_string(),
                name: object.name.clone(),
            });
        }
    }

    let mut extra = BTreeMap::new();
    if let Some(pod) = &k8s.pod {
        extra.insert(EXTRA_POD_NAME.to_string(), vec![pod.name.clone()]);
        extra.insert(EXTRA_POD_UID.to_string(), vec![pod.uid.clone()]);
    }
    if let Some(node) = &k8s.node {
        extra.insert(EXTRA_NODE_NAME.to_string(), vec![node.name.clone()]);
        extra.insert(EXTRA_NODE_UID.to_string(), vec![node.uid.clone()]);
    }
    if !claims.jti.is_empty() {
        extra.insert(
            EXTRA_CREDENTIAL_ID.to_string(),
            vec![format!("JTI={}", claims.jti)],
        );
    }
    Ok(Authenticated {
        user: claims.sub.clone(),
        uid: sa.uid.clone(),
        groups: vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".to_string(),
        ],
        audiences,
        extra,
        claims: VerifiedClaims::Bound(claims),
    })
}

/// A legacy token is good while the secret holding it exists, still holds exactly this
/// token and is not being deleted, and its service account lives with the uid it names.
async fn authenticate_legacy(
    store: &dyn Backend,
    token: &str,
    claims: LegacyClaims,
    audiences: Vec<String>,
    now: i64,
) -> Result<Authenticated, ServiceAccountError> {
    let ns = claims.namespace.as_str();
    let gone = || ServiceAccountError::SecretGone {
        namespace: ns.to_string(),
        name: claims.secret_name.clone(),
    };
    if !safe_name(ns) || !safe_name(&claims.secret_name) {
        return Err(gone());
    }
    let key = format!("/registry/secrets/{ns}/{}", claims.secret_name);
    let secret = match store.get(&key, 0).await {
        Ok(Some(kv)) => serde_json::from_slice::<Value>(&kv.value).map_err(|_| gone())?,
        Ok(None) => return Err(gone()),
        Err(source) => return Err(ServiceAccountError::StoreFailed { key, source }),
    };
    if secret.pointer("/metadata/deletionTimestamp").is_some()
        || stored_token(&secret).as_deref() != Some(token.as_bytes())
    {
        return Err(ServiceAccountError::TokenInvalidated);
    }
    let sa = ObjectRef {
        name: claims.sa_name.clone(),
        uid: claims.sa_uid.clone(),
    };
    if !still_there(store, "serviceaccounts", Some(ns), &sa, now).await? {
        return Err(ServiceAccountError::ServiceAccountGone {
            namespace: ns.to_string(),
            name: sa.name,
        });
    }
    Ok(Authenticated {
        user: claims.sub.clone(),
        uid: claims.sa_uid.clone(),
        groups: vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".to_string(),
        ],
        audiences,
        extra: BTreeMap::new(),
        claims: VerifiedClaims::Legacy(claims),
    })
}

fn safe_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/')
}

/// Whether the object the token names is stored with the same uid and not deleted for
/// longer than the leeway (upstream lets a token outlive its pod's deletion by a minute, so
/// a terminating pod can still report in).
async fn still_there(
    store: &dyn Backend,
    resource: &str,
    namespace: Option<&str>,
    object: &ObjectRef,
    now: i64,
) -> Result<bool, ServiceAccountError> {
    if !safe_name(&object.name) || namespace.is_some_and(|n| !safe_name(n)) {
        return Ok(false);
    }
    let key = match namespace {
        Some(ns) => format!("/registry/{resource}/{ns}/{}", object.name),
        None => format!("/registry/{resource}/{}", object.name),
    };
    let kv = match store.get(&key, 0).await {
        Ok(Some(kv)) => kv,
        Ok(None) => return Ok(false),
        Err(source) => return Err(ServiceAccountError::StoreFailed { key, source }),
    };
    let Ok(stored) = serde_json::from_slice::<Value>(&kv.value) else {
        return Ok(false);
    };
    let meta = |f: &str| {
        stored
            .pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
    };
    if meta("uid") != Some(object.uid.as_str()) {
        return Ok(false);
    }
    if let Some(deleted) = meta("deletionTimestamp") {
        let at = deleted
            .parse::<jiff::Timestamp>()
            .map(|t| t.as_second())
            .unwrap_or(i64::MIN);
        if at < now - LEEWAY_SECONDS {
            return Ok(false);
        }
    }
    Ok(true)
}
