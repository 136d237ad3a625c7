//! The live authorizer: RBAC objects, pods and claims listed from the store and kept current
//! by watches, so that each request is decided from memory. Entry points:
//! [`RbacAuthorizer::start`], [`RbacAuthorizer::authorize`].

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use futures::StreamExt;
use rk3s_store::{Backend, EventType, KeyValue, ListRequest, StoreError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::SUPERUSER_GROUP;
use super::attributes::{Attributes, Decision};
use super::evaluator::{Policy, PolicyKind, RulesReview};
use super::node::{NodeGraph, node_name};

/// Pause before relisting after a watch ends, so a failing store is not hammered.
const RELIST_DELAY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    #[error("initial list of {prefix} failed")]
    InitialListFailed {
        prefix: &'static str,
        source: StoreError,
    },
}

/// One watched part of the store and where its objects go.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Policy(PolicyKind),
    Pods,
    Claims,
}

impl Feed {
    const ALL: [Feed; 6] = [
        Feed::Policy(PolicyKind::ClusterRole),
        Feed::Policy(PolicyKind::ClusterRoleBinding),
        Feed::Policy(PolicyKind::Role),
        Feed::Policy(PolicyKind::RoleBinding),
        Feed::Pods,
        Feed::Claims,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Feed::Policy(PolicyKind::ClusterRole) => "/registry/clusterroles/",
            Feed::Policy(PolicyKind::ClusterRoleBinding) => "/registry/clusterrolebindings/",
            Feed::Policy(PolicyKind::Role) => "/registry/roles/",
            Feed::Policy(PolicyKind::RoleBinding) => "/registry/rolebindings/",
            Feed::Pods => "/registry/pods/",
            Feed::Claims => "/registry/persistentvolumeclaims/",
        }
    }

    fn namespaced(self) -> bool {
        !matches!(
            self,
            Feed::Policy(PolicyKind::ClusterRole | PolicyKind::ClusterRoleBinding)
        )
    }

    /// `(namespace, name)` from a key under this feed's prefix; `None` for keys of another
    /// shape, which are skipped.
    fn split_key(self, key: &str) -> Option<(&str, &str)> {
        let rest = key.strip_prefix(self.prefix())?;
        let (ns, name) = if self.namespaced() {
            rest.split_once('/')?
        } else {
            ("", rest)
        };
        (!name.is_empty() && !name.contains('/')).then_some((ns, name))
    }
}

/// RBAC plus the Node authorizer over an in-memory snapshot of the store.
pub struct RbacAuthorizer {
    policy: RwLock<Policy>,
    graph: RwLock<NodeGraph>,
}

impl RbacAuthorizer {
    /// Lists the RBAC objects, pods and claims, then follows them with watches until
    /// `shutdown`. Returns once the snapshot holds the initial lists.
    pub async fn start(
        store: Arc<dyn Backend>,
        shutdown: CancellationToken,
    ) -> Result<Arc<RbacAuthorizer>, RbacError> {
        let authz = Arc::new(RbacAuthorizer {
            policy: RwLock::new(Policy::new()),
            graph: RwLock::new(NodeGraph::new()),
        });
        for feed in Feed::ALL {
            let revision = authz.relist(store.as_ref(), feed).await.map_err(|source| {
                RbacError::InitialListFailed {
                    prefix: feed.prefix(),
                    source,
                }
            })?;
            tokio::spawn(follow(
                Arc::downgrade(&authz),
                Arc::clone(&store),
                feed,
                revision,
                shutdown.clone(),
            ));
        }
        Ok(authz)
    }

    /// The whole chain, as the API server asks it: `system:masters` may do anything; a node
    /// is granted what the Node authorizer grants; everyone (nodes too) what RBAC grants.
    pub fn authorize(&self, user: &str, groups: &[String], attrs: &Attributes) -> Decision {
        if groups.iter().any(|g| g == SUPERUSER_GROUP) {
            return Decision::allow("");
        }
        let mut reasons = Vec::new();
        if let Some(node) = node_name(user, groups) {
            match self.authorize_node(node, attrs) {
                Some(d) if d.allowed => return d,
                Some(d) => reasons.push(d.reason),
                None => {}
            }
        }
        let d = self.authorize_rbac(user, groups, attrs);
        if d.allowed {
            return d;
        }
        reasons.push(d.reason);
        reasons.retain(|r| !r.is_empty());
        Decision::deny(reasons.join(", "))
    }

    /// RBAC alone (no superuser or node shortcut).
    pub fn authorize_rbac(&self, user: &str, groups: &[String], attrs: &Attributes) -> Decision {
        self.read_policy().authorize(user, groups, attrs)
    }

    /// The Node authorizer alone, for the node `node`; see [`NodeGraph::authorize`].
    pub fn authorize_node(&self, node: &str, attrs: &Attributes) -> Option<Decision> {
        self.read_graph().authorize(node, attrs)
    }

