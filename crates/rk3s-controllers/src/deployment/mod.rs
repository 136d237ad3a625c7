//! Deployment controller: rolls ReplicaSets named `<deployment>-<pod-template-hash>` forward
//! (RollingUpdate or Recreate), scales them, keeps the revision history and reports status.
//! Entry point: [`run`]; the arithmetic lives in [`rollout`], [`history`], [`status`], [`hash`].

pub mod hash;
pub mod history;
pub mod rollout;
pub mod status;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use rk3s_core::selectors::LabelSelector;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

pub use sync::SyncError;

/// Runs the Deployment controller until `shutdown` fires.
pub async fn run(client: Client, concurrency: u16, instance: &str, shutdown: CancellationToken) {
    let deployments: Api<Deployment> = Api::all(client.clone());
    let sets: Api<ReplicaSet> = Api::all(client.clone());
    let controller = Controller::new(deployments, watcher::Config::default());
    let store = controller.store();
    let ctx = Arc::new(sync::Context {
        events: crate::events::Events::new(client.clone(), sync::MANAGER, instance),
        client,
    });
    controller
        .watches(sets, watcher::Config::default(), move |rs| {
            deployments_for_set(&store, &rs)
        })
        .with_config(
            ControllerConfig::default()
                .debounce(Duration::from_millis(50))
                .concurrency(concurrency),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(sync::reconcile, error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                debug!(error = %e, "deployment reconcile did not complete");
            }
        })
        .await;
}

/// A ReplicaSet wakes its controlling Deployment, or, when orphaned, every Deployment whose
/// selector matches it (one of them may adopt it).
fn deployments_for_set(store: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.namespace().unwrap_or_default();
    if let Some(r) = crate::replicaset::decide::controller_of(&rs.metadata) {
        if r.kind == "Deployment" && r.api_version.starts_with("apps/") {
            return vec![ObjectRef::new(&r.name).within(&ns)];
        }
        return Vec::new();
    }
    let labels = rs.labels().clone();
    store
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns.as_str()))
        .filter(|d| {
            d.spec
                .as_ref()
                .and_then(|s| LabelSelector::from_k8s(Some(&s.selector)).ok())
                .is_some_and(|sel| !sel.is_everything() && sel.matches(&labels))
        })
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

fn error_policy(d: Arc<Deployment>, error: &SyncError, _ctx: Arc<sync::Context>) -> Action {
    warn!(error = %crate::events::error_chain(error), deployment = %d.name_any(), "deployment sync failed");
    Action::requeue(Duration::from_secs(5))
}
