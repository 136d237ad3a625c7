//! API errors and their one mapping to a Kubernetes `Status` response.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// A field-level cause inside an `Invalid` or `BadRequest` Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueDuplicate`, ...
    pub reason: &'static str,
    pub field: String,
    pub message: String,
}

/// Every way an API request can fail, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden {
        message: String,
        kind: String,
        name: String,
        group: String,
    },
    #[error("{message}")]
    NotFound {
        message: String,
        kind: String,
        name: String,
        group: String,
    },
    #[error("{message}")]
    AlreadyExists {
        message: String,
        kind: String,
        name: String,
        group: String,
    },
    #[error("{message}")]
    Conflict {
        message: String,
        kind: String,
        name: String,
        group: String,
    },
    #[error("{message}")]
    Invalid {
        message: String,
        kind: String,
        name: String,
        group: String,
        causes: Vec<Cause>,
    },
    /// Server-side apply conflicts: 409 `Conflict` with one cause per field.
    #[error("{message}")]
    FieldConflicts { message: String, causes: Vec<Cause> },
    #[error("{0}")]
    Gone(String),
    /// A `continue` token too old to serve; carries a fresh token for the remainder (upstream
    /// returns it in the Status's `metadata.continue`).
    #[error("{message}")]
    ContinueExpired {
        message: String,
        fresh_continue: String,
    },
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    Unavailable(String),
}

/// The identity of the object an error is about, for the Status `details`.
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub group: String,
    /// The resource's plural (upstream puts the resource name in `details.kind`).
    pub resource: String,
    pub name: String,
}

impl Subject {
    pub fn new(group: &str, resource: &str, name: &str) -> Self {
        Subject {
            group: group.to_string(),
            resource: resource.to_string(),
            name: name.to_string(),
        }
    }

    /// `pods "web"` or `deployments.apps "web"`, as upstream qualifies resources in messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    pub fn not_found(s: &Subject) -> Self {
        ApiError::NotFound {
            message: format!("{} \"{}\" not found", s.qualified(), s.name),
            kind: s.resource.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
        }
    }

    pub fn already_exists(s: &Subject) -> Self {
        ApiError::AlreadyExists {
            message: format!("{} \"{}\" already exists", s.qualified(), s.name),
            kind: s.resource.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
        }
    }

    pub fn conflict(s: &Subject) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                s.qualified(),
                s.name
            ),
            kind: s.resource.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
        }
    }

    pub fn conflict_with(s: &Subject, why: &str) -> Self {
        ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                s.qualified(),
                s.name,
                why
            ),
            kind: s.resource.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
        }
    }

    /// An `Invalid` (422) error; `kind` is the object's Kind as upstream reports it.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let joined: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let list = if joined.len() == 1 {
            joined[0].clone()
        } else {
            format!("[{}]", joined.join(", "))
        };
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        ApiError::Invalid {
            message: format!("{qualified} \"{name}\" is invalid: {list}"),
            kind: kind.to_string(),
            name: name.to_string(),
            group: group.to_string(),
            causes,
        }
    }

    pub fn forbidden(user: &str, verb: &str, s: &Subject, namespace: Option<&str>) -> Self {
        let scope = match namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        let what = if s.name.is_empty() {
            s.qualified()
        } else {
            format!("{} \"{}\"", s.qualified(), s.name)
        };
        ApiError::Forbidden {
            message: format!(
                "{what} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
                s.resource, s.group
            ),
            kind: s.resource.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
        }
    }

    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::FieldConflicts { .. } => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Gone(_) | ApiError::ContinueExpired { .. } => StatusCode::GONE,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::NotFound { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::FieldConflicts { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::Gone(_) | ApiError::ContinueExpired { .. } => "Expired",
            ApiError::MethodNotAllowed(_) => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::Timeout(_) => "Timeout",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::Unavailable(_) => "ServiceUnavailable",
        }
    }

    /// The `Status` object for this error.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        let details = match self {
            ApiError::Forbidden {
                kind, name, group, ..
            }
            | ApiError::NotFound {
                kind, name, group, ..
            }
            | ApiError::AlreadyExists {
                kind, name, group, ..
            }
            | ApiError::Conflict {
                kind, name, group, ..
            } => Some(details(name, group, kind, &[])),
            ApiError::Invalid {
                kind,
                name,
                group,
                causes,
                ..
            } => Some(details(name, group, kind, causes)),
            _ => None,
        };
        if let Some(d) = details {
            status["details"] = d;
        }
        if let ApiError::FieldConflicts { causes, .. } = self {
            status["details"] = self::details("", "", "", causes);
        }
        if let ApiError::ContinueExpired { fresh_continue, .. } = self {
            status["metadata"] = json!({"continue": fresh_continue});
        }
        status
    }
}

fn details(name: &str, group: &str, kind: &str, causes: &[Cause]) -> Value {
    let mut d = serde_json::Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    d.insert("kind".into(), json!(kind));
    if !causes.is_empty() {
        let c: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        d.insert("causes".into(), Value::Array(c));
    }
    Value::Object(d)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        (
            self.code(),
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

impl From<rk3s_store::StoreError> for ApiError {
    /// Store errors that reach here without a more specific mapping are server-side faults.
    fn from(e: rk3s_store::StoreError) -> Self {
        match e {
            rk3s_store::StoreError::Compacted { compact_revision } => ApiError::Gone(format!(
                "The resourceVersion for the provided watch is too old (compacted at revision {compact_revision})."
            )),
            rk3s_store::StoreError::FutureRevision { current } => ApiError::Timeout(format!(
                "Too large resource version: the requested revision is newer than the current revision {current}"
            )),
            other => ApiError::Internal(format!("storage error: {other}")),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_status_names_the_resource_like_upstream() {
        let s = ApiError::not_found(&Subject::new("apps", "deployments", "web")).status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "deployments.apps \"web\" not found");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["details"]["group"], "apps");
    }

    #[test]
    fn invalid_status_lists_each_field_cause() {
        let e = ApiError::invalid(
            "ConfigMap",
            "",
            "Bad_Name",
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: "bad".into(),
            }],
        );
        let s = e.status();
        assert_eq!(s["code"], 422);
        assert_eq!(
            s["message"],
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: bad"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "metadata.name");
    }
}
