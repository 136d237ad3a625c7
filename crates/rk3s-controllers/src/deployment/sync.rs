//! One sync of one Deployment against the API: claim its ReplicaSets, take one rollout step,
//! trim the history, write the status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, Client, Resource, ResourceExt};
use rk3s_core::selectors::{LabelSelector, LabelSelectorError};
use serde_json::json;

use super::hash::{self, POD_TEMPLATE_HASH};
use super::history;
use super::rollout::{self, Bounds, RolloutError, RsView};
use super::status;
use crate::events::Events;
use crate::replicaset::decide::{controller_of, controller_ref};

pub const MANAGER: &str = "deployment-controller";
const RESYNC: Duration = Duration::from_secs(300);
/// How often a Recreate rollout looks again for old pods that are still shutting down.
const OLD_POD_POLL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("deployment has no namespace, uid or spec")]
    Incomplete,
    #[error("invalid selector")]
    Selector(#[from] LabelSelectorError),
    #[error("invalid rolling update parameters")]
    Rollout(#[from] RolloutError),
    #[error("listing replica sets failed")]
    ListSets(#[source] kube::Error),
    #[error("listing pods failed")]
    ListPods(#[source] kube::Error),
    #[error("adopting replica set {name} failed")]
    Adopt { name: String, source: kube::Error },
    #[error("creating replica set {name} failed")]
    Create { name: String, source: kube::Error },
    #[error("updating replica set {name} failed")]
    Scale { name: String, source: kube::Error },
    #[error("deleting old replica set {name} failed")]
    Cleanup { name: String, source: kube::Error },
    #[error("updating the deployment failed")]
    UpdateDeployment(#[source] kube::Error),
    #[error("updating status failed")]
    UpdateStatus(#[source] kube::Error),
}

pub struct Context {
    pub client: Client,
    pub events: Events,
}

/// Everything one sync works with.
struct Sync<'a> {
    d: Deployment,
    events: &'a Events,
    /// The status as read, before this sync touched its conditions.
    stored: Option<DeploymentStatus>,
    spec: &'a DeploymentSpec,
    ns: String,
    name: String,
    uid: String,
    sets: Api<ReplicaSet>,
    bounds: Bounds,
    recreate: bool,
    now: Timestamp,
}

pub async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    let (Some(ns), Some(uid), Some(spec)) = (d.namespace(), d.uid(), d.spec.as_ref()) else {
        return Err(SyncError::Incomplete);
    };
    let selector = LabelSelector::from_k8s(Some(&spec.selector))?;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let name = d.name_any();
    if selector.is_everything() {
        // Upstream refuses to act on a selector that takes every pod, but still acknowledges
        // the generation.
        let seen = d.status.as_ref().and_then(|s| s.observed_generation);
        if seen < d.metadata.generation {
            patch_status(
                &deployments,
                &name,
                json!({"observedGeneration": d.metadata.generation}),
            )
            .await?;
        }
        return Ok(Action::await_change());
    }
    let replicas = status::desired(&d);
    let strategy = spec.strategy.as_ref();
    let s = Sync {
        d: (*d).clone(),
        events: &ctx.events,
        stored: d.status.clone(),
        spec,
        ns: ns.clone(),
        name: name.clone(),
        uid,
        sets: Api::namespaced(ctx.client.clone(), &ns),
        bounds: rollout::bounds(strategy, replicas)?,
        recreate: rollout::is_recreate(strategy),
        now: Timestamp::now(),
    };
    s.run(&ctx.client, &deployments, &selector).await
}

impl Sync<'_> {
    async fn run(
        mut self,
        client: &Client,
        deployments: &Api<Deployment>,
        selector: &LabelSelector,
    ) -> Result<Action, SyncError> {
        let listed = self
            .sets
            .list(&ListParams::default().labels(&selector.to_string()))
            .await
            .map_err(SyncError::ListSets)?
            .items;
        let deleting = self.d.metadata.deletion_timestamp.is_some();
        let mut owned = Vec::new();
        for rs in listed {
            match controller_of(&rs.metadata) {
                Some(r) if r.uid == self.uid => owned.push(rs),
                Some(_) => {}
                None if !deleting && rs.metadata.deletion_timestamp.is_none() => {
                    owned.push(self.adopt(rs).await?)
                }
                None => {}
            }
        }
        if deleting {
            self.write_status(deployments, &owned, None, false).await?;
            return Ok(Action::await_change());
        }
        if let Some(c) = status::pause_condition(&self.d, self.now) {
            status::set_condition(self.d.status.get_or_insert_with(Default::default), c);
        }

        // Oldest first, so that among equal templates the oldest set is "the new one" as upstream.
        owned.sort_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        let new_idx = owned.iter().position(|rs| {
            rs.spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| hash::templates_equal(t, &self.spec.template))
        });
        let mut new_rs = new_idx.map(|i| owned.remove(i));
        let mut old = owned;
        let paused = self.spec.paused.unwrap_or(false);
        let replicas = status::desired(&self.d);

        let active: Vec<RsView> = old
            .iter()
            .chain(new_rs.iter())
            .map(view)
            .filter(|v| v.spec_replicas > 0)
            .collect();
        let scaling = rollout::is_scaling_event(replicas, &active.iter().collect::<Vec<_>>());
        if paused || scaling {
            if let Some(n) = new_rs.take() {
                new_rs = Some(self.sync_new_rs_metadata(n, &old, deployments).await?);
            }
            self.scale_proportionally(&mut old, &mut new_rs).await?;
            if paused {
                self.cleanup(&old).await?;
            }
            self.write_status(deployments, &all(&old, &new_rs), new_rs.as_ref(), false)
                .await?;
            return Ok(Action::requeue(RESYNC));
        }

        if self.recreate {
            return self.recreate(client, deployments, old, new_rs).await;
        }
        let new_rs = match new_rs {
            Some(n) => self.sync_new_rs_metadata(n, &old, deployments).await?,
            None => match self.create_new_rs(&old, deployments).await? {
                Some(n) => n,
                None => return Ok(Action::requeue(Duration::ZERO)),
            },
        };
        let mut new_rs = Some(new_rs);
        let acted = self.rolling_step(&mut old, &mut new_rs).await?;
        if !acted && self.will_be_complete(&old, &new_rs) {
            self.cleanup(&old).await?;
        }
        let again = self
            .write_status(deployments, &all(&old, &new_rs), new_rs.as_ref(), true)
            .await?;
        Ok(Action::requeue(again.unwrap_or(RESYNC)))
    }

    /// One RollingUpdate step: grow the new set, else shrink old ones. Returns whether it scaled.
    async fn rolling_step(
        &self,
        old: &mut [ReplicaSet],
        new_rs: &mut Option<ReplicaSet>,
    ) -> Result<bool, SyncError> {
        let replicas = status::desired(&self.d);
        let Some(n) = new_rs.as_ref() else {
            return Ok(false);
        };
        let nv = view(n);
        let total: i32 = old.iter().map(|r| view(r).spec_replicas).sum::<i32>() + nv.spec_replicas;
        let target = rollout::new_rs_target(replicas, self.bounds, false, nv.spec_replicas, total);
        if target != nv.spec_replicas {
            let scaled = self.scale(n, target).await?;
            *new_rs = Some(scaled);
            return Ok(true);
        }
        let old_views: Vec<RsView> = old.iter().map(view).collect();
        let targets = rollout::old_rs_targets(replicas, self.bounds, &nv, &old_views);
        for (name, size) in &targets {
            if let Some(rs) = old.iter_mut().find(|r| r.name_any() == *name) {
                *rs = self.scale(rs, *size).await?;
            }
        }
        Ok(!targets.is_empty())
    }

    /// Recreate: every old pod goes before any new one is made.
    async fn recreate(
        mut self,
        client: &Client,
        deployments: &Api<Deployment>,
        mut old: Vec<ReplicaSet>,
        new_rs: Option<ReplicaSet>,
    ) -> Result<Action, SyncError> {
        let mut new_rs = match new_rs {
            Some(n) => Some(self.sync_new_rs_metadata(n, &old, deployments).await?),
            None => None,
        };
        let mut scaled = false;
        for rs in old.iter_mut() {
            if view(rs).spec_replicas > 0 {
                *rs = self.scale(rs, 0).await?;
                scaled = true;
            }
        }
        if scaled || self.old_pods_running(client, &old).await? {
            self.write_status(deployments, &all(&old, &new_rs), new_rs.as_ref(), true)
                .await?;
            return Ok(Action::requeue(OLD_POD_POLL));
        }
        let replicas = status::desired(&self.d);
        let n = match new_rs.take() {
            Some(n) => n,
            None => match self.create_new_rs(&old, deployments).await? {
                Some(n) => n,
                None => return Ok(Action::requeue(Duration::ZERO)),
            },
        };
        let n = if view(&n).spec_replicas != replicas {
            self.scale(&n, replicas).await?
        } else {
            n
        };
        new_rs = Some(n);
        if self.will_be_complete(&old, &new_rs) {
            self.cleanup(&old).await?;
        }
        let again = self
            .write_status(deployments, &all(&old, &new_rs), new_rs.as_ref(), true)
            .await?;
        Ok(Action::requeue(again.unwrap_or(RESYNC)))
    }

    async fn old_pods_running(
        &self,
        client: &Client,
        old: &[ReplicaSet],
    ) -> Result<bool, SyncError> {
        if old.iter().any(|r| view(r).status_replicas > 0) {
            return Ok(true);
        }
        let uids: Vec<String> = old.iter().filter_map(|r| r.uid()).collect();
        if uids.is_empty() {
            return Ok(false);
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), &self.ns);
        let selector = LabelSelector::from_k8s(Some(&self.spec.selector))?;
        let listed = pods
            .list(&ListParams::default().labels(&selector.to_string()))
            .await
            .map_err(SyncError::ListPods)?;
        Ok(listed.items.iter().any(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Succeeded" | "Failed"))
                && controller_of(&p.metadata).is_some_and(|r| uids.contains(&r.uid))
        }))
    }

    fn will_be_complete(&self, old: &[ReplicaSet], new_rs: &Option<ReplicaSet>) -> bool {
        let views: Vec<RsView> = all(old, new_rs).iter().map(view).collect();
        let nv = new_rs.as_ref().map(view);
        let st = status::calculate(
            &self.d,
            &views,
            nv.as_ref(),
            self.bounds.unavailable,
            self.now,
        );
        status::is_complete(&self.d, &st)
    }

    fn max_old_revision(old: &[ReplicaSet]) -> i64 {
        old.iter()
            .map(|r| history::revision(r.metadata.annotations.as_ref()))
            .max()
            .unwrap_or(0)
    }

    fn max_replicas(&self) -> i32 {
        status::desired(&self.d) + self.bounds.surge
    }

    /// Brings the new set's revision, inherited annotations and minReadySeconds up to date, and
    /// the Deployment's revision annotation with it.
    async fn sync_new_rs_metadata(
        &mut self,
        rs: ReplicaSet,
        old: &[ReplicaSet],
        deployments: &Api<Deployment>,
    ) -> Result<ReplicaSet, SyncError> {
        let new_revision = Self::max_old_revision(old) + 1;
        let current = rs.metadata.annotations.as_ref();
        let want = history::new_rs_annotations(
            current,
            self.d.metadata.annotations.as_ref(),
            new_revision,
            view(&rs)
                .desired_annotation
                .unwrap_or(status::desired(&self.d)),
            view(&rs).max_annotation.unwrap_or(self.max_replicas()),
        );
        let min_ready = self.spec.min_ready_seconds;
        let rs_min_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let rs = if Some(&want) != current || min_ready != rs_min_ready {
            if history::revision(Some(&want)) != history::revision(current)
                && status::find(
                    self.d.status.get_or_insert_with(Default::default),
                    status::PROGRESSING,
                )
                .is_none()
            {
                let msg = format!("Found new replica set {:?}", rs.name_any());
                let c = status::condition(
                    status::PROGRESSING,
                    "True",
                    status::FOUND_NEW_RS,
                    &msg,
                    self.now,
                );
                status::set_condition(self.d.status.get_or_insert_with(Default::default), c);
            }
            let patch = json!({
                "metadata": {"annotations": want},
                "spec": {"minReadySeconds": min_ready},
            });
            self.patch_rs(&rs.name_any(), &patch).await?
        } else {
            rs
        };
        self.sync_deployment_revision(&rs, deployments).await?;
        Ok(rs)
    }

    async fn sync_deployment_revision(
        &mut self,
        new_rs: &ReplicaSet,
        deployments: &Api<Deployment>,
    ) -> Result<(), SyncError> {
        let rev = history::revision(new_rs.metadata.annotations.as_ref());
        if rev == 0 || history::revision(self.d.metadata.annotations.as_ref()) == rev {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {history::REVISION: rev.to_string()}}});
        match deployments
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(d) => {
                self.d.metadata.annotations = d.metadata.annotations;
                Ok(())
            }
            Err(e) => Err(SyncError::UpdateDeployment(e)),
        }
    }

    /// Creates `<deployment>-<hash>`. On a name clash with a foreign template the collision count
    /// goes up and `None` asks for an immediate retry under a new hash.
    async fn create_new_rs(
        &mut self,
        old: &[ReplicaSet],
        deployments: &Api<Deployment>,
    ) -> Result<Option<ReplicaSet>, SyncError> {
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let h = hash::template_hash(&self.spec.template, collision);
        let rs_name = format!("{}-{}", self.name, h);
        let replicas = status::desired(&self.d);
        let all_total: i32 = old.iter().map(|r| view(r).spec_replicas).sum();
        let size = rollout::new_rs_target(replicas, self.bounds, self.recreate, 0, all_total);
        let mut template = self.spec.template.clone();
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), h.clone());
        let mut selector = self.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), h.clone());
        let labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
        let annotations = history::new_rs_annotations(
            None,
            self.d.metadata.annotations.as_ref(),
            Self::max_old_revision(old) + 1,
            replicas,
            self.max_replicas(),
        );
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(rs_name.clone()),
                namespace: Some(self.ns.clone()),
                labels,
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(
                    "apps/v1",
                    "Deployment",
                    &self.name,
                    &self.uid,
                )]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(size),
                min_ready_seconds: self.spec.min_ready_seconds,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let params = PostParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        let created = match self.sets.create(&params, &rs).await {
            Ok(created) => created,
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let existing =
                    self.sets
                        .get_opt(&rs_name)
                        .await
                        .map_err(|source| SyncError::Create {
                            name: rs_name.clone(),
                            source,
                        })?;
                let ours = existing.as_ref().is_some_and(|x| {
                    controller_of(&x.metadata).is_some_and(|r| r.uid == self.uid)
                        && x.spec
                            .as_ref()
                            .and_then(|s| s.template.as_ref())
                            .is_some_and(|t| hash::templates_equal(t, &self.spec.template))
                });
                if let (true, Some(x)) = (ours, existing) {
                    x
                } else {
                    let next = collision.unwrap_or(0).saturating_add(1);
                    patch_status(deployments, &self.name, json!({"collisionCount": next})).await?;
                    return Ok(None);
                }
            }
            Err(source) => {
                return Err(SyncError::Create {
                    name: rs_name,
                    source,
                });
            }
        };
        if size > 0 {
            let note = format!("Scaled up replica set {rs_name} from 0 to {size}");
            self.events
                .normal(&self.d.object_ref(&()), "ScalingReplicaSet", "Scale", note)
                .await;
        }
        let msg = format!("Created new replica set {rs_name:?}");
        let c = status::condition(
            status::PROGRESSING,
            "True",
            status::NEW_RS_CREATED,
            &msg,
            self.now,
        );
        status::set_condition(self.d.status.get_or_insert_with(Default::default), c);
        self.sync_deployment_revision(&created, deployments).await?;
        Ok(Some(created))
    }

    async fn scale_proportionally(
        &self,
        old: &mut [ReplicaSet],
        new_rs: &mut Option<ReplicaSet>,
    ) -> Result<(), SyncError> {
        let old_views: Vec<RsView> = old.iter().map(view).collect();
        let new_view = new_rs.as_ref().map(view);
        let status_replicas = self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        let targets = rollout::proportional_targets(
            status::desired(&self.d),
            self.bounds,
            self.recreate,
            new_view.as_ref(),
            &old_views,
            status_replicas,
        );
        for (name, size) in targets {
            if let Some(n) = new_rs.as_mut().filter(|n| n.name_any() == name) {
                *n = self.scale(n, size).await?;
            } else if let Some(rs) = old.iter_mut().find(|r| r.name_any() == name) {
                *rs = self.scale(rs, size).await?;
            }
        }
        Ok(())
    }

    /// Sets a ReplicaSet's size and records the Deployment size it was set for.
    async fn scale(&self, rs: &ReplicaSet, size: i32) -> Result<ReplicaSet, SyncError> {
        let v = view(rs);
        let desired = status::desired(&self.d);
        let max = self.max_replicas();
        if v.spec_replicas == size
            && v.desired_annotation == Some(desired)
            && v.max_annotation == Some(max)
        {
            return Ok(rs.clone());
        }
        let patch = json!({
            "metadata": {"annotations": {
                history::DESIRED_REPLICAS: desired.to_string(),
                history::MAX_REPLICAS: max.to_string(),
            }},
            "spec": {"replicas": size},
        });
        let scaled = self.patch_rs(&rs.name_any(), &patch).await?;
        if v.spec_replicas != size {
            let verb = if size > v.spec_replicas { "up" } else { "down" };
            let note = format!(
                "Scaled {verb} replica set {} from {} to {size}",
                v.name, v.spec_replicas
            );
            self.events
                .normal(&self.d.object_ref(&()), "ScalingReplicaSet", "Scale", note)
                .await;
        }
        Ok(scaled)
    }

    async fn patch_rs(
        &self,
        name: &str,
        patch: &serde_json::Value,
    ) -> Result<ReplicaSet, SyncError> {
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        self.sets
            .patch(name, &params, &Patch::Merge(patch))
            .await
            .map_err(|source| SyncError::Scale {
                name: name.into(),
                source,
            })
    }

    async fn adopt(&self, rs: ReplicaSet) -> Result<ReplicaSet, SyncError> {
        let name = rs.name_any();
        let mut refs: Vec<_> = rs
            .metadata
            .owner_references
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.uid != self.uid)
            .collect();
        refs.push(controller_ref(
            "apps/v1",
            "Deployment",
            &self.name,
            &self.uid,
        ));
        let patch = json!({"metadata": {"ownerReferences": refs, "resourceVersion": rs.resource_version()}});
        self.sets
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| SyncError::Adopt { name, source })
    }

    /// Deletes the oldest empty sets beyond `revisionHistoryLimit` (default 10).
    async fn cleanup(&self, old: &[ReplicaSet]) -> Result<(), SyncError> {
        let limit = self.spec.revision_history_limit.unwrap_or(10);
        let entries: Vec<history::HistoryEntry> = old
            .iter()
            .map(|r| history::HistoryEntry {
                name: r.name_any(),
                revision: history::revision(r.metadata.annotations.as_ref()),
                spec_replicas: view(r).spec_replicas,
                status_replicas: view(r).status_replicas,
                deleting: r.metadata.deletion_timestamp.is_some(),
                unobserved: r.status.as_ref().and_then(|s| s.observed_generation)
                    < r.metadata.generation,
            })
            .collect();
        for name in history::beyond_history_limit(&entries, limit) {
            match self.sets.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(source) => return Err(SyncError::Cleanup { name, source }),
            }
        }
        Ok(())
    }

    /// Writes the status when it changed; returns when to look again for the progress deadline.
    async fn write_status(
        &self,
        deployments: &Api<Deployment>,
        all: &[ReplicaSet],
        new_rs: Option<&ReplicaSet>,
        track_progress: bool,
    ) -> Result<Option<Duration>, SyncError> {
        let views: Vec<RsView> = all.iter().map(view).collect();
        let nv = new_rs.map(view);
        let mut st = status::calculate(
            &self.d,
            &views,
            nv.as_ref(),
            self.bounds.unavailable,
            self.now,
        );
        let failure = all.iter().find_map(|rs| {
            rs.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == status::REPLICA_FAILURE && c.status == "True")
                .map(|c| {
                    (
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default(),
                    )
                })
        });
        status::replica_failure(
            &mut st,
            failure.as_ref().map(|(r, m)| (r.as_str(), m.as_str())),
            self.now,
        );
        let paused = self.spec.paused.unwrap_or(false);
        let again = if track_progress && !paused {
            status::progress(
                &self.d,
                &mut st,
                nv.as_ref().map(|v| v.name.as_str()),
                self.now,
            )
        } else {
            None
        };
        // Compare with what is stored: conditions set during this sync live only in `self.d`.
        if self.stored.as_ref() != Some(&st) {
            patch_status(
                deployments,
                &self.name,
                serde_json::to_value(&st).unwrap_or_default(),
            )
            .await?;
        }
        Ok(again)
    }
}

