//! Figure 3: ConfigMap creates per second from 16 clients, each on its own connection, for
//! 10 s or 10,000 objects, whichever comes first.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{configmap, configmaps_path, create_namespace, open_connections};
use crate::client::Tls;
use crate::report::Report;

const CLIENTS: usize = 16;
const MAX_OBJECTS: usize = 10_000;
const MAX_TIME: Duration = Duration::from_secs(10);
const NAMESPACE: &str = "bench-throughput";

pub async fn run(port: u16, tls: &Tls, report: &mut Report) -> Result<()> {
    let mut conns = open_connections(port, tls, CLIENTS).await?;
    create_namespace(&mut conns[0], NAMESPACE).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + MAX_TIME;
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let (next, failed) = (next.clone(), failed.clone());
        tasks.spawn(async move {
            let path = configmaps_path(NAMESPACE);
            let mut created = 0usize;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= MAX_OBJECTS {
                    break;
                }
                match conn
                    .post_json(&path, configmap(NAMESPACE, &format!("tp-{i}"), 200))
                    .await
                {
                    Ok(r) if r.status == http::StatusCode::CREATED => created += 1,
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (created, Instant::now())
        });
    }
    let mut created = 0;
    let mut last = started;
    while let Some(done) = tasks.join_next().await {
        let (n, at) = done.context("a client task panicked")?;
        created += n;
        last = last.max(at);
    }
    let elapsed = last.duration_since(started);
    let rate = created as f64 / elapsed.as_secs_f64();
    report.add(
        "3. creates/s, 16 clients, durable (synchronous=FULL)",
        format!(
            "{rate:.0}/s ({created} in {:.2} s, {} failed)",
            elapsed.as_secs_f64(),
            failed.load(Ordering::Relaxed)
        ),
        "≥ 1,000/s",
    );
    Ok(())
}
