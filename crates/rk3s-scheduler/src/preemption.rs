//! Upstream's default preemption as pure decisions: on the nodes where a filter failed in a way
//! eviction could fix, pick the fewest lower-priority victims that make the pod fit (sparing
//! PodDisruptionBudgets where possible), then the node whose victims hurt least. Entry point:
//! [`preempt`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use rk3s_core::selectors::LabelSelector;

use crate::affinity;
use crate::filter::{PodContext, Reason, filter};
use crate::snapshot::{NodeInfo, Snapshot};

/// Verdict for a node that has no pod of lower priority to evict.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
/// Verdict for a node whose failure eviction cannot fix.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";

pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Whether the pod may preempt at all: not with `preemptionPolicy: Never`.
pub fn policy_allows(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref())
        != Some("Never")
}

/// A pod that already preempted waits while a lower-priority pod on its nominated node is
/// still terminating, instead of choosing more victims (upstream's `PodEligibleToPreemptOthers`).
pub fn waiting_for_victims(pod: &Pod, nominated: Option<&str>, snapshot: &Snapshot) -> bool {
    let Some(node) = nominated.and_then(|n| snapshot.node(n)) else {
        return false;
    };
    let mine = priority(pod);
    node.pods
        .iter()
        .any(|p| p.metadata.deletion_timestamp.is_some() && priority(p) < mine)
}

/// What preemption needs of a PodDisruptionBudget.
#[derive(Debug, Clone)]
pub struct Budget {
    namespace: String,
    selector: LabelSelector,
    disruptions_allowed: i32,
    /// Pods whose eviction the API already counted.
    disrupted: HashSet<String>,
}

impl Budget {
    /// `None` for a budget that can protect nothing: no selector, an empty one (upstream lets
    /// those match nothing here) or one that does not parse.
    pub fn from_pdb(pdb: &PodDisruptionBudget) -> Option<Budget> {
        let selector = LabelSelector::from_k8s(Some(pdb.spec.as_ref()?.selector.as_ref()?)).ok()?;
        if selector.is_everything() {
            return None;
        }
        let status = pdb.status.as_ref();
        Some(Budget {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            selector,
            disruptions_allowed: status.map(|s| s.disruptions_allowed).unwrap_or(0),
            disrupted: status
                .and_then(|s| s.disrupted_pods.as_ref())
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
        })
    }
}

/// Splits `pods` (most important first) into those whose eviction would break a budget and
/// the rest, spending each budget's allowance in order.
fn split_by_budgets(pods: Vec<Arc<Pod>>, budgets: &[Budget]) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let mut allowed: Vec<i32> = budgets.iter().map(|b| b.disruptions_allowed).collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for pod in pods {
        let labels = affinity::pod_labels(&pod);
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let mut violated = false;
        if !labels.is_empty() {
            for (b, left) in budgets.iter().zip(allowed.iter_mut()) {
                if b.namespace != ns || !b.selector.matches(labels) || b.disrupted.contains(name) {
                    continue;
                }
                *left -= 1;
                violated |= *left < 0;
            }
        }
        if violated {
            violating.push(pod);
        } else {
            fine.push(pod);
        }
    }
    (violating, fine)
}

