//! The filters of upstream's default profile, in its order: NodeUnschedulable, TaintToleration,
//! NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity.
//! Entry points: [`PodContext::new`] (the pre-filter work, once per pod) and [`filter`] (per node).

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::affinity::{self, CompiledTerm};
use crate::resources::{self, Resources};
use crate::snapshot::{HostPort, NodeInfo, Snapshot, pod_host_ports};
use crate::spread::{SpreadFailure, SpreadState};
use crate::volumes::{self, PodVolumes};

/// Why a node cannot take the pod; `Display`/[`Reason::messages`] give upstream's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Unschedulable,
    UntoleratedTaint {
        key: String,
        value: String,
    },
    NodeAffinity,
    HostPorts,
    /// `Too many pods` and/or `Insufficient <resource>`, all that apply.
    Insufficient(Vec<String>),
    TopologySpreadMissingLabel,
    TopologySpread,
    PodAffinity,
    PodAntiAffinity,
    ExistingPodsAntiAffinity,
    /// A pod-level pre-filter failure (a missing or unbound claim): every node fails with it.
    PreFilter(String),
    VolumeNodeAffinityConflict,
    /// A bound claim's PersistentVolume is not in the cache.
    VolumeMissing,
}

impl Reason {
    /// One line per failure, as upstream counts them in the FitError histogram.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Reason::Unschedulable => vec!["node(s) were unschedulable".into()],
            Reason::UntoleratedTaint { key, value } => {
                vec![format!("node(s) had untolerated taint {{{key}: {value}}}")]
            }
            Reason::NodeAffinity => {
                vec!["node(s) didn't match Pod's node affinity/selector".into()]
            }
            Reason::HostPorts => {
                vec!["node(s) didn't have free ports for the requested pod ports".into()]
            }
            Reason::Insufficient(list) => list.clone(),
            Reason::TopologySpreadMissingLabel => vec![
                "node(s) didn't match pod topology spread constraints (missing required label)"
                    .into(),
            ],
            Reason::TopologySpread => {
                vec!["node(s) didn't match pod topology spread constraints".into()]
            }
            Reason::PodAffinity => vec!["node(s) didn't match pod affinity rules".into()],
            Reason::PodAntiAffinity => vec!["node(s) didn't match pod anti-affinity rules".into()],
            Reason::ExistingPodsAntiAffinity => {
                vec!["node(s) didn't satisfy existing pods anti-affinity rules".into()]
            }
            Reason::PreFilter(message) => vec![message.clone()],
            Reason::VolumeNodeAffinityConflict => {
                vec!["node(s) had volume node affinity conflict".into()]
            }
            Reason::VolumeMissing => vec![
                "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)".into(),
            ],
        }
    }

    /// Whether evicting lower-priority pods could make the node fit (upstream's `Unschedulable`
    /// as opposed to `UnschedulableAndUnresolvable`). Volume failures are unresolvable: no
    /// eviction binds a claim or moves a volume.
    pub fn preemption_may_help(&self) -> bool {
        matches!(
            self,
            Reason::HostPorts
                | Reason::Insufficient(_)
                | Reason::TopologySpread
                | Reason::PodAntiAffinity
                | Reason::ExistingPodsAntiAffinity
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.messages().join(", "))
    }
}

/// Everything about the incoming pod that does not depend on the node, computed once.
#[derive(Debug)]
pub struct PodContext<'a> {
    pub pod: &'a Pod,
    pub requests: Resources,
    pub non_zero_requests: Resources,
    pub ports: Vec<HostPort>,
    pub spread: SpreadState,
    /// The claims' pre-filter verdict: upstream's message when the pod fits no node at all.
    pub volumes: Result<PodVolumes, String>,
    required_affinity: Vec<(CompiledTerm, HashSet<String>)>,
    /// Whether any placed pod matches every required affinity term (if none does, a pod that
    /// matches its own terms may start the group anywhere).
    affinity_has_matches: bool,
    affinity_self_match: bool,
    required_anti: Vec<(CompiledTerm, HashSet<String>)>,
    /// (topology key, value) domains that placed pods' required anti-affinity forbids.
    existing_anti: HashSet<(String, String)>,
    /// Preferred (anti-)affinity weight per (topology key, value).
    pub(crate) preferred: HashMap<(String, String), i64>,
}

