//! The SQLite backend: one writer thread with group commit, a pool of read-only
//! connections, an in-process broadcast of committed events, and a background
//! compactor. Entry point: [`SqliteBackend::open`].

mod compactor;
mod read;
mod schema;
mod watch;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

use self::compactor::Compactor;
use self::read::ReadPool;
use self::writer::{Command, CompactProgress, Revisions, WriteOp, Writer};
use crate::{Backend, Event, KeyValue, ListRequest, ListResult, StoreError, WatchStream};

/// SQLite's `synchronous` setting for the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL at every commit: an acknowledged write survives a process kill
    /// and a power loss or kernel crash. The default.
    #[default]
    Full,
    /// No fsync at commit: an acknowledged write survives a process kill but may be
    /// lost with the last few transactions on power loss. For tests and benchmarks.
    Normal,
}

impl Synchronous {
    fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// When the background compactor runs and how much history it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionPolicy {
    pub interval: Duration,
    /// Revisions kept below the current one, for watchers that resume after a
    /// disconnect and for paginated lists in progress.
    pub retain_revisions: i64,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            interval: Duration::from_secs(5 * 60),
            retain_revisions: 1_000,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// Read-only connections used at once.
    pub read_connections: usize,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Events buffered per watcher before it falls back to reading the database.
    pub watch_buffer: usize,
    /// `None` disables the background compactor; `compact` can still be called.
    pub compaction: Option<CompactionPolicy>,
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            synchronous: Synchronous::Full,
            read_connections: 4,
            max_batch: 512,
            watch_buffer: 1024,
            compaction: Some(CompactionPolicy::default()),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Sends commands to the writer thread.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    commands: mpsc::Sender<Command>,
}

impl WriterHandle {
    async fn write(&self, op: WriteOp) -> Result<KeyValue, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Write { op, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn compact_step(&self, target: i64) -> Result<CompactProgress, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::CompactStep { target, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn maintain(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Maintain { reply })
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// For the compactor thread, which has no async runtime.
    fn compact_blocking(&self, target: i64) -> Result<(), StoreError> {
        loop {
            let (reply, answer) = oneshot::channel();
            self.commands
                .send(Command::CompactStep { target, reply })
                .map_err(|_| StoreError::Closed)?;
            match answer.blocking_recv().map_err(|_| StoreError::Closed)?? {
                CompactProgress::Done => return Ok(()),
                CompactProgress::More => {}
            }
        }
    }

    fn maintain_blocking(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Maintain { reply })
            .map_err(|_| StoreError::Closed)?;
        answer.blocking_recv().map_err(|_| StoreError::Closed)?
    }
}

/// A [`Backend`] on a SQLite database file.
pub struct SqliteBackend {
    // Declared first so that it is dropped (and its thread joined) while the writer
    // still accepts its commands.
    _compactor: Option<Compactor>,
    writer: WriterHandle,
    readers: Arc<ReadPool>,
    events: broadcast::Sender<Arc<Event>>,
    revisions: Arc<Revisions>,
}

impl SqliteBackend {
    /// Opens (or creates, with its parent directories) the database at `path` and
    /// starts the writer thread and, if configured, the compactor thread.
    pub fn open(path: &Path, opts: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDirFailed {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let conn = schema::open_writer(path, opts.synchronous, opts.busy_timeout)?;
        let (events, _) = broadcast::channel(opts.watch_buffer.max(1));
        let revisions = Arc::new(Revisions::default());
        let writer = Writer::new(conn, opts.max_batch, events.clone(), Arc::clone(&revisions))?;
        let (commands, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("rk3s-store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|e| StoreError::OpenFailed {
                path: path.to_path_buf(),
                source: Box::new(e),
            })?;
        let writer = WriterHandle { commands };
        let compactor = match opts.compaction {
            Some(policy) => Some(
                Compactor::spawn(policy, writer.clone(), Arc::clone(&revisions)).map_err(|e| {
                    StoreError::OpenFailed {
                        path: path.to_path_buf(),
                        source: Box::new(e),
                    }
                })?,
            ),
            None => None,
        };
        let readers = Arc::new(ReadPool::new(
            PathBuf::from(path),
            opts.read_connections,
            opts.busy_timeout,
        ));
        Ok(SqliteBackend {
            _compactor: compactor,
            writer,
            readers,
            events,
            revisions,
        })
    }

    /// Checkpoints the WAL into the database file (truncating it) and returns free
    /// pages to the file system; the compactor does this after every pass.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        self.writer.maintain().await
    }
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::InvalidKey {
            reason: "key is empty",
        });
    }
    Ok(())
}

fn check_revision(revision: i64) -> Result<(), StoreError> {
    if revision < 0 {
        return Err(StoreError::InvalidRevision { revision });
    }
    Ok(())
}

#[async_trait::async_trait]
impl Backend for SqliteBackend {
    async fn current_revision(&self) -> Result<i64, StoreError> {
        Ok(self.revisions.current.load(Ordering::SeqCst))
    }

    async fn compact_revision(&self) -> Result<i64, StoreError> {
        Ok(self.revisions.compact.load(Ordering::SeqCst))
    }

    async fn get(&self, key: &str, revision: i64) -> Result<Option<KeyValue>, StoreError> {
        check_revision(revision)?;
        let key = key.to_owned();
        self.readers
            .read(move |tx| read::get(tx, &key, revision))
            .await
    }

    async fn list(&self, req: ListRequest) -> Result<ListResult, StoreError> {
        check_revision(req.revision)?;
        self.readers.read(move |tx| read::list(tx, &req)).await
    }

    async fn count(&self, prefix: &str) -> Result<i64, StoreError> {
        let prefix = prefix.to_owned();
        self.readers.read(move |tx| read::count(tx, &prefix)).await
    }

    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue, StoreError> {
        check_key(key)?;
        self.writer
            .write(WriteOp::Create {
                key: key.to_owned(),
                value,
            })
            .await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_mod_revision: i64,
    ) -> Result<KeyValue, StoreError> {
        check_key(key)?;
        self.writer
            .write(WriteOp::Update {
                key: key.to_owned(),
                value,
                expected_mod_revision,
            })
            .await
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue, StoreError> {
        check_key(key)?;
        self.writer
            .write(WriteOp::Delete {
                key: key.to_owned(),
                expected_mod_revision,
            })
            .await
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream, StoreError> {
        check_revision(after_revision)?;
        // Fail early rather than in the first item; the stream checks again against
        // the snapshot it reads, so a compaction in between is still reported.
        let compact = self.revisions.compact.load(Ordering::SeqCst);
        if after_revision < compact {
            return Err(StoreError::Compacted {
                compact_revision: compact,
            });
        }
        let live = self.events.subscribe();
        Ok(watch::stream(
            Arc::clone(&self.readers),
            live,
            prefix.to_owned(),
            after_revision,
        ))
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        check_revision(revision)?;
        while self.writer.compact_step(revision).await? == CompactProgress::More {}
        Ok(())
    }
}
