//! The `scale` subresource (autoscaling/v1 `Scale`) of deployments, replicasets, statefulsets
//! and replicationcontrollers: `kubectl scale` reads and patches it.

use axum::response::Response;
use http::StatusCode;
use rk3s_core::patch::{self, PatchType};
use serde_json::{Value, json};

use super::{Ctx, render, update};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects;

/// The `Scale` view of an object: a custom resource's through its CRD's scale paths.
fn scale_for(rt: &rk3s_core::ResourceType, obj: &Value) -> Value {
    match rt.custom.as_ref().and_then(|c| c.scale.as_ref()) {
        Some(paths) => paths.scale(obj),
        None => scale_of(obj),
    }
}

/// The `Scale` view of a built-in object.
fn scale_of(obj: &Value) -> Value {
    let meta = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut m = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(k) {
            m.insert(k.into(), v.clone());
        }
    }
    let selector = obj
        .pointer("/spec/selector")
        .map(selector_string)
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    })
}

/// A label selector in its string form (`a=b,c in (d)`), as Scale's status carries it.
fn selector_string(sel: &Value) -> String {
    let mut parts = Vec::new();
    // ReplicationControllers have a plain map selector.
    let labels = sel
        .get("matchLabels")
        .or(if sel.get("matchExpressions").is_none() {
            Some(sel)
        } else {
            None
        });
    if let Some(Value::Object(m)) = labels {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(Value::Array(exprs)) = sel.get("matchExpressions") {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

fn replicas_from(scale: &Value) -> ApiResult<i64> {
    let r = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !(0..=i32::MAX as i64).contains(&r) {
        return Err(ApiError::invalid(
            "Scale",
            "autoscaling",
            objects::name(scale),
            vec![crate::error::Cause {
                reason: "FieldValueInvalid",
                field: "spec.replicas".into(),
                message: format!("Invalid value: {r}: must be greater than or equal to 0"),
            }],
        ));
    }
    Ok(r)
}

pub async fn get(ctx: &Ctx<'_>) -> ApiResult<Response> {
    let name = ctx.target.name.as_deref().unwrap_or("");
    let kv = ctx
        .state
        .store
        .get(&ctx.key(name), 0)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.subject(name)))?;
    Ok(render::json(
        StatusCode::OK,
        &scale_for(&ctx.target.rt, &objects::read_as(&ctx.target.rt, &kv)?),
    ))
}

/// PUT or PATCH of the scale: compute the new Scale, write its replicas into the object.
pub async fn write(ctx: &Ctx<'_>, body: &[u8], is_patch: bool) -> ApiResult<Response> {
    let name = ctx.target.name.clone().unwrap_or_default();
    let doc: Value = if is_patch {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the patch is not valid JSON: {e}")))?
    } else {
        let format = negotiate::body_format(ctx.headers)?;
        negotiate::decode_body(format, body)?
    };
    let ptype = if is_patch {
        let ct = negotiate::content_type(ctx.headers).unwrap_or_default();
        Some(PatchType::from_content_type(&ct).ok_or_else(|| {
            ApiError::UnsupportedMediaType(format!("unsupported patch type {ct:?}"))
        })?)
    } else {
        None
    };
    let precondition = doc
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let stored = update::write_with_cas(ctx, &name, precondition.as_deref(), |current| {
        let scale = scale_for(&ctx.target.rt, current);
        let new_scale = match ptype {
            None => doc.clone(),
            Some(PatchType::Json) => {
                patch::json_patch(&scale, &doc).map_err(|e| ApiError::BadRequest(e.to_string()))?
            }
            Some(_) => patch::merge_patch(&scale, &doc),
        };
        let replicas = replicas_from(&new_scale)?;
        let mut next = current.clone();
        match ctx.target.rt.custom.as_ref().and_then(|c| c.scale.as_ref()) {
            Some(paths) => paths
                .set_replicas(&mut next, replicas)
                .map_err(|e| ApiError::BadRequest(format!("setting the replicas failed: {e}")))?,
            None => next["spec"]["replicas"] = json!(replicas),
        }
        Ok(next)
    })
    .await?;
    Ok(render::json(
        StatusCode::OK,
        &scale_for(&ctx.target.rt, &stored),
    ))
}
