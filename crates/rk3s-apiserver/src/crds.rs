//! Serving CustomResourceDefinitions: a controller that keeps the API surface (registry,
//! discovery, OpenAPI) in step with the stored CRDs and sets their name-acceptance status,
//! and the clean-up of a CRD's objects when it is deleted.
//! Entry points: [`sync`], [`spawn_controller`], [`delete_custom_objects`].

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rk3s_core::crd::{self, ScalePaths, StructuralSchema};
use rk3s_core::registry::CustomKind;
use rk3s_store::{ListRequest, StoreError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::objects;
use crate::state::ApiState;

pub const CRD_PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// Bring the served kinds and the CRDs' status up to date with the store. Returns the revision
/// the CRDs were read at.
pub async fn sync(state: &ApiState) -> Result<i64, StoreError> {
    let res = state
        .store
        .list(ListRequest {
            prefix: CRD_PREFIX.into(),
            ..Default::default()
        })
        .await?;
    let mut crds: Vec<(rk3s_store::KeyValue, Value)> = Vec::new();
    for kv in res.kvs {
        match serde_json::from_slice::<Value>(&kv.value) {
            Ok(v) => crds.push((kv, v)),
            Err(e) => {
                tracing::warn!(key = %kv.key, error = %e, "skipping a stored CRD that is not JSON")
            }
        }
    }
    let now = objects::now_rfc3339();
    let mut types = Vec::new();
    let mut fingerprint = String::new();
    for i in 0..crds.len() {
        let others: Vec<Value> = crds
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (_, v))| v.clone())
            .collect();
        let (kv, current) = &crds[i];
        let mut next = current.clone();
        let accepted = crd::accept_names(&mut next, &others, &now);
        if next.get("status") != current.get("status") {
            let bytes = serde_json::to_vec(&next).unwrap_or_default();
            match state.store.update(&kv.key, bytes, kv.mod_revision).await {
                // A concurrent change triggers another sync through the watch.
                Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        if !accepted || next.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        match served_types(&next) {
            Ok(t) => {
                // The spec decides what is served; status writes alone change nothing.
                fingerprint.push_str(&format!(
                    "{}={};",
                    kv.key,
                    serde_json::to_string(&next.get("spec")).unwrap_or_default()
                ));
                types.extend(t);
            }
            Err(e) => tracing::warn!(crd = %objects::name(&next), error = %e, "not serving a CRD"),
        }
    }
    state.set_extra_types_if_changed(fingerprint, types);
    Ok(res.revision)
}

/// The resource types of one CRD, each with its compiled schema.
fn served_types(crd_obj: &Value) -> Result<Vec<rk3s_core::ResourceType>, crd::CrdError> {
    let mut out = Vec::new();
    for mut rt in crd::resource_types(crd_obj)? {
        let schema = StructuralSchema::from_crd_version(crd_obj, &rt.version)?;
        let columns = schema.printer_columns();
        let scale = ScalePaths::from_crd_version(crd_obj, &rt.version);
        rt.custom = Some(Arc::new(CustomKind {
            schema,
            scale,
            columns,
        }));
        out.push(rt);
    }
    Ok(out)
}

/// Keep the surface in step: sync now, then on every CRD change until `shutdown`.
pub fn spawn_controller(state: Arc<ApiState>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        loop {
            let rev = match sync(&state).await {
                Ok(rev) => rev,
                Err(e) => {
                    tracing::warn!(error = %e, "syncing CRDs failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            let mut events = match state.store.watch(CRD_PREFIX, rev).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(error = %e, "watching CRDs failed; retrying");
                    continue;
                }
            };
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    ev = events.next() => match ev {
                        Some(Ok(_)) => {
                            if let Err(e) = sync(&state).await {
                                tracing::warn!(error = %e, "syncing CRDs failed");
                            }
                        }
                        // Restart from a fresh list.
                        Some(Err(_)) | None => break,
                    },
                }
            }
        }
    });
}

/// Delete every object of a CRD (all versions share one storage prefix).
pub async fn delete_custom_objects(state: &ApiState, crd_obj: &Value) -> Result<(), StoreError> {
    let group = crd_obj
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd_obj
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    if group.is_empty() || plural.is_empty() {
        return Ok(());
    }
    let prefix = format!("/registry/{group}/{plural}/");
    let res = state
        .store
        .list(ListRequest {
            prefix,
            ..Default::default()
        })
        .await?;
    for kv in res.kvs {
        match state.store.delete(&kv.key, None).await {
            Ok(_) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
