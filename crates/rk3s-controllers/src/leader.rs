//! Leader election through a `coordination.k8s.io/v1` Lease: only the holder runs the loops.
//! Entry point: [`Elector`]; the take-or-wait decision is the pure [`decide`].

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Where the lease lives and how it is timed.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub namespace: String,
    pub name: String,
    /// How long a holder's claim lasts without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews.
    pub renew_interval: Duration,
    /// A holder that could not renew for this long stops its loops (shorter than the lease, so
    /// it stops before anyone else may start).
    pub renew_deadline: Duration,
    /// How often a candidate looks at the lease.
    pub retry_interval: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            namespace: "kube-system".into(),
            name: "rk3s-controller-manager".into(),
            lease_duration: Duration::from_secs(15),
            renew_interval: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(10),
            retry_interval: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ElectionError {
    #[error("holder identity must not be empty")]
    EmptyIdentity,
    #[error(
        "renew deadline must be shorter than the lease duration and longer than the renew interval"
    )]
    BadTiming,
}

/// What a candidate should do with the lease it sees.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// No lease object yet.
    Create,
    /// Nobody holds it, or the holder let it lapse.
    Take,
    /// It is ours: renew it.
    Renew,
    /// Someone else holds it.
    Wait,
}

/// Decides from the lease as read. `unchanged_for` is how long (by our own clock) the lease has
/// looked exactly like this; a lease that has not moved for its whole duration is taken even if
/// the holder's clock says otherwise, as upstream's elector does.
pub fn decide(
    lease: Option<&LeaseSpec>,
    identity: &str,
    now: Timestamp,
    unchanged_for: Duration,
) -> Decision {
    let Some(spec) = lease else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Take;
    }
    let duration = Duration::from_secs(
        u64::try_from(spec.lease_duration_seconds.unwrap_or(0).max(0)).unwrap_or(0),
    );
    if unchanged_for >= duration {
        return Decision::Take;
    }
    let last = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0);
    match last {
        None => Decision::Take,
        Some(t) => {
            let expiry =
                t.checked_add(SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX));
            match expiry {
                Ok(e) if e >= now => Decision::Wait,
                _ => Decision::Take,
            }
        }
    }
}

/// The lease spec after `identity` takes or renews it.
pub fn claimed(
    previous: Option<&LeaseSpec>,
    identity: &str,
    duration: Duration,
    now: Timestamp,
    take: bool,
) -> LeaseSpec {
    let mut spec = previous.cloned().unwrap_or_default();
    let secs = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX).max(1);
    if take {
        let transitions = spec.lease_transitions.unwrap_or(0);
        let had_holder = spec
            .holder_identity
            .as_deref()
            .is_some_and(|h| !h.is_empty());
        spec.lease_transitions = Some(if had_holder || previous.is_some() {
            transitions.saturating_add(1)
        } else {
            0
        });
        spec.acquire_time = Some(MicroTime(now));
    }
    spec.holder_identity = Some(identity.into());
    spec.lease_duration_seconds = Some(secs);
    spec.renew_time = Some(MicroTime(now));
    spec
}

/// How a term of leadership ended.
#[derive(Debug, PartialEq)]
pub enum TermEnd {
    Lost,
    Shutdown,
}

/// Campaigns for the lease of `cfg` and, while holding it, runs `work` with a token that is
/// cancelled when the lease is lost or `shutdown` fires; after a loss the campaign starts over.
/// Returns once `shutdown` fires, after releasing the lease. Used for the controller manager
/// and the scheduler, each with its own lease, as upstream runs them.
pub async fn run_elected<F, Fut>(
    client: Client,
    cfg: ElectionConfig,
    identity: String,
    shutdown: CancellationToken,
    work: F,
) -> Result<(), ElectionError>
where
    F: Fn(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut elector = Elector::new(client, cfg, identity)?;
    while elector.acquire(&shutdown).await {
        let term = shutdown.child_token();
        let running = tokio::spawn(work(term.clone()));
        let end = elector.hold(&shutdown).await;
        term.cancel();
        // The work drains on cancellation; a panic in it is already reported by the runtime.
        let _ = running.await;
        if end == TermEnd::Shutdown {
            elector.release().await;
            break;
        }
        info!(lease = %elector.cfg.name, "leadership lost; stopped");
    }
    Ok(())
}

/// Campaigns for and holds one lease.
pub struct Elector {
    api: Api<Lease>,
    cfg: ElectionConfig,
    identity: String,
    /// The lease as last seen and when (by our clock) it last changed.
    observed: Option<(String, Instant)>,
}

impl Elector {
    pub fn new(
        client: Client,
        cfg: ElectionConfig,
        identity: String,
    ) -> Result<Elector, ElectionError> {
        if identity.is_empty() {
            return Err(ElectionError::EmptyIdentity);
        }
        if cfg.renew_deadline >= cfg.lease_duration || cfg.renew_deadline <= cfg.renew_interval {
            return Err(ElectionError::BadTiming);
        }
        Ok(Elector {
            api: Api::namespaced(client, &cfg.namespace),
            cfg,
            identity,
            observed: None,
        })
    }

