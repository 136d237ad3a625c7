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
        ("authentication.k8s.io", "tokenreviews") => {
            let Some(keys) = &ctx.state.token_keys else {
                return Err(ApiError::Unavailable(
                    "service-account tokens are not configured".into(),
                ));
            };
            let now = jiff::Timestamp::now().as_second();
            review = crate::serviceaccount::token_review_response(
                keys,
                ctx.state.store.as_ref(),
                &review,
                &ctx.state.api_audiences,
                now,
            )
            .await
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
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

/// `POST …/serviceaccounts/{name}/token` (TokenRequest): a signed, audience-bound, expiring
/// token for the service account, optionally bound to a pod or secret.
pub async fn token_request(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let Some(keys) = &ctx.state.token_keys else {
        return Err(ApiError::Unavailable(
            "service-account tokens are not configured".into(),
        ));
    };
    let name = ctx.target.name.clone().unwrap_or_default();
    let ns = ctx.target.namespace.clone().unwrap_or_default();
    let format = negotiate::body_format(ctx.headers)?;
    let request = negotiate::decode_body(format, body)?;
    let kv = ctx
        .state
        .store
        .get(&ctx.key(&name), 0)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.subject(&name)))?;
    let sa = crate::objects::from_kv(&kv)?;
    let bound_key = crate::serviceaccount::bound_object_key(&ns, &request)
        .map_err(|e| e.into_api_error(&name))?;
    let bound = match bound_key {
        Some(key) => match ctx.state.store.get(&key, 0).await? {
            Some(kv) => Some(crate::objects::from_kv(&kv)?),
            None => None,
        },
        None => None,
    };
    let now = jiff::Timestamp::now().as_second();
    let response = crate::serviceaccount::token_request_response(
        keys,
        &sa,
        &request,
        bound.as_ref(),
        &ctx.state.api_audiences,
        now,
    )
    .map_err(|e| e.into_api_error(&name))?;
    Ok(render::json(StatusCode::CREATED, &response))
}
