//! Random operation sequences run against the SQLite backend and an in-memory model of
//! the revisioned log; every answer, and the replayed watch history, must match.

use std::time::Duration;

use futures::StreamExt;
use proptest::prelude::*;
use rk3s_store::{
    Backend, EventType, KeyValue, ListRequest, SqliteBackend, SqliteOptions, StoreError,
    Synchronous,
};

const KEYS: [&str; 5] = ["/a/1", "/a/2", "/a/3", "/a1", "/b/1"];
const PREFIXES: [&str; 4] = ["", "/a/", "/a", "/b/"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize, u8),
    /// `true`: pass the current mod revision; `false`: a stale one.
    Update(usize, u8, bool),
    Delete(usize, Option<bool>),
    /// Revisions are picked as a fraction of `current + 1` so they hit real ones.
    Get(usize, u8),
    List(usize, Option<usize>, usize, u8),
    Count(usize),
    Compact(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        3 => (key.clone(), any::<u8>()).prop_map(|(k, v)| Op::Create(k, v)),
        3 => (key.clone(), any::<u8>(), any::<bool>()).prop_map(|(k, v, ok)| Op::Update(k, v, ok)),
        2 => (key.clone(), proptest::option::of(any::<bool>())).prop_map(|(k, e)| Op::Delete(k, e)),
        2 => (key.clone(), any::<u8>()).prop_map(|(k, r)| Op::Get(k, r)),
        2 => (0..PREFIXES.len(), proptest::option::of(key), 0..3usize, any::<u8>())
            .prop_map(|(p, s, l, r)| Op::List(p, s, l, r)),
        1 => (0..PREFIXES.len()).prop_map(Op::Count),
        1 => any::<u8>().prop_map(Op::Compact),
    ]
}

#[derive(Debug, Clone)]
struct Row {
    kv: KeyValue,
    deleted: bool,
    prev: Option<KeyValue>,
}

#[derive(Default)]
struct Model {
    rows: Vec<Row>,
    current: i64,
    compact: i64,
}

/// Errors compared by kind; the payloads that matter are compared where they occur.
#[derive(Debug, PartialEq)]
enum Outcome<T> {
    Ok(T),
    NotFound,
    AlreadyExists,
    Conflict(Option<KeyValue>),
    Compacted(i64),
    Future(i64),
}

fn outcome<T>(r: Result<T, StoreError>) -> Outcome<T> {
    match r {
        Ok(v) => Outcome::Ok(v),
        Err(StoreError::NotFound) => Outcome::NotFound,
        Err(StoreError::AlreadyExists) => Outcome::AlreadyExists,
        Err(StoreError::Conflict { current }) => Outcome::Conflict(current),
        Err(StoreError::Compacted { compact_revision }) => Outcome::Compacted(compact_revision),
        Err(StoreError::FutureRevision { current }) => Outcome::Future(current),
        Err(other) => panic!("unexpected store error: {other}"),
    }
}

impl Model {
    fn pick_revision(&self, fraction: u8) -> i64 {
        // 0 (latest) up to current + 1 (future).
        (i64::from(fraction) * (self.current + 2)) / 256
    }

    fn version_at(&self, key: &str, at: i64) -> Option<&Row> {
        self.rows
            .iter()
            .rev()
            .find(|row| row.kv.key == key && row.kv.mod_revision <= at)
    }

    fn live(&self, key: &str) -> Option<KeyValue> {
        self.version_at(key, self.current)
            .filter(|row| !row.deleted)
            .map(|row| row.kv.clone())
    }

    fn check_revision(&self, revision: i64) -> Result<i64, Outcome<()>> {
        if revision == 0 {
            Ok(self.current)
        } else if revision > self.current {
            Err(Outcome::Future(self.current))
        } else if revision < self.compact {
            Err(Outcome::Compacted(self.compact))
        } else {
            Ok(revision)
        }
    }

    fn append(
        &mut self,
        key: &str,
        value: Vec<u8>,
        create: Option<i64>,
        deleted: bool,
    ) -> KeyValue {
        self.current += 1;
        let prev = self.live(key);
        let kv = KeyValue {
            key: key.to_owned(),
            value,
            create_revision: create.unwrap_or(self.current),
            mod_revision: self.current,
        };
        self.rows.push(Row {
            kv: kv.clone(),
            deleted,
            prev,
        });
        kv
    }

    fn create(&mut self, key: &str, value: Vec<u8>) -> Outcome<KeyValue> {
        if self.live(key).is_some() {
            return Outcome::AlreadyExists;
        }
        Outcome::Ok(self.append(key, value, None, false))
    }

    fn update(&mut self, key: &str, value: Vec<u8>, expected: i64) -> Outcome<KeyValue> {
        match self.live(key) {
            None => Outcome::NotFound,
            Some(cur) if cur.mod_revision != expected => Outcome::Conflict(Some(cur)),
            Some(cur) => Outcome::Ok(self.append(key, value, Some(cur.create_revision), false)),
        }
    }

