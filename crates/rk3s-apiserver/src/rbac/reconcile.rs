//! Writing the policy into the store: the default objects at start ([`ensure_bootstrap_policy`])
//! and ClusterRole aggregation kept current ([`run_aggregation`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rk3s_store::{Backend, ListRequest, StoreError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::aggregate::aggregate;
use super::bootstrap::bootstrap_objects;

const CLUSTER_ROLES: &str = "/registry/clusterroles/";
const RETRY_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("creating default RBAC object {key}")]
    BootstrapCreateFailed { key: String, source: StoreError },
    #[error("listing cluster roles")]
    ListFailed(#[source] StoreError),
    #[error("updating the rules of cluster role {name}")]
    UpdateFailed { name: String, source: StoreError },
}

/// Creates every default ClusterRole and ClusterRoleBinding that does not exist; returns how
/// many were created. Existing objects are left alone, even changed ones.
pub async fn ensure_bootstrap_policy(store: &dyn Backend) -> Result<usize, ReconcileError> {
    let mut created = 0;
    for (key, obj) in bootstrap_objects() {
        let bytes = serde_json::to_vec(&obj).unwrap_or_default();
        match store.create(&key, bytes).await {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists) => {}
            Err(source) => return Err(ReconcileError::BootstrapCreateFailed { key, source }),
        }
    }
    Ok(created)
}

/// One aggregation pass over the stored cluster roles; returns how many were rewritten. A role
/// changed meanwhile is skipped (its change triggers the next pass).
pub async fn reconcile_aggregation(store: &dyn Backend) -> Result<usize, ReconcileError> {
    let list = store
        .list(ListRequest {
            prefix: CLUSTER_ROLES.to_string(),
            ..ListRequest::default()
        })
        .await
        .map_err(ReconcileError::ListFailed)?;
    let parsed: Vec<(&rk3s_store::KeyValue, Value)> = list
        .kvs
        .iter()
        .filter_map(|kv| Some((kv, serde_json::from_slice::<Value>(&kv.value).ok()?)))
        .collect();
    let values: Vec<Value> = parsed.iter().map(|(_, v)| v.clone()).collect();
    let mut written = 0;
    for (name, rules) in aggregate(&values) {
        let Some((kv, obj)) = parsed
            .iter()
            .find(|(_, v)| v.pointer("/metadata/name").and_then(Value::as_str) == Some(&name))
        else {
            continue;
        };
        let mut obj = obj.clone();
        if let Some(m) = obj.as_object_mut() {
            m.insert("rules".into(), rules);
        }
        let bytes = serde_json::to_vec(&obj).unwrap_or_default();
        match store.update(&kv.key, bytes, kv.mod_revision).await {
            Ok(_) => written += 1,
            Err(StoreError::Conflict { .. } | StoreError::NotFound) => {}
            Err(source) => return Err(ReconcileError::UpdateFailed { name, source }),
        }
    }
    Ok(written)
}

/// Keeps aggregated cluster roles current: a pass at start and after every change to a
/// cluster role, until `shutdown`.
pub async fn run_aggregation(store: Arc<dyn Backend>, shutdown: CancellationToken) {
    loop {
        let revision = match store.current_revision().await {
            Ok(r) => r,
            Err(error) => {
                tracing::warn!(%error, "cluster role aggregation cannot read the revision");
                if pause(&shutdown).await {
                    return;
                }
                continue;
            }
        };
        if let Err(error) = reconcile_aggregation(store.as_ref()).await {
            tracing::warn!(%error, "cluster role aggregation failed");
        }
        let mut events = match store.watch(CLUSTER_ROLES, revision).await {
            Ok(w) => w,
            Err(error) => {
                tracing::warn!(%error, "cluster role aggregation watch did not start");
                if pause(&shutdown).await {
                    return;
                }
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = events.next() => n,
            };
            match next {
                Some(Ok(_)) => {
                    if let Err(error) = reconcile_aggregation(store.as_ref()).await {
                        tracing::warn!(%error, "cluster role aggregation failed");
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "cluster role aggregation watch failed");
                    break;
                }
                None => break,
            }
        }
        if pause(&shutdown).await {
            return;
        }
    }
}

/// Waits before a retry; true when shutting down.
async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(RETRY_DELAY) => false,
    }
}
