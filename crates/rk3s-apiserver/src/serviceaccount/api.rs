//! The API objects: TokenRequest (`serviceaccounts/<name>/token`), TokenReview, and the
//! `default` ServiceAccount each namespace gets. Pure functions of JSON, apart from the store
//! reads TokenReview needs to authenticate.

use rk3s_store::Backend;
use serde_json::{Map, Value, json};

use super::ServiceAccountError;
use super::authenticate::authenticate_for;
use super::claims::{
    BoundKind, BoundObject, DEFAULT_EXPIRATION_SECONDS, IssueRequest, MAX_EXPIRATION_SECONDS,
    MIN_EXPIRATION_SECONDS,
};
use super::keys::TokenKeys;
use crate::error::{ApiError, Cause, Subject};

const AUTHENTICATION_V1: &str = "authentication.k8s.io/v1";

/// Why a TokenRequest was refused, in upstream's categories (422, 400, 404, 409, 500).
#[derive(Debug, thiserror::Error)]
pub enum TokenRequestError {
    #[error("the token request is invalid")]
    Invalid(Vec<Cause>),
    #[error("{0}")]
    BadRequest(String),
    /// The bound object does not exist: `resource` is the plural (`pods`).
    #[error("{resource} {name:?} not found")]
    NotFound {
        resource: &'static str,
        name: String,
    },
    #[error("the bound object {kind} {name:?} changed: {message}")]
    Conflict {
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("the stored service account has no {0}")]
    IncompleteServiceAccount(&'static str),
    #[error("issuing the token failed")]
    IssueFailed(#[source] ServiceAccountError),
}

impl TokenRequestError {
    /// The Status to answer with; `sa_name` is the service account named in the URL.
    pub fn into_api_error(self, sa_name: &str) -> ApiError {
        match self {
            TokenRequestError::Invalid(causes) => {
                ApiError::invalid("TokenRequest", "authentication.k8s.io", sa_name, causes)
            }
            TokenRequestError::BadRequest(m) => ApiError::BadRequest(m),
            TokenRequestError::NotFound { resource, name } => {
                ApiError::not_found(&Subject::new("", resource, &name))
            }
            TokenRequestError::Conflict {
                kind,
                name,
                message,
            } => ApiError::conflict_with(&Subject::new("", kind, &name), &message),
            e @ (TokenRequestError::IncompleteServiceAccount(_)
            | TokenRequestError::IssueFailed(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A validated `spec.boundObjectRef`.
struct BoundRef {
    kind: BoundKind,
    name: String,
    uid: Option<String>,
}

fn decode_error(detail: &str) -> TokenRequestError {
    TokenRequestError::BadRequest(format!(
        "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {detail}"
    ))
}

fn bound_ref(request_body: &Value) -> Result<Option<BoundRef>, TokenRequestError> {
    let r = match request_body.pointer("/spec/boundObjectRef") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(r)) => r,
        Some(_) => return Err(decode_error("spec.boundObjectRef must be an object")),
    };
    let field = |f: &str| match r.get(f) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(decode_error(&format!(
            "spec.boundObjectRef.{f} must be a string"
        ))),
    };
    let (api_version, kind, name, uid) = (
        field("apiVersion")?,
        field("kind")?,
        field("name")?,
        field("uid")?,
    );
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    // Upstream matches on the group and kind only; the version is not consulted.
    let kind = match (group, kind) {
        ("", "Pod") => BoundKind::Pod,
        ("", "Secret") => BoundKind::Secret,
        ("", "Node") => BoundKind::Node,
        _ => {
            return Err(TokenRequestError::BadRequest(format!(
                "cannot bind token to object of type {group}/{version}, Kind={kind}"
            )));
        }
    };
    if name.is_empty() || name.contains('/') {
        return Err(TokenRequestError::BadRequest(
            "resource name may not be empty".into(),
        ));
    }
    Ok(Some(BoundRef {
        kind,
        name: name.to_string(),
        uid: Some(uid.to_string()).filter(|u| !u.is_empty()),
    }))
}

/// The store key of the object a TokenRequest binds to, for the caller to read and pass to
/// [`token_request_response`]; `None` when the token is unbound. Pods and secrets are looked
/// up in the service account's namespace, nodes cluster-wide.
pub fn bound_object_key(
    namespace: &str,
    request_body: &Value,
) -> Result<Option<String>, TokenRequestError> {
    Ok(bound_ref(request_body)?.map(|r| match r.kind {
        BoundKind::Pod => format!("/registry/pods/{namespace}/{}", r.name),
        BoundKind::Secret => format!("/registry/secrets/{namespace}/{}", r.name),
        BoundKind::Node => format!("/registry/nodes/{}", r.name),
    }))
}

/// Answer `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token`: `sa_obj` is the stored
/// ServiceAccount, `bound_obj` the object read at [`bound_object_key`] (`None` if absent).
/// Empty `spec.audiences` become `api_audiences` (or the issuer when that is empty too).
pub fn token_request_response(
    keys: &TokenKeys,
    sa_obj: &Value,
    request_body: &Value,
    bound_obj: Option<&Value>,
    api_audiences: &[String],
    now: i64,
) -> Result<Value, TokenRequestError> {
    let Value::Object(request) = request_body else {
        return Err(decode_error("the body must be a JSON object"));
    };
    if let Some(kind) = request.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != "TokenRequest"
    {
        return Err(TokenRequestError::BadRequest(format!(
            "the object provided is unrecognized (must be of type TokenRequest): kind {kind:?}"
        )));
    }
    let meta = |f: &str| {
        sa_obj
            .pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
    };
    let sa_name = meta("name").ok_or(TokenRequestError::IncompleteServiceAccount("name"))?;
    let namespace =
        meta("namespace").ok_or(TokenRequestError::IncompleteServiceAccount("namespace"))?;
    let sa_uid = meta("uid").ok_or(TokenRequestError::IncompleteServiceAccount("uid"))?;

    let spec = match request.get("spec") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(s)) => s.clone(),
        Some(_) => return Err(decode_error("spec must be an object")),
    };
    let mut audiences = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| decode_error("spec.audiences must be a list of strings"))?,
        Some(_) => return Err(decode_error("spec.audiences must be a list of strings")),
    };
    if audiences.is_empty() {
        audiences = if api_audiences.is_empty() {
            vec![keys.issuer().to_string()]
        } else {
            api_audiences.to_vec()
        };
    }
    let mut expiration = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| decode_error("spec.expirationSeconds must be an integer"))?,
    };

    let mut causes = Vec::new();
    if expiration < MIN_EXPIRATION_SECONDS {
        causes.push(expiration_cause(
            expiration,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        causes.push(expiration_cause(
            expiration,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if !causes.is_empty() {
        return Err(TokenRequestError::Invalid(causes));
    }
    expiration = expiration.min(MAX_EXPIRATION_SECONDS);

    let bound = match bound_ref(request_body)? {
        None => None,
        Some(r) => Some(check_bound(&r, sa_name, bound_obj)?),
    };
    let issue = IssueRequest {
        namespace: namespace.to_string(),
        sa_name: sa_name.to_string(),
        sa_uid: sa_uid.to_string(),
        audiences: audiences.clone(),
        expiration_seconds: expiration,
        bound,
    };
    let (token, exp) = keys
        .issue(&issue, now)
        .map_err(TokenRequestError::IssueFailed)?;

    let mut out = request.clone();
    out.insert("apiVersion".into(), json!(AUTHENTICATION_V1));
    out.insert("kind".into(), json!("TokenRequest"));
    let mut metadata = match out.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    metadata.entry("name").or_insert_with(|| json!(sa_name));
    metadata
        .entry("namespace")
        .or_insert_with(|| json!(namespace));
    metadata.entry("creationTimestamp").or_insert(Value::Null);
    out.insert("metadata".into(), Value::Object(metadata));
    let mut spec = spec;
    spec.insert("audiences".into(), json!(audiences));
    spec.insert("expirationSeconds".into(), json!(expiration));
    spec.entry("boundObjectRef").or_insert(Value::Null);
    out.insert("spec".into(), Value::Object(spec));
    out.insert(
        "status".into(),
        json!({"token": token, "expirationTimestamp": rfc3339(exp)}),
    );
    Ok(Value::Object(out))
}

fn expiration_cause(value: i64, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: "spec.expirationSeconds".into(),
        message: format!("Invalid value: {value}: {detail}"),
    }
}

fn check_bound(
    r: &BoundRef,
    sa_name: &str,
    bound_obj: Option<&Value>,
) -> Result<BoundObject, TokenRequestError> {
    let resource = match r.kind {
        BoundKind::Pod => "pods",
        BoundKind::Secret => "secrets",
        BoundKind::Node => "nodes",
    };
    let obj = bound_obj.ok_or_else(|| TokenRequestError::NotFound {
        resource,
        name: r.name.clone(),
    })?;
    if r.kind == BoundKind::Pod {
        // A pod without the field runs as `default` (upstream defaults it on create).
        let pod_sa = obj
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        if pod_sa != sa_name {
            return Err(TokenRequestError::BadRequest(format!(
                "cannot bind token for serviceaccount {sa_name:?} to pod running with different serviceaccount name."
            )));
        }
    }
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(wanted) = &r.uid
        && wanted != uid
    {
        return Err(TokenRequestError::Conflict {
            kind: r.kind.kind(),
            name: r.name.clone(),
            message: format!(
                "the UID in the bound object reference ({wanted}) does not match the UID in record. The object might have been deleted and then recreated"
            ),
        });
    }
    Ok(BoundObject {
        kind: r.kind,
        name: r.name.clone(),
        uid: uid.to_string(),
    })
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::MAX)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Answer a TokenReview create. `spec.audiences` empty means `api_audiences` (or the issuer).
/// A missing token is the one request error (400, upstream's message); every failure to
/// authenticate is an answer with `status.error`.
pub async fn token_review_response(
    keys: &TokenKeys,
    store: &dyn Backend,
    review: &Value,
    api_audiences: &[String],
    now: i64,
) -> Result<Value, ServiceAccountError> {
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("");
    if token.is_empty() {
        return Err(ServiceAccountError::TokenRequired);
    }
    let requested: Vec<String> = review
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let audiences = if requested.is_empty() {
        api_audiences
    } else {
        &requested[..]
    };
    let status = match authenticate_for(keys, store, token, audiences, api_audiences, now).await {
        Ok(a) => json!({
            "authenticated": true,
            "user": {
                "username": a.user,
                "uid": a.uid,
                "groups": a.groups,
                "extra": a.extra,
            },
            "audiences": a.audiences,
        }),
        // Upstream omits `authenticated: false` (omitempty) and leaves the user empty.
        Err(e) => {
            json!({"user": {}, "error": format!("invalid bearer token, {}", error_chain(&e))})
        }
    };
    let mut out = match review {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    out.insert("apiVersion".into(), json!(AUTHENTICATION_V1));
    out.insert("kind".into(), json!("TokenReview"));
    let mut metadata = match out.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    metadata.entry("creationTimestamp").or_insert(Value::Null);
    out.insert("metadata".into(), Value::Object(metadata));
    out.insert("status".into(), status);
    Ok(Value::Object(out))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The `default` ServiceAccount created in every namespace. Server-owned metadata (uid,
/// creationTimestamp) is left to the create path that stores it.
pub fn default_service_account(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    })
}