    fn delete(&mut self, key: &str, expected: Option<i64>) -> Outcome<KeyValue> {
        match self.live(key) {
            None => Outcome::NotFound,
            Some(cur) if expected.is_some_and(|e| e != cur.mod_revision) => {
                Outcome::Conflict(Some(cur))
            }
            Some(cur) => Outcome::Ok(self.append(key, cur.value, Some(cur.create_revision), true)),
        }
    }

    fn get(&self, key: &str, revision: i64) -> Outcome<Option<KeyValue>> {
        match self.check_revision(revision) {
            Err(e) => retag(e),
            Ok(at) => Outcome::Ok(
                self.version_at(key, at)
                    .filter(|row| !row.deleted)
                    .map(|row| row.kv.clone()),
            ),
        }
    }

    fn list(&self, req: &ListRequest) -> Outcome<(Vec<KeyValue>, i64, bool)> {
        let at = match self.check_revision(req.revision) {
            Err(e) => return retag(e),
            Ok(at) => at,
        };
        let mut keys: Vec<&str> = KEYS
            .iter()
            .copied()
            .filter(|k| k.starts_with(req.prefix.as_str()))
            .filter(|k| req.start_after.as_deref().is_none_or(|after| *k > after))
            .collect();
        keys.sort();
        let live: Vec<KeyValue> = keys
            .into_iter()
            .filter_map(|k| self.version_at(k, at).filter(|row| !row.deleted))
            .map(|row| row.kv.clone())
            .collect();
        let more = req.limit != 0 && live.len() > req.limit;
        let taken = if req.limit == 0 {
            live.len()
        } else {
            req.limit.min(live.len())
        };
        Outcome::Ok((live[..taken].to_vec(), at, more))
    }

    fn compact(&mut self, revision: i64) -> Outcome<()> {
        if revision > self.current {
            return Outcome::Future(self.current);
        }
        self.compact = self.compact.max(revision);
        Outcome::Ok(())
    }
}

fn retag<T>(e: Outcome<()>) -> Outcome<T> {
    match e {
        Outcome::Compacted(c) => Outcome::Compacted(c),
        Outcome::Future(c) => Outcome::Future(c),
        _ => unreachable!("check_revision only fails with compacted or future"),
    }
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteBackend::open(
        &dir.path().join("state.db"),
        SqliteOptions {
            synchronous: Synchronous::Normal,
            compaction: None,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Create(k, v) => {
                let want = model.create(KEYS[k], vec![v]);
                assert_eq!(
                    outcome(store.create(KEYS[k], vec![v]).await),
                    want,
                    "step {step}"
                );
            }
            Op::Update(k, v, fresh) => {
                let expected = match model.live(KEYS[k]) {
                    Some(cur) if fresh => cur.mod_revision,
                    Some(cur) => cur.mod_revision - 1,
                    None => 1,
                };
                let got = outcome(store.update(KEYS[k], vec![v], expected).await);
                assert_eq!(got, model.update(KEYS[k], vec![v], expected), "step {step}");
            }
            Op::Delete(k, fresh) => {
                let cur = model.live(KEYS[k]).map_or(1, |kv| kv.mod_revision);
                let expected = fresh.map(|fresh| if fresh { cur } else { cur + 1 });
                let got = outcome(store.delete(KEYS[k], expected).await);
                assert_eq!(got, model.delete(KEYS[k], expected), "step {step}");
            }
            Op::Get(k, r) => {
                let revision = model.pick_revision(r);
                let got = outcome(store.get(KEYS[k], revision).await);
                assert_eq!(got, model.get(KEYS[k], revision), "step {step}");
            }
            Op::List(p, start, limit, r) => {
                let req = ListRequest {
                    prefix: PREFIXES[p].to_owned(),
                    start_after: start.map(|k| KEYS[k].to_owned()),
                    limit,
                    revision: model.pick_revision(r),
                };
                let got = outcome(
                    store
                        .list(req.clone())
                        .await
                        .map(|r| (r.kvs, r.revision, r.more)),
                );
                assert_eq!(got, model.list(&req), "step {step}: {req:?}");
            }
            Op::Count(p) => {
                let want = KEYS
                    .iter()
                    .filter(|k| k.starts_with(PREFIXES[p]) && model.live(k).is_some())
                    .count();
                let got = store.count(PREFIXES[p]).await.unwrap();
                assert_eq!(got, i64::try_from(want).unwrap(), "step {step}");
            }
            Op::Compact(r) => {
                let revision = model.pick_revision(r);
                assert_eq!(
                    outcome(store.compact(revision).await),
                    model.compact(revision),
                    "step {step}"
                );
            }
        }
        assert_eq!(store.current_revision().await.unwrap(), model.current);
    }

    // The watch history from the compact revision is exactly the model's log after it.
    let expected: Vec<&Row> = model
        .rows
        .iter()
        .filter(|row| row.kv.mod_revision > model.compact)
        .collect();
    let mut watch = store.watch("", model.compact).await.unwrap();
    for row in expected {
        let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let kind = if row.deleted {
            EventType::Delete
        } else {
            EventType::Put
        };
        assert_eq!(event.kind, kind);
        assert_eq!(event.kv, row.kv);
        assert_eq!(event.prev_kv, row.prev);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operation_sequences_match_the_in_memory_model(ops in proptest::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops));
    }
}
