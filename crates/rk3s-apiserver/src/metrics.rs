//! Prometheus metrics: request counts and latencies by verb/resource/code, watch counts and
//! datastore timings, rendered as Prometheus text at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// The server's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    store_ops: Mutex<BTreeMap<String, Histogram>>,
    watchers: AtomicI64,
    watch_events: AtomicI64,
}

/// Decrements the watcher gauge when a watch ends, however it ends.
pub struct WatcherGuard<'a>(&'a Metrics);

impl Drop for WatcherGuard<'_> {
    fn drop(&mut self) {
        self.0.watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn observe_request(&self, verb: &str, resource: &str, code: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            m.entry((verb.to_string(), resource.to_string(), code))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    pub fn observe_store(&self, operation: &str, elapsed: Duration) {
        if let Ok(mut m) = self.store_ops.lock() {
            m.entry(operation.to_string())
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    pub fn watch_started(&self) -> WatcherGuard<'_> {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        WatcherGuard(self)
    }

    pub fn watch_event_sent(&self) {
        self.watch_events.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Number of API requests by verb, resource and HTTP code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        let requests = self.requests.lock().map(|m| m.clone()).unwrap_or_default();
        for ((verb, resource, code), h) in &requests {
            let _ = writeln!(
                out,
                "apiserver_request_total{{verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP apiserver_request_duration_seconds API request latency by verb and resource.\n",
        );
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for ((verb, resource, code), h) in &requests {
            h.render(
                &mut out,
                "apiserver_request_duration_seconds",
                &format!("verb=\"{verb}\",resource=\"{resource}\",code=\"{code}\""),
            );
        }
        out.push_str("# HELP apiserver_registered_watchers Number of open watches.\n# TYPE apiserver_registered_watchers gauge\n");
        let _ = writeln!(
            out,
            "apiserver_registered_watchers {}",
            self.watchers.load(Ordering::Relaxed)
        );
        out.push_str("# HELP apiserver_watch_events_total Number of watch events sent.\n# TYPE apiserver_watch_events_total counter\n");
        let _ = writeln!(
            out,
            "apiserver_watch_events_total {}",
            self.watch_events.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP rk3s_datastore_operation_duration_seconds Datastore operation latency.\n",
        );
        out.push_str("# TYPE rk3s_datastore_operation_duration_seconds histogram\n");
        let ops = self.store_ops.lock().map(|m| m.clone()).unwrap_or_default();
        for (op, h) in &ops {
            h.render(
                &mut out,
                "rk3s_datastore_operation_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_verb_resource_and_code() {
        let m = Metrics::default();
        m.observe_request("LIST", "pods", 200, Duration::from_millis(3));
        m.observe_request("LIST", "pods", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(
            text.contains(
                "apiserver_request_total{verb=\"LIST\",resource=\"pods\",code=\"200\"} 2"
            )
        );
        assert!(text.contains("le=\"0.005\"} 1"));
        {
            let _g = m.watch_started();
            assert!(m.render().contains("apiserver_registered_watchers 1"));
        }
        assert!(m.render().contains("apiserver_registered_watchers 0"));
    }
}
