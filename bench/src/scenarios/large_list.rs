//! Figure 5: GET of a 10,000-ConfigMap namespace (about 200 bytes per object as sent), 20 times.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{configmaps_path, create_many, create_namespace, open_connections};
use crate::client::Tls;
use crate::report::Report;
use crate::stats::{Samples, mib, ms};

const OBJECTS: usize = 10_000;
const LISTS: usize = 20;
const NAMESPACE: &str = "bench-list";

pub async fn run(port: u16, tls: &Tls, report: &mut Report) -> Result<()> {
    let mut conn = open_connections(port, tls, 1).await?.remove(0);
    create_namespace(&mut conn, NAMESPACE).await?;
    let fill_started = Instant::now();
    create_many(port, tls, NAMESPACE, "list", OBJECTS, 16, 200).await?;
    println!(
        "  (filled {OBJECTS} objects in {:.1} s)",
        fill_started.elapsed().as_secs_f64()
    );
    let path = configmaps_path(NAMESPACE);
    let mut times: Vec<Duration> = Vec::with_capacity(LISTS);
    let mut bytes = 0;
    for _ in 0..LISTS {
        let started = Instant::now();
        let resp = conn.get(&path).await?;
        times.push(started.elapsed());
        if resp.status != http::StatusCode::OK {
            bail!("listing {NAMESPACE}: {}", resp.status);
        }
        let items = serde_json::from_slice::<serde_json::Value>(&resp.body)?["items"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
        if items != OBJECTS {
            bail!("the list of {NAMESPACE} had {items} items, expected {OBJECTS}");
        }
        bytes = resp.body.len();
    }
    let s = Samples::new(times);
    report.add(
        "5. list of 10,000 ConfigMaps (JSON, full body read): p50 / p99",
        format!("{} / {}", ms(s.median()), ms(s.percentile(99.0))),
        "p50 ≤ 150 ms",
    );
    report.add("5. (same run) list response size", mib(bytes as u64), "-");
    Ok(())
}
