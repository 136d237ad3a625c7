//! ControllerRevision bookkeeping against the API, shared by the StatefulSet and DaemonSet
//! controllers: find or create the revision of the current template, prune old ones.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use rk3s_core::selectors::LabelSelector;
use serde_json::json;
use tracing::debug;

use super::revision::{self, NewRevision};
use crate::replicaset::decide::controller_of;

/// Hash collisions tolerated before giving up for this sync.
const MAX_COLLISIONS: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("listing controller revisions failed")]
    List(#[source] kube::Error),
    #[error("creating controller revision {name} failed")]
    Create { name: String, source: kube::Error },
    #[error("renumbering controller revision {name} failed")]
    Renumber { name: String, source: kube::Error },
    #[error("too many controller revision name collisions")]
    Collisions,
}

/// An owner's revisions after a sync.
pub struct History {
    /// Every revision the owner controls, the update revision included.
    pub revisions: Vec<ControllerRevision>,
    pub update: ControllerRevision,
    /// The owner's collision count, to be written to its status when it changed.
    pub collision_count: Option<i32>,
}

/// The owner's revisions and the one of `template`, created (or, after a rollback, renumbered
/// to be the newest) as needed.
pub async fn sync(
    api: &Api<ControllerRevision>,
    owner: &OwnerReference,
    namespace: &str,
    selector: &LabelSelector,
    template: &PodTemplateSpec,
    mut collision_count: Option<i32>,
) -> Result<History, HistoryError> {
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default().labels(&selector.to_string()))
        .await
        .map_err(HistoryError::List)?
        .items
        .into_iter()
        .filter(|r| controller_of(&r.metadata).is_some_and(|o| o.uid == owner.uid))
        .collect();
    let next = revision::next_number(&revisions);
    if let Some(found) = revision::find_equal(&revisions, template).cloned() {
        let update = if found.revision + 1 == next {
            found
        } else {
            let name = found.name_any();
            let patched = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"revision": next})),
                )
                .await
                .map_err(|source| HistoryError::Renumber {
                    name: name.clone(),
                    source,
                })?;
            if let Some(r) = revisions.iter_mut().find(|r| r.name_any() == name) {
                *r = patched.clone();
            }
            patched
        };
        return Ok(History {
            revisions,
            update,
            collision_count,
        });
    }
    for _ in 0..MAX_COLLISIONS {
        let hash = revision::revision_hash(template, collision_count);
        let rev = revision::new_revision(NewRevision {
            owner: owner.clone(),
            namespace,
            template,
            hash: &hash,
            number: next,
        });
        let name = rev.name_any();
        match api.create(&PostParams::default(), &rev).await {
            Ok(created) => {
                revisions.push(created.clone());
                return Ok(History {
                    revisions,
                    update: created,
                    collision_count,
                });
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Same name: either our revision from a sync whose list missed it, or a hash
                // collision with another template, which a bumped collision count avoids.
                if let Ok(existing) = api.get(&name).await
                    && revision::restores(&existing, template)
                    && controller_of(&existing.metadata).is_some_and(|o| o.uid == owner.uid)
                {
                    revisions.push(existing.clone());
                    return Ok(History {
                        revisions,
                        update: existing,
                        collision_count,
                    });
                }
                collision_count = Some(collision_count.unwrap_or(0).saturating_add(1));
            }
            Err(source) => return Err(HistoryError::Create { name, source }),
        }
    }
    Err(HistoryError::Collisions)
}

/// Deletes revisions beyond `limit` that nothing uses; failures wait for a later sync.
pub async fn prune(
    api: &Api<ControllerRevision>,
    revisions: &[ControllerRevision],
    limit: i32,
    in_use: &BTreeSet<String>,
) {
    for name in revision::prunable(revisions, limit, in_use) {
        if let Err(e) = api.delete(&name, &DeleteParams::default()).await {
            debug!(error = %e, revision = %name, "pruning a controller revision failed");
        }
    }
}
