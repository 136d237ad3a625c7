//! ClusterRole aggregation: a ClusterRole with `aggregationRule.clusterRoleSelectors` gets the
//! rules of every other ClusterRole whose labels one of its selectors matches.

use std::collections::BTreeMap;

use rk3s_core::selectors::LabelSelector;
use serde_json::Value;

use super::policy::{PolicyRule, name_and_namespace, rules_from_json};

/// The new `rules` of every aggregated ClusterRole whose rules would change, ordered by name.
///
/// Source roles are taken in name order per selector and a rule already present is not added
/// twice, so the result is deterministic. Aggregated roles may select other aggregated roles
/// (upstream's admin selects edit, which selects view): their computed rules are used, iterating
/// until nothing changes, so one call gives what upstream's controller converges to.
pub fn aggregate(cluster_roles: &[Value]) -> Vec<(String, Value)> {
    struct Entry<'a> {
        labels: Option<&'a serde_json::Map<String, Value>>,
        /// `None` for roles that aggregate nothing.
        selectors: Option<Vec<LabelSelector>>,
        original: Vec<PolicyRule>,
        current: Vec<PolicyRule>,
    }
    let mut roles: BTreeMap<String, Entry> = BTreeMap::new();
    for obj in cluster_roles {
        let (name, _) = name_and_namespace(obj);
        let selectors = match obj
            .get("aggregationRule")
            .and_then(|a| a.get("clusterRoleSelectors"))
        {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    // A selector that does not parse selects nothing rather than everything.
                    .filter_map(|s| LabelSelector::from_json(s).ok())
                    .collect(),
            ),
            _ => None,
        };
        let rules = rules_from_json(obj.get("rules"));
        roles.insert(
            name,
            Entry {
                labels: obj
                    .get("metadata")
                    .and_then(|m| m.get("labels"))
                    .and_then(Value::as_object),
                selectors,
                original: rules.clone(),
                current: rules,
            },
        );
    }
    let aggregated: Vec<String> = roles
        .iter()
        .filter(|(_, e)| e.selectors.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    // Each pass can only propagate rules one level further along a chain of aggregated roles,
    // so as many passes as aggregated roles reach the fixed point; cycles just stop there.
    for _ in 0..=aggregated.len() {
        let mut changed = false;
        for name in &aggregated {
            let Some(selectors) = roles.get(name).and_then(|e| e.selectors.as_ref()) else {
                continue;
            };
            let mut rules: Vec<PolicyRule> = Vec::new();
            for selector in selectors {
                for (other, entry) in &roles {
                    if other == name || !selector.matches_json(entry.labels) {
                        continue;
                    }
                    for r in &entry.current {
                        if !rules.contains(r) {
                            rules.push(r.clone());
                        }
                    }
                }
            }
            if let Some(entry) = roles.get_mut(name)
                && entry.current != rules
            {
                entry.current = rules;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    roles
        .into_iter()
        .filter(|(_, e)| e.selectors.is_some() && e.current != e.original)
        .map(|(name, e)| {
            let rules = e.current.iter().map(PolicyRule::to_json).collect();
            (name, Value::Array(rules))
        })
        .collect()
}