    /// Waits until this process holds the lease; `false` when `shutdown` came first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> bool {
        loop {
            match self.try_claim().await {
                Ok(true) => {
                    info!(lease = %self.cfg.name, identity = %self.identity, "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(e) => debug!(error = %e, "lease attempt failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(self.cfg.retry_interval) => {}
            }
        }
    }

    /// Renews until the lease is lost or `shutdown` fires.
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> TermEnd {
        let mut last_renewed = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return TermEnd::Shutdown,
                _ = tokio::time::sleep(self.cfg.renew_interval) => {}
            }
            // A hung request must not outlive the deadline it races against.
            match tokio::time::timeout(self.cfg.renew_deadline, self.try_claim()).await {
                Ok(Ok(true)) => last_renewed = Instant::now(),
                Ok(Ok(false)) => {
                    warn!(lease = %self.cfg.name, "leadership taken over by another holder");
                    return TermEnd::Lost;
                }
                Ok(Err(e)) => debug!(error = %e, "lease renewal failed"),
                Err(_) => debug!("lease renewal timed out"),
            }
            if last_renewed.elapsed() >= self.cfg.renew_deadline {
                warn!(lease = %self.cfg.name, "could not renew the lease in time; stepping down");
                return TermEnd::Lost;
            }
        }
    }

    /// Gives the lease up so a successor need not wait for it to lapse.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.cfg.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        if let Err(e) = self
            .api
            .replace(&self.cfg.name, &PostParams::default(), &lease)
            .await
        {
            debug!(error = %e, "releasing the lease failed");
        }
    }

    /// One look at the lease: creates, takes or renews it if allowed. `Ok(true)` while we hold it.
    async fn try_claim(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.cfg.name).await?;
        let spec = current.as_ref().and_then(|l| l.spec.as_ref());
        let fingerprint = format!(
            "{:?}/{:?}/{:?}",
            spec.and_then(|s| s.holder_identity.as_ref()),
            spec.and_then(|s| s.renew_time.as_ref()),
            current
                .as_ref()
                .and_then(|l| l.metadata.resource_version.as_ref())
        );
        let unchanged_for = match &self.observed {
            Some((f, since)) if *f == fingerprint => since.elapsed(),
            _ => {
                self.observed = Some((fingerprint, Instant::now()));
                Duration::ZERO
            }
        };
        let decision = match &current {
            None => Decision::Create,
            Some(l) => decide(
                Some(l.spec.as_ref().unwrap_or(&LeaseSpec::default())),
                &self.identity,
                now,
                unchanged_for,
            ),
        };
        let take = match decision {
            Decision::Wait => return Ok(false),
            Decision::Renew => false,
            Decision::Take | Decision::Create => true,
        };
        let new_spec = claimed(spec, &self.identity, self.cfg.lease_duration, now, take);
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.cfg.name.clone()),
                        namespace: Some(self.cfg.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(new_spec),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                lease.spec = Some(new_spec);
                self.api
                    .replace(&self.cfg.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            // Someone else wrote first; look again next round.
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn held(by: &str, renewed: i64, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            renew_time: Some(MicroTime(ts(renewed))),
            lease_duration_seconds: Some(secs),
            ..Default::default()
        }
    }

    #[test]
    fn a_missing_lease_is_created() {
        assert_eq!(decide(None, "me", ts(0), Duration::ZERO), Decision::Create);
    }

    #[test]
    fn our_own_lease_is_renewed_and_a_live_foreign_one_is_left_alone() {
        assert_eq!(
            decide(Some(&held("me", 100, 15)), "me", ts(200), Duration::ZERO),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&held("other", 100, 15)), "me", ts(110), Duration::ZERO),
            Decision::Wait
        );
    }

    #[test]
    fn an_expired_or_released_lease_is_taken() {
        assert_eq!(
            decide(Some(&held("other", 100, 15)), "me", ts(116), Duration::ZERO),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&held("", 100, 15)), "me", ts(101), Duration::ZERO),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "me", ts(0), Duration::ZERO),
            Decision::Take
        );
    }

    #[test]
    fn a_lease_frozen_for_its_duration_is_taken_despite_a_future_renew_time() {
        let future = held("other", 10_000, 15);
        assert_eq!(
            decide(Some(&future), "me", ts(0), Duration::from_secs(5)),
            Decision::Wait
        );
        assert_eq!(
            decide(Some(&future), "me", ts(0), Duration::from_secs(15)),
            Decision::Take
        );
    }

    #[test]
    fn hostile_durations_do_not_panic() {
        let mut s = held("other", i64::from(i32::MAX), i32::MAX);
        assert_eq!(
            decide(Some(&s), "me", ts(0), Duration::ZERO),
            Decision::Wait
        );
        s.lease_duration_seconds = Some(-5);
        assert_eq!(
            decide(Some(&s), "me", ts(0), Duration::ZERO),
            Decision::Take
        );
    }

    #[test]
    fn taking_a_lease_counts_a_transition_and_renewing_does_not() {
        let prev = held("other", 1, 15);
        let taken = claimed(Some(&prev), "me", Duration::from_secs(15), ts(50), true);
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        assert_eq!(taken.lease_transitions, Some(1));
        assert_eq!(taken.acquire_time, Some(MicroTime(ts(50))));
        let renewed = claimed(Some(&taken), "me", Duration::from_secs(15), ts(52), false);
        assert_eq!(renewed.lease_transitions, Some(1));
        assert_eq!(renewed.acquire_time, Some(MicroTime(ts(50))));
        assert_eq!(renewed.renew_time, Some(MicroTime(ts(52))));
        let fresh = claimed(None, "me", Duration::from_secs(15), ts(1), true);
        assert_eq!(fresh.lease_transitions, Some(0));
        assert_eq!(fresh.lease_duration_seconds, Some(15));
    }
}
