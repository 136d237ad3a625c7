//! Reads: a small pool of read-only connections used on blocking threads, and the
//! queries behind get, list, count and watch history.
//!
//! Every read runs in its own deferred transaction so that the meta row (current and
//! compact revision) and the log rows come from one WAL snapshot.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, Transaction, params_from_iter};
use tokio::sync::Semaphore;

use super::schema::{open_reader, prefix_end, read_meta};
use crate::{Event, EventType, KeyValue, ListRequest, ListResult, StoreError};

pub(crate) fn read_failed(e: rusqlite::Error) -> StoreError {
    StoreError::ReadFailed {
        source: Box::new(e),
    }
}

/// Read-only connections, opened lazily up to `size`, each used by one blocking task
/// at a time.
pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf, size: usize, busy_timeout: Duration) -> Self {
        ReadPool {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Runs `f` inside a read transaction on a pooled connection.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let taken = pool
                .idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop();
            let mut conn = match taken {
                Some(conn) => conn,
                None => open_reader(&pool.path, pool.busy_timeout)?,
            };
            let out = match conn.transaction() {
                Ok(tx) => f(&tx),
                Err(e) => Err(read_failed(e)),
            };
            pool.idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(conn);
            out
        })
        .await;
        joined.map_err(|e| StoreError::WorkerFailed {
            source: Box::new(e),
        })?
    }
}

/// The revision to read at, checked against the snapshot's current and compact
/// revisions; `0` means the snapshot's current revision.
fn resolve_revision(tx: &Transaction<'_>, requested: i64) -> Result<i64, StoreError> {
    let (current, compact) = read_meta(tx).map_err(read_failed)?;
    if requested < 0 {
        return Err(StoreError::InvalidRevision {
            revision: requested,
        });
    }
    if requested == 0 {
        return Ok(current);
    }
    if requested > current {
        return Err(StoreError::FutureRevision { current });
    }
    if requested < compact {
        return Err(StoreError::Compacted {
            compact_revision: compact,
        });
    }
    Ok(requested)
}

fn key_string(bytes: Vec<u8>, revision: i64) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| StoreError::CorruptRow { revision })
}

pub(crate) fn get(
    tx: &Transaction<'_>,
    key: &str,
    revision: i64,
) -> Result<Option<KeyValue>, StoreError> {
    let at = resolve_revision(tx, revision)?;
    let mut stmt = tx
        .prepare_cached(
            "SELECT revision, create_revision, deleted, value FROM log \
             WHERE key = ?1 AND revision <= ?2 ORDER BY revision DESC LIMIT 1",
        )
        .map_err(read_failed)?;
    let mut rows = stmt
        .query(rusqlite::params![key.as_bytes(), at])
        .map_err(read_failed)?;
    let Some(row) = rows.next().map_err(read_failed)? else {
        return Ok(None);
    };
    let deleted: bool = row.get(2).map_err(read_failed)?;
    if deleted {
        return Ok(None);
    }
    Ok(Some(KeyValue {
        key: key.to_owned(),
        mod_revision: row.get(0).map_err(read_failed)?,
        create_revision: row.get(1).map_err(read_failed)?,
        value: row.get(3).map_err(read_failed)?,
    }))
}

/// A key range as SQL conditions on `column` plus their parameters.
struct KeyRange {
    sql: String,
    params: Vec<Value>,
}

fn key_range(column: &str, prefix: &str, start_after: Option<&str>) -> KeyRange {
    let mut sql = String::new();
    let mut params = Vec::new();
    match start_after {
        Some(after) if after >= prefix => {
            sql.push_str(&format!("{column} > ?"));
            params.push(Value::Blob(after.as_bytes().to_vec()));
        }
        _ => {
            sql.push_str(&format!("{column} >= ?"));
            params.push(Value::Blob(prefix.as_bytes().to_vec()));
        }
    }
    if let Some(end) = prefix_end(prefix.as_bytes()) {
        sql.push_str(&format!(" AND {column} < ?"));
        params.push(Value::Blob(end));
    }
    KeyRange { sql, params }
}

/// Parameters: the range's, then the revision to read at.
fn list_sql(range: &KeyRange) -> String {
    format!(
        "SELECT revision, key, create_revision, deleted, value FROM log \
         WHERE {} AND revision <= ? ORDER BY key, revision DESC",
        range.sql
    )
}

/// Parameters: after, up to, the range's, limit.
fn history_sql(range: &KeyRange) -> String {
    format!(
        "SELECT l.revision, l.key, l.create_revision, l.deleted, l.value, \
                p.revision, p.create_revision, p.value \
         FROM log l LEFT JOIN log p ON l.prev_revision > 0 AND p.revision = l.prev_revision \
         WHERE l.revision > ? AND l.revision <= ? AND {} \
         ORDER BY l.revision LIMIT ?",
        range.sql
    )
}

