//! Values exchanged with a [`crate::Backend`]: key/value rows, watch events, list requests.

use std::pin::Pin;

use futures::Stream;

use crate::StoreError;

/// A cluster-wide revision: every write gets the next one, whatever its key.
pub type Revision = i64;

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the write that created this incarnation of the key (reset by
    /// delete then create).
    pub create_revision: i64,
    /// The revision of the write that produced this version.
    pub mod_revision: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Put,
    Delete,
}

/// A committed change seen by a watcher.
///
/// For `Delete`, `kv.value` is the last value of the key and `kv.mod_revision` the
/// revision of the delete; `prev_kv` is the version that was deleted. For `Put`,
/// `prev_kv` is the version that was replaced, or `None` for a create.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub kv: KeyValue,
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    /// The revision at which this event was committed.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision
    }
}

/// A range read: keys starting with `prefix`, strictly after `start_after`, at most
/// `limit` of them (0 = all), as of `revision` (0 = latest).
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub prefix: String,
    pub start_after: Option<String>,
    pub limit: usize,
    pub revision: i64,
}

#[derive(Debug, Clone)]
pub struct ListResult {
    /// Sorted by key (bytewise).
    pub kvs: Vec<KeyValue>,
    /// The revision the list was read at; pass it back to read the next page from the
    /// same snapshot.
    pub revision: i64,
    /// More keys match after the last one returned.
    pub more: bool,
}

/// Events in strict revision order; ends after yielding an error.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event, StoreError>> + Send>>;
