//! `update` (PUT) and the compare-and-swap write path that `patch` shares.

use axum::response::Response;
use http::StatusCode;
use rk3s_store::StoreError;
use serde_json::Value;

use super::{Ctx, render};
use crate::allocator;
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects::{self, FieldValidation};

/// How often a write without a resourceVersion precondition retries after losing a race.
const CAS_ATTEMPTS: usize = 16;

pub async fn update(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let format = negotiate::body_format(ctx.headers)?;
    let raw = negotiate::decode_body(format, body)?;
    let validation = FieldValidation::from_query(ctx.query.field_validation.as_deref());
    let checked = objects::check_kind(&ctx.target.rt, raw, validation)?;
    let name = ctx.target.name.clone().unwrap_or_default();
    let new_obj = checked.object;
    let body_name = objects::name(&new_obj);
    if body_name != name {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(path_ns), Some(body_ns)) = (
        &ctx.target.namespace,
        objects::meta_str(&new_obj, "namespace"),
    ) && !body_ns.is_empty()
        && body_ns != path_ns
    {
        return Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        ));
    }
    let precondition = objects::meta_str(&new_obj, "resourceVersion")
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let stored = write_with_cas(ctx, &name, precondition.as_deref(), |_current| {
        Ok(new_obj.clone())
    })
    .await?;
    let repr = negotiate::representation(ctx.headers)?;
    let resp = render::object(StatusCode::OK, &ctx.target.rt, &stored, repr, None);
    Ok(render::with_warnings(resp, &checked.warnings))
}

