//! Per-kind admission on every create and update, after the generic checks: built-in kinds
//! (upstream defaulting and validation), CRD objects (defaulting, validation, stored
//! versions) and custom resources (pruning, schema defaults and validation).
//! Entry point: [`admit`]; plugins that read other stored objects run before it
//! ([`serviceaccount::admit`], then [`priority::admit`]).

pub mod priority;
pub mod serviceaccount;

use rk3s_core::ResourceType;
use serde_json::Value;

use crate::error::{ApiError, ApiResult, Cause};
use crate::objects;

fn is_crd(rt: &ResourceType) -> bool {
    rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions"
}

fn invalid(rt: &ResourceType, obj: &Value, errors: Vec<rk3s_core::crd::FieldError>) -> ApiError {
    let causes = errors
        .into_iter()
        .map(|e| Cause {
            reason: e.reason,
            field: e.field,
            message: e.message,
        })
        .collect();
    ApiError::invalid(&rt.kind, &rt.group, objects::name(obj), causes)
}

/// Default and validate `obj` (a create when `old` is `None`), in place.
pub fn admit(
    rt: &ResourceType,
    subresource: Option<&str>,
    old: Option<&Value>,
    obj: &mut Value,
) -> ApiResult<()> {
    if is_crd(rt) {
        rk3s_core::crd::default_crd(obj);
        match old {
            None => rk3s_core::crd::prepare_crd_create(obj),
            Some(o) if subresource.is_none() => rk3s_core::crd::prepare_crd_update(o, obj),
            Some(_) => {}
        }
        let errors = rk3s_core::crd::validate_crd(old, obj);
        if !errors.is_empty() {
            return Err(invalid(rt, obj, errors));
        }
        return Ok(());
    }
    if rt.codec.is_some() {
        if rt.group.is_empty()
            && rt.plural == "pods"
            && subresource.is_none()
            && let Some(o) = old
        {
            priority::keep_on_update(o, obj);
        }
        if rt.group.is_empty()
            && rt.plural == "services"
            && let Some(o) = old
        {
            keep_allocated_values(o, obj);
        }
        if old.is_none() && rt.group == "batch" && rt.plural == "jobs" {
            generate_job_selector(obj);
        }
        rk3s_core::defaults::apply(&rt.group, &rt.plural, obj);
        let errors = rk3s_core::validation::validate(&rt.group, &rt.plural, old, obj);
        if !errors.is_empty() {
            let causes = errors
                .into_iter()
                .map(|e| Cause {
                    reason: e.reason,
                    field: e.field,
                    message: e.message,
                })
                .collect();
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                objects::name(obj),
                causes,
            ));
        }
        return Ok(());
    }
    if let Some(custom) = &rt.custom {
        // The served version's schema decides what is kept, defaulted and valid.
        custom.schema.prune(obj);
        custom.schema.apply_defaults(obj);
        let errors = custom.schema.validate(obj);
        if !errors.is_empty() {
            return Err(invalid(rt, obj, errors));
        }
    }
    Ok(())
}

/// An update that leaves out a service's cluster IP or a port's node port keeps the allocated
/// ones, as upstream does (so `kubectl replace` of a trimmed manifest is not a change).
fn keep_allocated_values(old: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let unset = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
    if unset(spec.get("clusterIP"))
        && let Some(ip) = old
            .pointer("/spec/clusterIP")
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    {
        spec.insert("clusterIP".into(), ip.clone());
        if let Some(ips) = old.pointer("/spec/clusterIPs") {
            spec.insert("clusterIPs".into(), ips.clone());
        }
    }
    let old_ports = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut() {
            if p.get("nodePort").is_some() {
                continue;
            }
            let same = old_ports.iter().find(|o| {
                o.get("port") == p.get("port")
                    && o.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
                        == p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            });
            if let (Some(np), Some(obj)) = (same.and_then(|o| o.get("nodePort")), p.as_object_mut())
            {
                obj.insert("nodePort".into(), np.clone());
            }
        }
    }
}

/// The kinds whose objects count toward a namespace's quota usage besides the one written.
const USAGE_KINDS: [(&str, &str); 7] = [
    ("", "pods"),
    ("", "services"),
    ("", "persistentvolumeclaims"),
    ("", "configmaps"),
    ("", "secrets"),
    ("", "replicationcontrollers"),
    ("", "resourcequotas"),
];

