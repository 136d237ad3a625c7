//! Kinds that are answered, never stored: SelfSubjectReview (`kubectl auth whoami`) and
//! SelfSubjectAccessReview (`kubectl auth can-i`).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Ctx, render};
use crate::auth::{self, Identity};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::rbac::Attributes;

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
            let attrs = review_attributes(&review)?;
            let allowed = auth::check(ctx.state, ctx.identity, &attrs).is_ok();
            review["status"] = json!({"allowed": allowed});
        }
        ("authorization.k8s.io", "subjectaccessreviews" | "localsubjectaccessreviews") => {
            let spec = review.get("spec").cloned().unwrap_or(Value::Null);
            let user = spec
                .get("user")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let groups: Vec<String> = spec
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| {
                    g.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            if user.is_empty() && groups.is_empty() {
                return Err(ApiError::invalid(
                    &rt.kind,
                    &rt.group,
                    "",
                    vec![crate::error::Cause {
                        reason: "FieldValueInvalid",
                        field: "spec.user".into(),
                        message:
                            "Invalid value: \"\": at least one of user or group must be specified"
                                .into(),
                    }],
                ));
            }
            let mut attrs = review_attributes(&review)?;
            if rt.plural == "localsubjectaccessreviews" {
                attrs.namespace = ctx.target.namespace.clone().unwrap_or_default();
            }
            let subject = Identity { user, groups };
            let allowed = auth::check(ctx.state, &subject, &attrs).is_ok();
            review["status"] = json!({"allowed": allowed});
        }
        ("authorization.k8s.io", "selfsubjectrulesreviews") => {
            let ns = review
                .pointer("/spec/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            review["status"] = match &ctx.state.authorizer {
                Some(authz) => authz
                    .rules_for(&ctx.identity.user, &ctx.identity.groups, &ns)
                    .status_json(),
                None => json!({"resourceRules": [], "nonResourceRules": [], "incomplete": true}),
            };
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

/// The attributes an access review asks about (`spec.resourceAttributes` or
/// `spec.nonResourceAttributes`).
fn review_attributes(review: &Value) -> ApiResult<Attributes> {
    if let Some(a) = review.pointer("/spec/resourceAttributes") {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
        return Ok(
            Attributes::resource(s("verb"), s("group"), s("resource"), s("namespace"))
                .with_name(s("name"))
                .with_subresource(s("subresource")),
        );
    }
    if let Some(a) = review.pointer("/spec/nonResourceAttributes") {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
        return Ok(Attributes::non_resource(s("verb"), s("path")));
    }
    Err(ApiError::BadRequest(
        "spec: exactly one of resourceAttributes or nonResourceAttributes must be specified".into(),
    ))
}
