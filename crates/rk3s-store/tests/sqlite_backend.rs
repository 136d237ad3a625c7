//! Integration tests of the SQLite backend through the `Backend` trait.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rk3s_store::{
    Backend, CompactionPolicy, EventType, ListRequest, SqliteBackend, SqliteOptions, StoreError,
    Synchronous, WatchStream,
};

fn test_options() -> SqliteOptions {
    SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..SqliteOptions::default()
    }
}

fn open(dir: &tempfile::TempDir) -> SqliteBackend {
    open_with(dir, test_options())
}

fn open_with(dir: &tempfile::TempDir, opts: SqliteOptions) -> SqliteBackend {
    SqliteBackend::open(&dir.path().join("server/db/state.db"), opts).expect("open store")
}

async fn next_event(stream: &mut WatchStream) -> rk3s_store::Event {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("event within 10s")
        .expect("stream not ended")
        .expect("event, not error")
}

#[tokio::test]
async fn every_write_gets_the_next_cluster_wide_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.current_revision().await.unwrap(), 0);
    let a = store.create("/a", b"1".to_vec()).await.unwrap();
    let b = store.create("/b", b"1".to_vec()).await.unwrap();
    let a2 = store
        .update("/a", b"2".to_vec(), a.mod_revision)
        .await
        .unwrap();
    let b_gone = store.delete("/b", None).await.unwrap();
    assert_eq!(
        [
            a.mod_revision,
            b.mod_revision,
            a2.mod_revision,
            b_gone.mod_revision
        ],
        [1, 2, 3, 4]
    );
    assert_eq!(a2.create_revision, 1);
    assert_eq!(b_gone.value, b"1");
    assert_eq!(b_gone.create_revision, 2);
    assert_eq!(store.current_revision().await.unwrap(), 4);
}

#[tokio::test]
async fn update_with_stale_revision_conflicts_and_reports_the_current_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.create("/k", b"v1".to_vec()).await.unwrap();
    let second = store
        .update("/k", b"v2".to_vec(), first.mod_revision)
        .await
        .unwrap();
    match store.update("/k", b"v3".to_vec(), first.mod_revision).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, Some(second.clone())),
        other => panic!("expected conflict, got {other:?}"),
    }
    match store.delete("/k", Some(first.mod_revision)).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, Some(second.clone())),
        other => panic!("expected conflict, got {other:?}"),
    }
    // Rejected writes consume no revision.
    assert_eq!(store.current_revision().await.unwrap(), 2);
    assert_eq!(store.get("/k", 0).await.unwrap(), Some(second));
}

#[tokio::test]
async fn writes_to_missing_keys_are_not_found_and_duplicate_creates_already_exist() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert!(matches!(
        store.update("/missing", b"x".to_vec(), 1).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete("/missing", None).await,
        Err(StoreError::NotFound)
    ));
    store.create("/k", b"x".to_vec()).await.unwrap();
    assert!(matches!(
        store.create("/k", b"y".to_vec()).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get("/k", 0).await.unwrap().unwrap().value, b"x");
}

#[tokio::test]
async fn delete_then_recreate_resets_create_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.create("/k", b"1".to_vec()).await.unwrap();
    store.delete("/k", Some(first.mod_revision)).await.unwrap();
    assert_eq!(store.get("/k", 0).await.unwrap(), None);
    assert!(matches!(
        store.update("/k", b"x".to_vec(), first.mod_revision).await,
        Err(StoreError::NotFound)
    ));
    let again = store.create("/k", b"2".to_vec()).await.unwrap();
    assert_eq!(again.create_revision, 3);
    assert_eq!(again.mod_revision, 3);
}

