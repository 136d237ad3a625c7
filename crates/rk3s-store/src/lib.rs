//! rk3s datastore: a revisioned key/value log with watch, behind the [`Backend`] trait.
//!
//! Every write (create, update, delete) appends a row stamped with the next
//! cluster-wide revision. Reads can be served at any revision not yet compacted; a
//! watch replays history from a revision and then follows live writes. The store knows
//! nothing of Kubernetes: keys are strings such as `/registry/pods/default/web`, values
//! are bytes.
//!
//! # SQLite (the default backend)
//!
//! [`SqliteBackend`] keeps the log in one table in WAL mode. One dedicated thread owns
//! the only read-write connection and commits queued writes in batches (group commit),
//! so concurrent writers never contend for SQLite's lock; reads use a small pool of
//! read-only connections on blocking threads.
//!
//! **Durability.** The default is `synchronous = FULL`: in WAL mode SQLite then fsyncs
//! the WAL at every commit, and a write is acknowledged only after its batch commits.
//! An acknowledged write therefore survives `kill -9` of the process *and* a power loss
//! or kernel crash. `NORMAL` would already survive `kill -9` (the WAL is in the page
//! cache, which outlives the process) but could lose the last transactions on power
//! loss, which a Kubernetes datastore must not do (clients have been told the object
//! exists). The cost of FULL is one fsync per batch rather than per write, which group
//! commit amortizes across all writers queued meanwhile. [`Synchronous::Normal`] is
//! available for tests and benchmarks.
//!
//! **Compaction.** `compact(rev)` removes versions superseded at or below `rev` and
//! delete tombstones at or below `rev`, in chunks so writes interleave. The background
//! compactor does this periodically (keeping [`CompactionPolicy::retain_revisions`]),
//! then runs `incremental_vacuum` (the database uses `auto_vacuum = INCREMENTAL`) and a
//! `wal_checkpoint(TRUNCATE)`, so the files stay near the live data plus the retained
//! history.

mod backend;
mod error;
mod sqlite;
mod types;

pub use backend::Backend;
pub use error::{BoxError, StoreError};
pub use sqlite::{CompactionPolicy, SqliteBackend, SqliteOptions, Synchronous};
pub use types::{Event, EventType, KeyValue, ListRequest, ListResult, Revision, WatchStream};
