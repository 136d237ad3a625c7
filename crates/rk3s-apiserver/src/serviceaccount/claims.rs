//! Token claims, and issuing and verifying tokens with a [`TokenKeys`].

use serde::{Deserialize, Deserializer, Serialize};

use super::ServiceAccountError;
use super::jws::{self, ALG, Header};
use super::keys::TokenKeys;
use super::legacy::{LEGACY_ISSUER, LegacyClaims};

/// Upstream's TokenRequest floor (validation refuses less).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Upstream's default `spec.expirationSeconds`.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Longer requests are shortened to this, as `--service-account-max-token-expiration=48h`
/// does upstream.
pub const MAX_EXPIRATION_SECONDS: i64 = 48 * 3600;

/// Clock skew tolerated between the issuer and this server when checking `exp`, `nbf`, `iat`
/// (the JOSE library upstream uses allows the same minute).
pub const LEEWAY_SECONDS: i64 = 60;

/// What kind of object a token is bound to: the token dies with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundKind {
    Pod,
    Secret,
    Node,
}

impl BoundKind {
    pub fn kind(self) -> &'static str {
        match self {
            BoundKind::Pod => "Pod",
            BoundKind::Secret => "Secret",
            BoundKind::Node => "Node",
        }
    }
}

/// A verified token's claims: a bound token's, or a legacy secret-held token's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedClaims {
    Bound(Claims),
    Legacy(LegacyClaims),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundObject {
    pub kind: BoundKind,
    pub name: String,
    pub uid: String,
}

/// What a token is for. `audiences` empty means the issuer; `expiration_seconds` of 0 or less
/// means [`DEFAULT_EXPIRATION_SECONDS`], otherwise it is clamped into
/// [`MIN_EXPIRATION_SECONDS`]..=[`MAX_EXPIRATION_SECONDS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    pub namespace: String,
    pub sa_name: String,
    pub sa_uid: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub bound: Option<BoundObject>,
}

impl IssueRequest {
    pub fn effective_expiration_seconds(&self) -> i64 {
        if self.expiration_seconds <= 0 {
            DEFAULT_EXPIRATION_SECONDS
        } else {
            self.expiration_seconds
                .clamp(MIN_EXPIRATION_SECONDS, MAX_EXPIRATION_SECONDS)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    pub serviceaccount: ObjectRef,
}

/// A token's payload. Field order follows upstream's (alphabetical) so tokens look alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// RFC 7519 allows a single string; we always write a list.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub nbf: i64,
    pub sub: String,
}

impl Claims {
    pub fn namespace(&self) -> &str {
        &self.kubernetes.namespace
    }

    pub fn service_account(&self) -> &ObjectRef {
        &self.kubernetes.serviceaccount
    }
}

/// `system:serviceaccount:<ns>:<name>`, the user name of a service account.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

impl TokenKeys {
    /// Sign a token for `req`; returns it with its expiry (unix seconds).
    pub fn issue(
        &self,
        req: &IssueRequest,
        now: i64,
    ) -> Result<(String, i64), ServiceAccountError> {
        let exp = now.saturating_add(req.effective_expiration_seconds());
        let audiences = if req.audiences.is_empty() {
            vec![self.issuer().to_string()]
        } else {
            req.audiences.clone()
        };
        let bound = |kind| {
            req.bound
                .as_ref()
                .filter(|b| b.kind == kind)
                .map(|b| ObjectRef {
                    name: b.name.clone(),
                    uid: b.uid.clone(),
                })
        };
        let claims = Claims {
            aud: audiences,
            exp,
            iat: now,
            iss: self.issuer().to_string(),
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: req.namespace.clone(),
                node: bound(BoundKind::Node),
                pod: bound(BoundKind::Pod),
                secret: bound(BoundKind::Secret),
                serviceaccount: ObjectRef {
                    name: req.sa_name.clone(),
                    uid: req.sa_uid.clone(),
                },
            },
            nbf: now,
            sub: username(&req.namespace, &req.sa_name),
        };
        let payload =
            serde_json::to_vec(&claims).map_err(|_| ServiceAccountError::SigningFailed)?;
        let header = Header {
            alg: ALG.to_string(),
            kid: Some(self.key_id().to_string()),
            crit: None,
        };
        let input = jws::signing_input(&header, &payload)?;
        let signature = self.sign(input.as_bytes())?;
        Ok((jws::join(&input, &signature), exp))
    }

    /// Check the signature, the time window (with [`LEEWAY_SECONDS`]) and the issuer. The
    /// audience and the live objects are the caller's to check ([`super::authenticate`]).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, ServiceAccountError> {
        let payload = self.verified_payload(token)?;
        self.bound_claims(&payload, now)
    }

    /// As [`TokenKeys::verify`], also accepting legacy tokens (issuer [`LEGACY_ISSUER`]),
    /// which have no time window; whether their secret still holds them is the caller's check.
    pub fn verify_any(&self, token: &str, now: i64) -> Result<VerifiedClaims, ServiceAccountError> {
        let payload = self.verified_payload(token)?;
        #[derive(Deserialize)]
        struct Issuer {
            #[serde(default)]
            iss: String,
        }
        let issuer: Issuer = serde_json::from_slice(&payload)
            .map_err(|_| ServiceAccountError::Malformed("claims are not a JSON object"))?;
        if issuer.iss == LEGACY_ISSUER {
            return LegacyClaims::parse(&payload).map(VerifiedClaims::Legacy);
        }
        self.bound_claims(&payload, now).map(VerifiedClaims::Bound)
    }

    /// The payload of a token signed by our key.
    fn verified_payload(&self, token: &str) -> Result<Vec<u8>, ServiceAccountError> {
        let parts = jws::split(token)?;
        if parts
            .header
            .kid
            .as_deref()
            .is_some_and(|k| k != self.key_id())
        {
            return Err(ServiceAccountError::UnknownKey);
        }
        self.verify_signature(parts.signing_input.as_bytes(), &parts.signature)?;
        Ok(parts.payload)
    }

    fn bound_claims(&self, payload: &[u8], now: i64) -> Result<Claims, ServiceAccountError> {
        let claims: Claims = serde_json::from_slice(payload)
            .map_err(|_| ServiceAccountError::Malformed("claims are not service-account claims"))?;
        if !self.accepts_issuer(&claims.iss) {
            return Err(ServiceAccountError::WrongIssuer(claims.iss));
        }
        if now > claims.exp.saturating_add(LEEWAY_SECONDS) {
            return Err(ServiceAccountError::Expired);
        }
        if now < claims.nbf.saturating_sub(LEEWAY_SECONDS)
            || now < claims.iat.saturating_sub(LEEWAY_SECONDS)
        {
            return Err(ServiceAccountError::NotYetValid);
        }
        let sa = &claims.kubernetes.serviceaccount;
        if claims.sub != username(&claims.kubernetes.namespace, &sa.name) {
            return Err(ServiceAccountError::Malformed(
                "subject does not match the kubernetes.io claim",
            ));
        }
        Ok(claims)
    }
}