async fn namespace_objects(
    state: &crate::ApiState,
    group: &str,
    plural: &str,
    ns: &str,
) -> ApiResult<Vec<Value>> {
    let surface = state.surface();
    let Some(rt) = surface
        .registry
        .all()
        .find(|t| t.group == group && t.plural == plural && !t.storage_prefix.is_empty())
    else {
        return Ok(Vec::new());
    };
    let res = state
        .store
        .list(rk3s_store::ListRequest {
            prefix: rt.list_prefix(Some(ns)),
            ..Default::default()
        })
        .await?;
    Ok(res
        .kvs
        .iter()
        .filter_map(|kv| objects::from_kv(kv).ok())
        .collect())
}

fn forbidden(rt: &ResourceType, obj: &Value, message: String) -> ApiError {
    let name = objects::name(obj).to_string();
    let qualified = if rt.group.is_empty() {
        rt.plural.clone()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    };
    ApiError::Forbidden {
        message: format!("{qualified} \"{name}\" is forbidden: {message}"),
        kind: rt.plural.clone(),
        name,
        group: rt.group.clone(),
    }
}

/// LimitRange defaults and limits, then ResourceQuota: the namespace's policies on what an
/// object may request. Quota usage is recomputed from the namespace's objects (there is no
/// quota controller to trust `status.used` from) and the quotas' status is updated on success.
pub async fn enforce_namespace_policies(
    state: &crate::ApiState,
    rt: &ResourceType,
    namespace: &str,
    old: Option<&Value>,
    obj: &mut Value,
    dry_run: bool,
) -> ApiResult<()> {
    let kind = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") if old.is_none() => Some("Pod"),
        ("", "persistentvolumeclaims") => Some("PersistentVolumeClaim"),
        _ => None,
    };
    if let Some(kind) = kind {
        let ranges = namespace_objects(state, "", "limitranges", namespace).await?;
        if !ranges.is_empty() {
            rk3s_core::quota::apply_limit_ranges(kind, obj, &ranges)
                .map_err(|errs| forbidden(rt, obj, rk3s_core::quota::aggregate_message(&errs)))?;
        }
    }
    let quotas = namespace_objects(state, "", "resourcequotas", namespace).await?;
    if quotas.is_empty() {
        return Ok(());
    }
    let mut loaded: Vec<(String, Vec<Value>)> = Vec::new();
    let mut kinds: Vec<(&str, &str)> = USAGE_KINDS.to_vec();
    if !kinds.contains(&(rt.group.as_str(), rt.plural.as_str())) {
        kinds.push((rt.group.as_str(), rt.plural.as_str()));
    }
    for (group, plural) in kinds {
        let objs = namespace_objects(state, group, plural, namespace).await?;
        let key = if group.is_empty() {
            plural.to_string()
        } else {
            format!("{plural}.{group}")
        };
        loaded.push((key, objs));
    }
    let refs: Vec<(&str, &[Value])> = loaded
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let usage = rk3s_core::quota::Usage::from_objects(&refs);
    let decision = rk3s_core::quota::check_quota(&rt.group, &rt.plural, old, obj, &quotas, &usage)
        .map_err(|m| forbidden(rt, obj, m))?;
    if dry_run {
        return Ok(());
    }
    for (name, status) in decision.updates {
        let key = format!("/registry/resourcequotas/{namespace}/{name}");
        let Ok(Some(kv)) = state.store.get(&key, 0).await else {
            continue;
        };
        let Ok(mut quota) = objects::from_kv(&kv) else {
            continue;
        };
        quota["status"] = status;
        // Best effort: a concurrent write recomputes it next time.
        let _ = state
            .store
            .update(&key, objects::to_stored_bytes(&quota)?, kv.mod_revision)
            .await;
    }
    Ok(())
}

/// A new Job without `manualSelector: true` gets upstream's generated selector: its own uid,
/// with the matching labels on the pod template.
fn generate_job_selector(job: &mut Value) {
    if job.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let uid = objects::meta_str(job, "uid").unwrap_or("").to_string();
    let name = objects::name(job).to_string();
    if uid.is_empty() || job.get("spec").and_then(Value::as_object).is_none() {
        return;
    }
    let labels = serde_json::json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    });
    if job.pointer("/spec/selector").is_none() {
        job["spec"]["selector"] =
            serde_json::json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
    let template = &mut job["spec"]["template"];
    if !template.is_object() {
        return;
    }
    if template
        .get("metadata")
        .and_then(Value::as_object)
        .is_none()
    {
        template["metadata"] = serde_json::json!({});
    }
    let meta = &mut template["metadata"];
    if meta.get("labels").and_then(Value::as_object).is_none() {
        meta["labels"] = serde_json::json!({});
    }
    if let (Some(existing), Some(add)) = (meta["labels"].as_object_mut(), labels.as_object()) {
        for (k, v) in add {
            existing.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}
