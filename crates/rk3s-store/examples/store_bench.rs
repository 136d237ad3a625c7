//! Benchmark of the SQLite backend: concurrent create throughput, create latency at a
//! fixed rate, and file size after many updates and a compaction.
//!
//! Run: `cargo run --release -p rk3s-store --example store_bench -- <dir>`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rk3s_store::{Backend, SqliteBackend, SqliteOptions, StoreError};

const VALUE_SIZE: usize = 1024;
const WRITERS: usize = 16;

fn value(seed: usize) -> Vec<u8> {
    (0..VALUE_SIZE)
        .map(|i| b'a' + ((i + seed) % 26) as u8)
        .collect()
}

fn open(dir: &Path, name: &str) -> Result<SqliteBackend, StoreError> {
    let opts = SqliteOptions {
        // Compaction is run explicitly below so that its effect is measured.
        compaction: None,
        ..SqliteOptions::default()
    };
    SqliteBackend::open(&dir.join(name).join("state.db"), opts)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn db_size(dir: &Path, name: &str) -> u64 {
    let db = dir.join(name).join("state.db");
    let wal = dir.join(name).join("state.db-wal");
    file_size(&db) + file_size(&wal)
}

async fn throughput(dir: &Path) -> Result<(), StoreError> {
    let store = Arc::new(open(dir, "throughput")?);
    let per_task = 1_000;
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in 0..per_task {
                    store
                        .create(&format!("/registry/bench/t{t}/o{i}"), value(i))
                        .await?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| StoreError::WorkerFailed {
            source: Box::new(e),
        })??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = (WRITERS * per_task) as f64;
    println!(
        "create throughput, {WRITERS} concurrent tasks: {:.0} objects/s ({total} creates in {elapsed:.2}s, synchronous=FULL)",
        total / elapsed
    );
    Ok(())
}

async fn latency(dir: &Path) -> Result<(), StoreError> {
    let store = Arc::new(open(dir, "latency")?);
    let rate = 200;
    let count = 2_000;
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        ticker.tick().await;
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            store
                .create(&format!("/registry/lat/o{i}"), value(i))
                .await?;
            Ok::<_, StoreError>(started.elapsed())
        }));
    }
    let mut samples = Vec::with_capacity(count);
    for task in tasks {
        samples.push(task.await.map_err(|e| StoreError::WorkerFailed {
            source: Box::new(e),
        })??);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "create latency at {rate} writes/s ({count} creates): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        pct(1.0).as_secs_f64() * 1e3
    );
    Ok(())
}

async fn size_after_updates(dir: &Path) -> Result<(), StoreError> {
    let store = Arc::new(open(dir, "size")?);
    let objects = 1_000;
    let updates = 100_000;
    let mut live_bytes = 0u64;
    for i in 0..objects {
        let key = format!("/registry/configmaps/default/obj-{i:04}");
        live_bytes += (key.len() + VALUE_SIZE) as u64;
        store.create(&key, value(i)).await?;
    }
    let started = Instant::now();
    // Each task owns a disjoint set of objects, so every CAS sees its own last write.
    let tasks: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mine: Vec<usize> = (0..objects).filter(|i| i % WRITERS == t).collect();
                let mut revisions = vec![0i64; mine.len()];
                for (slot, &i) in mine.iter().enumerate() {
                    let key = format!("/registry/configmaps/default/obj-{i:04}");
                    revisions[slot] = store.get(&key, 0).await?.map_or(0, |kv| kv.mod_revision);
                }
                let share = updates / WRITERS + usize::from(t < updates % WRITERS);
                for n in 0..share {
                    let slot = n % mine.len();
                    let key = format!("/registry/configmaps/default/obj-{:04}", mine[slot]);
                    let kv = store.update(&key, value(n), revisions[slot]).await?;
                    revisions[slot] = kv.mod_revision;
                }
                Ok::<_, StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| StoreError::WorkerFailed {
            source: Box::new(e),
        })??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let before = db_size(dir, "size");
    let current = store.current_revision().await?;
    println!(
        "{updates} updates to {objects} objects of ~1 KiB: {:.0} updates/s; db+wal before compaction {:.1} MiB",
        updates as f64 / elapsed,
        before as f64 / 1048576.0
    );

    let started = Instant::now();
    store.compact(current - 1_000).await?;
    store.maintain().await?;
    let retained = db_size(dir, "size");
    println!(
        "after compact(current - 1000) + maintenance ({:.2}s): db+wal {:.2} MiB, live data {:.2} MiB, ratio {:.2}x",
        started.elapsed().as_secs_f64(),
        retained as f64 / 1048576.0,
        live_bytes as f64 / 1048576.0,
        retained as f64 / live_bytes as f64
    );
    store.compact(current).await?;
    store.maintain().await?;
    let compacted = db_size(dir, "size");
    println!(
        "after compact(current) + maintenance: db+wal {:.2} MiB, live data {:.2} MiB, ratio {:.2}x",
        compacted as f64 / 1048576.0,
        live_bytes as f64 / 1048576.0,
        compacted as f64 / live_bytes as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: store_bench <dir>");
        std::process::exit(2);
    };
    for name in ["throughput", "latency", "size"] {
        let sub = dir.join(name);
        if sub.exists() {
            std::fs::remove_dir_all(&sub)?;
        }
    }
    throughput(&dir).await?;
    latency(&dir).await?;
    size_after_updates(&dir).await?;
    Ok(())
}
