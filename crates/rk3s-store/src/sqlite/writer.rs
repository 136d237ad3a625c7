//! The single writer thread: queued writes are applied in one transaction per batch
//! (group commit), then their events are broadcast and their callers answered.
//!
//! One thread owns the only read-write connection, so writers never contend for
//! SQLite's write lock and never see "database is locked"; batching turns N concurrent
//! writes into one fsync.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{broadcast, oneshot};

use super::schema::{META_COMPACT, META_CURRENT, read_meta};
use crate::{Event, EventType, KeyValue, StoreError};

/// How many revisions one compaction transaction covers, so that a large compaction
/// never holds the writer for long: writes queued meanwhile go in between chunks.
const COMPACT_CHUNK: i64 = 2_000;

pub(crate) enum WriteOp {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected_mod_revision: i64,
    },
    Delete {
        key: String,
        expected_mod_revision: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompactProgress {
    More,
    Done,
}

pub(crate) enum Command {
    Write {
        op: WriteOp,
        reply: oneshot::Sender<Result<KeyValue, StoreError>>,
    },
    CompactStep {
        target: i64,
        reply: oneshot::Sender<Result<CompactProgress, StoreError>>,
    },
    Maintain {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Revisions published by the writer for lock-free reads of the latest values.
#[derive(Default)]
pub(crate) struct Revisions {
    pub(crate) current: AtomicI64,
    pub(crate) compact: AtomicI64,
}

pub(crate) struct Writer {
    conn: Connection,
    current: i64,
    compact: i64,
    max_batch: usize,
    events: broadcast::Sender<Arc<Event>>,
    revisions: Arc<Revisions>,
}

/// Why an op in a batch did not produce a row.
enum Refusal {
    /// The op's precondition failed; the rest of the batch goes on.
    Rejected(StoreError),
    /// SQLite failed; the whole batch is rolled back.
    Failed(rusqlite::Error),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Refusal::Failed(e)
    }
}

struct Applied {
    reply: KeyValue,
    event: Event,
}

fn write_failed(e: Arc<rusqlite::Error>) -> StoreError {
    StoreError::WriteFailed {
        source: Box::new(e),
    }
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        max_batch: usize,
        events: broadcast::Sender<Arc<Event>>,
        revisions: Arc<Revisions>,
    ) -> Result<Self, StoreError> {
        let (meta_current, compact) = read_meta(&conn).map_err(|e| StoreError::SchemaFailed {
            source: Box::new(e),
        })?;
        // The meta row is written in the same transaction as the log rows, but taking
        // the max keeps the counter monotonic even if an older build left it behind.
        let max_row: Option<i64> = conn
            .query_row("SELECT MAX(revision) FROM log", [], |row| row.get(0))
            .map_err(|e| StoreError::SchemaFailed {
                source: Box::new(e),
            })?;
        let current = meta_current.max(max_row.unwrap_or(0));
        revisions.current.store(current, Ordering::SeqCst);
        revisions.compact.store(compact, Ordering::SeqCst);
        Ok(Writer {
            conn,
            current,
            compact,
            max_batch: max_batch.max(1),
            events,
            revisions,
        })
    }

    pub(crate) fn run(mut self, commands: mpsc::Receiver<Command>) {
        let mut held_back: Option<Command> = None;
        loop {
            let first = match held_back.take() {
                Some(command) => command,
                None => match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                },
            };
            match first {
                Command::Write { op, reply } => {
                    let mut batch = vec![(op, reply)];
                    while batch.len() < self.max_batch {
                        match commands.try_recv() {
                            Ok(Command::Write { op, reply }) => batch.push((op, reply)),
                            Ok(other) => {
                                held_back = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit_batch(batch);
                }
                Command::CompactStep { target, reply } => {
                    let _ = reply.send(self.compact_step(target));
                }
                Command::Maintain { reply } => {
                    let _ = reply.send(self.maintain());
                }
            }
        }
        tracing::debug!(revision = self.current, "store writer stopped");
    }

    fn commit_batch(
        &mut self,
        batch: Vec<(WriteOp, oneshot::Sender<Result<KeyValue, StoreError>>)>,
    ) {
        let mut outcomes = Vec::with_capacity(batch.len());
        let result = (|| -> Result<i64, rusqlite::Error> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut revision = self.current;
            for (op, _) in &batch {
                match apply(&tx, op, revision + 1) {
                    Ok(applied) => {
                        revision += 1;
                        outcomes.push(Ok(applied));
                    }
                    Err(Refusal::Rejected(e)) => outcomes.push(Err(e)),
                    Err(Refusal::Failed(e)) => return Err(e),
                }
            }
            if revision > self.current {
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE name = ?2",
                    params![revision, META_CURRENT],
                )?;
            }
            tx.commit()?;
            Ok(revision)
        })();
        match result {
            Ok(revision) => {
                self.current = revision;
                self.revisions.current.store(revision, Ordering::SeqCst);
                for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                    let answer = outcome.map(|applied| {
                        // No receiver is not an error: nobody is watching.
                        let _ = self.events.send(Arc::new(applied.event));
                        applied.reply
                    });
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ops = batch.len(), "store write batch rolled back");
                let e = Arc::new(e);
                for (_, reply) in batch {
                    let _ = reply.send(Err(write_failed(Arc::clone(&e))));
                }
            }
        }
    }

    fn compact_step(&mut self, target: i64) -> Result<CompactProgress, StoreError> {
        if target > self.current {
            return Err(StoreError::FutureRevision {
                current: self.current,
            });
        }
        if target <= self.compact {
            return Ok(CompactProgress::Done);
        }
        let from = self.compact;
        let to = target.min(from.saturating_add(COMPACT_CHUNK));
        let result = (|| -> Result<(), rusqlite::Error> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // A row is superseded exactly when a later row of its key names it as
            // prev_revision, so the rows in (from, to] point at everything that can
            // go; the IN list is built before any row is deleted.
            tx.execute(
                "DELETE FROM log WHERE revision IN \
                 (SELECT prev_revision FROM log \
                  WHERE revision > ?1 AND revision <= ?2 AND prev_revision > 0)",
                params![from, to],
            )?;
            // Creates never point at the tombstone before them, so dropping a
            // tombstone leaves no dangling prev_revision behind.
            tx.execute(
                "DELETE FROM log WHERE revision > ?1 AND revision <= ?2 AND deleted = 1",
                params![from, to],
            )?;
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE name = ?2",
                params![to, META_COMPACT],
            )?;
            tx.commit()
        })();
        result.map_err(|e| StoreError::CompactFailed {
            source: Box::new(e),
        })?;
        self.compact = to;
        self.revisions.compact.store(to, Ordering::SeqCst);
        Ok(if to == target {
            CompactProgress::Done
        } else {
            CompactProgress::More
        })
    }

    /// Gives freed pages back to the file system and empties the WAL.
    fn maintain(&mut self) -> Result<(), StoreError> {
        let failed = |e: rusqlite::Error| StoreError::MaintenanceFailed {
            source: Box::new(e),
        };
        // Each step of this pragma frees a page, so it must be stepped to the end.
        let mut stmt = self
            .conn
            .prepare("PRAGMA incremental_vacuum")
            .map_err(failed)?;
        let mut rows = stmt.query([]).map_err(failed)?;
        while rows.next().map_err(failed)?.is_some() {}
        drop(rows);
        drop(stmt);
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(failed)?;
        if busy != 0 {
            tracing::debug!("wal checkpoint could not truncate: a reader holds an old snapshot");
        }
        Ok(())
    }
}

