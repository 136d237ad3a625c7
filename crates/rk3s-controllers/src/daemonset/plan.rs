//! DaemonSet decisions without I/O: which daemon pods to create or delete per node, the
//! rolling update under `maxUnavailable` (no surge), and the set's status.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::nodes::{Eligibility, node_of};
use crate::pods;
use crate::statefulset::revision::REVISION_LABEL;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create { node: String },
    Delete { pod: String },
}

/// What one sync sees.
pub struct View<'a> {
    /// Every node, with whether the set's pod belongs there.
    pub nodes: &'a [(String, Eligibility)],
    /// The pods the set controls, terminating ones included.
    pub pods: &'a [&'a Pod],
    /// Hash of the current template's revision.
    pub hash: &'a str,
    /// `Some(maxUnavailable)` for RollingUpdate, `None` for OnDelete.
    pub rolling: Option<Option<&'a IntOrString>>,
    pub min_ready_seconds: i32,
    pub now: Timestamp,
}

/// `maxUnavailable` as a pod count: a percentage of the desired pods rounded up, as upstream
/// does for DaemonSets; never below one so a rollout can always move.
pub fn max_unavailable(v: Option<&IntOrString>, desired: i32) -> i32 {
    let n = match v {
        None => 1,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => match s.strip_suffix('%').map(str::parse::<i64>) {
            Some(Ok(pct)) => {
                let scaled = (pct.clamp(0, 100) * i64::from(desired.max(0)) + 99) / 100;
                i32::try_from(scaled).unwrap_or(i32::MAX)
            }
            _ => s.parse::<i32>().unwrap_or(1),
        },
    };
    n.max(1)
}

fn live(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
}

fn failed(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
}

fn hash_of(p: &Pod) -> Option<&str> {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

/// Live, not failed pods per node name.
fn by_node<'a>(pods: &[&'a Pod]) -> BTreeMap<&'a str, Vec<&'a Pod>> {
    let mut out: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for p in pods {
        if let Some(n) = node_of(p)
            && live(p)
            && !failed(p)
        {
            out.entry(n).or_default().push(p);
        }
    }
    out
}

/// The pod a node keeps when it has several: an up-to-date one first, then the oldest.
fn keeper<'a>(pods: &[&'a Pod], hash: &str) -> Option<&'a Pod> {
    pods.iter()
        .min_by(|a, b| {
            let fresh = |p: &Pod| hash_of(p) != Some(hash);
            let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            fresh(a)
                .cmp(&fresh(b))
                .then_with(|| created(a).cmp(&created(b)))
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        })
        .copied()
}

pub fn plan(v: &View<'_>) -> Vec<Action> {
    let mut actions = Vec::new();
    for p in v.pods {
        if live(p) && failed(p) {
            actions.push(Action::Delete { pod: name(p) });
        }
    }
    let placed = by_node(v.pods);
    let known: BTreeMap<&str, Eligibility> =
        v.nodes.iter().map(|(n, e)| (n.as_str(), *e)).collect();
    for (node, pods) in &placed {
        if !known.contains_key(node) {
            actions.extend(pods.iter().map(|p| Action::Delete { pod: name(p) }));
        }
    }
    // (node, old pod) pairs a rolling update may replace, and how many nodes lack a usable pod.
    let mut outdated: Vec<(bool, &Pod)> = Vec::new();
    let mut unavailable = 0;
    for (node, e) in v.nodes {
        let pods = placed.get(node.as_str()).cloned().unwrap_or_default();
        if !e.should_continue_running {
            actions.extend(pods.iter().map(|p| Action::Delete { pod: name(p) }));
            continue;
        }
        let Some(keep) = keeper(&pods, v.hash) else {
            if e.should_run {
                actions.push(Action::Create { node: node.clone() });
                unavailable += 1;
            }
            continue;
        };
        for extra in pods
            .iter()
            .filter(|p| p.metadata.name != keep.metadata.name)
        {
            actions.push(Action::Delete { pod: name(extra) });
        }
        if !e.should_run {
            continue;
        }
        let available = pods::is_available(keep, v.min_ready_seconds, v.now);
        if !available {
            unavailable += 1;
        }
        if hash_of(keep) != Some(v.hash) {
            outdated.push((available, keep));
        }
    }
    if let Some(max) = v.rolling {
        let desired = v.nodes.iter().filter(|(_, e)| e.should_run).count();
        let desired = i32::try_from(desired).unwrap_or(i32::MAX);
        let mut budget = max_unavailable(max, desired) - unavailable;
        // An old pod that is not available costs nothing to replace.
        for (available, p) in &outdated {
            if !available {
                actions.push(Action::Delete { pod: name(p) });
            }
        }
        for (available, p) in &outdated {
            if *available && budget > 0 {
                actions.push(Action::Delete { pod: name(p) });
                budget -= 1;
            }
        }
    }
    actions
}

