//! The root CA publisher: every namespace holds ConfigMap `kube-root-ca.crt` whose `ca.crt` is
//! the CA that signed the API serving certificate, so pods can verify the API server. Created
//! with each namespace ([`ensure_configmap`]) and kept as published — recreated when deleted,
//! restored when edited — by a background task ([`spawn_publisher`]).

use std::sync::Arc;

use rk3s_store::{Backend, EventType, ListRequest, StoreError};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::objects;
use crate::state::ApiState;

pub const CONFIGMAP_NAME: &str = "kube-root-ca.crt";
pub const CA_KEY: &str = "ca.crt";
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "The CA certificate that signed the API server's serving certificate, for verifying it at in-cluster addresses (the kubernetes service, kubernetes.default.svc). Other uses are not guaranteed to work across Kubernetes distributions.";

const CONFIGMAPS_PREFIX: &str = "/registry/configmaps/";
const NAMESPACES_PREFIX: &str = "/registry/namespaces/";

#[derive(Debug, thiserror::Error)]
pub enum RootCaError {
    #[error("reading {key}")]
    Read { key: String, source: StoreError },
    #[error("writing {key}")]
    Write { key: String, source: StoreError },
}

/// The ConfigMap as published in `namespace` (uid and creationTimestamp are the writer's).
pub fn configmap(namespace: &str, ca_pem: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIGMAP_NAME,
            "namespace": namespace,
            "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
        },
        "data": {CA_KEY: ca_pem},
    })
}

/// The stored ConfigMap put back as published, or `None` when it already is. Only `data` and
/// the description annotation are the publisher's; labels, other annotations and
/// `binaryData` are left as they are.
pub fn restored(current: &Value, ca_pem: &str) -> Option<Value> {
    let data_ok = current.get("data") == Some(&json!({CA_KEY: ca_pem}));
    let described = current
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty());
    if data_ok && described {
        return None;
    }
    let mut out = current.clone();
    let meta = objects::meta_mut(&mut out)?;
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta.insert("annotations".into(), json!({}));
    }
    if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        a.entry(DESCRIPTION_ANNOTATION)
            .and_modify(|d| {
                if d.as_str().is_none_or(str::is_empty) {
                    *d = json!(DESCRIPTION);
                }
            })
            .or_insert_with(|| json!(DESCRIPTION));
    }
    out["data"] = json!({CA_KEY: ca_pem});
    Some(out)
}

