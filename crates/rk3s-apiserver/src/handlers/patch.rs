//! `patch`: JSON Patch, JSON Merge Patch, strategic merge patch and (a first form of)
//! server-side apply, all through the compare-and-swap write path.

use axum::response::Response;
use http::StatusCode;
use rk3s_core::patch::{self, PatchType};
use serde_json::Value;

use super::{Ctx, create, render, update};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects::{self, FieldValidation};

pub async fn patch(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let ct = negotiate::content_type(ctx.headers).unwrap_or_default();
    let Some(ptype) = PatchType::from_content_type(&ct) else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
        )));
    };
    if body.len() > negotiate::MAX_BODY_BYTES {
        return Err(ApiError::TooLarge(
            "Request entity too large: limit is 3145728".into(),
        ));
    }
    let patch_doc: Value = match ptype {
        PatchType::Apply => {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::BadRequest("the apply patch is not valid UTF-8".into()))?;
            negotiate::yaml_to_json(text)?
        }
        _ => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the patch is not valid JSON: {e}")))?,
    };
    let rt = ctx.target.rt.clone();
    if ptype == PatchType::StrategicMerge && rt.codec.is_none() {
        return Err(ApiError::UnsupportedMediaType(format!(
            "strategic merge patch is not supported for {}: use a JSON merge patch",
            rt.plural
        )));
    }
    if ptype == PatchType::Apply && ctx.query.field_manager.as_deref().unwrap_or("").is_empty() {
        return Err(ApiError::BadRequest(
            "PATCH requests of type apply must specify a fieldManager".into(),
        ));
    }
    let name = ctx.target.name.clone().unwrap_or_default();
    let validation = FieldValidation::from_query(ctx.query.field_validation.as_deref());
    let precondition = patch_doc
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let warnings = std::sync::Mutex::new(Vec::new());
    let apply_patch = |current: &Value| -> ApiResult<Value> {
        let patched = match ptype {
            PatchType::Json => patch::json_patch(current, &patch_doc).map_err(patch_error)?,
            PatchType::Merge => patch::merge_patch(current, &patch_doc),
            PatchType::Apply => {
                let mut applied = patch_doc.clone();
                if rt.subresource("status").is_some()
                    && ctx.target.subresource.is_none()
                    && let Some(o) = applied.as_object_mut()
                {
                    o.remove("status");
                }
                let nav = super::schema_for(ctx);
                let now = objects::now_rfc3339();
                let api_version = rt.api_version();
                let manager = ctx.field_manager();
                let req = rk3s_core::apply::ApplyRequest {
                    live: Some(current),
                    applied: &applied,
                    manager: &manager,
                    force: ctx.query.force,
                    api_version: &api_version,
                    now: &now,
                    schema: &nav,
                };
                rk3s_core::apply::apply(&req).map_err(apply_error)?
            }
            PatchType::StrategicMerge => match rt.codec {
                Some(codec) => {
                    let nav = ctx.state.schema_nav(&codec);
                    patch::strategic_merge_patch(current, &patch_doc, &nav).map_err(patch_error)?
                }
                None => patch::merge_patch(current, &patch_doc),
            },
        };
        if objects::name(&patched) != objects::name(current) {
            return Err(ApiError::BadRequest(
                "metadata.name: the name of a patched object cannot change".into(),
            ));
        }
        let checked = objects::check_kind(&rt, patched, validation)?;
        if let Ok(mut w) = warnings.lock() {
            *w = checked.warnings;
        }
        Ok(checked.object)
    };
    let result = update::write_with_cas(ctx, &name, precondition.as_deref(), apply_patch).await;
    let (code, stored) = match result {
        Ok(v) => (StatusCode::OK, v),
        // Server-side apply creates what does not exist yet.
        Err(ApiError::NotFound { .. }) if ptype == PatchType::Apply => {
            let nav = super::schema_for(ctx);
            let now = objects::now_rfc3339();
            let api_version = rt.api_version();
            let manager = ctx.field_manager();
            let req = rk3s_core::apply::ApplyRequest {
                live: None,
                applied: &patch_doc,
                manager: &manager,
                force: ctx.query.force,
                api_version: &api_version,
                now: &now,
                schema: &nav,
            };
            let created = rk3s_core::apply::apply(&req).map_err(apply_error)?;
            let checked = objects::check_kind(&rt, created, validation)?;
            if objects::name(&checked.object) != name {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    objects::name(&checked.object)
                )));
            }
            let mut obj = create::prepare_for_create(ctx, checked.object)?;
            crate::admission::serviceaccount::admit(ctx.state, &rt, None, true, &mut obj).await?;
            crate::admission::priority::admit(ctx.state, &rt, None, true, &mut obj).await?;
            crate::admission::admit(&rt, None, None, &mut obj)?;
            (StatusCode::CREATED, create::store_new(ctx, obj).await?)
        }
        Err(e) => return Err(e),
    };
    let repr = negotiate::representation(ctx.headers)?;
    let resp = render::object(code, &rt, &stored, repr, None);
    let w = warnings.lock().map(|w| w.clone()).unwrap_or_default();
    Ok(render::with_warnings(resp, &w))
}

fn patch_error(e: patch::PatchError) -> ApiError {
    ApiError::Invalid {
        message: format!("the patch could not be applied: {e}"),
        kind: String::new(),
        name: String::new(),
        group: String::new(),
        causes: Vec::new(),
    }
}

fn apply_error(e: rk3s_core::apply::ApplyError) -> ApiError {
    match e {
        rk3s_core::apply::ApplyError::Conflicts(conflicts) => {
            let message = rk3s_core::apply::ApplyError::Conflicts(conflicts.clone()).to_string();
            let causes = conflicts
                .iter()
                .map(|c| crate::error::Cause {
                    reason: "FieldManagerConflict",
                    field: c.field.clone(),
                    message: format!("conflict with {}", c.owner()),
                })
                .collect();
            ApiError::FieldConflicts { message, causes }
        }
        rk3s_core::apply::ApplyError::Invalid(m) => ApiError::BadRequest(m),
    }
}