    /// The rules that apply to the user in `namespace`, for SelfSubjectRulesReview.
    pub fn rules_for(&self, user: &str, groups: &[String], namespace: &str) -> RulesReview {
        if groups.iter().any(|g| g == SUPERUSER_GROUP) {
            return RulesReview::everything();
        }
        self.read_policy().rules_for(user, groups, namespace)
    }

    /// Replaces the feed's part of the snapshot with a fresh list; returns its revision.
    async fn relist(&self, store: &dyn Backend, feed: Feed) -> Result<i64, StoreError> {
        let list = store
            .list(ListRequest {
                prefix: feed.prefix().to_string(),
                ..ListRequest::default()
            })
            .await?;
        match feed {
            Feed::Policy(kind) => {
                let mut policy = self.write_policy();
                policy.clear(kind);
                for kv in &list.kvs {
                    apply_policy(&mut policy, kind, feed, EventType::Put, kv);
                }
            }
            Feed::Pods | Feed::Claims => {
                let mut graph = self.write_graph();
                match feed {
                    Feed::Pods => graph.clear_pods(),
                    _ => graph.clear_claims(),
                }
                for kv in &list.kvs {
                    apply_graph(&mut graph, feed, EventType::Put, kv);
                }
            }
        }
        Ok(list.revision)
    }

    fn apply(&self, feed: Feed, kind: EventType, kv: &KeyValue) {
        match feed {
            Feed::Policy(policy_kind) => {
                apply_policy(&mut self.write_policy(), policy_kind, feed, kind, kv)
            }
            Feed::Pods | Feed::Claims => apply_graph(&mut self.write_graph(), feed, kind, kv),
        }
    }

    // A panic while holding a lock cannot leave these maps half-updated in a way that matters
    // more than refusing every request would, so a poisoned lock is used as is.
    fn read_policy(&self) -> RwLockReadGuard<'_, Policy> {
        self.policy.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_policy(&self) -> RwLockWriteGuard<'_, Policy> {
        self.policy.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_graph(&self) -> RwLockReadGuard<'_, NodeGraph> {
        self.graph.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_graph(&self) -> RwLockWriteGuard<'_, NodeGraph> {
        self.graph.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// A value that does not parse is treated as absent: it grants nothing.
fn parse(kind: EventType, kv: &KeyValue) -> Option<Value> {
    match kind {
        EventType::Put => serde_json::from_slice(&kv.value).ok(),
        EventType::Delete => None,
    }
}

fn apply_policy(policy: &mut Policy, kind: PolicyKind, feed: Feed, ev: EventType, kv: &KeyValue) {
    let Some((ns, name)) = feed.split_key(&kv.key) else {
        return;
    };
    match parse(ev, kv) {
        Some(obj) => policy.put(kind, ns, name, &obj),
        None => policy.remove(kind, ns, name),
    }
}

fn apply_graph(graph: &mut NodeGraph, feed: Feed, ev: EventType, kv: &KeyValue) {
    let Some((ns, name)) = feed.split_key(&kv.key) else {
        return;
    };
    match (feed, parse(ev, kv)) {
        (Feed::Pods, Some(obj)) => graph.put_pod(ns, name, &obj),
        (Feed::Pods, None) => graph.remove_pod(ns, name),
        (_, Some(obj)) => graph.put_claim(ns, name, &obj),
        (_, None) => graph.remove_claim(ns, name),
    }
}

/// Follows one feed from `revision`; when the watch fails or ends (compaction, a store
/// error), relists and watches again from the list's revision.
async fn follow(
    authz: Weak<RbacAuthorizer>,
    store: Arc<dyn Backend>,
    feed: Feed,
    mut revision: i64,
    shutdown: CancellationToken,
) {
    loop {
        let watch = tokio::select! {
            _ = shutdown.cancelled() => return,
            w = store.watch(feed.prefix(), revision) => w,
        };
        match watch {
            Ok(mut events) => loop {
                let next = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    n = events.next() => n,
                };
                match next {
                    Some(Ok(ev)) => {
                        let Some(authz) = authz.upgrade() else { return };
                        authz.apply(feed, ev.kind, &ev.kv);
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, prefix = feed.prefix(), "authorizer watch failed; relisting");
                        break;
                    }
                    None => break,
                }
            },
            Err(error) => {
                tracing::warn!(%error, prefix = feed.prefix(), "authorizer watch did not start; relisting");
            }
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RELIST_DELAY) => {}
            }
            let Some(a) = authz.upgrade() else { return };
            match a.relist(store.as_ref(), feed).await {
                Ok(r) => {
                    revision = r;
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, prefix = feed.prefix(), "authorizer relist failed");
                }
            }
        }
    }
}
