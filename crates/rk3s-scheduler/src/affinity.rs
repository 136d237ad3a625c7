//! Matching rules shared by filters and scores: node selectors and node affinity terms, taints
//! against tolerations, and pod (anti-)affinity terms compiled once per scheduling attempt.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinityTerm, Taint, Toleration,
};
use rk3s_core::selectors::LabelSelector;

fn labels_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    meta.labels.as_ref().unwrap_or(&EMPTY)
}

pub fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    labels_of(&node.metadata)
}

pub fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    labels_of(&pod.metadata)
}

fn requirement_matches(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or(&[]);
    match req.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                return false;
            };
            if req.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        // Unknown operators select nothing rather than everything.
        _ => false,
    }
}

/// A term matches when all its expressions and fields do; an empty term matches nothing.
pub fn node_selector_term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node_labels(node);
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            // metadata.name is the only node field upstream supports here.
            r.key == "metadata.name" && requirement_matches(r, node.metadata.name.as_deref())
        })
}

/// `spec.nodeSelector` and the required node affinity, as the NodeAffinity filter checks them.
pub fn node_matches_pod_selector(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    let labels = node_labels(node);
    if let Some(sel) = spec.node_selector.as_ref()
        && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        None => true,
        Some(sel) => sel
            .node_selector_terms
            .iter()
            .any(|t| node_selector_term_matches(t, node)),
    }
}

/// Sum of the weights of the preferred node affinity terms the node matches.
pub fn preferred_node_affinity(pod: &Pod, node: &Node) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|terms| {
            terms
                .iter()
                .filter(|t| node_selector_term_matches(&t.preference, node))
                .map(|t| i64::from(t.weight))
                .sum()
        })
        .unwrap_or(0)
}

pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = toleration.effect.as_deref()
        && !effect.is_empty()
        && effect != taint.effect
    {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    let op = toleration.operator.as_deref().unwrap_or("Equal");
    if key.is_empty() {
        // An empty key tolerates every taint, but only with Exists.
        return op == "Exists";
    }
    if key != taint.key {
        return false;
    }
    match op {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

pub fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

/// The first taint with one of `effects` that no toleration tolerates.
pub fn first_untolerated<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    effects: &[&str],
) -> Option<&'a Taint> {
    taints.iter().find(|t| {
        effects.contains(&t.effect.as_str()) && !tolerations.iter().any(|tol| tolerates(tol, t))
    })
}

/// A pod (anti-)affinity term ready to test pods against.
#[derive(Debug, Clone)]
pub struct CompiledTerm {
    pub selector: LabelSelector,
    /// `None` means every namespace (an empty namespaceSelector).
    pub namespaces: Option<HashSet<String>>,
    pub topology_key: String,
    pub weight: i64,
}

impl CompiledTerm {
    /// Compiles `term` for a pod in `namespace`; a malformed selector matches nothing, as
    /// upstream treats a selector it cannot parse.
    pub fn new(term: &PodAffinityTerm, namespace: &str, weight: i64, owner: &Pod) -> CompiledTerm {
        let mut selector = LabelSelector::from_k8s(term.label_selector.as_ref())
            .unwrap_or_else(|_| LabelSelector::nothing());
        // matchLabelKeys / mismatchLabelKeys add the incoming pod's own values to the selector.
        let own = pod_labels(owner);
        let mut extra = Vec::new();
        for key in term.match_label_keys.iter().flatten() {
            if let Some(v) = own.get(key) {
                extra.push(format!("{key}={v}"));
            }
        }
        for key in term.mismatch_label_keys.iter().flatten() {
            if let Some(v) = own.get(key) {
                extra.push(format!("{key}!={v}"));
            }
        }
        if !extra.is_empty() && term.label_selector.is_some() {
            let text = format!("{selector},{}", extra.join(","));
            let text = text.trim_start_matches(',');
            if let Ok(s) = LabelSelector::parse(text) {
                selector = s;
            }
        }
        let listed: HashSet<String> = term.namespaces.iter().flatten().cloned().collect();
        let namespaces = match (&term.namespace_selector, listed.is_empty()) {
            // An empty namespaceSelector selects all namespaces. A non-empty one needs
            // namespace labels, which this scheduler does not cache: it is treated as empty.
            (Some(_), _) => None,
            (None, true) => Some(HashSet::from([namespace.to_string()])),
            (None, false) => Some(listed),
        };
        CompiledTerm {
            selector,
            namespaces,
            topology_key: term.topology_key.clone(),
            weight,
        }
    }

    pub fn matches(&self, pod: &Pod) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        if let Some(set) = &self.namespaces
            && !set.contains(ns)
        {
            return false;
        }
        self.selector.matches(pod_labels(pod))
    }
}

/// The pod's affinity and anti-affinity terms: (required affinity, required anti-affinity,
/// preferred affinity, preferred anti-affinity).
pub type Terms = (
    Vec<CompiledTerm>,
    Vec<CompiledTerm>,
    Vec<CompiledTerm>,
    Vec<CompiledTerm>,
);

