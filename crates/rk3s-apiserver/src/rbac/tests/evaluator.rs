use proptest::prelude::*;
use serde_json::{Value, json};

use super::{binding, cluster_role, groups, role};
use crate::rbac::{Attributes, Policy};

fn get(resource: &str, ns: &str) -> Attributes {
    Attributes::resource("get", "", resource, ns)
}

/// One ClusterRole with `rules`, bound cluster-wide to user alice.
fn alice_with(rules: Value) -> Policy {
    Policy::from_json(
        &[],
        &[cluster_role("r", rules)],
        &[],
        &[binding(
            "",
            "b",
            "ClusterRole",
            "r",
            json!([{"kind": "User", "name": "alice"}]),
        )],
    )
}

fn allowed(p: &Policy, user: &str, attrs: &Attributes) -> bool {
    p.authorize(user, &groups(&["system:authenticated"]), attrs)
        .allowed
}

#[test]
fn exact_rule_allows_only_its_verb_group_and_resource() {
    let p =
        alice_with(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]));
    assert!(allowed(&p, "alice", &get("pods", "default")));
    assert!(allowed(
        &p,
        "alice",
        &Attributes::resource("list", "", "pods", "")
    ));
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::resource("delete", "", "pods", "default")
    ));
    assert!(!allowed(&p, "alice", &get("secrets", "default")));
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::resource("get", "apps", "pods", "default")
    ));
    assert!(!allowed(&p, "bob", &get("pods", "default")));
}

#[test]
fn wildcards_match_any_verb_group_and_resource() {
    let p = alice_with(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]));
    assert!(allowed(
        &p,
        "alice",
        &Attributes::resource("deletecollection", "apps", "deployments", "x")
    ));
    assert!(allowed(
        &p,
        "alice",
        &get("pods", "x").with_subresource("log")
    ));
    // Resource wildcards grant no non-resource URL.
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::non_resource("get", "/metrics")
    ));
}

#[test]
fn resource_names_restrict_to_named_objects_and_never_collections() {
    let p = alice_with(json!([{
        "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cfg"], "verbs": ["get", "list"]
    }]));
    assert!(allowed(
        &p,
        "alice",
        &get("configmaps", "ns").with_name("cfg")
    ));
    assert!(!allowed(
        &p,
        "alice",
        &get("configmaps", "ns").with_name("other")
    ));
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::resource("list", "", "configmaps", "ns")
    ));
}

#[test]
fn subresources_need_their_own_rule_or_a_star_slash_form() {
    let p = alice_with(json!([
        {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["update"]},
    ]));
    assert!(allowed(
        &p,
        "alice",
        &get("pods", "ns").with_subresource("log")
    ));
    assert!(!allowed(
        &p,
        "alice",
        &get("pods", "ns").with_subresource("exec")
    ));
    let scale =
        |res: &str| Attributes::resource("update", "apps", res, "ns").with_subresource("scale");
    assert!(allowed(&p, "alice", &scale("deployments")));
    assert!(allowed(&p, "alice", &scale("statefulsets")));
    // `*/scale` names the subresource only, never the resource itself.
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::resource("update", "apps", "deployments", "ns")
    ));
    assert!(!allowed(
        &p,
        "alice",
        &scale("deployments").with_subresource("status")
    ));
}

#[test]
fn non_resource_urls_match_exactly_or_by_star_prefix() {
    let p = alice_with(json!([
        {"nonResourceURLs": ["/healthz", "/logs/*"], "verbs": ["get"]},
    ]));
    let path = |p: &str| Attributes::non_resource("get", p);
    assert!(allowed(&p, "alice", &path("/healthz")));
    assert!(!allowed(&p, "alice", &path("/healthz/etcd")));
    assert!(allowed(&p, "alice", &path("/logs/")));
    assert!(allowed(&p, "alice", &path("/logs/kube/x.log")));
    assert!(!allowed(&p, "alice", &path("/logs")));
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::non_resource("post", "/healthz")
    ));
    // A non-resource rule grants no resource.
    assert!(!allowed(&p, "alice", &get("pods", "ns")));
    let all = alice_with(json!([{"nonResourceURLs": ["*"], "verbs": ["get"]}]));
    assert!(allowed(&all, "alice", &path("/anything/at/all")));
}

#[test]
fn role_binding_to_cluster_role_grants_only_in_its_namespace() {
    let p = Policy::from_json(
        &[],
        &[cluster_role(
            "reader",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        )],
        &[binding(
            "team",
            "rb",
            "ClusterRole",
            "reader",
            json!([{"kind": "User", "name": "alice"}]),
        )],
        &[],
    );
    assert!(allowed(&p, "alice", &get("pods", "team")));
    assert!(!allowed(&p, "alice", &get("pods", "other")));
    // Cluster-wide and all-namespace requests are not in the binding's namespace.
    assert!(!allowed(
        &p,
        "alice",
        &Attributes::resource("list", "", "pods", "")
    ));
    let d = p.authorize("alice", &[], &get("pods", "team"));
    assert_eq!(
        d.reason,
        "RBAC: allowed by RoleBinding \"rb/team\" of ClusterRole \"reader\" to User \"alice\""
    );
}