/// Upstream's `MoreImportantPod`: higher priority, then the earlier start.
fn more_important(a: &Pod, b: &Pod) -> Ordering {
    let started = |p: &Pod| p.status.as_ref().and_then(|s| s.start_time.clone());
    priority(b).cmp(&priority(a)).then_with(|| {
        match (started(a), started(b)) {
            (Some(x), Some(y)) => x.0.cmp(&y.0),
            // A pod that has not started is the less important one.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    })
}

/// A node where evicting `victims` lets the pod in.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub node: String,
    /// Most important first.
    pub victims: Vec<Arc<Pod>>,
    pub pdb_violations: usize,
}

/// Why a node is no candidate, as the preemption part of the FailedScheduling message counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeVerdict {
    NotHelpful,
    NoVictims,
    /// The pod fails even with every lower-priority pod gone.
    StillUnfit(Reason),
}

impl NodeVerdict {
    pub fn messages(&self) -> Vec<String> {
        match self {
            NodeVerdict::NotHelpful => vec![NOT_HELPFUL.into()],
            NodeVerdict::NoVictims => vec![NO_VICTIMS.into()],
            NodeVerdict::StillUnfit(r) => r.messages(),
        }
    }
}

/// Whether the filters' verdict for a node depends only on that node's pods (no spread
/// constraints or pod (anti-)affinity on either side), so one pre-computed context serves
/// every what-if.
fn node_local(pod: &Pod, snapshot: &Snapshot) -> bool {
    let spec = pod.spec.as_ref();
    let spread = spec
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty());
    let affinity = spec.and_then(|s| s.affinity.as_ref());
    let pod_affinity = affinity.is_some_and(|a| a.pod_affinity.is_some())
        || affinity.is_some_and(|a| a.pod_anti_affinity.is_some());
    !spread && !pod_affinity && snapshot.anti_affinity_pods.is_empty()
}

/// Upstream's `SelectVictimsOnNode` for node `i` of `snapshot`.
pub fn select_victims(
    pod: &Pod,
    snapshot: &Snapshot,
    i: usize,
    budgets: &[Budget],
    shared: Option<&PodContext<'_>>,
) -> Result<Candidate, NodeVerdict> {
    let node = &snapshot.nodes[i];
    let mine = priority(pod);
    let (mut lower, mut kept): (Vec<Arc<Pod>>, Vec<Arc<Pod>>) =
        node.pods.iter().cloned().partition(|p| priority(p) < mine);
    if lower.is_empty() {
        return Err(NodeVerdict::NoVictims);
    }
    let fits = |pods: &[Arc<Pod>]| -> Result<(), Reason> {
        match shared {
            Some(ctx) => {
                let mut alone = NodeInfo::new(node.node.clone());
                for p in pods {
                    alone.add_pod(p.clone());
                }
                filter(ctx, &alone)
            }
            None => {
                let what_if = snapshot.with_node_pods(i, pods);
                filter(&PodContext::new(pod, &what_if), &what_if.nodes[i])
            }
        }
    };
    fits(&kept).map_err(NodeVerdict::StillUnfit)?;
    lower.sort_by(|a, b| more_important(a, b));
    let (violating, fine) = split_by_budgets(lower, budgets);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (group, breaks_budget) in [(violating, true), (fine, false)] {
        for p in group {
            kept.push(p);
            if fits(&kept).is_err() {
                if let Some(p) = kept.pop() {
                    victims.push(p);
                }
                pdb_violations += usize::from(breaks_budget);
            }
        }
    }
    victims.sort_by(|a, b| more_important(a, b));
    Ok(Candidate {
        node: node.name().to_string(),
        victims,
        pdb_violations,
    })
}

/// The sum upstream compares: each priority shifted to be positive, so fewer victims weigh less.
fn priority_sum(c: &Candidate) -> i64 {
    c.victims
        .iter()
        .map(|p| i64::from(priority(p)) + i64::from(i32::MAX) + 1)
        .sum()
}

fn highest(c: &Candidate) -> i32 {
    c.victims.first().map(|p| priority(p)).unwrap_or(i32::MIN)
}

/// The start time of the earliest-started pod among those of the highest victim priority.
fn earliest_start_of_highest(c: &Candidate) -> Option<jiff::Timestamp> {
    let top = highest(c);
    c.victims
        .iter()
        .filter(|p| priority(p) == top)
        .filter_map(|p| p.status.as_ref()?.start_time.as_ref().map(|t| t.0))
        .min()
}

