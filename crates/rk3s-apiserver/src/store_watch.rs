//! A background reaction to store changes: a full pass, then every event under a few key
//! prefixes, starting over with a full pass whenever a watch breaks (compaction, store
//! error). Entry point: [`run`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rk3s_store::{Backend, Event};
use tokio_util::sync::CancellationToken;

/// How long to wait before starting over after the store refused a watch.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Call `resync` then `on_event` for each change under `prefixes` until `shutdown`. Events
/// committed while `resync` runs may be seen twice; reactions must be idempotent.
pub async fn run<R, RF, E, EF>(
    store: Arc<dyn Backend>,
    prefixes: Vec<String>,
    shutdown: CancellationToken,
    mut resync: R,
    mut on_event: E,
) where
    R: FnMut() -> RF,
    RF: Future<Output = ()>,
    E: FnMut(Event) -> EF,
    EF: Future<Output = ()>,
{
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        let started = match store.current_revision().await {
            Ok(rev) => Some(rev),
            Err(e) => {
                tracing::warn!(error = %e, "reading the store revision failed; retrying");
                None
            }
        };
        let mut watches = Vec::new();
        if let Some(rev) = started {
            resync().await;
            for prefix in &prefixes {
                match store.watch(prefix, rev).await {
                    Ok(w) => watches.push(w),
                    Err(e) => {
                        tracing::warn!(error = %e, prefix = %prefix, "watching failed; retrying");
                        break;
                    }
                }
            }
        }
        if watches.len() != prefixes.len() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RETRY_DELAY) => continue,
            }
        }
        let mut events = futures::stream::select_all(watches);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = events.next() => match ev {
                    Some(Ok(ev)) => on_event(ev).await,
                    // Start over from a full pass.
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
}
