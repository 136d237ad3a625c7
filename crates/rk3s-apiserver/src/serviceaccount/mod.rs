//! Service-account identity: signing keys, bound service-account tokens (ES256 JWS), token
//! authentication against the store, and the TokenRequest/TokenReview objects.
//!
//! Entry points: [`TokenKeys::load_or_create`] at startup, [`authenticate`] for every request
//! carrying `Authorization: Bearer <token>`, [`token_request_response`] for
//! `POST .../serviceaccounts/<name>/token`, [`token_review_response`] for TokenReview creates,
//! [`default_service_account`] when a namespace is created, and [`spawn_token_controller`]
//! for legacy token Secrets (`kubernetes.io/service-account-token`), whose non-expiring tokens
//! authenticate only while the Secret still holds them.
//!
//! Tokens follow upstream's bound service-account tokens: claims `iss`, `sub`, `aud`, `exp`,
//! `iat`, `nbf`, `jti` and the private `kubernetes.io` claim naming the namespace, the service
//! account and the object the token is bound to. A token stays valid only while its service
//! account (and bound pod or secret) exists with the uid recorded in the token.

mod api;
mod authenticate;
mod claims;
mod jws;
mod keys;
mod legacy;
mod token_controller;

#[cfg(test)]
mod tests;

pub use api::{
    TokenRequestError, bound_object_key, default_service_account, token_request_response,
    token_review_response,
};
pub use authenticate::{Authenticated, authenticate, authenticate_detailed};
pub use claims::{
    BoundKind, BoundObject, Claims, DEFAULT_EXPIRATION_SECONDS, IssueRequest, KubernetesClaims,
    MAX_EXPIRATION_SECONDS, MIN_EXPIRATION_SECONDS, ObjectRef, VerifiedClaims,
};
pub use keys::{DEFAULT_ISSUER, TokenKeys};
pub use legacy::{
    LEGACY_ISSUER, LegacyClaims, NAME_ANNOTATION, SECRET_TYPE, SecretAction, UID_ANNOTATION,
    is_token_secret, reconcile_token_secret, stored_token, token_secret_service_account,
};
pub use token_controller::{reconcile_all_token_secrets, spawn_token_controller};

use std::path::PathBuf;

/// Every way loading keys, issuing or checking a token can fail. The messages end up in
/// TokenReview `status.error`, so they never contain the token or key material.
#[derive(Debug, thiserror::Error)]
pub enum ServiceAccountError {
    #[error("reading {path}")]
    ReadKeyFailed {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}")]
    WriteKeyFailed {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a PEM PKCS#8 P-256 private key")]
    BadPrivateKey { path: PathBuf },
    #[error("generating a signing key failed")]
    KeyGenerationFailed,
    #[error("signing the token failed")]
    SigningFailed,
    #[error("token is malformed: {0}")]
    Malformed(&'static str),
    #[error("token was signed by an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer {0:?} is not accepted")]
    WrongIssuer(String),
    #[error("token audiences {token:?} is invalid for the target audiences {wanted:?}")]
    AudienceMismatch {
        token: Vec<String>,
        wanted: Vec<String>,
    },
    #[error("service account {namespace}/{name} has been deleted")]
    ServiceAccountGone { namespace: String, name: String },
    #[error("{kind} {namespace}/{name} bound to the token has been deleted")]
    BoundObjectGone {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("looking up {key}")]
    StoreFailed {
        key: String,
        source: rk3s_store::StoreError,
    },
    #[error("secret {namespace}/{name} holding the token has been deleted")]
    SecretGone { namespace: String, name: String },
    #[error("token has been invalidated")]
    TokenInvalidated,
    #[error("token is required for TokenReview in authentication")]
    TokenRequired,
}