/// Upstream's `pickOneNodeForPreemption`: a node needing no victims; else fewest budget
/// violations, lowest highest-victim priority, smallest priority sum, fewest victims, latest
/// start among the highest-priority victims; first in node order on a full tie.
pub fn pick(candidates: Vec<Candidate>) -> Option<Candidate> {
    if let Some(i) = candidates.iter().position(|c| c.victims.is_empty()) {
        return candidates.into_iter().nth(i);
    }
    candidates.into_iter().reduce(|best, c| {
        let order = c
            .pdb_violations
            .cmp(&best.pdb_violations)
            .then_with(|| highest(&c).cmp(&highest(&best)))
            .then_with(|| priority_sum(&c).cmp(&priority_sum(&best)))
            .then_with(|| c.victims.len().cmp(&best.victims.len()))
            .then_with(|| earliest_start_of_highest(&best).cmp(&earliest_start_of_highest(&c)));
        if order == Ordering::Less { c } else { best }
    })
}

/// Looks for a node where eviction makes `pod` fit, given each node's filter failure (`None`
/// for a node that passed, which cannot happen when preemption runs). On failure, returns the
/// per-node verdicts as upstream's histogram: message -> node count.
pub fn preempt(
    pod: &Pod,
    snapshot: &Snapshot,
    failures: &[Option<Reason>],
    budgets: &[Budget],
) -> Result<Candidate, BTreeMap<String, usize>> {
    let shared = node_local(pod, snapshot).then(|| PodContext::new(pod, snapshot));
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    let mut candidates = Vec::new();
    for (i, failure) in failures.iter().enumerate().take(snapshot.nodes.len()) {
        let result = match failure {
            Some(r) if r.preemption_may_help() => {
                select_victims(pod, snapshot, i, budgets, shared.as_ref())
            }
            _ => Err(NodeVerdict::NotHelpful),
        };
        match result {
            Ok(c) => candidates.push(c),
            Err(v) => {
                for m in v.messages() {
                    *verdicts.entry(m).or_default() += 1;
                }
            }
        }
    }
    pick(candidates).ok_or(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    fn node(name: &str, cpu: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name},
                "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}
            }))
            .unwrap(),
        )
    }

    fn pod(name: &str, node: Option<&str>, prio: i32, cpu: &str, extra: Value) -> Arc<Pod> {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {"nodeName": node, "priority": prio, "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn names(c: &Candidate) -> Vec<String> {
        c.victims
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    fn failures(pod: &Pod, s: &Snapshot) -> Vec<Option<Reason>> {
        let ctx = PodContext::new(pod, s);
        s.nodes.iter().map(|n| filter(&ctx, n).err()).collect()
    }

    fn pdb(selector: Value, allowed: i32) -> Budget {
        let p: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": "b", "namespace": "default"},
            "spec": {"selector": selector},
            "status": {"disruptionsAllowed": allowed, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        }))
        .unwrap();
        Budget::from_pdb(&p).unwrap()
    }

    #[test]
    fn victims_are_minimal_and_the_most_important_are_spared() {
        let s = Snapshot::new(
            [node("n", "4")],
            [
                pod("low1", Some("n"), 1, "1", json!({})),
                pod("low5", Some("n"), 5, "1", json!({})),
                pod("low3", Some("n"), 3, "1", json!({})),
                pod("peer", Some("n"), 100, "1", json!({})),
            ],
        );
        let p = pod("hi", None, 100, "2", json!({}));
        let c = preempt(&p, &s, &failures(&p, &s), &[]).unwrap();
        assert_eq!(c.node, "n");
        assert_eq!(names(&c), vec!["low3", "low1"]);
        assert_eq!(c.pdb_violations, 0);
    }

    #[test]
    fn equal_or_higher_priority_pods_are_never_victims() {
        let s = Snapshot::new(
            [node("n", "2")],
            [
                pod("same", Some("n"), 10, "1", json!({})),
                pod("low", Some("n"), 1, "1", json!({})),
            ],
        );
        let p = pod("p", None, 10, "2", json!({}));
        let verdicts = preempt(&p, &s, &failures(&p, &s), &[]).unwrap_err();
        assert_eq!(
            verdicts,
            BTreeMap::from([("Insufficient cpu".to_string(), 1)])
        );
        let only_peers = Snapshot::new(
            [node("n", "1")],
            [pod("same", Some("n"), 10, "1", json!({}))],
        );
        let verdicts = preempt(&p, &only_peers, &failures(&p, &only_peers), &[]).unwrap_err();
        assert_eq!(verdicts, BTreeMap::from([(NO_VICTIMS.to_string(), 1)]));
    }

    #[test]
    fn unresolvable_failures_are_not_helped() {
        let s = Snapshot::new([node("n", "1")], [pod("low", Some("n"), 1, "1", json!({}))]);
        let p = pod(
            "p",
            None,
            10,
            "1",
            json!({"spec": {"nodeSelector": {"disk": "ssd"}, "priority": 10, "containers": [{"name": "c"}]}}),
        );
        let verdicts = preempt(&p, &s, &failures(&p, &s), &[]).unwrap_err();
        assert_eq!(verdicts, BTreeMap::from([(NOT_HELPFUL.to_string(), 1)]));
    }

    #[test]
    fn budget_protected_pods_are_spared_first_and_counted_when_evicted() {
        let s = Snapshot::new(
            [node("n", "2")],
            [
                pod("guarded", Some("n"), 5, "1", json!({})),
                pod("free", Some("n"), 1, "1", json!({})),
            ],
        );
        let p = pod("p", None, 10, "1", json!({}));
        let budgets = [pdb(json!({"matchLabels": {"app": "guarded"}}), 0)];
        let c = preempt(&p, &s, &failures(&p, &s), &budgets).unwrap();
        assert_eq!(
            names(&c),
            vec!["free"],
            "the guarded pod is reprieved first"
        );
        assert_eq!(c.pdb_violations, 0);
        let p = pod("p", None, 10, "2", json!({}));
        let c = preempt(&p, &s, &failures(&p, &s), &budgets).unwrap();
        assert_eq!(names(&c), vec!["guarded", "free"]);
        assert_eq!(c.pdb_violations, 1);
        let allowed = [pdb(json!({"matchLabels": {"app": "guarded"}}), 1)];
        let c = preempt(&p, &s, &failures(&p, &s), &allowed).unwrap();
        assert_eq!(c.pdb_violations, 0, "the budget allows one disruption");
    }

    #[test]
    fn empty_or_missing_budget_selectors_protect_nothing() {
        let p: PodDisruptionBudget =
            serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {"selector": {}}}))
                .unwrap();
        assert!(Budget::from_pdb(&p).is_none());
        let p: PodDisruptionBudget =
            serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {}})).unwrap();
        assert!(Budget::from_pdb(&p).is_none());
        let p: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "b"}, "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}}})).unwrap();
        assert!(Budget::from_pdb(&p).is_none());
    }

    #[test]
    fn node_choice_follows_upstreams_order() {
        let s = Snapshot::new(
            [node("a", "1"), node("b", "1"), node("c", "2")],
            [
                pod("a1", Some("a"), 7, "1", json!({})),
                pod("b1", Some("b"), 3, "1", json!({})),
                pod("c1", Some("c"), 2, "1", json!({})),
                pod("c2", Some("c"), 2, "1", json!({})),
            ],
        );
        let p = pod("p", None, 10, "1", json!({}));
        // Every node needs one victim: c's (priority 2) is the least important.
        let c = preempt(&p, &s, &failures(&p, &s), &[]).unwrap();
        assert_eq!(c.node, "c");
        assert_eq!(c.victims.len(), 1);
        let without_c = Snapshot::new(
            [node("a", "1"), node("b", "1")],
            [
                pod("a1", Some("a"), 7, "1", json!({})),
                pod("b1", Some("b"), 3, "1", json!({})),
            ],
        );
        let c = preempt(&p, &without_c, &failures(&p, &without_c), &[]).unwrap();
        assert_eq!(c.node, "b");
    }

    #[test]
    fn fewer_budget_violations_win_over_lower_priorities() {
        let s = Snapshot::new(
            [node("a", "1"), node("b", "1")],
            [
                pod("a1", Some("a"), 1, "1", json!({})),
                pod("b1", Some("b"), 9, "1", json!({})),
            ],
        );
        let p = pod("p", None, 10, "1", json!({}));
        let budgets = [pdb(json!({"matchLabels": {"app": "a1"}}), 0)];
        let c = preempt(&p, &s, &failures(&p, &s), &budgets).unwrap();
        assert_eq!(c.node, "b");
    }

    #[test]
    fn pick_prefers_fewer_victims_when_sums_tie_on_count_weight() {
        let one = Candidate {
            node: "one".into(),
            victims: vec![pod("x", Some("one"), 4, "1", json!({}))],
            pdb_violations: 0,
        };
        let two = Candidate {
            node: "two".into(),
            victims: vec![
                pod("y", Some("two"), 4, "1", json!({})),
                pod("z", Some("two"), 0, "1", json!({})),
            ],
            pdb_violations: 0,
        };
        assert_eq!(pick(vec![two.clone(), one.clone()]).unwrap().node, "one");
        assert!(pick(vec![]).is_none());
    }

    #[test]
    fn spread_constraints_are_rechecked_with_the_victims_gone() {
        let zone = |n: &str, z: &str, cpu: &str| {
            Arc::new(
                serde_json::from_value::<Node>(json!({
                    "metadata": {"name": n, "labels": {"zone": z}},
                    "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}
                }))
                .unwrap(),
            )
        };
        let member = |name: &str, node: &str, prio: i32| {
            let mut p = (*pod(name, Some(node), prio, "100m", json!({}))).clone();
            p.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
            Arc::new(p)
        };
        // a (zone z1) holds two low-priority members, b (z2) one important member and no
        // room: on a the skew is too large unless one member goes.
        let s = Snapshot::new(
            [zone("a", "z1", "4"), zone("b", "z2", "100m")],
            [
                member("w1", "a", 1),
                member("w2", "a", 1),
                member("w3", "b", 50),
            ],
        );
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"priority": 10, "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]}
        }))
        .unwrap();
        let f = failures(&p, &s);
        assert_eq!(f[0], Some(Reason::TopologySpread));
        assert!(matches!(f[1], Some(Reason::Insufficient(_))));
        let c = preempt(&p, &s, &f, &[]).unwrap();
        assert_eq!(c.node, "a");
        assert_eq!(c.victims.len(), 1, "one member is enough: {:?}", names(&c));
    }

    #[test]
    fn a_pod_waits_while_its_victims_terminate() {
        let mut dying = (*pod("v", Some("n"), 1, "1", json!({}))).clone();
        dying.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        let s = Snapshot::new([node("n", "1")], [Arc::new(dying)]);
        let p = pod("p", None, 10, "1", json!({}));
        assert!(waiting_for_victims(&p, Some("n"), &s));
        assert!(!waiting_for_victims(&p, None, &s));
        assert!(!waiting_for_victims(&p, Some("ghost"), &s));
        let low = pod("p", None, 0, "1", json!({}));
        assert!(!waiting_for_victims(&low, Some("n"), &s));
    }

    #[test]
    fn never_policy_is_read() {
        let p = pod(
            "p",
            None,
            1,
            "1",
            json!({"spec": {"preemptionPolicy": "Never", "containers": []}}),
        );
        assert!(!policy_allows(&p));
        assert!(policy_allows(&pod("q", None, 1, "1", json!({}))));
    }
}
