//! Watch streams: history replayed from the database, then live events from the
//! writer's broadcast, with a fall-back to the database whenever the watcher lags.
//!
//! The receiver is subscribed before the first history read, so every event committed
//! after that read's snapshot is either still in the broadcast buffer or reported as
//! lag; events at or below the last revision handled are skipped, which removes the
//! overlap between the two sources. The result has no gaps and no duplicates.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::read::{self, ReadPool};
use crate::{Event, StoreError, WatchStream};

/// How many history events one database read returns.
const HISTORY_PAGE: usize = 500;

enum Phase {
    /// Reading history from the database until it reaches its current revision.
    CatchingUp,
    Live,
    Finished,
}

struct WatchState {
    readers: Arc<ReadPool>,
    prefix: String,
    /// Every revision up to this one has been handled (yielded or filtered out).
    position: i64,
    pending: VecDeque<Event>,
    live: broadcast::Receiver<Arc<Event>>,
    phase: Phase,
}

pub(crate) fn stream(
    readers: Arc<ReadPool>,
    live: broadcast::Receiver<Arc<Event>>,
    prefix: String,
    after_revision: i64,
) -> WatchStream {
    let state = WatchState {
        readers,
        prefix,
        position: after_revision,
        pending: VecDeque::new(),
        live,
        phase: Phase::CatchingUp,
    };
    futures::stream::unfold(state, |mut state| async move {
        let item = state.next_item().await?;
        Some((item, state))
    })
    .boxed()
}

impl WatchState {
    async fn next_item(&mut self) -> Option<Result<Event, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            match self.phase {
                Phase::Finished => return None,
                Phase::CatchingUp => {
                    if let Err(e) = self.read_history().await {
                        self.phase = Phase::Finished;
                        return Some(Err(e));
                    }
                }
                Phase::Live => match self.live.recv().await {
                    Ok(event) => {
                        let revision = event.revision();
                        if revision <= self.position {
                            continue;
                        }
                        self.position = revision;
                        if event.kv.key.starts_with(&self.prefix) {
                            return Some(Ok(Event::clone(&event)));
                        }
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(
                            missed,
                            position = self.position,
                            "watcher lagged; catching up from the database"
                        );
                        self.phase = Phase::CatchingUp;
                    }
                    Err(RecvError::Closed) => self.phase = Phase::Finished,
                },
            }
        }
    }

    async fn read_history(&mut self) -> Result<(), StoreError> {
        let prefix = self.prefix.clone();
        let after = self.position;
        let page = self
            .readers
            .read(move |tx| read::history(tx, &prefix, after, HISTORY_PAGE))
            .await?;
        // A short page means the snapshot's current revision was reached.
        if page.events.len() < HISTORY_PAGE {
            self.phase = Phase::Live;
        }
        self.position = page.scanned_to;
        self.pending.extend(page.events);
        Ok(())
    }
}
