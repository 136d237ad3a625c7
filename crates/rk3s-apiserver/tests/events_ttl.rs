//! Events older than the TTL are swept from the store; fresh ones stay.

use std::sync::Arc;
use std::time::Duration;

use rk3s_apiserver::ApiState;
use rk3s_store::{SqliteBackend, SqliteOptions, Synchronous};

#[tokio::test]
async fn events_not_seen_within_the_ttl_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        synchronous: Synchronous::Normal,
        compaction: None,
        ..Default::default()
    };
    let store = Arc::new(SqliteBackend::open(&dir.path().join("state.db"), opts).unwrap());
    let state = ApiState::new(
        rk3s_core::Registry::builtin(),
        store.clone(),
        "127.0.0.1:6443".into(),
    );
    let ev = |name: &str, last: &str| {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "lastTimestamp": last, "message": "m",
        }))
        .unwrap()
    };
    use rk3s_store::Backend;
    store
        .create(
            "/registry/events/default/old",
            ev("old", "2026-01-01T00:10:00Z"),
        )
        .await
        .unwrap();
    store
        .create(
            "/registry/events/default/recent",
            ev("recent", "2026-01-01T00:55:00Z"),
        )
        .await
        .unwrap();
    let now: jiff::Timestamp = "2026-01-01T01:30:00Z".parse().unwrap();
    let removed = rk3s_apiserver::events::expire_once(&state, Duration::from_secs(3600), now)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(
        store
            .get("/registry/events/default/old", 0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get("/registry/events/default/recent", 0)
            .await
            .unwrap()
            .is_some()
    );
}
