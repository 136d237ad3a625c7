//! The scores of upstream's default profile: raw per-node values ([`score`]) and their
//! normalisation to 0..=100 and weighted sum across the feasible nodes ([`total_scores`]).

use crate::affinity;
use crate::filter::PodContext;
use crate::resources::Resources;
use crate::snapshot::NodeInfo;

pub const MAX_NODE_SCORE: i64 = 100;

/// Weights of upstream's default profile.
const WEIGHT_TAINT_TOLERATION: i64 = 3;
const WEIGHT_NODE_AFFINITY: i64 = 2;
const WEIGHT_TOPOLOGY_SPREAD: i64 = 2;
const WEIGHT_INTER_POD_AFFINITY: i64 = 2;
const WEIGHT_LEAST_ALLOCATED: i64 = 1;
const WEIGHT_BALANCED: i64 = 1;

/// One node's raw plugin scores before normalisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawScores {
    /// 0..=100: free share of cpu and memory after placing the pod.
    pub least_allocated: i64,
    /// 0..=100: how evenly cpu and memory would be used.
    pub balanced: i64,
    /// Sum of matched preferred node affinity weights.
    pub node_affinity: i64,
    /// Count of PreferNoSchedule taints the pod does not tolerate (lower is better).
    pub intolerable_taints: i64,
    /// Preferred pod affinity minus anti-affinity weights (may be negative).
    pub inter_pod: i64,
    /// Matching pods in the node's domains for ScheduleAnyway constraints (lower is better).
    pub spread: i64,
}

fn fractions(ctx: &PodContext<'_>, node: &NodeInfo) -> [(i64, i64); 2] {
    let mut after = node.non_zero_requested.clone();
    after.add(&ctx.non_zero_requests);
    let Resources {
        milli_cpu, memory, ..
    } = &node.allocatable;
    [(after.milli_cpu, *milli_cpu), (after.memory, *memory)]
}

pub fn score(ctx: &PodContext<'_>, node: &NodeInfo) -> RawScores {
    let f = fractions(ctx, node);
    let least = f
        .iter()
        .map(|&(used, cap)| {
            if cap <= 0 || used > cap {
                0
            } else {
                // i128: allocatable can be near i64::MAX on a hostile node object.
                ((i128::from(cap - used) * i128::from(MAX_NODE_SCORE)) / i128::from(cap)) as i64
            }
        })
        .sum::<i64>()
        / f.len() as i64;
    let ratios: Vec<f64> = f
        .iter()
        .map(|&(used, cap)| {
            if cap <= 0 {
                1.0
            } else {
                (used as f64 / cap as f64).min(1.0)
            }
        })
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    let var = ratios.iter().map(|r| (r - mean) * (r - mean)).sum::<f64>() / ratios.len() as f64;
    let balanced = ((1.0 - var.sqrt()) * MAX_NODE_SCORE as f64) as i64;
    let intolerable_taints = affinity::node_taints(&node.node)
        .iter()
        .filter(|t| {
            t.effect == "PreferNoSchedule"
                && !affinity::pod_tolerations(ctx.pod)
                    .iter()
                    .any(|tol| affinity::tolerates(tol, t))
        })
        .count() as i64;
    let inter_pod = ctx
        .preferred
        .iter()
        .filter(|((k, v), _)| node.label(k) == Some(v.as_str()))
        .map(|(_, w)| *w)
        .sum();
    RawScores {
        least_allocated: least,
        balanced,
        node_affinity: affinity::preferred_node_affinity(ctx.pod, &node.node),
        intolerable_taints,
        inter_pod,
        spread: ctx.spread.soft_count(node),
    }
}

/// Normalises each plugin across the nodes as upstream's NormalizeScore does, and returns the
/// weighted totals in the same order.
pub fn total_scores(raw: &[RawScores]) -> Vec<i64> {
    let max_of = |f: fn(&RawScores) -> i64| raw.iter().map(f).max().unwrap_or(0);
    let min_of = |f: fn(&RawScores) -> i64| raw.iter().map(f).min().unwrap_or(0);
    let max_aff = max_of(|r| r.node_affinity);
    let max_taints = max_of(|r| r.intolerable_taints);
    let (min_ip, max_ip) = (min_of(|r| r.inter_pod), max_of(|r| r.inter_pod));
    let (min_sp, max_sp) = (min_of(|r| r.spread), max_of(|r| r.spread));
    raw.iter()
        .map(|r| {
            let aff = if max_aff > 0 {
                r.node_affinity * MAX_NODE_SCORE / max_aff
            } else {
                0
            };
            let taint = if max_taints > 0 {
                MAX_NODE_SCORE - r.intolerable_taints * MAX_NODE_SCORE / max_taints
            } else {
                MAX_NODE_SCORE
            };
            let ip = if max_ip > min_ip {
                (r.inter_pod - min_ip) * MAX_NODE_SCORE / (max_ip - min_ip)
            } else {
                0
            };
            let sp = if max_sp > min_sp {
                (max_sp - r.spread) * MAX_NODE_SCORE / (max_sp - min_sp)
            } else {
                MAX_NODE_SCORE
            };
            r.least_allocated * WEIGHT_LEAST_ALLOCATED
                + r.balanced * WEIGHT_BALANCED
                + aff * WEIGHT_NODE_AFFINITY
                + taint * WEIGHT_TAINT_TOLERATION
                + ip * WEIGHT_INTER_POD_AFFINITY
                + sp * WEIGHT_TOPOLOGY_SPREAD
        })
        .collect()
}
