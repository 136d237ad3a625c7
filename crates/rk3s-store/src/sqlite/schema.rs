//! Opening SQLite connections: pragmas, schema creation, and key-range encoding.
//!
//! The log is one table: a row per write, keyed by its revision. `prev_revision` links
//! an update or delete to the version it replaced, which lets watch history carry
//! `prev_kv` and lets compaction find superseded rows by primary key alone. Keys are
//! stored as BLOBs so that prefix ranges compare bytewise with computed upper bounds.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::Synchronous;
use crate::StoreError;

const SCHEMA_VERSION: i64 = 1;

pub(crate) const META_CURRENT: &str = "current_revision";
pub(crate) const META_COMPACT: &str = "compact_revision";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision DESC);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('current_revision', 0), ('compact_revision', 0);
";

fn open_failed(path: &Path, e: rusqlite::Error) -> StoreError {
    StoreError::OpenFailed {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn schema_failed(e: rusqlite::Error) -> StoreError {
    StoreError::SchemaFailed {
        source: Box::new(e),
    }
}

/// Opens the single read-write connection and makes sure the schema exists.
pub(crate) fn open_writer(
    path: &Path,
    synchronous: Synchronous,
    busy_timeout: Duration,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_failed(path, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| open_failed(path, e))?;
    // auto_vacuum only takes effect on a database without tables, so it must be set
    // before the schema is created; later compactions then give pages back to the file
    // system with incremental_vacuum instead of a full VACUUM.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .map_err(schema_failed)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(schema_failed)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::SchemaFailed {
            source: format!("journal_mode is {mode}, wal was requested").into(),
        });
    }
    conn.pragma_update(None, "synchronous", synchronous.pragma_value())
        .map_err(schema_failed)?;
    // Bounds the WAL file left behind after a checkpoint when a reader held it open.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(schema_failed)?;
    conn.set_prepared_statement_cache_capacity(32);

    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(schema_failed)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaFailed {
            source: format!("database schema version {version} is newer than {SCHEMA_VERSION}")
                .into(),
        });
    }
    conn.execute_batch(SCHEMA).map_err(schema_failed)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(schema_failed)?;
    Ok(conn)
}

/// Opens one read-only connection for the read pool.
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_failed(path, e))?;
    conn.busy_timeout(busy_timeout)
        .map_err(|e| open_failed(path, e))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Reads `(current_revision, compact_revision)` from the meta table.
pub(crate) fn read_meta(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM meta")?;
    let mut rows = stmt.query([])?;
    let (mut current, mut compact) = (0, 0);
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let value: i64 = row.get(1)?;
        match name.as_str() {
            META_CURRENT => current = value,
            META_COMPACT => compact = value,
            _ => {}
        }
    }
    Ok((current, compact))
}

/// The exclusive upper bound of all byte strings starting with `prefix`, or `None` when
/// there is none (an empty prefix, or one made only of 0xFF bytes).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(
            prefix_end(b"/registry/pods/"),
            Some(b"/registry/pods0".to_vec())
        );
    }

    #[test]
    fn prefix_end_skips_trailing_ff_bytes_and_has_no_bound_for_empty_prefix() {
        assert_eq!(prefix_end(&[b'a', 0xFF, 0xFF]), Some(vec![b'b']));
        assert_eq!(prefix_end(&[0xFF]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
