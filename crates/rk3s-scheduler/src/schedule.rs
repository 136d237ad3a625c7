//! One scheduling decision: filter every node, score the feasible ones, pick the best (ties
//! broken at random, as upstream), or explain the failure in upstream's words. Entry point:
//! [`schedule`].

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use rand::Rng;

use crate::filter::{PodContext, filter};
use crate::score::{score, total_scores};
use crate::snapshot::Snapshot;

/// Why no node fits, per node reason, as the FailedScheduling event shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub num_nodes: usize,
    /// Upstream's histogram: reason message -> number of nodes.
    pub reasons: BTreeMap<String, usize>,
    /// The preemption verdict per node: message -> number of nodes.
    pub preemption: BTreeMap<String, usize>,
    /// The pod's preemptionPolicy is Never.
    pub preemption_disabled: bool,
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
        histogram(f, self.num_nodes, &self.reasons)?;
        f.write_str(" preemption: ")?;
        if self.preemption_disabled {
            f.write_str("not eligible due to preemptionPolicy=Never.")
        } else {
            histogram(f, self.num_nodes, &self.preemption)
        }
    }
}

const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
// rk3s does not preempt yet, so a node that preemption could free reports no victims.
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Picks a node for `pod` among `snapshot`'s nodes (each with the pods already placed there).
pub fn schedule(pod: &Pod, snapshot: &Snapshot) -> Result<String, FitError> {
    if snapshot.nodes.is_empty() {
        return Err(FitError::NoNodes);
    }
    let ctx = PodContext::new(pod, snapshot);
    let mut feasible = Vec::new();
    let mut diagnosis = Diagnosis {
        num_nodes: snapshot.nodes.len(),
        reasons: BTreeMap::new(),
        preemption: BTreeMap::new(),
        preemption_disabled: pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never"),
    };
    for node in &snapshot.nodes {
        match filter(&ctx, node) {
            Ok(()) => feasible.push(node),
            Err(reason) => {
                for m in reason.messages() {
                    *diagnosis.reasons.entry(m).or_default() += 1;
                }
                let verdict = if reason.preemption_may_help() {
                    NO_VICTIMS
                } else {
                    PREEMPTION_NOT_HELPFUL
                };
                *diagnosis.preemption.entry(verdict.to_string()).or_default() += 1;
            }
        }
    }
    if feasible.is_empty() {
        return Err(FitError::NoFit(diagnosis));
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
