//! The token controller: fills Secrets of type `kubernetes.io/service-account-token` with a
//! legacy token, `ca.crt` and `namespace`, deletes those whose service account is missing, and
//! deletes a service account's token secrets when it is deleted.
//! Entry point: [`spawn_token_controller`].

use std::sync::Arc;

use rk3s_store::{Event, EventType, KeyValue, ListRequest, StoreError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::ServiceAccountError;
use super::keys::TokenKeys;
use super::legacy::{
    SecretAction, UID_ANNOTATION, reconcile_token_secret, token_secret_service_account,
};
use crate::objects;
use crate::state::ApiState;

const SECRETS_PREFIX: &str = "/registry/secrets/";
const SERVICE_ACCOUNTS_PREFIX: &str = "/registry/serviceaccounts/";

#[derive(Debug, thiserror::Error)]
pub enum TokenControllerError {
    #[error("reading {key}")]
    Read { key: String, source: StoreError },
    #[error("writing {key}")]
    Write { key: String, source: StoreError },
    #[error("issuing a token for {key}")]
    Issue {
        key: String,
        source: ServiceAccountError,
    },
}

/// What the controller works with.
struct Deps<'a> {
    store: &'a dyn rk3s_store::Backend,
    keys: &'a TokenKeys,
    ca_pem: Option<&'a str>,
}

/// Bring one stored secret in line: fill it, delete it, or leave it.
async fn reconcile_secret(deps: &Deps<'_>, kv: &KeyValue) -> Result<(), TokenControllerError> {
    let Ok(secret) = serde_json::from_slice::<Value>(&kv.value) else {
        return Ok(());
    };
    let Some(sa_name) = token_secret_service_account(&secret) else {
        return Ok(());
    };
    let ns = objects::meta_str(&secret, "namespace").unwrap_or("");
    if ns.is_empty() || sa_name.contains('/') {
        return Ok(());
    }
    let sa_key = format!("{SERVICE_ACCOUNTS_PREFIX}{ns}/{sa_name}");
    let sa = deps
        .store
        .get(&sa_key, 0)
        .await
        .map_err(|source| TokenControllerError::Read {
            key: sa_key.clone(),
            source,
        })?
        .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok());
    let action =
        reconcile_token_secret(deps.keys, &secret, sa.as_ref(), deps.ca_pem).map_err(|source| {
            TokenControllerError::Issue {
                key: kv.key.clone(),
                source,
            }
        })?;
    let written = match action {
        SecretAction::Nothing => return Ok(()),
        SecretAction::Delete => {
            tracing::debug!(secret = %kv.key, "deleting a token secret of a missing service account");
            deps.store
                .delete(&kv.key, Some(kv.mod_revision))
                .await
                .map(|_| ())
        }
        SecretAction::Fill(filled) => {
            let bytes = serde_json::to_vec(&filled).unwrap_or_default();
            deps.store
                .update(&kv.key, bytes, kv.mod_revision)
                .await
                .map(|_| ())
        }
    };
    match written {
        // Changed or gone meanwhile: the newer version is another event.
        Ok(()) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => Ok(()),
        Err(source) => Err(TokenControllerError::Write {
            key: kv.key.clone(),
            source,
        }),
    }
}

/// Delete the token secrets of service account `name` (uid `uid`) in `ns`.
async fn delete_token_secrets_of(
    deps: &Deps<'_>,
    ns: &str,
    name: &str,
    uid: &str,
) -> Result<(), TokenControllerError> {
    let prefix = format!("{SECRETS_PREFIX}{ns}/");
    let res = deps
        .store
        .list(ListRequest {
            prefix: prefix.clone(),
            ..Default::default()
        })
        .await
        .map_err(|source| TokenControllerError::Read {
            key: prefix,
            source,
        })?;
    for kv in res.kvs {
        let Ok(secret) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        if token_secret_service_account(&secret) != Some(name) {
            continue;
        }
        let secret_uid = secret
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(UID_ANNOTATION))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !secret_uid.is_empty() && !uid.is_empty() && secret_uid != uid {
            continue;
        }
        match deps.store.delete(&kv.key, Some(kv.mod_revision)).await {
            Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => {}
            Err(source) => {
                return Err(TokenControllerError::Write {
                    key: kv.key,
                    source,
                });
            }
        }
    }
    Ok(())
}

/// One pass over every secret: the work a restart may have missed.
pub async fn reconcile_all_token_secrets(state: &ApiState) -> Result<(), TokenControllerError> {
    let Some(keys) = state.token_keys.as_deref() else {
        return Ok(());
    };
    let deps = Deps {
        store: state.store.as_ref(),
        keys,
        ca_pem: state.root_ca_pem.as_deref(),
    };
    let res = deps
        .store
        .list(ListRequest {
            prefix: SECRETS_PREFIX.into(),
            ..Default::default()
        })
        .await
        .map_err(|source| TokenControllerError::Read {
            key: SECRETS_PREFIX.into(),
            source,
        })?;
    for kv in &res.kvs {
        reconcile_secret(&deps, kv).await?;
    }
    Ok(())
}

async fn on_event(state: &ApiState, ev: &Event) -> Result<(), TokenControllerError> {
    let Some(keys) = state.token_keys.as_deref() else {
        return Ok(());
    };
    let deps = Deps {
        store: state.store.as_ref(),
        keys,
        ca_pem: state.root_ca_pem.as_deref(),
    };
    match ev.kind {
        EventType::Put if ev.kv.key.starts_with(SECRETS_PREFIX) => {
            reconcile_secret(&deps, &ev.kv).await
        }
        EventType::Delete if ev.kv.key.starts_with(SERVICE_ACCOUNTS_PREFIX) => {
            let Some((ns, name)) = ev.kv.key[SERVICE_ACCOUNTS_PREFIX.len()..].split_once('/')
            else {
                return Ok(());
            };
            let uid = serde_json::from_slice::<Value>(&ev.kv.value)
                .ok()
                .and_then(|sa| objects::meta_str(&sa, "uid").map(str::to_string))
                .unwrap_or_default();
            delete_token_secrets_of(&deps, ns, name, &uid).await
        }
        _ => Ok(()),
    }
}

/// Run the controller until `shutdown`; does nothing when the state has no signing keys.
pub fn spawn_token_controller(state: Arc<ApiState>, shutdown: CancellationToken) {
    if state.token_keys.is_none() {
        return;
    }
    let prefixes = vec![
        SECRETS_PREFIX.to_string(),
        SERVICE_ACCOUNTS_PREFIX.to_string(),
    ];
    let (resync_state, event_state) = (state.clone(), state.clone());
    tokio::spawn(crate::store_watch::run(
        state.store.clone(),
        prefixes,
        shutdown,
        move || {
            let state = resync_state.clone();
            async move {
                if let Err(e) = reconcile_all_token_secrets(&state).await {
                    tracing::warn!(error = %e, "reconciling token secrets failed");
                }
            }
        },
        move |ev| {
            let state = event_state.clone();
            async move {
                if let Err(e) = on_event(&state, &ev).await {
                    tracing::warn!(error = %e, "token controller step failed");
                }
            }
        },
    ));
}