#[test]
fn role_binding_to_role_uses_the_role_of_its_own_namespace() {
    let rules = json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]);
    let p = Policy::from_json(
        &[role("a", "r", rules.clone())],
        &[],
        &[
            binding(
                "a",
                "rb",
                "Role",
                "r",
                json!([{"kind": "User", "name": "alice"}]),
            ),
            binding(
                "b",
                "rb",
                "Role",
                "r",
                json!([{"kind": "User", "name": "alice"}]),
            ),
        ],
        &[],
    );
    assert!(allowed(&p, "alice", &get("secrets", "a")));
    let d = p.authorize("alice", &[], &get("secrets", "b"));
    assert!(!d.allowed);
    assert_eq!(
        d.reason,
        "RBAC: role.rbac.authorization.k8s.io \"r\" not found"
    );
    let review = p.rules_for("alice", &[], "b");
    assert!(review.incomplete);
    assert!(review.resource_rules.is_empty());
}

#[test]
fn cluster_role_binding_grants_everywhere_and_to_cluster_scoped_resources() {
    let p =
        alice_with(json!([{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get"]}]));
    assert!(allowed(&p, "alice", &get("nodes", "").with_name("n1")));
    assert!(allowed(&p, "alice", &get("pods", "any")));
    let d = p.authorize("alice", &[], &get("nodes", ""));
    assert_eq!(
        d.reason,
        "RBAC: allowed by ClusterRoleBinding \"b\" of ClusterRole \"r\" to User \"alice\""
    );
}

#[test]
fn cluster_role_binding_to_a_role_grants_nothing() {
    let p = Policy::from_json(
        &[role(
            "",
            "r",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        )],
        &[],
        &[],
        &[binding(
            "",
            "b",
            "Role",
            "r",
            json!([{"kind": "User", "name": "alice"}]),
        )],
    );
    assert!(!allowed(&p, "alice", &get("pods", "x")));
}

#[test]
fn service_account_subjects_match_the_service_account_user() {
    let p = Policy::from_json(
        &[],
        &[cluster_role(
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        )],
        &[
            // No namespace: the binding's own.
            binding(
                "ns1",
                "b1",
                "ClusterRole",
                "r",
                json!([{"kind": "ServiceAccount", "name": "bot"}]),
            ),
            binding(
                "ns2",
                "b2",
                "ClusterRole",
                "r",
                json!([{"kind": "ServiceAccount", "name": "bot", "namespace": "other"}]),
            ),
        ],
        &[],
    );
    let sa = |ns: &str, name: &str| format!("system:serviceaccount:{ns}:{name}");
    assert!(allowed(&p, &sa("ns1", "bot"), &get("pods", "ns1")));
    assert!(!allowed(&p, &sa("ns2", "bot"), &get("pods", "ns1")));
    assert!(!allowed(&p, &sa("ns1", "bot2"), &get("pods", "ns1")));
    assert!(!allowed(&p, &sa("ns1", "bo"), &get("pods", "ns1")));
    assert!(allowed(&p, &sa("other", "bot"), &get("pods", "ns2")));
    assert!(!allowed(&p, &sa("ns2", "bot"), &get("pods", "ns2")));
    // A user merely named like the account's parts is not the account.
    assert!(!allowed(&p, "bot", &get("pods", "ns1")));
    let d = p.authorize(&sa("ns1", "bot"), &[], &get("pods", "ns1"));
    assert!(
        d.reason.ends_with("to ServiceAccount \"bot/ns1\""),
        "{}",
        d.reason
    );
}

#[test]
fn cluster_role_binding_service_account_without_namespace_matches_nobody() {
    let p = Policy::from_json(
        &[],
        &[cluster_role(
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        )],
        &[],
        &[binding(
            "",
            "b",
            "ClusterRole",
            "r",
            json!([{"kind": "ServiceAccount", "name": "bot"}]),
        )],
    );
    assert!(!allowed(
        &p,
        "system:serviceaccount::bot",
        &get("pods", "x")
    ));
}

#[test]
fn group_subjects_match_any_of_the_callers_groups() {
    let p = Policy::from_json(
        &[],
        &[cluster_role(
            "r",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
        )],
        &[],
        &[binding(
            "",
            "b",
            "ClusterRole",
            "r",
            json!([{"kind": "Group", "name": "system:serviceaccounts:ci"}]),
        )],
    );
    let sa_groups = groups(&[
        "system:serviceaccounts",
        "system:serviceaccounts:ci",
        "system:authenticated",
    ]);
    assert!(
        p.authorize("system:serviceaccount:ci:x", &sa_groups, &get("pods", "a"))
            .allowed
    );
    assert!(
        !p.authorize(
            "system:serviceaccount:ci:x",
            &groups(&["ci"]),
            &get("pods", "a")
        )
        .allowed
    );
    // A user named like the group is not in it.
    assert!(
        !p.authorize("system:serviceaccounts:ci", &[], &get("pods", "a"))
            .allowed
    );
}

#[test]
fn unknown_subject_kinds_and_missing_cluster_roles_grant_nothing() {
    let p = Policy::from_json(
        &[],
        &[],
        &[],
        &[
            binding(
                "",
                "b1",
                "ClusterRole",
                "r",
                json!([{"kind": "Robot", "name": "alice"}]),
            ),
            binding(
                "",
                "b2",
                "ClusterRole",
                "gone",
                json!([{"kind": "User", "name": "alice"}]),
            ),
            binding(
                "",
                "b3",
                "Thing",
                "x",
                json!([{"kind": "User", "name": "alice"}]),
            ),
        ],
    );
    let d = p.authorize("alice", &[], &get("pods", "x"));
    assert!(!d.allowed);
    assert_eq!(
        d.reason,
        "RBAC: [clusterrole.rbac.authorization.k8s.io \"gone\" not found, unsupported role reference kind: \"Thing\"]"
    );
}

#[test]
fn denial_without_errors_has_an_empty_reason() {
    let p = alice_with(json!([]));
    assert_eq!(p.authorize("alice", &[], &get("pods", "x")).reason, "");
}

#[test]
fn rules_for_lists_cluster_and_namespace_rules_split_by_kind() {
    let p = Policy::from_json(
        &[role(
            "team",
            "r",
            json!([{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"], "verbs": ["get"]}]),
        )],
        &[cluster_role(
            "c",
            json!([
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"], "nonResourceURLs": ["/x"]},
                {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
            ]),
        )],
        &[binding(
            "team",
            "rb",
            "Role",
            "r",
            json!([{"kind": "Group", "name": "devs"}]),
        )],
        &[binding(
            "",
            "crb",
            "ClusterRole",
            "c",
            json!([{"kind": "Group", "name": "devs"}]),
        )],
    );
    let devs = groups(&["devs"]);
    let in_team = p.rules_for("alice", &devs, "team");
    assert_eq!(in_team.resource_rules.len(), 2);
    assert_eq!(
        in_team.resource_rules[1].resource_names,
        vec!["s".to_string()]
    );
    assert_eq!(in_team.non_resource_rules.len(), 2);
    assert!(!in_team.incomplete);
    let elsewhere = p.rules_for("alice", &devs, "other");
    assert_eq!(elsewhere.resource_rules.len(), 1);
    let status = in_team.status_json();
    assert_eq!(
        status["resourceRules"][0],
        json!({"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]})
    );
    assert_eq!(status["incomplete"], json!(false));
    assert!(status.get("evaluationError").is_none());
    assert!(p.rules_for("bob", &[], "team").resource_rules.is_empty());
}

#[test]
fn malformed_objects_grant_nothing_and_do_not_break_others() {
    let p = Policy::from_json(
        &[
            json!("not an object"),
            json!({"metadata": 3, "rules": {"x": 1}}),
        ],
        &[
            cluster_role(
                "bad",
                json!([{"apiGroups": "*", "resources": [1, null], "verbs": [["get"]]}]),
            ),
            cluster_role(
                "good",
                json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
            ),
        ],
        &[json!(null)],
        &[
            json!({"metadata": {"name": "b0"}, "roleRef": "x", "subjects": [1, "a", {"kind": 2}]}),
            binding(
                "",
                "b1",
                "ClusterRole",
                "bad",
                json!([{"kind": "User", "name": "alice"}]),
            ),
            binding(
                "",
                "b2",
                "ClusterRole",
                "good",
                json!([{"kind": "User", "name": "alice"}]),
            ),
        ],
    );
    assert!(allowed(&p, "alice", &get("pods", "x")));
    assert!(!allowed(&p, "alice", &get("secrets", "x")));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("*"),
            Just(""),
            Just("pods"),
            Just("*/scale"),
            Just("get"),
            Just("/a*"),
            Just("alice")
        ]
        .prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("rules".to_string()),
                        Just("verbs".to_string()),
                        Just("apiGroups".to_string()),
                        Just("resources".to_string()),
                        Just("resourceNames".to_string()),
                        Just("nonResourceURLs".to_string()),
                        Just("subjects".to_string()),
                        Just("roleRef".to_string()),
                        Just("kind".to_string()),
                        Just("name".to_string()),
                        Just("metadata".to_string()),
                        Just("aggregationRule".to_string()),
                        Just("clusterRoleSelectors".to_string()),
                    ],
                    inner,
                ),
                0..5,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn evaluator_never_panics_on_arbitrary_role_json(
        roles in prop::collection::vec(arb_json(), 0..4),
        bindings in prop::collection::vec(arb_json(), 0..4),
        verb in "[a-z*]{0,4}",
        resource in "[a-z*/]{0,6}",
        path in proptest::option::of("[/a-z*]{0,6}"),
    ) {
        let p = Policy::from_json(&roles, &roles, &bindings, &bindings);
        let attrs = Attributes { verb, resource, path, ..Attributes::default() };
        let _ = p.authorize("alice", &groups(&["g"]), &attrs);
        let _ = p.rules_for("alice", &[], "");
        let _ = crate::rbac::aggregate(&roles);
    }
}
