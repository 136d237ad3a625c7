//! Shared informers: one watch per resource type for all controllers, feeding a read-only cache
//! and a stream of changes each controller subscribes to. Entry point: [`Informer::start`].
//!
//! Every controller keeping its own pod watch meant the API encoded each pod change once per
//! controller, and every controller decoded it again; reconcilers listing pods through the API
//! made each sync cost a full scan of the namespace. Here one watch fills one cache, and the
//! reconcilers read it.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, Lookup, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// Changes a slow subscriber may fall behind by before it is handed the whole cache instead.
/// The channel keeps that many past objects alive, so it stays small.
const CHANGE_BUFFER: usize = 1024;

/// A cached, watched resource type.
pub struct Informer<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    changes: broadcast::Sender<Arc<K>>,
}

impl<K> Clone for Informer<K>
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            changes: self.changes.clone(),
        }
    }
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()>
        + Lookup<DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    /// Starts watching every object of `api` until `shutdown` fires.
    pub fn start(api: Api<K>, shutdown: CancellationToken) -> Informer<K> {
        let mut writer = reflector::store::Writer::<K>::default();
        let store = writer.as_reader();
        let (changes, _) = broadcast::channel(CHANGE_BUFFER);
        let tx = changes.clone();
        let reader = store.clone();
        tokio::spawn(async move {
            let stream = watcher(api, watcher::Config::default()).default_backoff();
            let mut stream = std::pin::pin!(stream);
            loop {
                let ev = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    ev = stream.next() => ev,
                };
                let ev = match ev {
                    None => return,
                    Some(Err(e)) => {
                        debug!(error = %e, "informer watch failed; retrying");
                        continue;
                    }
                    Some(Ok(mut ev)) => {
                        // Field ownership is of no use to controllers, and once parsed it is
                        // the bulk of a cached pod's memory.
                        match &mut ev {
                            watcher::Event::Apply(o)
                            | watcher::Event::InitApply(o)
                            | watcher::Event::Delete(o) => o.meta_mut().managed_fields = None,
                            watcher::Event::Init | watcher::Event::InitDone => {}
                        }
                        ev
                    }
                };
                writer.apply_watcher_event(&ev);
                // A send fails only when nobody subscribes yet; they start from the cache.
                match ev {
                    watcher::Event::Apply(obj) => {
                        let cached = reader.get(&ObjectRef::from_obj(&obj));
                        let _ = tx.send(cached.unwrap_or_else(|| Arc::new(obj)));
                    }
                    watcher::Event::Delete(obj) => {
                        let _ = tx.send(Arc::new(obj));
                    }
                    // After a (re)list every object may have changed unseen.
                    watcher::Event::InitDone => {
                        for obj in reader.state() {
                            let _ = tx.send(obj);
                        }
                    }
                    watcher::Event::Init | watcher::Event::InitApply(_) => {}
                }
            }
        });
        Informer { store, changes }
    }

    /// The cache; empty until the first list completes (see [`Informer::ready`]).
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Waits until the cache holds a complete list.
    pub async fn ready(&self) {
        // Err means the writer is gone, i.e. shutting down: nothing left to wait for.
        let _ = self.store.wait_until_ready().await;
    }

    /// Every object as it changes (also deletions, with their last state), starting with the
    /// whole cache. A subscriber that falls behind gets the whole cache again rather than the
    /// changes it missed: controllers are level-triggered, so that is enough.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<K>> + Send + 'static {
        let rx = self.changes.subscribe();
        let store = self.store.clone();
        let first = store.state();
        futures::stream::iter(first).chain(
            futures::stream::unfold((rx, store), |(mut rx, store)| async move {
                loop {
                    match rx.recv().await {
                        Ok(obj) => return Some((vec![obj], (rx, store))),
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let all = store.state();
                            if !all.is_empty() {
                                return Some((all, (rx, store)));
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            })
            .flat_map(futures::stream::iter),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(name: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn informer() -> (Informer<ConfigMap>, reflector::store::Writer<ConfigMap>) {
        let writer = reflector::store::Writer::<ConfigMap>::default();
        let (changes, _) = broadcast::channel(4);
        (
            Informer {
                store: writer.as_reader(),
                changes,
            },
            writer,
        )
    }

    #[tokio::test]
    async fn subscriber_starts_with_the_cache_then_sees_changes_and_deletions() {
        let (inf, mut writer) = informer();
        writer.apply_watcher_event(&watcher::Event::Apply(cm("a")));
        let mut sub = Box::pin(inf.subscribe());
        let first = sub.next().await.map(|o| o.metadata.name.clone());
        assert_eq!(first, Some(Some("a".to_string())));
        let _ = inf.changes.send(Arc::new(cm("b")));
        let _ = inf.changes.send(Arc::new(cm("gone")));
        let names: Vec<_> = sub
            .take(2)
            .map(|o| o.metadata.name.clone().unwrap_or_default())
            .collect()
            .await;
        assert_eq!(names, ["b", "gone"]);
    }

    #[tokio::test]
    async fn lagging_subscriber_is_handed_the_whole_cache() {
        let (inf, mut writer) = informer();
        let mut sub = Box::pin(inf.subscribe());
        for n in ["a", "b", "c", "d", "e", "f"] {
            writer.apply_watcher_event(&watcher::Event::Apply(cm(n)));
            let _ = inf.changes.send(Arc::new(cm(n)));
        }
        // Six sends into a buffer of four: the subscriber lagged, and gets all six from the cache.
        let mut names: Vec<_> = (&mut sub)
            .take(6)
            .map(|o| o.metadata.name.clone().unwrap_or_default())
            .collect()
            .await;
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f"]);
    }
}
