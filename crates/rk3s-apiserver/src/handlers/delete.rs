//! `delete` and `deletecollection`, including finalizers (a pending deletion is a
//! `deletionTimestamp`) and namespace termination (its contents go first).

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use http::StatusCode;
use rk3s_store::{ListRequest, StoreError};
use serde_json::{Value, json};

use super::filter::ObjectFilter;
use super::{Ctx, optional_json, render};
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects;
use crate::state::ApiState;

/// The parts of `DeleteOptions` we act on.
struct DeleteOptions {
    uid: Option<String>,
    resource_version: Option<String>,
    dry_run: bool,
    /// `Orphan` or `Foreground` (from the query or the body); Background needs nothing.
    propagation: Option<String>,
}

fn delete_options(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<DeleteOptions> {
    let v = optional_json(ctx.headers, body)?;
    if !v.is_object() {
        return Err(ApiError::BadRequest(
            "the request body must be a DeleteOptions object".into(),
        ));
    }
    if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str)
        && !matches!(p, "Background" | "Foreground" | "Orphan")
    {
        return Err(ApiError::BadRequest(format!(
            "propagationPolicy: Unsupported value: {p:?}: supported values: \"Background\", \"Foreground\", \"Orphan\""
        )));
    }
    let dry_run_body = v
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "All"));
    Ok(DeleteOptions {
        uid: v
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        resource_version: v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: ctx.query.dry_run || dry_run_body,
        propagation: v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| ctx.query.propagation_policy.clone())
            .filter(|p| p == "Orphan" || p == "Foreground")
            .or_else(|| {
                // The deprecated orphanDependents: true means Orphan.
                (v.get("orphanDependents").and_then(Value::as_bool) == Some(true))
                    .then(|| "Orphan".to_string())
            }),
    })
}

fn success_status(ctx: &Ctx<'_>, obj: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": objects::name(obj),
            "group": ctx.target.rt.group,
            "kind": ctx.target.rt.plural,
            "uid": objects::meta_str(obj, "uid").unwrap_or(""),
        },
    })
}

pub async fn delete(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let opts = delete_options(ctx, body)?;
    let name = ctx.target.name.clone().unwrap_or_default();
    let (code, result) = delete_one(ctx, &name, &opts).await?;
    let repr = negotiate::representation(ctx.headers)?;
    Ok(match result {
        Deleted::Gone(obj) => render::json(code, &success_status(ctx, &obj)),
        Deleted::Pending(obj) => render::object(code, &ctx.target.rt, &obj, repr, None),
    })
}

enum Deleted {
    /// Removed from the store.
    Gone(Value),
    /// Marked with a deletionTimestamp; finalizers (or namespace termination) still to run.
    Pending(Value),
}