/// Create `kube-root-ca.crt` in `namespace`, or restore it if it differs. The caller knows
/// the namespace exists and is not terminating.
pub async fn ensure_configmap(
    store: &dyn Backend,
    namespace: &str,
    ca_pem: &str,
) -> Result<(), RootCaError> {
    let key = format!("{CONFIGMAPS_PREFIX}{namespace}/{CONFIGMAP_NAME}");
    let current = store
        .get(&key, 0)
        .await
        .map_err(|source| RootCaError::Read {
            key: key.clone(),
            source,
        })?;
    let write = |source| RootCaError::Write {
        key: key.clone(),
        source,
    };
    match current {
        None => {
            let mut cm = configmap(namespace, ca_pem);
            cm["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            cm["metadata"]["creationTimestamp"] = json!(objects::now_rfc3339());
            let bytes = serde_json::to_vec(&cm).unwrap_or_default();
            match store.create(&key, bytes).await {
                Ok(_) | Err(StoreError::AlreadyExists) => Ok(()),
                Err(e) => Err(write(e)),
            }
        }
        Some(kv) => {
            // Unreadable content is replaced like any other edit.
            let cm = serde_json::from_slice::<Value>(&kv.value)
                .ok()
                .filter(|v| v.get("metadata").is_some_and(Value::is_object))
                .unwrap_or_else(|| {
                    let mut cm = configmap(namespace, "");
                    cm["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
                    cm["metadata"]["creationTimestamp"] = json!(objects::now_rfc3339());
                    cm
                });
            let Some(fixed) = restored(&cm, ca_pem) else {
                return Ok(());
            };
            let bytes = objects::to_stored_bytes(&fixed).unwrap_or_default();
            match store.update(&key, bytes, kv.mod_revision).await {
                // A newer version is another event that brings us back here.
                Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => Ok(()),
                Err(e) => Err(write(e)),
            }
        }
    }
}

/// Publish in `namespace` if it exists and is not terminating (a terminating namespace is
/// being emptied; putting the ConfigMap back would hold it up).
async fn publish_if_active(
    store: &dyn Backend,
    namespace: &str,
    ca_pem: &str,
) -> Result<(), RootCaError> {
    let key = format!("{NAMESPACES_PREFIX}{namespace}");
    let ns = store
        .get(&key, 0)
        .await
        .map_err(|source| RootCaError::Read {
            key: key.clone(),
            source,
        })?;
    let active = ns
        .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .is_some_and(|ns| ns.pointer("/metadata/deletionTimestamp").is_none());
    if !active {
        return Ok(());
    }
    ensure_configmap(store, namespace, ca_pem).await
}

/// Publish in every active namespace.
pub async fn publish_all(store: &dyn Backend, ca_pem: &str) -> Result<(), RootCaError> {
    let res = store
        .list(ListRequest {
            prefix: NAMESPACES_PREFIX.into(),
            ..Default::default()
        })
        .await
        .map_err(|source| RootCaError::Read {
            key: NAMESPACES_PREFIX.into(),
            source,
        })?;
    for kv in res.kvs {
        let Some(name) = kv.key.strip_prefix(NAMESPACES_PREFIX) else {
            continue;
        };
        let terminating = serde_json::from_slice::<Value>(&kv.value)
            .ok()
            .is_none_or(|ns| ns.pointer("/metadata/deletionTimestamp").is_some());
        if !terminating {
            ensure_configmap(store, name, ca_pem).await?;
        }
    }
    Ok(())
}

/// The namespace whose `kube-root-ca.crt` or namespace object `key` is, if it is either.
fn namespace_of(key: &str) -> Option<&str> {
    if let Some(rest) = key.strip_prefix(CONFIGMAPS_PREFIX) {
        let (ns, name) = rest.split_once('/')?;
        return (name == CONFIGMAP_NAME && !ns.is_empty()).then_some(ns);
    }
    let ns = key.strip_prefix(NAMESPACES_PREFIX)?;
    (!ns.is_empty() && !ns.contains('/')).then_some(ns)
}

/// Keep every namespace's `kube-root-ca.crt` published until `shutdown`; does nothing when
/// the state has no root CA.
pub fn spawn_publisher(state: Arc<ApiState>, shutdown: CancellationToken) {
    let Some(ca) = state.root_ca_pem.clone() else {
        return;
    };
    let ca: Arc<str> = Arc::from(ca);
    let store = state.store.clone();
    let prefixes = vec![CONFIGMAPS_PREFIX.to_string(), NAMESPACES_PREFIX.to_string()];
    let (resync_store, resync_ca) = (store.clone(), ca.clone());
    let (event_store, event_ca) = (store.clone(), ca);
    tokio::spawn(crate::store_watch::run(
        store,
        prefixes,
        shutdown,
        move || {
            let (store, ca) = (resync_store.clone(), resync_ca.clone());
            async move {
                if let Err(e) = publish_all(store.as_ref(), &ca).await {
                    tracing::warn!(error = %e, "publishing the root CA failed");
                }
            }
        },
        move |ev| {
            let (store, ca) = (event_store.clone(), event_ca.clone());
            async move {
                let Some(ns) = namespace_of(&ev.kv.key) else {
                    return;
                };
                // A deleted namespace needs nothing; its ConfigMap went with it.
                if ev.kv.key.starts_with(NAMESPACES_PREFIX) && ev.kind == EventType::Delete {
                    return;
                }
                if let Err(e) = publish_if_active(store.as_ref(), ns, &ca).await {
                    tracing::warn!(error = %e, namespace = %ns, "publishing the root CA failed");
                }
            }
        },
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    #[test]
    fn published_configmap_holds_only_the_ca() {
        let cm = configmap("shop", CA);
        assert_eq!(cm["metadata"]["name"], CONFIGMAP_NAME);
        assert_eq!(cm["metadata"]["namespace"], "shop");
        assert_eq!(cm["data"], json!({"ca.crt": CA}));
        assert!(restored(&cm, CA).is_none());
    }

    #[test]
    fn edited_data_is_restored_and_foreign_metadata_kept() {
        let mut cm = configmap("shop", CA);
        cm["data"] = json!({"ca.crt": "forged", "extra": "x"});
        cm["metadata"]["labels"] = json!({"team": "a"});
        cm["metadata"]["annotations"]["note"] = json!("kept");
        let fixed = restored(&cm, CA).unwrap();
        assert_eq!(fixed["data"], json!({"ca.crt": CA}));
        assert_eq!(fixed["metadata"]["labels"]["team"], "a");
        assert_eq!(fixed["metadata"]["annotations"]["note"], "kept");
        assert_eq!(
            fixed["metadata"]["annotations"][DESCRIPTION_ANNOTATION],
            DESCRIPTION
        );
    }

    #[test]
    fn missing_description_is_put_back_even_when_data_is_right() {
        let mut cm = configmap("shop", CA);
        cm["metadata"]["annotations"] = json!("not an object");
        let fixed = restored(&cm, CA).unwrap();
        assert_eq!(
            fixed["metadata"]["annotations"][DESCRIPTION_ANNOTATION],
            DESCRIPTION
        );
    }

    #[test]
    fn object_without_metadata_is_not_restored_in_place() {
        assert!(restored(&json!({"data": {}}), CA).is_none());
    }

    #[test]
    fn only_root_ca_configmaps_and_namespaces_are_of_interest() {
        assert_eq!(
            namespace_of("/registry/configmaps/shop/kube-root-ca.crt"),
            Some("shop")
        );
        assert_eq!(namespace_of("/registry/configmaps/shop/other"), None);
        assert_eq!(namespace_of("/registry/configmaps//kube-root-ca.crt"), None);
        assert_eq!(namespace_of("/registry/namespaces/shop"), Some("shop"));
        assert_eq!(namespace_of("/registry/namespaces/"), None);
        assert_eq!(namespace_of("/registry/secrets/shop/x"), None);
    }
}
