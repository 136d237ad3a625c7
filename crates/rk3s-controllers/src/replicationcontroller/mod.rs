//! ReplicationController controller: the ReplicaSet controller's sync for v1
//! ReplicationControllers (equality-based selector, owner kind `ReplicationController`), with
//! its own controller and expectations over the shared pod cache. Entry point: [`run`]; what
//! differs from a ReplicaSet lives in [`decide`].

pub mod decide;

use std::borrow::Cow;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, ReplicationControllerStatus};
use kube::Client;
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use tokio_util::sync::CancellationToken;

use crate::informers::Informer;
use crate::replicaset::{self, ReplicaOwner, decide::DecideError};

impl ReplicaOwner for ReplicationController {
    const API_VERSION: &'static str = decide::API_VERSION;
    const KIND: &'static str = decide::KIND;
    const MANAGER: &'static str = "replicationcontroller-controller";
    type Status = ReplicationControllerStatus;

    fn selector(&self) -> Option<Result<LabelSelector, LabelSelectorError>> {
        let spec = self.spec.as_ref()?;
        Some(decide::selector(spec.selector.as_ref()))
    }

    fn as_replica_set(&self) -> Cow<'_, ReplicaSet> {
        Cow::Owned(decide::as_replica_set(self))
    }

    fn pod_from_template(&self) -> Result<Pod, DecideError> {
        decide::pod_from_template(self)
    }

    fn current_status(&self) -> Option<&ReplicationControllerStatus> {
        self.status.as_ref()
    }

    fn status_from(status: ReplicaSetStatus) -> ReplicationControllerStatus {
        decide::rc_status(status)
    }
}

/// Runs the ReplicationController controller until `shutdown` fires; pods come from the shared
/// `pods` cache.
pub async fn run(
    client: Client,
    pods: Informer<Pod>,
    concurrency: u16,
    instance: &str,
    shutdown: CancellationToken,
) {
    replicaset::run_replicas::<ReplicationController>(
        client,
        pods,
        concurrency,
        instance,
        shutdown,
    )
    .await;
}
