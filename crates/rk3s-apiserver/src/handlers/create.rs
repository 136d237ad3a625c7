//! `create`: admit a new object (kind, names, metadata, namespace) and store it.

use axum::response::Response;
use http::StatusCode;
use rk3s_store::StoreError;
use serde_json::{Value, json};

use super::{Ctx, render};
use crate::allocator;
use crate::error::{ApiError, ApiResult};
use crate::negotiate;
use crate::objects::{self, FieldValidation};

/// How many generated names to try before giving up (collisions are rare: 27^5 suffixes).
const GENERATE_NAME_ATTEMPTS: usize = 8;

pub async fn create(ctx: &Ctx<'_>, body: &[u8]) -> ApiResult<Response> {
    let format = negotiate::body_format(ctx.headers)?;
    let raw = negotiate::decode_body(format, body)?;
    let validation = FieldValidation::from_query(ctx.query.field_validation.as_deref());
    let checked = objects::check_kind(&ctx.target.rt, raw, validation)?;
    let mut obj = prepare_for_create(ctx, checked.object)?;
    crate::admission::serviceaccount::admit(ctx.state, &ctx.target.rt, None, true, &mut obj)
        .await?;
    crate::admission::priority::admit(ctx.state, &ctx.target.rt, None, true, &mut obj).await?;
    crate::admission::admit(&ctx.target.rt, None, None, &mut obj)?;
    let obj = super::track_fields(ctx, None, obj);
    let stored = store_new(ctx, obj).await?;
    let repr = negotiate::representation(ctx.headers)?;
    let resp = render::object(StatusCode::CREATED, &ctx.target.rt, &stored, repr, None);
    Ok(render::with_warnings(resp, &checked.warnings))
}

/// Fill in the server-owned metadata of a new object and validate its names.
pub(crate) fn prepare_for_create(ctx: &Ctx<'_>, mut obj: Value) -> ApiResult<Value> {
    let rt = &ctx.target.rt;
    if obj.get("metadata").is_none() {
        obj["metadata"] = json!({});
    }
    // A new object's status is the server's to set (upstream resets it on create for every
    // kind with a status subresource).
    if rt.subresource("status").is_some()
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("status");
    }
    let path_ns = ctx.target.namespace.clone();
    let Some(meta) = objects::meta_mut(&mut obj) else {
        return Err(ApiError::BadRequest("metadata: must be an object".into()));
    };
    if rt.namespaced {
        let body_ns = meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match (&path_ns, body_ns) {
            (Some(p), Some(b)) if p != b => {
                return Err(ApiError::BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ));
            }
            (None, _) => {
                return Err(ApiError::BadRequest(format!(
                    "{} must be created in a namespace",
                    rt.plural
                )));
            }
            _ => {}
        }
        meta.insert("namespace".into(), json!(path_ns));
    } else {
        meta.remove("namespace");
    }
    for owned in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "generation",
    ] {
        meta.remove(owned);
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(objects::now_rfc3339()));
    if obj.get("spec").is_some()
        && let Some(meta) = objects::meta_mut(&mut obj)
    {
        meta.insert("generation".into(), json!(1));
    }
    let name = objects::name(&obj).to_string();
    let generate = objects::meta_str(&obj, "generateName")
        .unwrap_or("")
        .to_string();
    if name.is_empty() && !generate.is_empty() {
        // Validate the prefix as a name would be, with a stand-in suffix.
        objects::validate_name(rt, &rk3s_core::names::generate_name(&generate, "abcde"))?;
    } else {
        objects::validate_name(rt, &name)?;
    }
    objects::validate_meta(rt, &obj)?;
    if rt.group.is_empty() && rt.plural == "namespaces" {
        prepare_namespace(&mut obj);
    }
    if rt.group.is_empty()
        && rt.plural == "secrets"
        && obj
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    {
        obj["type"] = json!("Opaque");
    }
    Ok(obj)
}