async fn delete_one(
    ctx: &Ctx<'_>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<(StatusCode, Deleted)> {
    let key = ctx.key(name);
    let rt = &ctx.target.rt;
    loop {
        let kv = ctx
            .state
            .store
            .get(&key, 0)
            .await?
            .ok_or_else(|| ApiError::not_found(&ctx.subject(name)))?;
        let mut obj = objects::read_as(rt, &kv)?;
        let uid = objects::meta_str(&obj, "uid").unwrap_or("");
        if let Some(want) = &opts.uid
            && want != uid
        {
            return Err(ApiError::conflict_with(
                &ctx.subject(name),
                &format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"
                ),
            ));
        }
        if let Some(want) = &opts.resource_version
            && *want != kv.mod_revision.to_string()
        {
            return Err(ApiError::conflict_with(
                &ctx.subject(name),
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                    kv.mod_revision
                ),
            ));
        }
        let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
        if is_namespace && matches!(name, "default" | "kube-system" | "kube-public") {
            return Err(ApiError::Forbidden {
                message: format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                ),
                kind: "namespaces".into(),
                name: name.to_string(),
                group: String::new(),
            });
        }
        // Orphan and Foreground propagation are carried out by the garbage collector, which
        // acts on these finalizers, as upstream's does.
        if let (Some(policy), false) = (&opts.propagation, is_namespace) {
            let finalizer = if policy == "Orphan" {
                "orphan"
            } else {
                "foregroundDeletion"
            };
            if let Some(meta) = objects::meta_mut(&mut obj) {
                let list = meta.entry("finalizers").or_insert_with(|| json!([]));
                if let Some(items) = list.as_array_mut() {
                    if !items.iter().any(|f| f == finalizer) {
                        items.push(json!(finalizer));
                    }
                }
            }
        }
        let has_finalizers = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if is_namespace || has_finalizers {
            if obj.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok((StatusCode::OK, Deleted::Pending(obj)));
            }
            if let Some(meta) = objects::meta_mut(&mut obj) {
                meta.insert("deletionTimestamp".into(), json!(objects::now_rfc3339()));
                meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            if is_namespace {
                obj["status"] = json!({"phase": "Terminating"});
            }
            if opts.dry_run {
                return Ok((StatusCode::OK, Deleted::Pending(obj)));
            }
            let bytes = objects::encode_as(rt, &obj)?;
            match ctx.state.store.update(&key, bytes, kv.mod_revision).await {
                Ok(new_kv) => {
                    objects::set_resource_version(&mut obj, new_kv.mod_revision);
                    if is_namespace {
                        spawn_namespace_finalizer(ctx.state.clone(), name.to_string());
                    }
                    return Ok((StatusCode::OK, Deleted::Pending(obj)));
                }
                Err(StoreError::Conflict { .. }) if opts.resource_version.is_none() => continue,
                Err(StoreError::Conflict { .. }) => {
                    return Err(ApiError::conflict(&ctx.subject(name)));
                }
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&ctx.subject(name))),
                Err(e) => return Err(e.into()),
            }
        }
        if opts.dry_run {
            return Ok((StatusCode::OK, Deleted::Gone(obj)));
        }
        if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
            // A CRD takes its objects with it.
            crate::crds::delete_custom_objects(ctx.state, &obj).await?;
        }
        let started = std::time::Instant::now();
        let res = ctx.state.store.delete(&key, Some(kv.mod_revision)).await;
        ctx.state.metrics.observe_store("delete", started.elapsed());
        match res {
            Ok(_) => {
                if super::create::is_service(rt) {
                    crate::allocator::Held::of(&obj)
                        .release(ctx.state.store.as_ref())
                        .await;
                }
                return Ok((StatusCode::OK, Deleted::Gone(obj)));
            }
            Err(StoreError::Conflict { .. }) if opts.resource_version.is_none() => continue,
            Err(StoreError::Conflict { .. }) => return Err(ApiError::conflict(&ctx.subject(name))),
            Err(StoreError::NotFound) => return Err(ApiError::not_found(&ctx.subject(name))),
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn delete_collection(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let opts = delete_options(ctx, body)?;
    let filter = ObjectFilter::from_query(&ctx.target.rt, &ctx.query)?;
    let (items, revision, _) = super::list::read_list(ctx, &filter).await?;
    let mut deleted = Vec::new();
    for obj in items {
        let name = objects::name(&obj).to_string();
        match delete_one(ctx, &name, &opts).await {
            Ok((_, Deleted::Gone(o) | Deleted::Pending(o))) => deleted.push(o),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let list = objects::list_object(&ctx.target.rt, deleted, revision, None, None);
    Ok(render::json(StatusCode::OK, &list))
}

/// Run namespace termination in the background until the namespace is gone.
pub(crate) fn spawn_namespace_finalizer(state: Arc<ApiState>, ns: String) {
    tokio::spawn(async move {
        loop {
            match delete_namespace_contents(&state, &ns).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e, "namespace termination step failed")
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
}

/// One pass of namespace termination: delete (or mark) everything in it; when nothing is
/// left, remove the namespace. Returns true when the namespace is gone.
pub(crate) async fn delete_namespace_contents(state: &ApiState, ns: &str) -> ApiResult<bool> {
    let ns_key = format!("/registry/namespaces/{ns}");
    let Some(ns_kv) = state.store.get(&ns_key, 0).await? else {
        return Ok(true);
    };
    let ns_obj = objects::from_kv(&ns_kv)?;
    if ns_obj.pointer("/metadata/deletionTimestamp").is_none() {
        return Ok(true);
    }
    let mut prefixes: Vec<String> = Vec::new();
    let surface = state.surface();
    for rt in surface.registry.all().filter(|rt| rt.namespaced) {
        let p = rt.list_prefix(Some(ns));
        if !prefixes.contains(&p) {
            prefixes.push(p);
        }
    }
    let mut remaining = 0usize;
    for prefix in prefixes {
        let res = state
            .store
            .list(ListRequest {
                prefix,
                ..Default::default()
            })
            .await?;
        for kv in res.kvs {
            remaining += 1;
            let mut obj = objects::from_kv(&kv)?;
            let has_finalizers = obj
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
            let result = if has_finalizers {
                if obj.pointer("/metadata/deletionTimestamp").is_some() {
                    continue;
                }
                if let Some(meta) = objects::meta_mut(&mut obj) {
                    meta.insert("deletionTimestamp".into(), json!(objects::now_rfc3339()));
                    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                state
                    .store
                    .update(&kv.key, objects::to_stored_bytes(&obj)?, kv.mod_revision)
                    .await
                    .map(|_| ())
            } else {
                let res = state
                    .store
                    .delete(&kv.key, Some(kv.mod_revision))
                    .await
                    .map(|_| ());
                if res.is_ok() && kv.key.starts_with("/registry/services/specs/") {
                    crate::allocator::Held::of(&obj)
                        .release(state.store.as_ref())
                        .await;
                }
                res
            };
            match result {
                Ok(()) | Err(StoreError::NotFound) | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if remaining > 0 {
        return Ok(false);
    }
    match state.store.delete(&ns_key, Some(ns_kv.mod_revision)).await {
        Ok(_) | Err(StoreError::NotFound) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