pub fn compile_terms(pod: &Pod) -> Terms {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let aff = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    let pa = aff.and_then(|a| a.pod_affinity.as_ref());
    let paa = aff.and_then(|a| a.pod_anti_affinity.as_ref());
    let req = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<CompiledTerm> {
        terms
            .into_iter()
            .flatten()
            .map(|t| CompiledTerm::new(t, ns, 1, pod))
            .collect()
    };
    let pref = |terms: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
        terms
            .into_iter()
            .flatten()
            .map(|t| CompiledTerm::new(&t.pod_affinity_term, ns, i64::from(t.weight), pod))
            .collect::<Vec<_>>()
    };
    (
        req(pa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })),
        req(paa.and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })),
        pref(pa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })),
        pref(paa.and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })),
    )
}

pub fn has_required_anti_affinity(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_some_and(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "n1", "labels": labels}})).unwrap()
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}}, "spec": spec})).unwrap()
    }

    #[test]
    fn node_selector_needs_every_label() {
        let p = pod(json!({"containers": [], "nodeSelector": {"disk": "ssd", "zone": "a"}}));
        assert!(node_matches_pod_selector(
            &p,
            &node(json!({"disk": "ssd", "zone": "a", "x": "y"}))
        ));
        assert!(!node_matches_pod_selector(
            &p,
            &node(json!({"disk": "ssd"}))
        ));
    }

    #[test]
    fn required_node_affinity_ors_terms_and_ands_expressions() {
        let p = pod(
            json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}, {"key": "gpu", "operator": "DoesNotExist"}]},
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}
            ]}}}}),
        );
        assert!(node_matches_pod_selector(&p, &node(json!({"zone": "b"}))));
        assert!(!node_matches_pod_selector(
            &p,
            &node(json!({"zone": "b", "gpu": "1"}))
        ));
        assert!(!node_matches_pod_selector(&p, &node(json!({"zone": "c"}))));
        let mut special = node(json!({}));
        special.metadata.name = Some("special".into());
        assert!(node_matches_pod_selector(&p, &special));
    }

    #[test]
    fn gt_and_lt_compare_integers_and_reject_garbage() {
        let req = |op: &str, v: &str| NodeSelectorRequirement {
            key: "k".into(),
            operator: op.into(),
            values: Some(vec![v.into()]),
        };
        assert!(requirement_matches(&req("Gt", "3"), Some("4")));
        assert!(!requirement_matches(&req("Gt", "3"), Some("3")));
        assert!(requirement_matches(&req("Lt", "3"), Some("-1")));
        assert!(!requirement_matches(&req("Lt", "x"), Some("1")));
        assert!(!requirement_matches(&req("Gt", "1"), Some("many")));
        assert!(!requirement_matches(&req("Gt", "1"), None));
        assert!(!requirement_matches(&req("Bogus", "1"), Some("1")));
    }

    #[test]
    fn empty_term_matches_nothing() {
        assert!(!node_selector_term_matches(
            &NodeSelectorTerm::default(),
            &node(json!({}))
        ));
    }

    #[test]
    fn preferred_weights_add_up_for_matching_terms() {
        let p = pod(
            json!({"containers": [], "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
                {"weight": 5, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}}
            ]}}}),
        );
        assert_eq!(
            preferred_node_affinity(&p, &node(json!({"zone": "a", "disk": "x"}))),
            15
        );
        assert_eq!(preferred_node_affinity(&p, &node(json!({"disk": "x"}))), 5);
        assert_eq!(preferred_node_affinity(&p, &node(json!({}))), 0);
    }

    #[test]
    fn tolerations_follow_key_operator_value_and_effect() {
        let taint = Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let tol = |v: serde_json::Value| -> Toleration { serde_json::from_value(v).unwrap() };
        assert!(tolerates(
            &tol(json!({"key": "dedicated", "value": "gpu"})),
            &taint
        ));
        assert!(tolerates(
            &tol(json!({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"})),
            &taint
        ));
        assert!(tolerates(&tol(json!({"operator": "Exists"})), &taint));
        assert!(!tolerates(
            &tol(json!({"key": "dedicated", "value": "cpu"})),
            &taint
        ));
        assert!(!tolerates(
            &tol(json!({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"})),
            &taint
        ));
        assert!(!tolerates(&tol(json!({"value": "gpu"})), &taint));
        assert!(!tolerates(
            &tol(json!({"key": "dedicated", "operator": "Weird"})),
            &taint
        ));
    }

    #[test]
    fn pod_term_defaults_to_the_pods_namespace() {
        let owner = pod(json!({"containers": []}));
        let term: PodAffinityTerm = serde_json::from_value(
            json!({"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}),
        )
        .unwrap();
        let t = CompiledTerm::new(&term, "default", 1, &owner);
        assert!(t.matches(&owner));
        let mut other = owner.clone();
        other.metadata.namespace = Some("prod".into());
        assert!(!t.matches(&other));
    }

    #[test]
    fn term_without_selector_matches_no_pod() {
        let owner = pod(json!({"containers": []}));
        let term: PodAffinityTerm = serde_json::from_value(json!({"topologyKey": "zone"})).unwrap();
        assert!(!CompiledTerm::new(&term, "default", 1, &owner).matches(&owner));
    }
}