async fn patch_status(
    api: &Api<Deployment>,
    name: &str,
    status: serde_json::Value,
) -> Result<(), SyncError> {
    match api
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(SyncError::UpdateStatus(e)),
    }
}

fn all(old: &[ReplicaSet], new_rs: &Option<ReplicaSet>) -> Vec<ReplicaSet> {
    old.iter().chain(new_rs.iter()).cloned().collect()
}

/// The rollout code's view of a ReplicaSet (absent replicas default to 1, as the API does).
fn view(rs: &ReplicaSet) -> RsView {
    let ann = rs.metadata.annotations.as_ref();
    let num = |k: &str| {
        ann.and_then(|a| a.get(k))
            .and_then(|v| v.parse::<i32>().ok())
    };
    let st = rs.status.as_ref();
    RsView {
        name: rs.name_any(),
        spec_replicas: rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        status_replicas: st.map(|s| s.replicas).unwrap_or(0),
        ready: st.and_then(|s| s.ready_replicas).unwrap_or(0),
        available: st.and_then(|s| s.available_replicas).unwrap_or(0),
        created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
        desired_annotation: num(history::DESIRED_REPLICAS),
        max_annotation: num(history::MAX_REPLICAS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ReplicaSetStatus;

    #[test]
    fn the_view_defaults_missing_replicas_to_one_and_reads_annotations() {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some("web-x".into());
        rs.metadata.annotations = Some(BTreeMap::from([
            (history::DESIRED_REPLICAS.to_string(), "3".to_string()),
            (history::MAX_REPLICAS.to_string(), "junk".to_string()),
        ]));
        rs.spec = Some(ReplicaSetSpec::default());
        rs.status = Some(ReplicaSetStatus {
            replicas: 2,
            available_replicas: Some(1),
            ..Default::default()
        });
        let v = view(&rs);
        assert_eq!((v.spec_replicas, v.status_replicas, v.available), (1, 2, 1));
        assert_eq!(v.desired_annotation, Some(3));
        assert_eq!(v.max_annotation, None);
    }
}
