//! Figure 7: database size after 100,000 merge-patches spread over 1,000 ConfigMaps of about
//! 1 KiB, right after the churn, after the server's own periodic compaction, and after a restart,
//! each compared with the live data (sum of the objects' JSON sizes).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;

use super::{configmaps_path, create_many, create_namespace, open_connections};
use crate::client::Tls;
use crate::report::Report;
use crate::server::{Launch, ServerProcess};
use crate::stats::mib;

const OBJECTS: usize = 1_000;
const UPDATES: usize = 100_000;
const CLIENTS: usize = 16;
const OBJECT_LEN: usize = 1_024;
const NAMESPACE: &str = "bench-churn";
/// The server's compaction interval (rk3s-store's default; there is no flag for it).
const COMPACTION_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Slack after a scheduled compaction pass for it to finish and give pages back.
const COMPACTION_SLACK: Duration = Duration::from_secs(30);

/// Bytes of `state.db` plus `state.db-wal` (a missing WAL counts as empty).
fn db_size(db: &Path) -> Result<(u64, u64)> {
    let main = std::fs::metadata(db)
        .with_context(|| format!("reading {}", db.display()))?
        .len();
    let mut wal_path = db.as_os_str().to_owned();
    wal_path.push("-wal");
    let wal = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
    Ok((main, wal))
}

fn size_figure(db: &Path, live: u64) -> Result<String> {
    let (main, wal) = db_size(db)?;
    Ok(format!(
        "{} + WAL {} = {:.1}x live",
        mib(main),
        mib(wal),
        (main + wal) as f64 / live.max(1) as f64
    ))
}

/// The value each patch writes: unique per update so none is a no-op, constant in length.
fn patch_body(update: usize) -> Bytes {
    let value = format!("{update:010}{}", "y".repeat(OBJECT_LEN - 200));
    Bytes::from(serde_json::json!({"data": {"v": value}}).to_string())
}

/// Sum of the JSON sizes of the live objects, as the server returns them.
async fn live_size(port: u16, tls: &Tls) -> Result<u64> {
    let mut conn = open_connections(port, tls, 1).await?.remove(0);
    let resp = conn.get(&configmaps_path(NAMESPACE)).await?;
    if resp.status != http::StatusCode::OK {
        bail!("listing {NAMESPACE}: {}", resp.status);
    }
    let list: serde_json::Value = serde_json::from_slice(&resp.body)?;
    let items = list["items"].as_array().context("the list has no items")?;
    let mut total = 0u64;
    for item in items {
        total += serde_json::to_vec(item)?.len() as u64;
    }
    Ok(total)
}

pub struct ChurnRequest<'a> {
    pub launch: &'a Launch,
    pub data_dir: &'a Path,
    pub wait_for_compaction: bool,
}

pub async fn run(req: ChurnRequest<'_>, report: &mut Report) -> Result<()> {
    let mut server = ServerProcess::start(req.launch, req.data_dir)?;
    server.wait_ready(Duration::from_secs(60)).await?;
    let tls = server.admin_tls()?;
    let port = server.port;
    let mut conn = open_connections(port, &tls, 1).await?.remove(0);
    create_namespace(&mut conn, NAMESPACE).await?;
    create_many(port, &tls, NAMESPACE, "churn", OBJECTS, CLIENTS, OBJECT_LEN).await?;

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, mut conn) in open_connections(port, &tls, CLIENTS)
        .await?
        .into_iter()
        .enumerate()
    {
        let next = next.clone();
        // Each client owns every CLIENTS-th object, so no two patches race on one object.
        let mine: Vec<String> = (w..OBJECTS)
            .step_by(CLIENTS)
            .map(|i| format!("{}/churn-{i}", configmaps_path(NAMESPACE)))
            .collect();
        tasks.spawn(async move {
            let mut failed = 0usize;
            for path in mine.iter().cycle() {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= UPDATES {
                    break;
                }
                match conn
                    .call(
                        Method::PATCH,
                        path,
                        "application/merge-patch+json",
                        patch_body(i),
                    )
                    .await
                {
                    Ok(r) if r.status == http::StatusCode::OK => {}
                    _ => failed += 1,
                }
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(done) = tasks.join_next().await {
        failed += done.context("a patching task panicked")?;
    }
    let churn = started.elapsed();
    let live = live_size(port, &tls).await?;
    let db = server.db_path();
    report.add(
        "7. 100,000 merge-patches over 1,000 ConfigMaps (16 clients)",
        format!(
            "{:.0}/s ({:.1} s, {failed} failed)",
            UPDATES as f64 / churn.as_secs_f64(),
            churn.as_secs_f64()
        ),
        "-",
    );
    report.add("7. live data (sum of object JSON sizes)", mib(live), "-");
    report.add(
        "7. state.db + WAL right after the churn",
        size_figure(&db, live)?,
        "≤ 3x live",
    );

    if req.wait_for_compaction {
        let passes = server.uptime().as_secs() / COMPACTION_INTERVAL.as_secs() + 1;
        let until = COMPACTION_INTERVAL * passes as u32 + COMPACTION_SLACK;
        let wait = until.saturating_sub(server.uptime());
        println!(
            "  (waiting {:.0} s for the server's compaction pass at uptime {:?})",
            wait.as_secs_f64(),
            COMPACTION_INTERVAL * passes as u32
        );
        tokio::time::sleep(wait).await;
        report.add(
            "7. state.db + WAL after the periodic compaction (5 min)",
            size_figure(&db, live)?,
            "≤ 3x live",
        );
    }
    server.stop(Duration::from_secs(30)).await?;
    let mut server = ServerProcess::start(req.launch, req.data_dir)?;
    server.wait_ready(Duration::from_secs(60)).await?;
    report.add(
        "7. state.db + WAL after a restart",
        size_figure(&db, live)?,
        "≤ 3x live",
    );
    server.stop(Duration::from_secs(30)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_bodies_differ_per_update_and_keep_one_length() {
        let (a, b) = (patch_body(1), patch_body(99_999));
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn missing_database_is_an_error_not_a_zero() {
        let dir = tempfile::tempdir().unwrap();
        assert!(db_size(&dir.path().join("state.db")).is_err());
    }

    #[test]
    fn missing_wal_counts_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        std::fs::write(&db, vec![0u8; 4096]).unwrap();
        assert_eq!(db_size(&db).unwrap(), (4096, 0));
    }
}
