//! What must exist before the API is ready: the system namespaces (with their `default`
//! service account and root CA ConfigMap) and priority classes; and
//! resuming work that a restart interrupted (namespaces left terminating).

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
    #[error("writing {key}")]
    Write { key: String, source: StoreError },
    #[error("publishing the root CA")]
    RootCa(#[from] crate::rootca::RootCaError),
    #[error("stored object {key} is not valid JSON")]
    Corrupt { key: String },
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
    for name in SYSTEM_NAMESPACES {
        ensure_default_service_account(state.store.as_ref(), name).await?;
    }
    // Every namespace, not only these: ones created before a restart may predate the
    // publisher or have lost their copy while it was down.
    if let Some(ca) = &state.root_ca_pem {
        crate::rootca::publish_all(state.store.as_ref(), ca).await?;
    }
    Ok(())
}

/// Upstream's built-in PriorityClasses (`system-node-critical`, `system-cluster-critical`),
/// created if missing.
pub async fn ensure_system_priority_classes(state: &ApiState) -> Result<(), BootstrapError> {
    for mut class in crate::admission::priority::system_class_objects() {
        let name = objects::name(&class).to_string();
        class["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
        class["metadata"]["creationTimestamp"] = json!(objects::now_rfc3339());
        let key = format!("/registry/priorityclasses/{name}");
        let bytes = serde_json::to_vec(&class).unwrap_or_default();
        match state.store.create(&key, bytes).await {
            Ok(_) | Err(StoreError::AlreadyExists) => {}
            Err(source) => return Err(BootstrapError::Write { key, source }),
        }
    }
    Ok(())
}

/// The `default` ServiceAccount of a namespace, created if missing.
pub async fn ensure_default_service_account(
    store: &dyn rk3s_store::Backend,
    namespace: &str,
) -> Result<(), BootstrapError> {
    let mut sa = crate::serviceaccount::default_service_account(namespace);
    sa["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
    sa["metadata"]["creationTimestamp"] = json!(objects::now_rfc3339());
    let key = format!("/registry/serviceaccounts/{namespace}/default");
    let bytes = serde_json::to_vec(&sa).unwrap_or_default();
    match store.create(&key, bytes).await {
        Ok(_) | Err(StoreError::AlreadyExists) => Ok(()),
        Err(source) => Err(BootstrapError::Write { key, source }),
    }
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

/// The `kubernetes` Service in `default` (the first address of the service range, port 443 →
/// the API server) and its Endpoints/EndpointSlice pointing at the advertised address.
pub async fn ensure_kubernetes_service(
    state: &ApiState,
    advertise_ip: std::net::IpAddr,
    port: u16,
) -> Result<(), BootstrapError> {
    let ip = state.service_network.nth(1).to_string();
    let now = objects::now_rfc3339();
    let svc_key = "/registry/services/specs/default/kubernetes";
    if state
        .store
        .get(svc_key, 0)
        .await
        .map_err(BootstrapError::ListNamespaces)?
        .is_none()
    {
        // Reserve the address the way every service does, then store the service.
        let ip_key = format!("/registry/ipaddresses/{ip}");
        let ip_obj = json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
            "metadata": {"name": ip, "uid": uuid::Uuid::new_v4().to_string(), "creationTimestamp": now,
                "labels": {"ipaddress.kubernetes.io/ip-family": "IPv4", "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io"}},
            "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "kubernetes"}},
        });
        create_if_missing(state, &ip_key, &ip_obj).await?;
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": now, "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "sessionAffinity": "None",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
            },
            "status": {"loadBalancer": {}},
        });
        create_if_missing(state, svc_key, &svc).await?;
    }
    // The endpoints follow the advertised address, which may change between starts.
    let ep = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now, "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_ip.to_string()}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    put_current(state, "/registry/services/endpoints/default/kubernetes", ep).await?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now, "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
        "addressType": if advertise_ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [advertise_ip.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    put_current(state, "/registry/endpointslices/default/kubernetes", slice).await?;
    Ok(())
}

async fn create_if_missing(
    state: &ApiState,
    key: &str,
    obj: &serde_json::Value,
) -> Result<(), BootstrapError> {
    let bytes = serde_json::to_vec(obj).unwrap_or_default();
    match state.store.create(key, bytes).await {
        Ok(_) | Err(StoreError::AlreadyExists) => Ok(()),
        Err(source) => Err(BootstrapError::Write {
            key: key.to_string(),
            source,
        }),
    }
}

/// Create the object, or replace it when its content (ignoring uid and timestamps) differs.
async fn put_current(
    state: &ApiState,
    key: &str,
    mut obj: serde_json::Value,
) -> Result<(), BootstrapError> {
    let existing = state
        .store
        .get(key, 0)
        .await
        .map_err(|source| BootstrapError::Write {
            key: key.to_string(),
            source,
        })?;
    let Some(kv) = existing else {
        return create_if_missing(state, key, &obj).await;
    };
    let Ok(current) = serde_json::from_slice::<serde_json::Value>(&kv.value) else {
        return Err(BootstrapError::Corrupt {
            key: key.to_string(),
        });
    };
    for f in ["uid", "creationTimestamp"] {
        if let Some(v) = current.pointer(&format!("/metadata/{f}")) {
            obj["metadata"][f] = v.clone();
        }
    }
    if current == obj {
        return Ok(());
    }
    let bytes = serde_json::to_vec(&obj).unwrap_or_default();
    match state.store.update(key, bytes, kv.mod_revision).await {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(source) => Err(BootstrapError::Write {
            key: key.to_string(),
            source,
        }),
    }
}
