use k8s_openapi::api::rbac::v1 as rbac;
use serde_json::Value;

use super::groups;
use crate::rbac::{Attributes, Policy, PolicyKind, bootstrap_objects};

fn policy() -> Policy {
    let objs = bootstrap_objects();
    let of = |kind: &str| -> Vec<Value> {
        objs.iter()
            .filter(|(_, o)| o["kind"] == kind)
            .map(|(_, o)| o.clone())
            .collect()
    };
    Policy::from_json(&[], &of("ClusterRole"), &[], &of("ClusterRoleBinding"))
}

fn find<'a>(objs: &'a [(String, Value)], key: &str) -> &'a Value {
    &objs
        .iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .1
}

#[test]
fn bootstrap_objects_are_valid_rbac_v1_objects_with_upstream_markers() {
    let objs = bootstrap_objects();
    assert!(objs.len() > 20, "only {} objects", objs.len());
    for (key, obj) in &objs {
        let name = obj["metadata"]["name"].as_str().unwrap();
        assert_eq!(obj["apiVersion"], "rbac.authorization.k8s.io/v1");
        assert_eq!(
            obj["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
        assert_eq!(
            obj["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
        assert!(obj["metadata"].get("resourceVersion").is_none());
        match obj["kind"].as_str() {
            Some("ClusterRole") => {
                assert_eq!(key, &format!("/registry/clusterroles/{name}"));
                serde_json::from_value::<rbac::ClusterRole>(obj.clone()).unwrap();
            }
            Some("ClusterRoleBinding") => {
                assert_eq!(key, &format!("/registry/clusterrolebindings/{name}"));
                let b = serde_json::from_value::<rbac::ClusterRoleBinding>(obj.clone()).unwrap();
                assert!(
                    objs.iter()
                        .any(|(k, _)| *k == format!("/registry/clusterroles/{}", b.role_ref.name))
                );
            }
            other => panic!("unexpected kind {other:?}"),
        }
    }
    let mut keys: Vec<&String> = objs.iter().map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), objs.len(), "duplicate keys");
}

#[test]
fn admin_edit_and_view_carry_upstream_aggregation_labels_and_rules() {
    let objs = bootstrap_objects();
    let label = |key: &str, l: &str| find(&objs, key)["metadata"]["labels"][l].clone();
    assert_eq!(
        label(
            "/registry/clusterroles/edit",
            "rbac.authorization.k8s.io/aggregate-to-admin"
        ),
        "true"
    );
    assert_eq!(
        label(
            "/registry/clusterroles/view",
            "rbac.authorization.k8s.io/aggregate-to-edit"
        ),
        "true"
    );
    let admin = serde_json::from_value::<rbac::ClusterRole>(
        find(&objs, "/registry/clusterroles/admin").clone(),
    )
    .unwrap();
    let selectors = admin
        .aggregation_rule
        .unwrap()
        .cluster_role_selectors
        .unwrap();
    assert_eq!(
        selectors[0].match_labels.as_ref().unwrap()["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    // Aggregated already: admin has edit's and view's rules too.
    assert!(admin.rules.unwrap().len() > 20);
}

#[test]
fn view_reads_pods_but_cannot_write_them_or_read_secrets() {
    let p = policy();
    let objs = [crate::rbac::tests::binding(
        "team",
        "v",
        "ClusterRole",
        "view",
        serde_json::json!([{"kind": "User", "name": "viewer"}]),
    )];
    let mut p2 = p.clone();
    p2.put(PolicyKind::RoleBinding, "team", "v", &objs[0]);
    let can = |verb: &str, res: &str| {
        p2.authorize(
            "viewer",
            &groups(&["system:authenticated"]),
            &Attributes::resource(verb, "", res, "team"),
        )
        .allowed
    };
    assert!(can("get", "pods"));
    assert!(can("list", "pods"));
    assert!(can("watch", "pods"));
    assert!(!can("create", "pods"));
    assert!(!can("delete", "pods"));
    assert!(!can("update", "pods"));
    assert!(!can("get", "secrets"));
    assert!(!can("list", "secrets"));
    assert!(
        p2.authorize(
            "viewer",
            &[],
            &Attributes::resource("get", "", "pods", "team").with_subresource("log")
        )
        .allowed
    );
    assert!(
        !p2.authorize(
            "viewer",
            &[],
            &Attributes::resource("create", "", "pods", "team").with_subresource("exec")
        )
        .allowed
    );
    // Only in the binding's namespace.
    assert!(
        !p2.authorize(
            "viewer",
            &[],
            &Attributes::resource("get", "", "pods", "other")
        )
        .allowed
    );
}

#[test]
fn edit_writes_workloads_and_secrets_but_not_roles_and_admin_manages_roles() {
    let mut p = policy();
    for (name, role) in [("e", "edit"), ("a", "admin")] {
        let b = crate::rbac::tests::binding(
            "team",
            name,
            "ClusterRole",
            role,
            serde_json::json!([{"kind": "User", "name": role}]),
        );
        p.put(PolicyKind::RoleBinding, "team", name, &b);
    }
    let can = |user: &str, verb: &str, group: &str, res: &str| {
        p.authorize(user, &[], &Attributes::resource(verb, group, res, "team"))
            .allowed
    };
    assert!(can("edit", "create", "apps", "deployments"));
    assert!(can("edit", "get", "", "secrets"));
    assert!(can("edit", "create", "", "pods"));
    assert!(!can("edit", "create", "rbac.authorization.k8s.io", "roles"));
    assert!(can("admin", "create", "rbac.authorization.k8s.io", "roles"));
    assert!(can("admin", "get", "", "pods"));
    assert!(!can("admin", "create", "", "nodes"));
}

#[test]
fn default_bindings_give_authenticated_users_discovery_and_self_reviews_only() {
    let p = policy();
    let authed = groups(&["system:authenticated"]);
    let ok = |a: &Attributes| p.authorize("someone", &authed, a).allowed;
    assert!(ok(&Attributes::non_resource("get", "/api")));
    assert!(ok(&Attributes::non_resource("get", "/apis/apps/v1")));
    assert!(ok(&Attributes::non_resource("get", "/version")));
    assert!(ok(&Attributes::non_resource("get", "/openapi/v3")));
    assert!(!ok(&Attributes::non_resource("get", "/metrics")));
    assert!(ok(&Attributes::resource(
        "create",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        ""
    )));
    assert!(ok(&Attributes::resource(
        "create",
        "authorization.k8s.io",
        "selfsubjectrulesreviews",
        ""
    )));
    assert!(ok(&Attributes::resource(
        "create",
        "authentication.k8s.io",
        "selfsubjectreviews",
        ""
    )));
    assert!(!ok(&Attributes::resource("list", "", "pods", "default")));
    assert!(!ok(&Attributes::resource("list", "", "namespaces", "")));
    let anon = groups(&["system:unauthenticated"]);
    assert!(
        p.authorize(
            "system:anonymous",
            &anon,
            &Attributes::non_resource("get", "/healthz")
        )
        .allowed
    );
    assert!(
        !p.authorize(
            "system:anonymous",
            &anon,
            &Attributes::non_resource("get", "/api")
        )
        .allowed
    );
}

#[test]
fn cluster_admin_is_bound_to_system_masters_and_components_to_their_users() {
    let p = policy();
    let masters = groups(&["system:masters"]);
    assert!(
        p.authorize(
            "x",
            &masters,
            &Attributes::resource("delete", "apps", "deployments", "a")
        )
        .allowed
    );
    assert!(
        p.authorize("x", &masters, &Attributes::non_resource("get", "/metrics"))
            .allowed
    );
    let sched = Attributes::resource("create", "", "pods", "a").with_subresource("binding");
    assert!(p.authorize("system:kube-scheduler", &[], &sched).allowed);
    assert!(
        !p.authorize(
            "system:kube-scheduler",
            &[],
            &Attributes::resource("get", "", "secrets", "a")
        )
        .allowed
    );
    assert!(
        p.authorize(
            "system:kube-controller-manager",
            &[],
            &Attributes::resource("watch", "apps", "deployments", "")
        )
        .allowed
    );
    assert!(
        p.authorize(
            "m",
            &groups(&["system:monitoring"]),
            &Attributes::non_resource("get", "/metrics")
        )
        .allowed
    );
}