/// Namespaces carry their name as a label, the `kubernetes` finalizer and phase Active.
fn prepare_namespace(obj: &mut Value) {
    let name = objects::name(obj).to_string();
    if let Some(meta) = objects::meta_mut(obj) {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    obj["spec"] = json!({"finalizers": ["kubernetes"]});
    obj["status"] = json!({"phase": "Active"});
}

/// Check the namespace exists and is not terminating, then store (or, for dry runs, only
/// pretend to). Handles `generateName`.
pub(crate) async fn store_new(ctx: &Ctx<'_>, mut obj: Value) -> ApiResult<Value> {
    let rt = &ctx.target.rt;
    if rt.namespaced {
        let ns = ctx.target.namespace.as_deref().unwrap_or("");
        check_namespace_open(ctx, ns).await?;
        if ctx.target.subresource.is_none() {
            crate::admission::enforce_namespace_policies(
                ctx.state,
                rt,
                ns,
                None,
                &mut obj,
                ctx.query.dry_run,
            )
            .await?;
        }
    }
    let generate = objects::name(&obj).is_empty();
    let prefix = objects::meta_str(&obj, "generateName")
        .unwrap_or("")
        .to_string();
    for _ in 0..GENERATE_NAME_ATTEMPTS {
        if generate {
            let n = rk3s_core::names::generate_name(&prefix, &rk3s_core::names::random_suffix());
            if let Some(meta) = objects::meta_mut(&mut obj) {
                meta.insert("name".into(), json!(n));
            }
        }
        let name = objects::name(&obj).to_string();
        if ctx.query.dry_run {
            let exists = ctx.state.store.get(&ctx.key(&name), 0).await?.is_some();
            if exists {
                return Err(ApiError::already_exists(&ctx.subject(&name)));
            }
            return Ok(obj);
        }
        let held = if is_service(rt) {
            Some(
                allocator::allocate_for_service(
                    ctx.state.store.as_ref(),
                    &ctx.state.service_network,
                    &mut obj,
                    None,
                )
                .await?,
            )
        } else {
            None
        };
        let bytes = objects::encode_as(rt, &obj)?;
        let started = std::time::Instant::now();
        let res = ctx.state.store.create(&ctx.key(&name), bytes).await;
        ctx.state.metrics.observe_store("create", started.elapsed());
        if res.is_err()
            && let Some(h) = &held
        {
            h.release(ctx.state.store.as_ref()).await;
        }
        match res {
            Ok(kv) => {
                objects::set_resource_version(&mut obj, kv.mod_revision);
                if rt.group.is_empty() && rt.plural == "namespaces" {
                    // Every namespace has a `default` service account from the start.
                    if let Err(e) = crate::bootstrap::ensure_default_service_account(
                        ctx.state.store.as_ref(),
                        &name,
                    )
                    .await
                    {
                        tracing::warn!(namespace = %name, error = %e, "creating the default service account failed");
                    }
                    // And the root CA, so its pods can verify the API server from the start.
                    if let Some(ca) = &ctx.state.root_ca_pem
                        && let Err(e) =
                            crate::rootca::ensure_configmap(ctx.state.store.as_ref(), &name, ca)
                                .await
                    {
                        tracing::warn!(namespace = %name, error = %e, "publishing the root CA failed");
                    }
                }
                return Ok(obj);
            }
            Err(StoreError::AlreadyExists) if generate => continue,
            Err(StoreError::AlreadyExists) => {
                return Err(ApiError::already_exists(&ctx.subject(&name)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Timeout(format!(
        "could not generate a unique name from {prefix:?}; try again"
    )))
}

async fn check_namespace_open(ctx: &Ctx<'_>, ns: &str) -> ApiResult<()> {
    let key = format!("/registry/namespaces/{ns}");
    let Some(kv) = ctx.state.store.get(&key, 0).await? else {
        return Err(ApiError::not_found(&crate::error::Subject::new(
            "",
            "namespaces",
            ns,
        )));
    };
    let nsobj = objects::from_kv(&kv)?;
    if nsobj.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(ApiError::Forbidden {
            message: format!(
                "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                ctx.target.rt.plural,
                ctx.target.name.as_deref().unwrap_or("")
            ),
            kind: ctx.target.rt.plural.clone(),
            name: ctx.target.name.clone().unwrap_or_default(),
            group: ctx.target.rt.group.clone(),
        });
    }
    Ok(())
}

/// Services get cluster IPs and node ports from the allocator.
pub(crate) fn is_service(rt: &rk3s_core::ResourceType) -> bool {
    rt.group.is_empty() && rt.plural == "services"
}