/// Status over the set's pods per node, as upstream counts it.
pub fn status(ds: &DaemonSet, v: &View<'_>, collision_count: Option<i32>) -> DaemonSetStatus {
    let placed = by_node(v.pods);
    let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for (node, e) in v.nodes {
        let pods = placed.get(node.as_str()).cloned().unwrap_or_default();
        let keep = keeper(&pods, v.hash);
        if !e.should_run {
            if keep.is_some() {
                misscheduled += 1;
            }
            continue;
        }
        desired += 1;
        let Some(p) = keep else {
            continue;
        };
        current += 1;
        if pods::is_ready(p) {
            ready += 1;
            if pods::is_available(p, v.min_ready_seconds, v.now) {
                available += 1;
            }
        }
        if hash_of(p) == Some(v.hash) {
            updated += 1;
        }
    }
    let old = ds.status.clone().unwrap_or_default();
    DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        desired_number_scheduled: desired,
        current_number_scheduled: current,
        number_misscheduled: misscheduled,
        number_ready: ready,
        number_available: Some(available),
        number_unavailable: Some(desired - available),
        updated_number_scheduled: Some(updated),
        collision_count,
        conditions: old.conditions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_pods::pod;
    use k8s_openapi::api::core::v1::PodSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    const RUN: Eligibility = Eligibility {
        should_run: true,
        should_continue_running: true,
    };
    const TAINTED: Eligibility = Eligibility {
        should_run: false,
        should_continue_running: true,
    };
    const EVICT: Eligibility = Eligibility {
        should_run: false,
        should_continue_running: false,
    };

    fn daemon(name: &str, node: &str, hash: &str, ready: bool) -> Pod {
        let mut p = pod(name, 0, "Running", ready.then_some(0));
        p.spec = Some(PodSpec {
            node_name: Some(node.into()),
            ..Default::default()
        });
        p.metadata.labels = Some(BTreeMap::from([(REVISION_LABEL.into(), hash.into())]));
        p
    }

    fn nodes(list: &[(&str, Eligibility)]) -> Vec<(String, Eligibility)> {
        list.iter().map(|(n, e)| (n.to_string(), *e)).collect()
    }

    fn view<'a>(
        nodes: &'a [(String, Eligibility)],
        pods: &'a [&'a Pod],
        rolling: Option<Option<&'a IntOrString>>,
    ) -> View<'a> {
        View {
            nodes,
            pods,
            hash: "new",
            rolling,
            min_ready_seconds: 0,
            now: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn each_eligible_node_without_a_pod_gets_one() {
        let ns = nodes(&[("a", RUN), ("b", RUN), ("c", TAINTED)]);
        let pa = daemon("pa", "a", "new", true);
        let pods = [&pa];
        assert_eq!(
            plan(&view(&ns, &pods, Some(None))),
            vec![Action::Create { node: "b".into() }]
        );
        let st = status(&DaemonSet::default(), &view(&ns, &pods, None), None);
        assert_eq!(st.desired_number_scheduled, 2);
        assert_eq!(st.current_number_scheduled, 1);
        assert_eq!(st.number_ready, 1);
        assert_eq!(st.number_unavailable, Some(1));
    }

    #[test]
    fn pods_on_evicting_or_vanished_nodes_go_and_duplicates_are_trimmed() {
        let ns = nodes(&[("a", EVICT), ("b", RUN), ("c", TAINTED)]);
        let pa = daemon("pa", "a", "new", true);
        let mut pb1 = daemon("pb1", "b", "new", true);
        pb1.metadata.creation_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let pb2 = daemon("pb2", "b", "new", true);
        let pc = daemon("pc", "c", "new", true);
        let pgone = daemon("pgone", "gone", "new", true);
        let pods = [&pa, &pb1, &pb2, &pc, &pgone];
        let actions = plan(&view(&ns, &pods, None));
        assert!(actions.contains(&Action::Delete { pod: "pa".into() }));
        assert!(actions.contains(&Action::Delete {
            pod: "pgone".into()
        }));
        assert!(
            !actions.contains(&Action::Delete { pod: "pc".into() }),
            "NoSchedule does not evict"
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| matches!(a, Action::Delete { pod } if pod.starts_with("pb")))
                .count(),
            1
        );
        let st = status(&DaemonSet::default(), &view(&ns, &pods, None), None);
        assert_eq!(st.number_misscheduled, 2);
        assert_eq!(st.desired_number_scheduled, 1);
    }

    #[test]
    fn a_failed_daemon_pod_is_deleted_and_the_node_gets_a_new_one() {
        let ns = nodes(&[("a", RUN)]);
        let mut p = daemon("pa", "a", "new", false);
        if let Some(s) = p.status.as_mut() {
            s.phase = Some("Failed".into());
        }
        let pods = [&p];
        assert_eq!(
            plan(&view(&ns, &pods, None)),
            vec![
                Action::Delete { pod: "pa".into() },
                Action::Create { node: "a".into() }
            ]
        );
    }

    #[test]
    fn rolling_update_replaces_at_most_max_unavailable_available_pods() {
        let ns = nodes(&[("a", RUN), ("b", RUN), ("c", RUN)]);
        let (pa, pb, pc) = (
            daemon("pa", "a", "old", true),
            daemon("pb", "b", "old", true),
            daemon("pc", "c", "old", false),
        );
        let pods = [&pa, &pb, &pc];
        // One unavailable already uses the budget of one; the unavailable old pod goes for free.
        assert_eq!(
            plan(&view(&ns, &pods, Some(None))),
            vec![Action::Delete { pod: "pc".into() }]
        );
        let two = IntOrString::Int(2);
        assert_eq!(
            plan(&view(&ns, &pods, Some(Some(&two)))),
            vec![
                Action::Delete { pod: "pc".into() },
                Action::Delete { pod: "pa".into() }
            ]
        );
        assert!(plan(&view(&ns, &pods, None)).is_empty(), "OnDelete waits");
    }

    #[test]
    fn max_unavailable_percentages_round_up_and_never_reach_zero() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(max_unavailable(None, 10), 1);
        assert_eq!(max_unavailable(Some(&pct("25%")), 10), 3);
        assert_eq!(max_unavailable(Some(&pct("0%")), 10), 1);
        assert_eq!(max_unavailable(Some(&pct("500%")), 4), 4);
        assert_eq!(max_unavailable(Some(&pct("junk%")), 4), 1);
        assert_eq!(max_unavailable(Some(&pct("junk")), 4), 1);
        assert_eq!(max_unavailable(Some(&IntOrString::Int(-3)), 4), 1);
        assert_eq!(max_unavailable(Some(&pct("100%")), i32::MAX), i32::MAX);
    }
}
