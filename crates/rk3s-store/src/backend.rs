//! The `Backend` trait: the narrow interface every datastore (SQLite, PostgreSQL, MySQL,
//! etcd) implements.

use crate::{KeyValue, ListRequest, ListResult, StoreError, WatchStream};

/// A revisioned key/value log with watch.
///
/// Revision arguments: `0` means "latest"; a revision below the compact revision fails
/// with [`StoreError::Compacted`], one above the current revision with
/// [`StoreError::FutureRevision`], a negative one with [`StoreError::InvalidRevision`].
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The revision of the last committed write (0 for an empty store).
    async fn current_revision(&self) -> Result<i64, StoreError>;
    /// Revisions below this one have been compacted away.
    async fn compact_revision(&self) -> Result<i64, StoreError>;
    /// The newest version of `key` at `revision` (0 = latest), `None` if absent or deleted.
    async fn get(&self, key: &str, revision: i64) -> Result<Option<KeyValue>, StoreError>;
    async fn list(&self, req: ListRequest) -> Result<ListResult, StoreError>;
    /// The number of live keys under `prefix` at the latest revision.
    async fn count(&self, prefix: &str) -> Result<i64, StoreError>;
    /// Fails with [`StoreError::AlreadyExists`] if the key is live.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<KeyValue, StoreError>;
    /// Compare-and-swap on the key's mod revision: [`StoreError::NotFound`] if the key
    /// is absent, [`StoreError::Conflict`] (with the current version) on a mismatch.
    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_mod_revision: i64,
    ) -> Result<KeyValue, StoreError>;
    /// Returns the deleted version, with `mod_revision` set to the delete's revision.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<i64>,
    ) -> Result<KeyValue, StoreError>;
    /// Events under `prefix` with revision > `after_revision`, in strict revision order,
    /// history first then live. Pass [`Backend::current_revision`] to watch "from now".
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream, StoreError>;
    /// Drops superseded versions and delete tombstones at or below `revision`; reads and
    /// watches that need older history then fail with [`StoreError::Compacted`].
    async fn compact(&self, revision: i64) -> Result<(), StoreError>;
}
