//! Figure 6: 100 watchers on one namespace, each on its own connection, while 1,000 ConfigMaps
//! are created at about 100/s; per event, arrival time at each watcher against the create.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::{Buf, BytesMut};
use http::Method;
use http_body_util::BodyExt;
use tokio::sync::watch;

use super::{configmap, configmaps_path, create_namespace, list_revision, open_connections};
use crate::client::{Connection, Tls};
use crate::report::Report;
use crate::stats::{Samples, ms};

const WATCHERS: usize = 100;
const CREATES: usize = 1_000;
const RATE_PER_SEC: u32 = 100;
const NAMESPACE: &str = "bench-watch";
/// Time allowed after the last create for stragglers to arrive.
const DRAIN: Duration = Duration::from_secs(15);

#[derive(serde::Deserialize)]
struct Meta {
    name: Option<String>,
}
#[derive(serde::Deserialize)]
struct Object {
    metadata: Meta,
}
#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    object: Object,
}

/// Reads a watch stream until `expected` ADDED events arrived or `stop` fires; returns
/// each object name with the instant its event's bytes were received.
async fn watcher(
    mut conn: Connection,
    path: String,
    ready: tokio::sync::mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
    expected: usize,
) -> Result<Vec<(String, Instant)>> {
    let resp = conn
        .send(Method::GET, &path, "application/json", bytes::Bytes::new())
        .await?;
    if resp.status() != http::StatusCode::OK {
        bail!("watch answered {}", resp.status());
    }
    ready.send(()).await.context("the coordinator went away")?;
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    let mut seen = Vec::with_capacity(expected);
    while seen.len() < expected {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.changed() => break,
        };
        let Some(frame) = frame else { break };
        let arrived = Instant::now();
        let Ok(data) = frame.context("reading the watch stream")?.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(end + 1);
            let event: Event =
                serde_json::from_slice(line.chunk()).context("parsing a watch event")?;
            if event.kind == "ADDED"
                && let Some(name) = event.object.metadata.name
            {
                seen.push((name, arrived));
            }
        }
    }
    Ok(seen)
}

pub async fn run(port: u16, tls: &Tls, report: &mut Report) -> Result<()> {
    let mut creator = open_connections(port, tls, 1).await?.remove(0);
    create_namespace(&mut creator, NAMESPACE).await?;
    let path = configmaps_path(NAMESPACE);
    let list = creator.get(&path).await?;
    let rv = list_revision(&list.body)?;
    let watch_path = format!("{path}?watch=true&resourceVersion={rv}&allowWatchBookmarks=false");

    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(WATCHERS);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for conn in open_connections(port, tls, WATCHERS).await? {
        tasks.spawn(watcher(
            conn,
            watch_path.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
            CREATES,
        ));
    }
    drop(ready_tx);
    for _ in 0..WATCHERS {
        tokio::time::timeout(Duration::from_secs(30), ready_rx.recv())
            .await
            .context("watchers did not all start within 30 s")?
            .context("a watcher failed to start")?;
    }

    // name -> (request start, 201 received)
    let mut created: HashMap<String, (Instant, Instant)> = HashMap::with_capacity(CREATES);
    let interval = Duration::from_secs(1) / RATE_PER_SEC;
    let started = Instant::now();
    for i in 0..CREATES {
        tokio::time::sleep_until((started + interval * i as u32).into()).await;
        let name = format!("w-{i}");
        let sent = Instant::now();
        let resp = creator
            .post_json(&path, configmap(NAMESPACE, &name, 200))
            .await?;
        if resp.status != http::StatusCode::CREATED {
            bail!("creating {name}: {}", resp.status);
        }
        created.insert(name, (sent, Instant::now()));
    }
    let create_secs = started.elapsed().as_secs_f64();

    let stopper = tokio::spawn(async move {
        tokio::time::sleep(DRAIN).await;
        let _ = stop_tx.send(true);
    });
    let (mut from_start, mut from_ack) = (Vec::new(), Vec::new());
    let (mut complete, mut received, mut before_ack, mut failed) = (0usize, 0usize, 0usize, 0usize);
    while let Some(done) = tasks.join_next().await {
        let seen = match done.context("a watcher panicked")? {
            Ok(seen) => seen,
            Err(e) => {
                eprintln!("  watcher failed: {e:#}");
                failed += 1;
                continue;
            }
        };
        let mut names = std::collections::HashSet::with_capacity(seen.len());
        for (name, arrived) in seen {
            let Some(&(sent, acked)) = created.get(&name) else {
                continue;
            };
            if !names.insert(name) {
                continue;
            }
            received += 1;
            from_start.push(arrived.saturating_duration_since(sent));
            if arrived < acked {
                before_ack += 1;
            }
            // An event can beat the 201 back to the client; it then counts as zero delay.
            from_ack.push(arrived.saturating_duration_since(acked));
        }
        if names.len() == CREATES {
            complete += 1;
        }
    }
    stopper.abort();
    let (from_start, from_ack) = (Samples::new(from_start), Samples::new(from_ack));
    report.add(
        "6. watch delivery, 100 watchers, from the 201: p50 / p99",
        format!(
            "{} / {}",
            ms(from_ack.median()),
            ms(from_ack.percentile(99.0))
        ),
        "p99 ≤ 50 ms",
    );
    report.add(
        "6. watch delivery from the create request start: p50 / p99",
        format!(
            "{} / {}",
            ms(from_start.median()),
            ms(from_start.percentile(99.0))
        ),
        "-",
    );
    report.add(
        "6. watchers that received all 1,000 events",
        format!(
            "{complete}/{WATCHERS} ({received}/{} events, {failed} failed)",
            WATCHERS * CREATES
        ),
        "all",
    );
    report.add(
        "6. (same run) creates sent at, events before their 201",
        format!(
            "{:.0}/s, {before_ack} of {received}",
            CREATES as f64 / create_secs
        ),
        "-",
    );
    Ok(())
}