/// Read the current object, compute its replacement with `change`, merge server-owned fields,
/// and write it if the object has not changed meanwhile. Without a `precondition` a lost race
/// is retried with the fresh object; with one, it is a 409.
pub(crate) async fn write_with_cas<F>(
    ctx: &Ctx<'_>,
    name: &str,
    precondition: Option<&str>,
    change: F,
) -> ApiResult<Value>
where
    F: Fn(&Value) -> ApiResult<Value>,
{
    let key = ctx.key(name);
    for _ in 0..CAS_ATTEMPTS {
        let kv = ctx
            .state
            .store
            .get(&key, 0)
            .await?
            .ok_or_else(|| ApiError::not_found(&ctx.subject(name)))?;
        if let Some(rv) = precondition
            && rv != kv.mod_revision.to_string()
        {
            return Err(ApiError::conflict(&ctx.subject(name)));
        }
        let current = objects::read_as(&ctx.target.rt, &kv)?;
        let proposed = change(&current)?;
        let mut next = merge_server_fields(ctx, &current, proposed)?;
        crate::admission::priority::admit(
            ctx.state,
            &ctx.target.rt,
            ctx.target.subresource.as_deref(),
            false,
            &mut next,
        )
        .await?;
        crate::admission::admit(
            &ctx.target.rt,
            ctx.target.subresource.as_deref(),
            Some(&current),
            &mut next,
        )?;
        if ctx.target.rt.namespaced && ctx.target.subresource.is_none() && next != current {
            let ns = ctx.target.namespace.clone().unwrap_or_default();
            crate::admission::enforce_namespace_policies(
                ctx.state,
                &ctx.target.rt,
                &ns,
                Some(&current),
                &mut next,
                ctx.query.dry_run,
            )
            .await?;
        }
        let is_apply = crate::negotiate::content_type(ctx.headers).as_deref()
            == Some("application/apply-patch+yaml");
        if !is_apply {
            next = super::track_fields(ctx, Some(&current), next);
        }
        objects::set_resource_version(&mut next, kv.mod_revision);
        if next == current {
            return Ok(current);
        }
        if ctx.query.dry_run {
            return Ok(next);
        }
        // An object being deleted goes away once its last finalizer is removed.
        let finalizers_empty = next
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty());
        if next.pointer("/metadata/deletionTimestamp").is_some() && finalizers_empty {
            return match ctx.state.store.delete(&key, Some(kv.mod_revision)).await {
                Ok(del) => {
                    objects::set_resource_version(&mut next, del.mod_revision);
                    Ok(next)
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
                Err(StoreError::Conflict { .. }) => Err(ApiError::conflict(&ctx.subject(name))),
                Err(StoreError::NotFound) => Err(ApiError::not_found(&ctx.subject(name))),
                Err(e) => Err(e.into()),
            };
        }
        // Services keep their addresses and ports; new ones are allocated, dropped ones freed
        // once the write has landed.
        let held = if super::create::is_service(&ctx.target.rt) {
            let before = allocator::Held::of(&current);
            let after = allocator::allocate_for_service(
                ctx.state.store.as_ref(),
                &ctx.state.service_network,
                &mut next,
                Some(&before),
            )
            .await?;
            Some((before, after))
        } else {
            None
        };
        let bytes = objects::encode_as(&ctx.target.rt, &next)?;
        let started = std::time::Instant::now();
        let res = ctx.state.store.update(&key, bytes, kv.mod_revision).await;
        ctx.state.metrics.observe_store("update", started.elapsed());
        if let Some((before, after)) = &held {
            let (gone, kept) = if res.is_ok() {
                (before, after)
            } else {
                (after, before)
            };
            let freed = allocator::Held {
                ip: gone.ip.clone().filter(|ip| kept.ip.as_ref() != Some(ip)),
                ports: gone
                    .ports
                    .iter()
                    .copied()
                    .filter(|p| !kept.ports.contains(p))
                    .collect(),
            };
            freed.release(ctx.state.store.as_ref()).await;
        }
        match res {
            Ok(new_kv) => {
                objects::set_resource_version(&mut next, new_kv.mod_revision);
                return Ok(next);
            }
            Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
            Err(StoreError::Conflict { .. }) => return Err(ApiError::conflict(&ctx.subject(name))),
            Err(StoreError::NotFound) => return Err(ApiError::not_found(&ctx.subject(name))),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(&ctx.subject(name)))
}

/// Keep what the server owns (uid, creation time, deletion state, generation), apply the
/// spec/status split of kinds with a status subresource, and validate the result.
fn merge_server_fields(ctx: &Ctx<'_>, current: &Value, mut next: Value) -> ApiResult<Value> {
    let rt = &ctx.target.rt;
    let status_sub = rt.subresource("status").is_some();
    let on_status = ctx.target.subresource.as_deref() == Some("status");
    if on_status {
        // A status write changes only the status.
        let status = next.get("status").cloned();
        next = current.clone();
        match status {
            Some(s) => next["status"] = s,
            None => {
                if let Some(o) = next.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    } else if status_sub {
        // A spec write leaves the status as it was.
        match current.get("status") {
            Some(s) => next["status"] = s.clone(),
            None => {
                if let Some(o) = next.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    if next.get("metadata").and_then(Value::as_object).is_none() {
        return Err(ApiError::BadRequest("metadata: must be an object".into()));
    }
    let cur_meta = objects::meta(current).cloned().unwrap_or_default();
    if let Some(uid) = objects::meta_str(&next, "uid").filter(|u| !u.is_empty())
        && Some(uid) != cur_meta.get("uid").and_then(Value::as_str)
    {
        return Err(ApiError::conflict_with(
            &ctx.subject(objects::name(current)),
            &format!("Precondition failed: UID in object meta: {uid}"),
        ));
    }
    let spec_changed = next.get("spec") != current.get("spec");
    if let Some(meta) = objects::meta_mut(&mut next) {
        for owned in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "name",
            "generation",
        ] {
            match cur_meta.get(owned) {
                Some(v) => {
                    meta.insert(owned.into(), v.clone());
                }
                None => {
                    meta.remove(owned);
                }
            }
        }
        if spec_changed && let Some(g) = cur_meta.get("generation").and_then(Value::as_i64) {
            meta.insert("generation".into(), Value::from(g + 1));
        }
        meta.remove("selfLink");
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        // The name label is owned by the server.
        let name = objects::name(&next).to_string();
        if let Some(meta) = objects::meta_mut(&mut next) {
            let labels = meta
                .entry("labels")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), Value::String(name));
            }
        }
    }
    objects::validate_meta(rt, &next)?;
    Ok(next)
}