#[tokio::test]
async fn get_and_list_at_old_revisions_return_old_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a1 = store.create("/r/a", b"a1".to_vec()).await.unwrap(); // 1
    let b1 = store.create("/r/b", b"b1".to_vec()).await.unwrap(); // 2
    store
        .update("/r/a", b"a2".to_vec(), a1.mod_revision)
        .await
        .unwrap(); // 3
    store.delete("/r/b", None).await.unwrap(); // 4
    store.create("/r/c", b"c1".to_vec()).await.unwrap(); // 5

    assert_eq!(store.get("/r/a", 2).await.unwrap().unwrap().value, b"a1");
    assert_eq!(store.get("/r/a", 3).await.unwrap().unwrap().value, b"a2");
    assert_eq!(store.get("/r/b", 3).await.unwrap(), Some(b1));
    assert_eq!(store.get("/r/b", 4).await.unwrap(), None);
    assert_eq!(store.get("/r/c", 4).await.unwrap(), None);

    let values = |r: rk3s_store::ListResult| {
        r.kvs
            .into_iter()
            .map(|kv| String::from_utf8(kv.value).unwrap())
            .collect::<Vec<_>>()
    };
    let at = |revision| ListRequest {
        prefix: "/r/".into(),
        revision,
        ..ListRequest::default()
    };
    assert_eq!(values(store.list(at(2)).await.unwrap()), ["a1", "b1"]);
    assert_eq!(values(store.list(at(3)).await.unwrap()), ["a2", "b1"]);
    assert_eq!(values(store.list(at(4)).await.unwrap()), ["a2"]);
    let latest = store.list(at(0)).await.unwrap();
    assert_eq!(latest.revision, 5);
    assert_eq!(values(latest), ["a2", "c1"]);
    assert!(matches!(
        store.list(at(6)).await,
        Err(StoreError::FutureRevision { current: 5 })
    ));
    assert!(matches!(
        store.get("/r/a", 99).await,
        Err(StoreError::FutureRevision { current: 5 })
    ));
}

