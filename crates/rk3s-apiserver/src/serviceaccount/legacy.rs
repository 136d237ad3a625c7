//! Legacy service-account tokens: the non-expiring tokens kept in Secrets of type
//! `kubernetes.io/service-account-token`, their claims, and what the token controller writes
//! into such a secret ([`reconcile_token_secret`]).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ServiceAccountError;
use super::claims::username;
use super::jws::{self, ALG, Header};
use super::keys::TokenKeys;

/// The issuer of legacy tokens, accepted whatever `--service-account-issuer` says.
pub const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

pub const SECRET_TYPE: &str = "kubernetes.io/service-account-token";
pub const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
pub const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";

/// The payload of a legacy token: no audience, no expiry; it lives as long as its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyClaims {
    pub iss: String,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace")]
    pub namespace: String,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name")]
    pub secret_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.name")]
    pub sa_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid")]
    pub sa_uid: String,
    pub sub: String,
}

impl LegacyClaims {
    pub fn new(namespace: &str, sa_name: &str, sa_uid: &str, secret_name: &str) -> Self {
        LegacyClaims {
            iss: LEGACY_ISSUER.to_string(),
            namespace: namespace.to_string(),
            secret_name: secret_name.to_string(),
            sa_name: sa_name.to_string(),
            sa_uid: sa_uid.to_string(),
            sub: username(namespace, sa_name),
        }
    }

    /// The claims of a payload whose `iss` is [`LEGACY_ISSUER`], checked for consistency.
    pub(crate) fn parse(payload: &[u8]) -> Result<LegacyClaims, ServiceAccountError> {
        let claims: LegacyClaims = serde_json::from_slice(payload)
            .map_err(|_| ServiceAccountError::Malformed("claims are not legacy token claims"))?;
        if claims.iss != LEGACY_ISSUER {
            return Err(ServiceAccountError::WrongIssuer(claims.iss));
        }
        let empty = [
            &claims.namespace,
            &claims.secret_name,
            &claims.sa_name,
            &claims.sa_uid,
        ]
        .iter()
        .any(|s| s.is_empty());
        if empty {
            return Err(ServiceAccountError::Malformed(
                "legacy token claims are incomplete",
            ));
        }
        if claims.sub != username(&claims.namespace, &claims.sa_name) {
            return Err(ServiceAccountError::Malformed(
                "subject does not match the service-account claims",
            ));
        }
        Ok(claims)
    }
}

impl TokenKeys {
    /// Sign a legacy token for the service account `sa_name` (uid `sa_uid`) held by the
    /// secret `secret_name`.
    pub fn issue_legacy(&self, claims: &LegacyClaims) -> Result<String, ServiceAccountError> {
        let payload = serde_json::to_vec(claims).map_err(|_| ServiceAccountError::SigningFailed)?;
        let header = Header {
            alg: ALG.to_string(),
            kid: Some(self.key_id().to_string()),
            crit: None,
        };
        let input = jws::signing_input(&header, &payload)?;
        let signature = self.sign(input.as_bytes())?;
        Ok(jws::join(&input, &signature))
    }
}

/// What the token controller does with a secret.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretAction {
    /// Not a token secret, being deleted, or already complete.
    Nothing,
    /// Its service account is gone (or is a different one of the same name).
    Delete,
    /// Store this version: token, `ca.crt`, `namespace` and the uid annotation filled in.
    Fill(Value),
}

pub fn is_token_secret(secret: &Value) -> bool {
    secret.get("type").and_then(Value::as_str) == Some(SECRET_TYPE)
}

/// The service account a token secret names (`None` for other secrets or a missing name).
pub fn token_secret_service_account(secret: &Value) -> Option<&str> {
    if !is_token_secret(secret) {
        return None;
    }
    secret
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(NAME_ANNOTATION))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Decide about a token secret given its service account as stored (`None`: absent) and the
/// cluster CA. A token already present is kept, as upstream keeps it; only a missing one is
/// issued.
pub fn reconcile_token_secret(
    keys: &TokenKeys,
    secret: &Value,
    sa: Option<&Value>,
    ca_pem: Option<&str>,
) -> Result<SecretAction, ServiceAccountError> {
    let Some(sa_name) = token_secret_service_account(secret) else {
        return Ok(SecretAction::Nothing);
    };
    if secret.pointer("/metadata/deletionTimestamp").is_some() {
        return Ok(SecretAction::Nothing);
    }
    let meta = |obj: &'_ Value, f: &str| -> String {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let Some(sa) = sa else {
        return Ok(SecretAction::Delete);
    };
    let sa_uid = meta(sa, "uid");
    let namespace = meta(secret, "namespace");
    let secret_name = meta(secret, "name");
    let wanted_uid = secret
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(UID_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    if meta(sa, "name") != sa_name || (!wanted_uid.is_empty() && wanted_uid != sa_uid) {
        return Ok(SecretAction::Delete);
    }
    if sa_uid.is_empty() || namespace.is_empty() || secret_name.is_empty() {
        return Ok(SecretAction::Nothing);
    }

    let mut out = secret.clone();
    let mut changed = false;
    if wanted_uid.is_empty() {
        out["metadata"]["annotations"][UID_ANNOTATION] = json!(sa_uid);
        changed = true;
    }
    if !out.get("data").is_some_and(Value::is_object) {
        out["data"] = json!({});
    }
    let data = &mut out["data"];
    let present = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    if !present(data.get("token")) {
        let claims = LegacyClaims::new(&namespace, sa_name, &sa_uid, &secret_name);
        let token = keys.issue_legacy(&claims)?;
        data["token"] = json!(STANDARD.encode(token));
        changed = true;
    }
    if let Some(ca) = ca_pem.filter(|c| !c.is_empty()) {
        let encoded = STANDARD.encode(ca);
        if data.get("ca.crt").and_then(Value::as_str) != Some(encoded.as_str()) {
            data["ca.crt"] = json!(encoded);
            changed = true;
        }
    }
    let encoded_ns = STANDARD.encode(&namespace);
    if data.get("namespace").and_then(Value::as_str) != Some(encoded_ns.as_str()) {
        data["namespace"] = json!(encoded_ns);
        changed = true;
    }
    Ok(if changed {
        SecretAction::Fill(out)
    } else {
        SecretAction::Nothing
    })
}

/// The token stored in a secret (`data.token`, base64), if any.
pub fn stored_token(secret: &Value) -> Option<Vec<u8>> {
    secret
        .pointer("/data/token")
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
}
