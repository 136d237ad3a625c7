//! Events the controllers record for `kubectl describe` (best effort: a failed event never fails
//! a sync), and the one-line error text their logs carry.
//!
//! Like upstream's event recorder, each object gets a burst of 25 events of one reason and then
//! one more per five minutes: a ReplicaSet creating 10,000 pods records the first 25
//! `SuccessfulCreate` events, not 10,000 writes of one event series.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tracing::debug;

/// Records events on behalf of one controller.
#[derive(Clone)]
pub struct Events {
    recorder: Recorder,
    limits: Arc<Mutex<HashMap<(String, String), Bucket>>>,
}

/// Events of one reason one object may still record: a token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

const BURST: f64 = 25.0;
const REFILL_EVERY: Duration = Duration::from_secs(300);
/// Objects tracked before the oldest buckets are forgotten (a forgotten one starts full).
const MAX_TRACKED: usize = 4096;

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() / REFILL_EVERY.as_secs_f64();
        self.tokens = (self.tokens + refill).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Events {
    pub fn new(client: Client, controller: &str, instance: &str) -> Events {
        let reporter = Reporter {
            controller: controller.into(),
            instance: Some(instance.into()),
        };
        Events {
            recorder: Recorder::new(client, reporter),
            limits: Arc::default(),
        }
    }

    /// Whether another event of `reason` about `on` may be recorded now.
    fn allowed(&self, on: &ObjectReference, reason: &str) -> bool {
        let object = on
            .uid
            .clone()
            .unwrap_or_else(|| format!("{:?}/{:?}", on.namespace, on.name));
        let Ok(mut limits) = self.limits.lock() else {
            return true;
        };
        let now = Instant::now();
        if limits.len() >= MAX_TRACKED {
            let stale = now.checked_sub(REFILL_EVERY * 25).unwrap_or(now);
            limits.retain(|_, b| b.at > stale);
            if limits.len() >= MAX_TRACKED {
                limits.clear();
            }
        }
        limits
            .entry((object, reason.to_string()))
            .or_insert(Bucket {
                tokens: BURST,
                at: now,
            })
            .take(now)
    }

    pub async fn normal(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, EventType::Normal, reason, action, note)
            .await;
    }

    /// A Warning event when `warning`, else a Normal one.
    pub async fn record(
        &self,
        on: &ObjectReference,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let type_ = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        self.publish(on, type_, reason, action, note).await;
    }

    pub async fn warning(&self, on: &ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(on, EventType::Warning, reason, action, note)
            .await;
    }

    async fn publish(
        &self,
        on: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        if !self.allowed(on, reason) {
            debug!(reason, "event dropped by the rate limit");
            return;
        }
        let ev = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, on).await {
            debug!(error = %e, reason, "event not recorded");
        }
    }
}

/// An error and its sources on one line (`creating a pod failed: ... exceeded quota ...`), for
/// logs: the error types keep their own messages free of their sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_bucket_allows_a_burst_then_one_per_refill_period() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: BURST,
            at: t0,
        };
        assert_eq!((0..30).filter(|_| b.take(t0)).count(), 25);
        assert!(!b.take(t0 + Duration::from_secs(60)));
        assert!(b.take(t0 + REFILL_EVERY + Duration::from_secs(1)));
        assert!(!b.take(t0 + REFILL_EVERY + Duration::from_secs(2)));
    }

    #[test]
    fn the_chain_names_every_cause() {
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&e), "outer: inner");
    }
}