#[tokio::test]
async fn list_prefix_does_not_match_sibling_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for key in [
        "/registry/pods/a",
        "/registry/pods0",
        "/registry/podsx/b",
        "/registry/po",
    ] {
        store.create(key, vec![]).await.unwrap();
    }
    let list = store
        .list(ListRequest {
            prefix: "/registry/pods/".into(),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    let keys: Vec<_> = list.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/registry/pods/a"]);
    assert_eq!(store.count("/registry/pods").await.unwrap(), 3);
    assert_eq!(store.count("").await.unwrap(), 4);
}

#[tokio::test]
async fn pagination_with_start_after_reads_one_snapshot_while_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    for i in 0..50 {
        store
            .create(&format!("/p/{i:03}"), b"v0".to_vec())
            .await
            .unwrap();
    }
    let first = store
        .list(ListRequest {
            prefix: "/p/".into(),
            limit: 20,
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert!(first.more);
    assert_eq!(first.kvs.len(), 20);
    let snapshot = first.revision;

    // Writes go on between pages: updates, deletes and new keys in the range.
    for i in 0..50 {
        let key = format!("/p/{i:03}");
        let kv = store.get(&key, 0).await.unwrap().unwrap();
        if i % 3 == 0 {
            store.delete(&key, None).await.unwrap();
        } else {
            store
                .update(&key, b"v1".to_vec(), kv.mod_revision)
                .await
                .unwrap();
        }
        store
            .create(&format!("/p/{i:03}x"), b"new".to_vec())
            .await
            .unwrap();
    }

    let mut all = first.kvs;
    let mut more = first.more;
    while more {
        let page = store
            .list(ListRequest {
                prefix: "/p/".into(),
                start_after: all.last().map(|kv| kv.key.clone()),
                limit: 20,
                revision: snapshot,
            })
            .await
            .unwrap();
        assert_eq!(page.revision, snapshot);
        more = page.more;
        all.extend(page.kvs);
    }
    let expected: Vec<String> = (0..50).map(|i| format!("/p/{i:03}")).collect();
    let keys: Vec<String> = all.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, expected);
    assert!(all.iter().all(|kv| kv.value == b"v0"));
}

#[tokio::test]
async fn limit_equal_to_the_number_of_keys_reports_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    for key in ["/l/a", "/l/b"] {
        store.create(key, vec![]).await.unwrap();
    }
    store.create("/l/c", vec![]).await.unwrap();
    store.delete("/l/c", None).await.unwrap();
    let list = store
        .list(ListRequest {
            prefix: "/l/".into(),
            limit: 2,
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(list.kvs.len(), 2);
    assert!(!list.more, "a deleted key after the page is not 'more'");
}

#[tokio::test]
async fn watch_from_old_revision_replays_history_then_live_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = store.create("/w/a", b"1".to_vec()).await.unwrap(); // 1
    store.create("/other/x", b"x".to_vec()).await.unwrap(); // 2
    store
        .update("/w/a", b"2".to_vec(), a.mod_revision)
        .await
        .unwrap(); // 3
    store.delete("/w/a", None).await.unwrap(); // 4

    let mut watch = store.watch("/w/", 0).await.unwrap();
    let e1 = next_event(&mut watch).await;
    assert_eq!(
        (e1.kind, e1.kv.mod_revision, e1.prev_kv.is_none()),
        (EventType::Put, 1, true)
    );
    let e3 = next_event(&mut watch).await;
    assert_eq!((e3.kind, e3.kv.mod_revision), (EventType::Put, 3));
    assert_eq!(
        e3.prev_kv.as_ref().map(|kv| kv.value.clone()),
        Some(b"1".to_vec())
    );
    let e4 = next_event(&mut watch).await;
    assert_eq!(e4.kind, EventType::Delete);
    assert_eq!(
        (e4.kv.value.clone(), e4.kv.mod_revision),
        (b"2".to_vec(), 4)
    );
    assert_eq!(e4.prev_kv.map(|kv| kv.mod_revision), Some(3));

    store.create("/other/y", b"y".to_vec()).await.unwrap(); // 5
    store.create("/w/b", b"live".to_vec()).await.unwrap(); // 6
    let live = next_event(&mut watch).await;
    assert_eq!((live.kv.key.as_str(), live.kv.mod_revision), ("/w/b", 6));

    let mut from_three = store.watch("/w/", 3).await.unwrap();
    assert_eq!(next_event(&mut from_three).await.kv.mod_revision, 4);
    assert_eq!(next_event(&mut from_three).await.kv.mod_revision, 6);
}

#[tokio::test]
async fn watch_delivers_every_event_in_revision_order_under_concurrent_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let mut watch = store.watch("/c/", 0).await.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..50 {
                    let key = format!("/c/{w}/{i}");
                    let kv = store.create(&key, vec![1]).await.unwrap();
                    store.update(&key, vec![2], kv.mod_revision).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut revisions = Vec::new();
    for _ in 0..800 {
        revisions.push(next_event(&mut watch).await.kv.mod_revision);
    }
    let expected: Vec<i64> = (1..=800).collect();
    assert_eq!(revisions, expected);
}

#[tokio::test]
async fn lagging_watcher_catches_up_from_the_database_without_stalling_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(
        &dir,
        SqliteOptions {
            watch_buffer: 4,
            ..test_options()
        },
    );
    let mut slow = store.watch("/lag/", 0).await.unwrap();
    let mut fast = store.watch("/lag/", 0).await.unwrap();
    // The first event switches both watchers to live mode.
    store.create("/lag/0", vec![]).await.unwrap();
    assert_eq!(next_event(&mut slow).await.kv.mod_revision, 1);
    assert_eq!(next_event(&mut fast).await.kv.mod_revision, 1);

    let writes = tokio::time::timeout(Duration::from_secs(30), async {
        for i in 1..300 {
            store.create(&format!("/lag/{i}"), vec![]).await.unwrap();
            // Keep one watcher current; the slow one is not polled at all.
            assert_eq!(next_event(&mut fast).await.kv.mod_revision, i + 1);
        }
    })
    .await;
    assert!(writes.is_ok(), "writers stalled behind a slow watcher");
    for expected in 2..=300 {
        assert_eq!(next_event(&mut slow).await.kv.mod_revision, expected);
    }
    store.create("/lag/live", vec![]).await.unwrap();
    assert_eq!(next_event(&mut slow).await.kv.key, "/lag/live");
}

