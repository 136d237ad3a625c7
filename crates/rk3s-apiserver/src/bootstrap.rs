//! What must exist before the API is ready: the system namespaces; and resuming work that a
//! restart interrupted (namespaces left terminating).

use std::sync::Arc;

use rk3s_store::{ListRequest, StoreError};
use serde_json::json;

use crate::handlers::delete_namespace_contents;
use crate::objects;
use crate::state::ApiState;

/// The namespaces upstream creates at start.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("creating namespace {name}")]
    CreateNamespace { name: String, source: StoreError },
    #[error("listing namespaces")]
    ListNamespaces(#[source] StoreError),
}

pub async fn ensure_system_namespaces(state: &ApiState) -> Result<(), BootstrapError> {
    for name in SYSTEM_NAMESPACES {
        let obj = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": objects::now_rfc3339(),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        let bytes = serde_json::to_vec(&obj).unwrap_or_default();
        match state
            .store
            .create(&format!("/registry/namespaces/{name}"), bytes)
            .await
        {
            Ok(_) | Err(StoreError::AlreadyExists) => {}
            Err(source) => {
                return Err(BootstrapError::CreateNamespace {
                    name: name.to_string(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Restart termination of namespaces that were being deleted when the server stopped.
pub async fn resume_namespace_termination(state: &Arc<ApiState>) -> Result<(), BootstrapError> {
    let res = state
        .store
        .list(ListRequest {
            prefix: "/registry/namespaces/".into(),
            ..Default::default()
        })
        .await
        .map_err(BootstrapError::ListNamespaces)?;
    for kv in res.kvs {
        let Ok(obj) = objects::from_kv(&kv) else {
            continue;
        };
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            let name = objects::name(&obj).to_string();
            let st = state.clone();
            tokio::spawn(async move {
                if let Ok(false) = delete_namespace_contents(&st, &name).await {
                    crate::handlers::spawn_namespace_finalizer(st, name);
                }
            });
        }
    }
    Ok(())
}
