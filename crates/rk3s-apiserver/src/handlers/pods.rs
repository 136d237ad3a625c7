//! Pod subresources that act rather than store: `pods/binding` (the scheduler's bind) and
//! `pods/eviction` (a delete that honours PodDisruptionBudgets). The legacy `bindings`
//! resource binds too.

use axum::response::Response;
use http::StatusCode;
use rk3s_store::{ListRequest, StoreError};
use serde_json::{Value, json};

use super::{Ctx, render};
use crate::error::{ApiError, ApiResult, Cause};
use crate::negotiate;
use crate::objects;

fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}

/// Bind the pod `name` to the node in the Binding body; 409 if it is already bound.
pub async fn bind(ctx: &Ctx<'_>, name: &str, body: &[u8]) -> ApiResult<Response> {
    let format = negotiate::body_format(ctx.headers)?;
    let binding = negotiate::decode_body(format, body)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .unwrap_or("Node");
    if node.is_empty() || (kind != "Node" && !kind.is_empty()) {
        return Err(ApiError::invalid(
            "Binding",
            "",
            name,
            vec![Cause {
                reason: "FieldValueRequired",
                field: "target.name".into(),
                message: "Required value: a node name is required".into(),
            }],
        ));
    }
    let ns = ctx.target.namespace.clone().unwrap_or_default();
    let key = format!("/registry/pods/{ns}/{name}");
    loop {
        let kv =
            ctx.state.store.get(&key, 0).await?.ok_or_else(|| {
                ApiError::not_found(&crate::error::Subject::new("", "pods", name))
            })?;
        let mut pod = objects::from_kv(&kv)?;
        if let Some(uid) = binding.pointer("/metadata/uid").and_then(Value::as_str)
            && objects::meta_str(&pod, "uid") != Some(uid)
        {
            return Err(ApiError::conflict_with(
                &crate::error::Subject::new("", "pods", name),
                "the UID in the binding does not match the pod",
            ));
        }
        if pod.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict_with(
                &crate::error::Subject::new("", "pods", name),
                "pod is being deleted, cannot be assigned to a host",
            ));
        }
        let bound = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !bound.is_empty() {
            return Err(ApiError::conflict_with(
                &crate::error::Subject::new("", "pods", name),
                &format!("pod {name} is already assigned to node \"{bound}\""),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        // Upstream records the PodScheduled condition with the bind.
        let cond = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": objects::now_rfc3339()});
        let conds = pod["status"]
            .as_object_mut()
            .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
        if let Some(Value::Array(c)) = conds {
            c.retain(|x| x.get("type").and_then(Value::as_str) != Some("PodScheduled"));
            c.push(cond);
        } else {
            pod["status"] = json!({"phase": "Pending", "conditions": [cond]});
        }
        if ctx.query.dry_run {
            return Ok(render::json(StatusCode::CREATED, &success(201)));
        }
        match ctx
            .state
            .store
            .update(&key, objects::to_stored_bytes(&pod)?, kv.mod_revision)
            .await
        {
            Ok(_) => return Ok(render::json(StatusCode::CREATED, &success(201))),
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound) => {
                return Err(ApiError::not_found(&crate::error::Subject::new(
                    "", "pods", name,
                )));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Evict the pod: refused with 429 while a PodDisruptionBudget that selects it allows no
/// disruption; otherwise the pod is deleted and the budget's allowance spent.
pub async fn evict(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let name = ctx.target.name.clone().unwrap_or_default();
    let ns = ctx.target.namespace.clone().unwrap_or_default();
    let eviction = super::optional_json(ctx.headers, body)?;
    let key = format!("/registry/pods/{ns}/{name}");
    let kv = ctx
        .state
        .store
        .get(&key, 0)
        .await?
        .ok_or_else(|| ApiError::not_found(&ctx.subject(&name)))?;
    let pod = objects::from_kv(&kv)?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    // Terminal and not-yet-running pods are not protected by budgets, as upstream.
    let protected = !matches!(phase, "Succeeded" | "Failed" | "Pending" | "");
    if protected {
        let pdbs = ctx
            .state
            .store
            .list(ListRequest {
                prefix: format!("/registry/poddisruptionbudgets/{ns}/"),
                ..Default::default()
            })
            .await?;
        let labels = pod.pointer("/metadata/labels").and_then(Value::as_object);
        for pkv in pdbs.kvs {
            let pdb = objects::from_kv(&pkv)?;
            let Some(sel) = pdb.pointer("/spec/selector") else {
                continue;
            };
            let Ok(sel) = rk3s_core::selectors::LabelSelector::from_json(sel) else {
                continue;
            };
            if !sel.matches_json(labels) {
                continue;
            }
            let allowed = pdb
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if allowed < 1 {
                return Err(ApiError::TooManyRequests(format!(
                    "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {} needs {} healthy pods and has {} currently",
                    objects::name(&pdb),
                    pdb.pointer("/status/desiredHealthy")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    pdb.pointer("/status/currentHealthy")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                )));
            }
            if !ctx.query.dry_run {
                let mut spent = pdb.clone();
                spent["status"]["disruptionsAllowed"] = json!(allowed - 1);
                match ctx
                    .state
                    .store
                    .update(
                        &pkv.key,
                        objects::to_stored_bytes(&spent)?,
                        pkv.mod_revision,
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict { .. }) => {
                        return Err(ApiError::TooManyRequests(
                            "the disruption budget changed; try the eviction again".into(),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    if let Some(uid) = eviction
        .pointer("/deleteOptions/preconditions/uid")
        .and_then(Value::as_str)
        && objects::meta_str(&pod, "uid") != Some(uid)
    {
        return Err(ApiError::conflict_with(
            &ctx.subject(&name),
            "Precondition failed: UID in precondition does not match the pod",
        ));
    }
    if !ctx.query.dry_run {
        match ctx.state.store.delete(&key, Some(kv.mod_revision)).await {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(StoreError::Conflict { .. }) => {
                return Err(ApiError::conflict(&ctx.subject(&name)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(render::json(StatusCode::CREATED, &success(201)))
}