#[tokio::test]
async fn compaction_drops_history_and_older_revisions_report_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let a = store.create("/k/a", b"a1".to_vec()).await.unwrap(); // 1
    store
        .update("/k/a", b"a2".to_vec(), a.mod_revision)
        .await
        .unwrap(); // 2
    store.create("/k/b", b"b1".to_vec()).await.unwrap(); // 3
    store.delete("/k/b", None).await.unwrap(); // 4
    store.create("/k/c", b"c1".to_vec()).await.unwrap(); // 5
    let mut old_watch = store.watch("/k/", 0).await.unwrap();

    store.compact(4).await.unwrap();
    assert_eq!(store.compact_revision().await.unwrap(), 4);
    assert!(matches!(
        store.get("/k/a", 3).await,
        Err(StoreError::Compacted {
            compact_revision: 4
        })
    ));
    assert!(matches!(
        store.watch("/k/", 3).await,
        Err(StoreError::Compacted {
            compact_revision: 4
        })
    ));
    // The watch opened before the compaction had not read its history yet.
    match old_watch.next().await {
        Some(Err(StoreError::Compacted {
            compact_revision: 4,
        })) => {}
        other => panic!("expected compacted, got {other:?}"),
    }
    assert!(
        old_watch.next().await.is_none(),
        "stream ends after its error"
    );

    // Reads at and after the compact revision are unchanged.
    assert_eq!(store.get("/k/a", 4).await.unwrap().unwrap().value, b"a2");
    assert_eq!(store.get("/k/b", 4).await.unwrap(), None);
    let list = store
        .list(ListRequest {
            prefix: "/k/".into(),
            revision: 4,
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(list.kvs.len(), 1);
    let mut watch = store.watch("/k/", 4).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv.key, "/k/c");

    // Compacting to an older revision is a no-op; to a future one an error.
    store.compact(2).await.unwrap();
    assert!(matches!(
        store.compact(99).await,
        Err(StoreError::FutureRevision { current: 5 })
    ));
    // Recreating a key whose tombstone was compacted starts a new incarnation.
    let b = store.create("/k/b", b"b2".to_vec()).await.unwrap();
    assert_eq!(b.create_revision, 6);
}

#[tokio::test]
async fn compaction_keeps_prev_kv_for_events_after_the_compact_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut kv = store.create("/k", b"0".to_vec()).await.unwrap();
    for i in 1..5u8 {
        kv = store
            .update("/k", vec![b'0' + i], kv.mod_revision)
            .await
            .unwrap();
    }
    store.compact(3).await.unwrap();
    let mut watch = store.watch("/k", 3).await.unwrap();
    let e4 = next_event(&mut watch).await;
    assert_eq!(e4.prev_kv.map(|kv| kv.value), Some(b"2".to_vec()));
    let e5 = next_event(&mut watch).await;
    assert_eq!(e5.prev_kv.map(|kv| kv.mod_revision), Some(4));
}

#[tokio::test]
async fn large_compaction_runs_in_chunks_and_keeps_latest_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir));
    let tasks: Vec<_> = (0..10)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let key = format!("/big/{t}");
                let mut kv = store.create(&key, vec![0]).await.unwrap();
                for i in 0..499u32 {
                    kv = store
                        .update(&key, i.to_be_bytes().to_vec(), kv.mod_revision)
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.current_revision().await.unwrap(), 5_000);
    store.compact(5_000).await.unwrap();
    store.maintain().await.unwrap();
    let list = store
        .list(ListRequest {
            prefix: "/big/".into(),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(list.kvs.len(), 10);
    assert!(list.kvs.iter().all(|kv| kv.value == 498u32.to_be_bytes()));
    // Only the live versions are left to replay from the compact revision.
    let mut watch = store.watch("/big/", 5_000).await.unwrap();
    store.create("/big/new", vec![]).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 5_001);
}

