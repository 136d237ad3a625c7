//! Event expiry: events are deleted once they have not been seen for the event TTL (upstream's
//! `--event-ttl`, default 1 h), so they never pile up in the datastore.
//! Entry point: [`spawn_expiry`].

use std::sync::Arc;
use std::time::Duration;

use rk3s_store::{ListRequest, StoreError};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::state::ApiState;

/// When an event was last seen: the newest of its timestamps.
fn last_seen(ev: &Value) -> Option<jiff::Timestamp> {
    [
        "/series/lastObservedTime",
        "/lastTimestamp",
        "/eventTime",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .filter_map(|p| ev.pointer(p).and_then(Value::as_str))
    .filter_map(|s| s.parse::<jiff::Timestamp>().ok())
    .max()
}

/// One sweep: delete every event last seen before `now - ttl`. Returns how many went.
pub async fn expire_once(
    state: &ApiState,
    ttl: Duration,
    now: jiff::Timestamp,
) -> Result<usize, StoreError> {
    let cutoff = now.as_second() - i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let res = state
        .store
        .list(ListRequest {
            prefix: "/registry/events/".into(),
            ..Default::default()
        })
        .await?;
    let mut removed = 0;
    for kv in res.kvs {
        let expired = match serde_json::from_slice::<Value>(&kv.value) {
            Ok(ev) => last_seen(&ev).is_none_or(|t| t.as_second() < cutoff),
            // Not JSON: nothing can read it; it goes too.
            Err(_) => true,
        };
        if !expired {
            continue;
        }
        match state.store.delete(&kv.key, Some(kv.mod_revision)).await {
            Ok(_) => removed += 1,
            // Updated meanwhile (seen again) or already gone.
            Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Sweep every `interval` until `shutdown`.
pub fn spawn_expiry(
    state: Arc<ApiState>,
    ttl: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
            match expire_once(&state, ttl, jiff::Timestamp::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(expired = n, "expired events"),
                Err(e) => tracing::warn!(error = %e, "expiring events failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_the_newest_timestamp() {
        let ev = serde_json::json!({
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "lastTimestamp": "2026-01-01T02:00:00Z",
            "eventTime": "2026-01-01T01:00:00.000000Z",
        });
        assert_eq!(
            last_seen(&ev).map(|t| t.to_string()),
            Some("2026-01-01T02:00:00Z".to_string())
        );
        assert!(last_seen(&serde_json::json!({"lastTimestamp": "garbage"})).is_none());
    }
}