impl<'a> PodContext<'a> {
    pub fn new(pod: &'a Pod, snapshot: &Snapshot) -> PodContext<'a> {
        let (req_aff, req_anti, pref_aff, pref_anti) = affinity::compile_terms(pod);
        let mut required_affinity: Vec<_> =
            req_aff.into_iter().map(|t| (t, HashSet::new())).collect();
        let mut required_anti: Vec<_> = req_anti.into_iter().map(|t| (t, HashSet::new())).collect();
        let mut preferred: HashMap<(String, String), i64> = HashMap::new();
        let mut affinity_has_matches = false;
        let needs_scan = !required_affinity.is_empty()
            || !required_anti.is_empty()
            || !pref_aff.is_empty()
            || !pref_anti.is_empty();
        if needs_scan {
            for n in &snapshot.nodes {
                for p in &n.pods {
                    if p.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    let mut all = !required_affinity.is_empty();
                    for (t, domains) in required_affinity.iter_mut() {
                        if t.matches(p) {
                            if let Some(v) = n.label(&t.topology_key) {
                                domains.insert(v.to_string());
                            }
                        } else {
                            all = false;
                        }
                    }
                    affinity_has_matches |= all;
                    for (t, domains) in required_anti.iter_mut() {
                        if t.matches(p)
                            && let Some(v) = n.label(&t.topology_key)
                        {
                            domains.insert(v.to_string());
                        }
                    }
                    for (terms, sign) in [(&pref_aff, 1), (&pref_anti, -1)] {
                        for t in terms.iter().filter(|t| t.matches(p)) {
                            if let Some(v) = n.label(&t.topology_key) {
                                *preferred
                                    .entry((t.topology_key.clone(), v.to_string()))
                                    .or_default() += sign * t.weight;
                            }
                        }
                    }
                }
            }
        }
        let affinity_self_match = required_affinity.iter().all(|(t, _)| t.matches(pod));
        let mut existing_anti = HashSet::new();
        for (i, placed) in &snapshot.anti_affinity_pods {
            if placed.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let (_, anti, _, _) = affinity::compile_terms(placed);
            for t in anti.iter().filter(|t| t.matches(pod)) {
                if let Some(v) = snapshot.nodes[*i].label(&t.topology_key) {
                    existing_anti.insert((t.topology_key.clone(), v.to_string()));
                }
            }
        }
        PodContext {
            pod,
            requests: resources::pod_requests(pod, false),
            non_zero_requests: resources::pod_requests(pod, true),
            ports: pod_host_ports(pod),
            spread: SpreadState::new(pod, snapshot),
            volumes: volumes::pre_filter(pod, snapshot.volumes.0.as_ref()),
            required_affinity,
            affinity_has_matches,
            affinity_self_match,
            required_anti,
            existing_anti,
            preferred,
        }
    }
}

fn unschedulable_taint() -> Taint {
    Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    }
}

/// Whether `node` can take the pod; the first failing filter's reason otherwise.
pub fn filter(ctx: &PodContext<'_>, node: &NodeInfo) -> Result<(), Reason> {
    let pod_volumes = ctx
        .volumes
        .as_ref()
        .map_err(|m| Reason::PreFilter(m.clone()))?;
    let tolerations = affinity::pod_tolerations(ctx.pod);
    let unschedulable = node
        .node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if unschedulable
        && !tolerations
            .iter()
            .any(|t| affinity::tolerates(t, &unschedulable_taint()))
    {
        return Err(Reason::Unschedulable);
    }
    if let Some(t) = affinity::first_untolerated(
        affinity::node_taints(&node.node),
        tolerations,
        &["NoSchedule", "NoExecute"],
    ) {
        return Err(Reason::UntoleratedTaint {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
        });
    }
    if !affinity::node_matches_pod_selector(ctx.pod, &node.node) {
        return Err(Reason::NodeAffinity);
    }
    if ctx
        .ports
        .iter()
        .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)))
    {
        return Err(Reason::HostPorts);
    }
    fit_resources(ctx, node)?;
    volumes::check_node(pod_volumes, &node.node)?;
    match ctx.spread.check(node) {
        Ok(()) => {}
        Err(SpreadFailure::MissingLabel) => return Err(Reason::TopologySpreadMissingLabel),
        Err(SpreadFailure::Skew) => return Err(Reason::TopologySpread),
    }
    inter_pod_affinity(ctx, node)
}

fn fit_resources(ctx: &PodContext<'_>, node: &NodeInfo) -> Result<(), Reason> {
    let mut short = Vec::new();
    if node.pods.len() as i64 + 1 > node.allowed_pods {
        short.push("Too many pods".to_string());
    }
    let want = &ctx.requests;
    let have = &node.allocatable;
    let used = &node.requested;
    let over = |want: i64, have: i64, used: i64| want > 0 && want > have.saturating_sub(used);
    if over(want.milli_cpu, have.milli_cpu, used.milli_cpu) {
        short.push("Insufficient cpu".into());
    }
    if over(want.memory, have.memory, used.memory) {
        short.push("Insufficient memory".into());
    }
    if over(
        want.ephemeral_storage,
        have.ephemeral_storage,
        used.ephemeral_storage,
    ) {
        short.push("Insufficient ephemeral-storage".into());
    }
    for (name, amount) in &want.scalar {
        let h = have.scalar.get(name).copied().unwrap_or(0);
        let u = used.scalar.get(name).copied().unwrap_or(0);
        if over(*amount, h, u) {
            short.push(format!("Insufficient {name}"));
        }
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(Reason::Insufficient(short))
    }
}

fn inter_pod_affinity(ctx: &PodContext<'_>, node: &NodeInfo) -> Result<(), Reason> {
    for (key, value) in &ctx.existing_anti {
        if node.label(key) == Some(value.as_str()) {
            return Err(Reason::ExistingPodsAntiAffinity);
        }
    }
    for (t, domains) in &ctx.required_anti {
        if node
            .label(&t.topology_key)
            .is_some_and(|v| domains.contains(v))
        {
            return Err(Reason::PodAntiAffinity);
        }
    }
    if !ctx.required_affinity.is_empty() {
        let all_met = ctx.required_affinity.iter().all(|(t, domains)| {
            node.label(&t.topology_key)
                .is_some_and(|v| domains.contains(v))
        });
        // The first pod of a group that selects itself may go anywhere the keys exist.
        let bootstrap = !ctx.affinity_has_matches
            && ctx.affinity_self_match
            && ctx
                .required_affinity
                .iter()
                .all(|(t, _)| node.label(&t.topology_key).is_some());
        if !all_met && !bootstrap {
            return Err(Reason::PodAffinity);
        }
    }
    Ok(())
}