#[tokio::test]
async fn background_compactor_advances_the_compact_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(
        &dir,
        SqliteOptions {
            compaction: Some(CompactionPolicy {
                interval: Duration::from_millis(50),
                retain_revisions: 10,
            }),
            ..test_options()
        },
    );
    let mut kv = store.create("/auto", vec![]).await.unwrap();
    for _ in 0..49 {
        kv = store
            .update("/auto", vec![1], kv.mod_revision)
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.compact_revision().await.unwrap() != 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "compactor did not run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(
        store.get("/auto", 39).await,
        Err(StoreError::Compacted {
            compact_revision: 40
        })
    ));
    assert_eq!(
        store.get("/auto", 45).await.unwrap().unwrap().mod_revision,
        45
    );
}

#[tokio::test]
async fn reopening_preserves_data_and_the_revision_counter() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir);
        store.create("/keep", b"v".to_vec()).await.unwrap(); // 1
        store.create("/gone", b"v".to_vec()).await.unwrap(); // 2
        store.delete("/gone", None).await.unwrap(); // 3
        // The last write is a tombstone that compaction removes; the counter must not
        // fall back to the highest remaining row.
        store.compact(3).await.unwrap();
    }
    let store = open(&dir);
    assert_eq!(store.current_revision().await.unwrap(), 3);
    assert_eq!(store.compact_revision().await.unwrap(), 3);
    assert_eq!(
        store.get("/keep", 0).await.unwrap().unwrap().mod_revision,
        1
    );
    assert_eq!(store.get("/gone", 0).await.unwrap(), None);
    let next = store.create("/new", vec![]).await.unwrap();
    assert_eq!(next.mod_revision, 4);
}

#[tokio::test]
async fn sixteen_concurrent_writers_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_with(
        &dir,
        SqliteOptions {
            synchronous: Synchronous::Full,
            ..test_options()
        },
    ));
    let tasks: Vec<_> = (0..16)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..100 {
                    let key = format!("/cw/{t}/{i}");
                    let kv = store.create(&key, vec![0; 64]).await?;
                    store.update(&key, vec![1; 64], kv.mod_revision).await?;
                    // Reads run concurrently with the writer.
                    store.get(&key, 0).await?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.current_revision().await.unwrap(), 3_200);
    assert_eq!(store.count("/cw/").await.unwrap(), 1_600);
}

