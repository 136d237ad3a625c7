//! The error type of every store operation, whatever the backend.

/// Any error a backend reports, boxed so that the enum does not depend on a driver.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("key not found")]
    NotFound,
    #[error("key already exists")]
    AlreadyExists,
    /// A compare-and-swap failed; `current` is the key's latest version (if any).
    #[error("revision conflict")]
    Conflict { current: Option<crate::KeyValue> },
    #[error("required revision has been compacted (compact revision {compact_revision})")]
    Compacted { compact_revision: i64 },
    #[error("required revision is in the future (current revision {current})")]
    FutureRevision { current: i64 },
    #[error("invalid revision {revision}")]
    InvalidRevision { revision: i64 },
    #[error("invalid key: {reason}")]
    InvalidKey { reason: &'static str },
    #[error("creating the database directory {path}")]
    CreateDirFailed {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("opening the database {path}")]
    OpenFailed {
        path: std::path::PathBuf,
        source: BoxError,
    },
    #[error("preparing the database schema")]
    SchemaFailed { source: BoxError },
    #[error("reading from the database")]
    ReadFailed { source: BoxError },
    #[error("writing to the database")]
    WriteFailed { source: BoxError },
    #[error("compacting the database")]
    CompactFailed { source: BoxError },
    #[error("database maintenance (checkpoint/vacuum)")]
    MaintenanceFailed { source: BoxError },
    #[error("the database holds a malformed row at revision {revision}")]
    CorruptRow { revision: i64 },
    #[error("the store has been shut down")]
    Closed,
    #[error("a database worker task failed")]
    WorkerFailed { source: BoxError },
}
