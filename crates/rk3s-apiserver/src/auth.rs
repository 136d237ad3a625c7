//! Who is calling (authentication) and whether they may (authorization).
//!
//! Authentication: x509 client certificates signed by the client CA (verified during the TLS
//! handshake; the certificate's CN is the user and its O values the groups) or service-account
//! bearer tokens (`handlers::authenticate`). Authorization: [`check`] asks the RBAC + Node
//! authorizer when the server runs one; without it (in-process tests) only `system:masters`
//! and self reviews are allowed.

use crate::error::{ApiError, ApiResult, Subject};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    pub fn from_cert(der: &[u8]) -> Option<Identity> {
        let id = rk3s_pki::identity_from_cert_der(der).ok()?;
        let mut groups = id.groups;
        groups.push("system:authenticated".to_string());
        Some(Identity {
            user: id.user,
            groups,
        })
    }

    /// The identity in-process components use (controllers, the namespace finalizer).
    pub fn loopback() -> Identity {
        Identity {
            user: "system:apiserver".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
}

/// The identity a connection presented, attached to every request on it.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity(pub Option<Identity>);

/// Require an authenticated caller (401 otherwise).
pub fn authenticate(peer: &PeerIdentity) -> ApiResult<&Identity> {
    peer.0.as_ref().ok_or(ApiError::Unauthorized)
}

/// Decide whether `id` may perform `verb` on the subject.
pub fn authorize(
    id: &Identity,
    verb: &str,
    subject: &Subject,
    namespace: Option<&str>,
) -> ApiResult<()> {
    if id.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    // What upstream's system:basic-user role grants every authenticated user: asking about
    // oneself.
    let self_review = verb == "create"
        && matches!(
            (subject.group.as_str(), subject.resource.as_str()),
            ("authentication.k8s.io", "selfsubjectreviews")
                | ("authorization.k8s.io", "selfsubjectaccessreviews")
                | ("authorization.k8s.io", "selfsubjectrulesreviews")
        );
    if self_review {
        return Ok(());
    }
    Err(ApiError::forbidden(&id.user, verb, subject, namespace))
}

/// Authorization for non-resource URLs (`/version`, `/metrics`, discovery).
pub fn authorize_path(id: &Identity, path: &str) -> ApiResult<()> {
    if id.groups.iter().any(|g| g == "system:masters") {
        return Ok(());
    }
    // Discovery, version and health are readable by every authenticated user, as upstream's
    // system:discovery and system:public-info-viewer roles allow.
    let public = matches!(
        path,
        "/version" | "/healthz" | "/livez" | "/readyz" | "/api" | "/apis"
    ) || path.starts_with("/api/")
        || path.starts_with("/apis/")
        || path.starts_with("/openapi/");
    if public {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        message: format!("forbidden: User \"{}\" cannot get path \"{path}\"", id.user),
        kind: String::new(),
        name: String::new(),
        group: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_outside_system_masters_are_forbidden_with_upstream_wording() {
        let id = Identity {
            user: "alice".into(),
            groups: vec!["dev".into()],
        };
        let e = authorize(&id, "list", &Subject::new("", "pods", ""), Some("default")).unwrap_err();
        assert_eq!(e.code(), http::StatusCode::FORBIDDEN);
        assert_eq!(
            e.to_string(),
            "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
        );
        assert!(
            authorize(
                &Identity::loopback(),
                "delete",
                &Subject::new("", "pods", "x"),
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn missing_identity_is_unauthorized() {
        assert!(matches!(
            authenticate(&PeerIdentity(None)),
            Err(ApiError::Unauthorized)
        ));
    }
}

/// Authorize a request described by `attrs` for `id`, through RBAC when the server has it.
pub fn check(
    state: &crate::ApiState,
    id: &Identity,
    attrs: &crate::rbac::Attributes,
) -> ApiResult<()> {
    let Some(authz) = &state.authorizer else {
        return match &attrs.path {
            Some(path) => authorize_path(id, path),
            None => {
                let resource = if attrs.subresource.is_empty() {
                    attrs.resource.clone()
                } else {
                    format!("{}/{}", attrs.resource, attrs.subresource)
                };
                let subject = Subject::new(&attrs.api_group, &resource, &attrs.name);
                let ns = Some(attrs.namespace.as_str()).filter(|n| !n.is_empty());
                authorize(id, &attrs.verb, &subject, ns)
            }
        };
    };
    let decision = authz.authorize(&id.user, &id.groups, attrs);
    if decision.allowed {
        return Ok(());
    }
    let suffix = if decision.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", decision.reason)
    };
    Err(match &attrs.path {
        Some(path) => ApiError::Forbidden {
            message: format!(
                "forbidden: User \"{}\" cannot {} path \"{path}\"{suffix}",
                id.user, attrs.verb
            ),
            kind: String::new(),
            name: String::new(),
            group: String::new(),
        },
        None => {
            let resource = if attrs.subresource.is_empty() {
                attrs.resource.clone()
            } else {
                format!("{}/{}", attrs.resource, attrs.subresource)
            };
            let subject = Subject::new(&attrs.api_group, &resource, &attrs.name);
            let ns = Some(attrs.namespace.as_str()).filter(|n| !n.is_empty());
            match ApiError::forbidden(&id.user, &attrs.verb, &subject, ns) {
                ApiError::Forbidden {
                    message,
                    name,
                    group,
                    ..
                } => ApiError::Forbidden {
                    message: format!("{message}{suffix}"),
                    kind: attrs.resource.clone(),
                    name,
                    group,
                },
                other => other,
            }
        }
    })
}
