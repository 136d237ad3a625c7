//! Figure 1: time from spawning the binary to the first `/readyz` 200, on an empty data dir
//! (certificates generated) and on an existing one (restart).

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use crate::report::Report;
use crate::server::{Launch, ServerProcess};
use crate::stats::{Samples, ms};

const RUNS: usize = 5;
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(20);

pub async fn run(launch: &Launch, workdir: &Path, report: &mut Report) -> Result<()> {
    let mut first = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let dir = workdir.join(format!("cold-start-{i}"));
        let mut server = ServerProcess::start(launch, &dir)?;
        first.push(server.wait_ready(READY_TIMEOUT).await?);
        server.stop(STOP_GRACE).await?;
    }
    let mut restart = Vec::with_capacity(RUNS);
    let dir = workdir.join("cold-start-0");
    for _ in 0..RUNS {
        let mut server = ServerProcess::start(launch, &dir)?;
        restart.push(server.wait_ready(READY_TIMEOUT).await?);
        server.stop(STOP_GRACE).await?;
    }
    let (first, restart) = (Samples::new(first), Samples::new(restart));
    report.add(
        "1a. first start to /readyz 200 (median of 5)",
        format!("{} (max {})", ms(first.median()), ms(first.max())),
        "≤ 2 s",
    );
    report.add(
        "1b. restart to /readyz 200 (median of 5)",
        format!("{} (max {})", ms(restart.median()), ms(restart.max())),
        "≤ 1 s",
    );
    Ok(())
}
