use serde_json::{Value, json};

use crate::rbac::aggregate;

fn labeled(name: &str, labels: Value, rules: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}, "rules": rules})
}

fn aggregator(name: &str, selectors: Value, rules: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "aggregationRule": {"clusterRoleSelectors": selectors},
        "rules": rules,
    })
}

fn rule(resource: &str) -> Value {
    json!({"verbs": ["get"], "apiGroups": [""], "resources": [resource]})
}

#[test]
fn aggregated_role_gets_rules_of_matching_roles_in_name_order_without_duplicates() {
    let roles = [
        labeled(
            "b-source",
            json!({"agg": "yes"}),
            json!([rule("secrets"), rule("pods")]),
        ),
        labeled("a-source", json!({"agg": "yes"}), json!([rule("pods")])),
        labeled("unlabeled", json!({}), json!([rule("nodes")])),
        aggregator(
            "target",
            json!([{"matchLabels": {"agg": "yes"}}]),
            json!([]),
        ),
    ];
    let out = aggregate(&roles);
    assert_eq!(
        out,
        vec![("target".to_string(), json!([rule("pods"), rule("secrets")]))]
    );
}

#[test]
fn roles_whose_rules_would_not_change_are_not_returned() {
    let roles = [
        labeled("src", json!({"agg": "yes"}), json!([rule("pods")])),
        aggregator(
            "target",
            json!([{"matchLabels": {"agg": "yes"}}]),
            json!([rule("pods")]),
        ),
        labeled("plain", json!({"agg": "yes"}), json!([rule("pods")])),
    ];
    assert!(aggregate(&roles).is_empty());
}

#[test]
fn aggregation_drops_rules_of_roles_no_longer_selected() {
    let roles = [aggregator(
        "target",
        json!([{"matchLabels": {"agg": "yes"}}]),
        json!([rule("stale")]),
    )];
    assert_eq!(aggregate(&roles), vec![("target".to_string(), json!([]))]);
}

#[test]
fn chains_of_aggregated_roles_converge_in_one_call() {
    let roles = [
        aggregator(
            "admin",
            json!([{"matchLabels": {"to-admin": "true"}}]),
            json!(null),
        ),
        json!({
            "metadata": {"name": "edit", "labels": {"to-admin": "true"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-edit": "true"}}]},
        }),
        labeled(
            "view-rules",
            json!({"to-edit": "true"}),
            json!([rule("pods")]),
        ),
        labeled(
            "admin-rules",
            json!({"to-admin": "true"}),
            json!([rule("roles")]),
        ),
    ];
    let out = aggregate(&roles);
    assert_eq!(
        out,
        vec![
            ("admin".to_string(), json!([rule("roles"), rule("pods")])),
            ("edit".to_string(), json!([rule("pods")])),
        ]
    );
}

#[test]
fn a_role_never_aggregates_itself_and_cycles_terminate() {
    let roles = [
        json!({
            "metadata": {"name": "a", "labels": {"x": "1"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "1"}}]},
            "rules": [rule("pods")],
        }),
        json!({
            "metadata": {"name": "b", "labels": {"x": "1"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "1"}}]},
            "rules": [rule("secrets")],
        }),
    ];
    // Whatever the outcome, it is computed without looping forever, deterministically.
    assert_eq!(aggregate(&roles), aggregate(&roles));
}

#[test]
fn malformed_selectors_select_nothing() {
    let roles = [
        labeled("src", json!({"agg": "yes"}), json!([rule("pods")])),
        aggregator("t1", json!([{"matchLabels": "agg"}, 5, null]), json!([])),
        aggregator("t2", json!({"not": "a list"}), json!([])),
    ];
    assert!(aggregate(&roles).is_empty());
}

#[test]
fn match_expressions_select_too() {
    let roles = [
        labeled("src", json!({"tier": "gold"}), json!([rule("pods")])),
        aggregator(
            "t",
            json!([{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}]),
            json!([]),
        ),
    ];
    assert_eq!(
        aggregate(&roles),
        vec![("t".to_string(), json!([rule("pods")]))]
    );
}
