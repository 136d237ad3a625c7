//! One scheduling decision: filter every node, score the feasible ones, pick the best (ties
//! broken at random, as upstream), or explain the failure in upstream's words and find what
//! preemption would evict. Entry points: [`decide`], [`schedule`].

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use rand::Rng;

use crate::filter::{PodContext, Reason, filter};
use crate::preemption::{self, Budget, Candidate};
use crate::score::{score, total_scores};
use crate::snapshot::Snapshot;

/// What preemption concluded, as the end of the FailedScheduling message states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFilter {
    /// The pod's preemptionPolicy is Never.
    Disabled,
    /// The pod preempted before and a victim on its nominated node is still terminating.
    WaitingForVictims,
    /// Victims were chosen; upstream then states only the filter histogram.
    Nominated,
    /// The preemption verdict per node: message -> number of nodes.
    Failed(BTreeMap<String, usize>),
}

/// Why no node fits, per node reason, as the FailedScheduling event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub num_nodes: usize,
    /// A pod-level failure found before any node was examined; stated instead of the histogram.
    pub pre_filter: Option<String>,
    /// Upstream's histogram: reason message -> number of nodes.
    pub reasons: BTreeMap<String, usize>,
    pub post_filter: PostFilter,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FitError {
    #[error("no nodes available to schedule pods")]
    NoNodes,
    #[error("{0}")]
    NoFit(Diagnosis),
}

fn histogram(f: &mut fmt::Formatter<'_>, n: usize, h: &BTreeMap<String, usize>) -> fmt::Result {
    // Upstream sorts the "<count> <reason>" strings themselves.
    let mut parts: Vec<String> = h.iter().map(|(r, c)| format!("{c} {r}")).collect();
    parts.sort();
    write!(f, "0/{n} nodes are available: {}.", parts.join(", "))
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pre_filter {
            Some(m) => write!(f, "0/{} nodes are available: {m}.", self.num_nodes)?,
            None => histogram(f, self.num_nodes, &self.reasons)?,
        }
        match &self.post_filter {
            PostFilter::Nominated => Ok(()),
            PostFilter::Disabled => {
                f.write_str(" preemption: not eligible due to preemptionPolicy=Never.")
            }
            PostFilter::WaitingForVictims => f.write_str(
                " preemption: not eligible due to a terminating pod on the nominated node.",
            ),
            PostFilter::Failed(verdicts) => {
                f.write_str(" preemption: ")?;
                histogram(f, self.num_nodes, verdicts)
            }
        }
    }
}

/// A pod that fits nowhere: why, and the eviction that would make room if preemption found one.
#[derive(Debug, Clone)]
pub struct Unschedulable {
    pub fit: FitError,
    /// Boxed so that the `Err` of [`decide`] stays small.
    pub preemption: Option<Box<Candidate>>,
}

/// Fewest feasible nodes a decision looks for before it stops filtering.
const MIN_FEASIBLE_NODES: usize = 100;
/// Lower bound of the adaptive share of nodes examined.
const MIN_FEASIBLE_PERCENTAGE: usize = 5;

/// How many feasible nodes to find before scoring, as upstream's default
/// `percentageOfNodesToScore` (adaptive): all of a small cluster, 50% less 1% per 125 nodes of a
/// large one, never under 5% nor under 100 nodes. Finding more rarely finds a better node; it
/// only makes every decision slower.
pub fn nodes_to_find(all: usize) -> usize {
    if all < MIN_FEASIBLE_NODES {
        return all;
    }
    let percentage = 50usize
        .saturating_sub(all / 125)
        .max(MIN_FEASIBLE_PERCENTAGE);
    (all * percentage / 100).max(MIN_FEASIBLE_NODES)
}

/// Picks a node for `pod` among `snapshot`'s nodes (each with the pods already placed there);
/// without one, the explanation only (no preemption budgets).
pub fn schedule(pod: &Pod, snapshot: &Snapshot) -> Result<String, FitError> {
    decide(pod, snapshot, &[], None).map_err(|u| u.fit)
}

/// Picks a node for `pod`, or, if none fits, looks for victims to preempt (respecting
/// `budgets` where possible). `nominated` is the node the pod preempted on before.
pub fn decide(
    pod: &Pod,
    snapshot: &Snapshot,
    budgets: &[Budget],
    nominated: Option<&str>,
) -> Result<String, Unschedulable> {
    if snapshot.nodes.is_empty() {
        return Err(Unschedulable {
            fit: FitError::NoNodes,
            preemption: None,
        });
    }
    let ctx = PodContext::new(pod, snapshot);
    let n = snapshot.nodes.len();
    let wanted = nodes_to_find(n);
    let start = snapshot.next_start.get() % n;
    let mut feasible = Vec::new();
    // Indexed like `snapshot.nodes`; only nodes examined have an entry, and when none fits
    // every node was examined.
    let mut failures: Vec<_> = (0..n).map(|_| None).collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let pre_filter = ctx.volumes.as_ref().err().cloned();
    if let Some(m) = &pre_filter {
        // Upstream stops at the pre-filter: no node is examined, each carries its status.
        failures.fill(Some(Reason::PreFilter(m.clone())));
    } else {
        let mut examined = 0;
        for i in (start..n).chain(0..start) {
            examined += 1;
            let node = &snapshot.nodes[i];
            match filter(&ctx, node) {
                Ok(()) => {
                    feasible.push(node);
                    if feasible.len() >= wanted {
                        break;
                    }
                }
                Err(reason) => {
                    for m in reason.messages() {
                        *reasons.entry(m).or_default() += 1;
                    }
                    failures[i] = Some(reason);
                }
            }
        }
        snapshot.next_start.set((start + examined) % n);
    }
    if feasible.is_empty() {
        let mut preemption = None;
        let post_filter = if !preemption::policy_allows(pod) {
            PostFilter::Disabled
        } else if preemption::waiting_for_victims(pod, nominated, snapshot) {
            PostFilter::WaitingForVictims
        } else {
            match preemption::preempt(pod, snapshot, &failures, budgets) {
                Ok(c) => {
                    preemption = Some(Box::new(c));
                    PostFilter::Nominated
                }
                Err(verdicts) => PostFilter::Failed(verdicts),
            }
        };
        let diagnosis = Diagnosis {
            num_nodes: snapshot.nodes.len(),
            pre_filter,
            reasons,
            post_filter,
        };
        return Err(Unschedulable {
            fit: FitError::NoFit(diagnosis),
            preemption,
        });
    }
    if feasible.len() == 1 {
        return Ok(feasible[0].name().to_string());
    }
    let raw: Vec<_> = feasible.iter().map(|n| score(&ctx, n)).collect();
    let totals = total_scores(&raw);
    let best = totals.iter().copied().max().unwrap_or(0);
    let mut rng = rand::rng();
    let mut chosen = 0;
    let mut seen = 0u32;
    for (i, t) in totals.iter().enumerate() {
        if *t == best {
            seen += 1;
            if rng.random_range(0..seen) == 0 {
                chosen = i;
            }
        }
    }
    Ok(feasible[chosen].name().to_string())
}
