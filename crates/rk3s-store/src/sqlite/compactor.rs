//! The background compactor: every `interval`, compacts to `current - retain_revisions`,
//! then gives free pages back and truncates the WAL.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::writer::Revisions;
use super::{CompactionPolicy, WriterHandle};

/// Stops the compactor thread when dropped.
pub(crate) struct Compactor {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    pub(crate) fn spawn(
        policy: CompactionPolicy,
        writer: WriterHandle,
        revisions: Arc<Revisions>,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rk3s-store-compactor".into())
            .spawn(move || {
                // Any message or a dropped sender ends the loop; only a timeout runs a pass.
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(policy.interval)
                {
                    let current = revisions.current.load(Ordering::SeqCst);
                    let target = current.saturating_sub(policy.retain_revisions.max(0));
                    let compact = revisions.compact.load(Ordering::SeqCst);
                    if target > compact
                        && let Err(e) = writer.compact_blocking(target)
                    {
                        tracing::warn!(error = %e, target, "store compaction failed");
                        continue;
                    }
                    if let Err(e) = writer.maintain_blocking() {
                        tracing::warn!(error = %e, "store maintenance failed");
                    }
                }
            })?;
        Ok(Compactor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        drop(self.stop.take());
        // The thread wakes at once on the closed channel; a pass under way is finished
        // rather than abandoned half-way through a chunk.
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("store compactor thread panicked");
        }
    }
}