fn latest_live(tx: &Transaction<'_>, key: &str) -> Result<Option<KeyValue>, rusqlite::Error> {
    let mut stmt = tx.prepare_cached(
        "SELECT revision, create_revision, deleted, value FROM log \
         WHERE key = ?1 ORDER BY revision DESC LIMIT 1",
    )?;
    let row = stmt
        .query_row(params![key.as_bytes()], |row| {
            let deleted: bool = row.get(2)?;
            Ok((deleted, row.get(0)?, row.get(1)?, row.get(3)?))
        })
        .optional()?;
    Ok(match row {
        Some((false, mod_revision, create_revision, value)) => Some(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision,
        }),
        _ => None,
    })
}

fn insert(
    tx: &Transaction<'_>,
    revision: i64,
    key: &str,
    create_revision: i64,
    prev_revision: i64,
    deleted: bool,
    value: &[u8],
) -> Result<(), rusqlite::Error> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO log (revision, key, create_revision, prev_revision, deleted, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    stmt.execute(params![
        revision,
        key.as_bytes(),
        create_revision,
        prev_revision,
        deleted,
        value
    ])?;
    Ok(())
}

fn apply(tx: &Transaction<'_>, op: &WriteOp, revision: i64) -> Result<Applied, Refusal> {
    match op {
        WriteOp::Create { key, value } => {
            if latest_live(tx, key)?.is_some() {
                return Err(Refusal::Rejected(StoreError::AlreadyExists));
            }
            insert(tx, revision, key, revision, 0, false, value)?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: revision,
                mod_revision: revision,
            };
            Ok(Applied {
                reply: kv.clone(),
                event: Event {
                    kind: EventType::Put,
                    kv,
                    prev_kv: None,
                },
            })
        }
        WriteOp::Update {
            key,
            value,
            expected_mod_revision,
        } => {
            let Some(current) = latest_live(tx, key)? else {
                return Err(Refusal::Rejected(StoreError::NotFound));
            };
            if current.mod_revision != *expected_mod_revision {
                return Err(Refusal::Rejected(StoreError::Conflict {
                    current: Some(current),
                }));
            }
            insert(
                tx,
                revision,
                key,
                current.create_revision,
                current.mod_revision,
                false,
                value,
            )?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: current.create_revision,
                mod_revision: revision,
            };
            Ok(Applied {
                reply: kv.clone(),
                event: Event {
                    kind: EventType::Put,
                    kv,
                    prev_kv: Some(current),
                },
            })
        }
        WriteOp::Delete {
            key,
            expected_mod_revision,
        } => {
            let Some(current) = latest_live(tx, key)? else {
                return Err(Refusal::Rejected(StoreError::NotFound));
            };
            if let Some(expected) = expected_mod_revision
                && current.mod_revision != *expected
            {
                return Err(Refusal::Rejected(StoreError::Conflict {
                    current: Some(current),
                }));
            }
            // The tombstone keeps the last value so that delete events carry it.
            insert(
                tx,
                revision,
                key,
                current.create_revision,
                current.mod_revision,
                true,
                &current.value,
            )?;
            let kv = KeyValue {
                key: key.clone(),
                value: current.value.clone(),
                create_revision: current.create_revision,
                mod_revision: revision,
            };
            Ok(Applied {
                reply: kv.clone(),
                event: Event {
                    kind: EventType::Delete,
                    kv,
                    prev_kv: Some(current),
                },
            })
        }
    }
}