#[tokio::test]
async fn hostile_keys_and_revisions_are_rejected_or_stored_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert!(matches!(
        store.create("", vec![]).await,
        Err(StoreError::InvalidKey { .. })
    ));
    assert!(matches!(
        store.get("/k", -1).await,
        Err(StoreError::InvalidRevision { revision: -1 })
    ));
    assert!(matches!(
        store.watch("/", -5).await,
        Err(StoreError::InvalidRevision { .. })
    ));
    assert!(matches!(
        store.compact(-5).await,
        Err(StoreError::InvalidRevision { .. })
    ));
    let nasty = [
        "/x/'; DROP TABLE log; --",
        "/x/%_*",
        "/x/\u{0}nul",
        "/x/\u{10FFFF}",
        "/x/ünïcödé",
    ];
    for key in nasty {
        store.create(key, key.as_bytes().to_vec()).await.unwrap();
    }
    let list = store
        .list(ListRequest {
            prefix: "/x/".into(),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    let mut expected: Vec<&str> = nasty.to_vec();
    expected.sort();
    let keys: Vec<&str> = list.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, expected);
    for kv in &list.kvs {
        assert_eq!(kv.value, kv.key.as_bytes());
    }
    // A prefix ending in the highest code point still bounds the range.
    assert_eq!(store.count("/x/\u{10FFFF}").await.unwrap(), 1);
    // A start_after before the prefix does not widen the range.
    let list = store
        .list(ListRequest {
            prefix: "/x/%".into(),
            start_after: Some("/".into()),
            ..ListRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(list.kvs.len(), 1);
}

#[tokio::test]
async fn dropped_watch_streams_do_not_hold_back_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(
        &dir,
        SqliteOptions {
            watch_buffer: 2,
            ..test_options()
        },
    );
    for _ in 0..10 {
        let watch = store.watch("/", 0).await.unwrap();
        drop(watch);
    }
    for i in 0..20 {
        store.create(&format!("/d/{i}"), vec![]).await.unwrap();
    }
    assert_eq!(store.current_revision().await.unwrap(), 20);
}

/// Child half of `acknowledged_writes_survive_kill_9` (the same test re-run by the parent
/// with `RK3S_STORE_KILL_CHILD_DB` set): writes until killed, printing each acknowledged key.
async fn kill_9_child_writes_until_killed(path: String) {
    use std::io::Write;
    let store = Arc::new(
        SqliteBackend::open(
            std::path::Path::new(&path),
            SqliteOptions {
                compaction: None,
                ..SqliteOptions::default()
            },
        )
        .unwrap(),
    );
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel();
    for t in 0..8 {
        let store = Arc::clone(&store);
        let acks = acks.clone();
        tokio::spawn(async move {
            for i in 0.. {
                let key = format!("/kill/{t}/{i}");
                if store.create(&key, vec![7; 100]).await.is_ok() {
                    let _ = acks.send(key);
                }
            }
        });
    }
    let mut out = std::io::stdout().lock();
    while let Some(key) = acked.recv().await {
        if writeln!(out, "ACK {key}")
            .and_then(|()| out.flush())
            .is_err()
        {
            // The parent stopped reading and is about to kill us: keep writing.
            std::future::pending::<()>().await;
        }
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    use std::io::BufRead;
    if let Ok(path) = std::env::var("RK3S_STORE_KILL_CHILD_DB") {
        kill_9_child_writes_until_killed(path).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RK3S_STORE_KILL_CHILD_DB", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let acked = tokio::task::spawn_blocking(move || {
        let mut acked = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(key) = line.strip_prefix("ACK ") {
                acked.push(key.to_owned());
                if acked.len() == 500 {
                    break;
                }
            }
        }
        acked
    })
    .await
    .unwrap();
    // SIGKILL while the child is still writing.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(acked.len(), 500, "child stopped early");
    let store = SqliteBackend::open(&path, test_options()).unwrap();
    for key in &acked {
        assert!(
            store.get(key, 0).await.unwrap().is_some(),
            "acknowledged {key} lost"
        );
    }
}

#[tokio::test]
async fn lagging_watcher_whose_missed_history_was_compacted_gets_compacted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with(
        &dir,
        SqliteOptions {
            watch_buffer: 2,
            ..test_options()
        },
    );
    let mut watch = store.watch("/", 0).await.unwrap();
    let mut kv = store.create("/k", vec![0]).await.unwrap();
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 1);
    for i in 1..20u8 {
        kv = store.update("/k", vec![i], kv.mod_revision).await.unwrap();
    }
    store.compact(kv.mod_revision).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
        Ok(Some(Err(StoreError::Compacted {
            compact_revision: 20,
        }))) => {}
        other => panic!("expected compacted, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_future_revision_starts_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let mut watch = store.watch("/f", 3).await.unwrap();
    for i in 0..5 {
        store.create(&format!("/f{i}"), vec![]).await.unwrap();
    }
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 4);
    assert_eq!(next_event(&mut watch).await.kv.mod_revision, 5);
}
