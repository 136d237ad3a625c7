//! Kinds that are answered, never stored: SelfSubjectReview (`kubectl auth whoami`) and
//! SelfSubjectAccessReview (`kubectl auth can-i`).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Ctx, render};
use crate::auth;
use crate::error::{ApiError, ApiResult, Subject};
use crate::negotiate;

/// Answer a create on a kind without storage, or refuse clearly.
pub async fn create(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let rt = &ctx.target.rt;
    let format = negotiate::body_format(ctx.headers)?;
    let mut review = negotiate::decode_body(format, body)?;
    if !review.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the body must be a {} object",
            rt.kind
        )));
    }
    review["apiVersion"] = json!(rt.api_version());
    review["kind"] = json!(rt.kind);
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("authentication.k8s.io", "selfsubjectreviews") => {
            review["status"] = json!({
                "userInfo": {"username": ctx.identity.user, "groups": ctx.identity.groups},
            });
        }
        ("authorization.k8s.io", "selfsubjectaccessreviews") => {
            let allowed = match review.pointer("/spec/resourceAttributes") {
                Some(attrs) => {
                    let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
                    let subject = Subject::new(s("group"), s("resource"), s("name"));
                    let ns = Some(s("namespace")).filter(|n| !n.is_empty());
                    auth::authorize(ctx.identity, s("verb"), &subject, ns).is_ok()
                }
                None => {
                    let path = review
                        .pointer("/spec/nonResourceAttributes/path")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    auth::authorize_path(ctx.identity, path).is_ok()
                }
            };
            review["status"] = json!({"allowed": allowed});
        }
        _ => {
            return Err(ApiError::MethodNotAllowed(format!(
                "{} are not served yet by this version of rk3s",
                rt.plural
            )));
        }
    }
    Ok(render::json(StatusCode::CREATED, &review))
}
