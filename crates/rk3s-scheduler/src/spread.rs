//! Pod topology spread constraints: matching-pod counts per topology domain, computed once per
//! pod over the snapshot. Entry point: [`SpreadState::new`].

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use rk3s_core::selectors::LabelSelector;

use crate::affinity;
use crate::snapshot::{NodeInfo, Snapshot};

#[derive(Debug, Clone)]
pub struct Constraint {
    pub topology_key: String,
    pub max_skew: i64,
    /// `DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a score).
    pub hard: bool,
    /// Matching pods per domain value, over eligible nodes only.
    pub counts: HashMap<String, i64>,
    /// The smallest count (zero while fewer domains than minDomains exist).
    pub min: i64,
    /// Whether the incoming pod itself matches the selector (it counts once placed).
    pub self_match: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SpreadState {
    pub constraints: Vec<Constraint>,
}

impl SpreadState {
    pub fn new(pod: &Pod, snapshot: &Snapshot) -> SpreadState {
        let Some(list) = pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
        else {
            return SpreadState::default();
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let own = affinity::pod_labels(pod);
        let mut constraints = Vec::new();
        for c in list {
            let mut selector = LabelSelector::from_k8s(c.label_selector.as_ref())
                .unwrap_or_else(|_| LabelSelector::nothing());
            let extra: Vec<String> = c
                .match_label_keys
                .iter()
                .flatten()
                .filter_map(|k| own.get(k).map(|v| format!("{k}={v}")))
                .collect();
            if !extra.is_empty() && c.label_selector.is_some() {
                let text = format!("{selector},{}", extra.join(","));
                if let Ok(s) = LabelSelector::parse(text.trim_start_matches(',')) {
                    selector = s;
                }
            }
            let honor_affinity = c.node_affinity_policy.as_deref() != Some("Ignore");
            let honor_taints = c.node_taints_policy.as_deref() == Some("Honor");
            let eligible = |n: &NodeInfo| {
                n.label(&c.topology_key).is_some()
                    && (!honor_affinity || affinity::node_matches_pod_selector(pod, &n.node))
                    && (!honor_taints
                        || affinity::first_untolerated(
                            affinity::node_taints(&n.node),
                            affinity::pod_tolerations(pod),
                            &["NoSchedule", "NoExecute"],
                        )
                        .is_none())
            };
            let mut counts: HashMap<String, i64> = HashMap::new();
            for n in snapshot.nodes.iter().filter(|n| eligible(n)) {
                let Some(value) = n.label(&c.topology_key) else {
                    continue;
                };
                let matching = n
                    .pods
                    .iter()
                    .filter(|p| {
                        p.metadata.deletion_timestamp.is_none()
                            && p.metadata.namespace.as_deref().unwrap_or("default") == ns
                            && selector.matches(affinity::pod_labels(p))
                    })
                    .count() as i64;
                *counts.entry(value.to_string()).or_default() += matching;
            }
            let min_domains = i64::from(c.min_domains.unwrap_or(1).max(1));
            let min = if (counts.len() as i64) < min_domains {
                0
            } else {
                counts.values().copied().min().unwrap_or(0)
            };
            constraints.push(Constraint {
                topology_key: c.topology_key.clone(),
                max_skew: i64::from(c.max_skew.max(1)),
                hard: c.when_unsatisfiable != "ScheduleAnyway",
                counts,
                min,
                self_match: i64::from(selector.matches(own)),
            });
        }
        SpreadState { constraints }
    }
}

/// Why a node fails the hard constraints, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpreadFailure {
    MissingLabel,
    Skew,
}

impl SpreadState {
    pub fn check(&self, node: &NodeInfo) -> Result<(), SpreadFailure> {
        for c in self.constraints.iter().filter(|c| c.hard) {
            let Some(value) = node.label(&c.topology_key) else {
                return Err(SpreadFailure::MissingLabel);
            };
            let count = c.counts.get(value).copied().unwrap_or(0);
            if count + c.self_match - c.min > c.max_skew {
                return Err(SpreadFailure::Skew);
            }
        }
        Ok(())
    }

    /// Matching pods in the node's domains for the soft constraints: lower spreads better.
    pub fn soft_count(&self, node: &NodeInfo) -> i64 {
        self.constraints
            .iter()
            .filter(|c| !c.hard)
            .map(|c| {
                node.label(&c.topology_key)
                    .and_then(|v| c.counts.get(v).copied())
                    .unwrap_or(0)
            })
            .sum()
    }

    pub fn has_soft(&self) -> bool {
        self.constraints.iter().any(|c| !c.hard)
    }
}