pub(crate) fn list(tx: &Transaction<'_>, req: &ListRequest) -> Result<ListResult, StoreError> {
    let at = resolve_revision(tx, req.revision)?;
    let range = key_range("key", &req.prefix, req.start_after.as_deref());
    // Rows come newest-first within each key, so the first row seen for a key is its
    // version at `at`; the scan stops as soon as one key past the limit is found.
    let sql = list_sql(&range);
    let mut params = range.params;
    params.push(Value::Integer(at));
    let mut stmt = tx.prepare_cached(&sql).map_err(read_failed)?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(read_failed)?;
    let mut kvs = Vec::new();
    let mut more = false;
    let mut last_key: Option<Vec<u8>> = None;
    while let Some(row) = rows.next().map_err(read_failed)? {
        let key: Vec<u8> = row.get(1).map_err(read_failed)?;
        if last_key.as_deref() == Some(key.as_slice()) {
            continue;
        }
        last_key = Some(key.clone());
        let deleted: bool = row.get(3).map_err(read_failed)?;
        if deleted {
            continue;
        }
        if req.limit != 0 && kvs.len() == req.limit {
            more = true;
            break;
        }
        let revision: i64 = row.get(0).map_err(read_failed)?;
        kvs.push(KeyValue {
            key: key_string(key, revision)?,
            value: row.get(4).map_err(read_failed)?,
            create_revision: row.get(2).map_err(read_failed)?,
            mod_revision: revision,
        });
    }
    Ok(ListResult {
        kvs,
        revision: at,
        more,
    })
}

pub(crate) fn count(tx: &Transaction<'_>, prefix: &str) -> Result<i64, StoreError> {
    let range = key_range("l.key", prefix, None);
    let sql = format!(
        "SELECT COUNT(*) FROM log l WHERE {} AND l.deleted = 0 \
         AND NOT EXISTS (SELECT 1 FROM log n WHERE n.key = l.key AND n.revision > l.revision)",
        range.sql
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(read_failed)?;
    stmt.query_row(params_from_iter(range.params), |row| row.get(0))
        .map_err(read_failed)
}

/// One page of watch history.
pub(crate) struct HistoryPage {
    pub(crate) events: Vec<Event>,
    /// Every revision up to this one has been scanned (matching or not).
    pub(crate) scanned_to: i64,
}

/// Events under `prefix` with revision > `after`, at most `limit` of them.
pub(crate) fn history(
    tx: &Transaction<'_>,
    prefix: &str,
    after: i64,
    limit: usize,
) -> Result<HistoryPage, StoreError> {
    let (current, compact) = read_meta(tx).map_err(read_failed)?;
    if after < compact {
        return Err(StoreError::Compacted {
            compact_revision: compact,
        });
    }
    if after >= current {
        return Ok(HistoryPage {
            events: Vec::new(),
            scanned_to: after,
        });
    }
    let range = key_range("l.key", prefix, None);
    let sql = history_sql(&range);
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let mut params = vec![Value::Integer(after), Value::Integer(current)];
    params.extend(range.params);
    params.push(Value::Integer(limit));
    let mut stmt = tx.prepare_cached(&sql).map_err(read_failed)?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(read_failed)?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().map_err(read_failed)? {
        events.push(event_from_row(row)?);
    }
    let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit;
    let scanned_to = match events.last() {
        Some(last) if full => last.revision(),
        _ => current,
    };
    Ok(HistoryPage { events, scanned_to })
}

fn event_from_row(row: &Row<'_>) -> Result<Event, StoreError> {
    let revision: i64 = row.get(0).map_err(read_failed)?;
    let key = key_string(row.get(1).map_err(read_failed)?, revision)?;
    let deleted: bool = row.get(3).map_err(read_failed)?;
    let prev_revision: Option<i64> = row.get(5).map_err(read_failed)?;
    let prev_kv = match prev_revision {
        Some(prev_revision) => Some(KeyValue {
            key: key.clone(),
            value: row.get(7).map_err(read_failed)?,
            create_revision: row.get(6).map_err(read_failed)?,
            mod_revision: prev_revision,
        }),
        None => None,
    };
    Ok(Event {
        kind: if deleted {
            EventType::Delete
        } else {
            EventType::Put
        },
        kv: KeyValue {
            key,
            value: row.get(4).map_err(read_failed)?,
            create_revision: row.get(2).map_err(read_failed)?,
            mod_revision: revision,
        },
        prev_kv,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Synchronous;
    use super::super::schema::open_writer;
    use super::{history_sql, key_range, list_sql};

    fn plan(sql: &str, params: Vec<rusqlite::types::Value>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(
            &dir.path().join("plan.db"),
            Synchronous::Normal,
            std::time::Duration::from_secs(1),
        )
        .unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                row.get::<_, String>(3)
            })
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn list_scans_the_key_index_in_order_without_sorting() {
        let range = key_range("key", "/registry/pods/", Some("/registry/pods/a"));
        let mut params = range.params.clone();
        params.push(rusqlite::types::Value::Integer(10));
        let plan = plan(&list_sql(&range), params);
        assert!(plan.contains("log_key_revision"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn watch_history_walks_the_revision_range_not_the_key_prefix() {
        let range = key_range("l.key", "/registry/pods/", None);
        let mut params = vec![
            rusqlite::types::Value::Integer(1),
            rusqlite::types::Value::Integer(2),
        ];
        params.extend(range.params.clone());
        params.push(rusqlite::types::Value::Integer(5));
        let plan = plan(&history_sql(&range), params);
        assert!(
            plan.contains("INTEGER PRIMARY KEY (rowid>? AND rowid<?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
