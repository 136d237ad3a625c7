//! Figure 4: create latency at a fixed 200 writes/s for 20 s. Open loop: each request has a
//! scheduled start and its latency is measured from that instant, so a slow server that makes
//! requests queue is charged for the queueing (no coordinated omission).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{Mutex, mpsc};

use super::{configmap, configmaps_path, create_namespace, open_connections};
use crate::client::Tls;
use crate::report::Report;
use crate::stats::{Samples, ms};

const RATE_PER_SEC: u64 = 200;
const DURATION: Duration = Duration::from_secs(20);
/// Enough connections that a few slow answers do not hold up the schedule.
const CONNECTIONS: usize = 16;
const NAMESPACE: &str = "bench-latency";

pub async fn run(port: u16, tls: &Tls, report: &mut Report) -> Result<()> {
    let mut conns = open_connections(port, tls, CONNECTIONS).await?;
    create_namespace(&mut conns[0], NAMESPACE).await?;
    let total = RATE_PER_SEC * DURATION.as_secs();
    let interval = Duration::from_secs(1) / RATE_PER_SEC as u32;
    let (jobs, queue) = mpsc::channel::<(u64, Instant)>(total as usize);
    let queue = Arc::new(Mutex::new(queue));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let queue = queue.clone();
        tasks.spawn(async move {
            let path = configmaps_path(NAMESPACE);
            let (mut latencies, mut failed) = (Vec::new(), 0usize);
            loop {
                let job = queue.lock().await.recv().await;
                let Some((i, scheduled)) = job else { break };
                match conn
                    .post_json(&path, configmap(NAMESPACE, &format!("lat-{i}"), 200))
                    .await
                {
                    Ok(r) if r.status == http::StatusCode::CREATED => {
                        latencies.push(scheduled.elapsed())
                    }
                    _ => failed += 1,
                }
            }
            (latencies, failed)
        });
    }
    let started = Instant::now();
    for i in 0..total {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        jobs.send((i, scheduled))
            .await
            .context("the workers stopped")?;
    }
    drop(jobs);
    let (mut all, mut failed) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (l, f) = done.context("a client task panicked")?;
        all.extend(l);
        failed += f;
    }
    let s = Samples::new(all);
    report.add(
        "4. create latency at 200/s for 20 s: p50 / p99",
        format!("{} / {}", ms(s.median()), ms(s.percentile(99.0))),
        "p99 ≤ 20 ms",
    );
    report.add(
        "4. (same run) max latency, failed requests",
        format!("{} max, {failed} failed of {total}", ms(s.max())),
        "-",
    );
    Ok(())
}
