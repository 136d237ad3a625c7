//! Tests of the built-in table against upstream's facts and k8s-openapi's types.

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn,
    authorization::v1 as authz, autoscaling, batch::v1 as batch, certificates::v1 as certs,
    coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
    events::v1 as events, flowcontrol::v1 as flowcontrol, networking::v1 as networking,
    node::v1 as node, policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling,
    storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;
use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::registry::Registry;

fn reg() -> Registry {
    Registry::builtin()
}

#[test]
fn lookups_by_resource_and_kind_find_the_same_entry() {
    let r = reg();
    let by_res = r.by_resource("apps", "v1", "deployments").unwrap();
    let by_kind = r.by_kind("apps", "v1", "Deployment").unwrap();
    assert!(std::sync::Arc::ptr_eq(by_res, by_kind));
    assert_eq!(by_res.short_names, vec!["deploy"]);
    assert_eq!(r.by_kind("", "v1", "Pod").unwrap().plural, "pods");
    assert!(r.by_resource("", "v1", "deployments").is_none());
    assert!(
        r.by_resource("autoscaling", "v1", "horizontalpodautoscalers")
            .is_some()
    );
}

#[test]
fn every_entry_codec_matches_its_kind_and_api_version() {
    for t in reg().all() {
        let codec = t
            .codec
            .unwrap_or_else(|| panic!("{} has no codec", t.plural));
        let out = (codec.roundtrip)(json!({})).unwrap_or_else(|e| panic!("{}: {e}", t.plural));
        assert_eq!(out["kind"], json!(t.kind), "{}", t.plural);
        assert_eq!(out["apiVersion"], json!(t.api_version()), "{}", t.plural);
        assert!(
            (codec.schema_name)().ends_with(&format!(".{}", t.kind)),
            "{}",
            (codec.schema_name)()
        );
    }
}

#[test]
fn scope_and_plural_agree_with_k8s_openapi() {
    fn check<T: k8s_openapi::Resource + 'static>(r: &Registry) {
        let t = r
            .by_kind(T::GROUP, T::VERSION, T::KIND)
            .unwrap_or_else(|| panic!("missing {}", T::KIND));
        assert_eq!(t.plural, T::URL_PATH_SEGMENT, "{}", T::KIND);
        let namespaced =
            TypeId::of::<T::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>();
        assert_eq!(t.namespaced, namespaced, "{}", T::KIND);
    }
    let r = reg();
    check::<core::Binding>(&r);
    check::<core::ComponentStatus>(&r);
    check::<core::ConfigMap>(&r);
    check::<core::Endpoints>(&r);
    check::<core::Event>(&r);
    check::<core::LimitRange>(&r);
    check::<core::Namespace>(&r);
    check::<core::Node>(&r);
    check::<core::PersistentVolumeClaim>(&r);
    check::<core::PersistentVolume>(&r);
    check::<core::Pod>(&r);
    check::<core::PodTemplate>(&r);
    check::<core::ReplicationController>(&r);
    check::<core::ResourceQuota>(&r);
    check::<core::Secret>(&r);
    check::<core::ServiceAccount>(&r);
    check::<core::Service>(&r);
    check::<apireg::APIService>(&r);
    check::<apps::ControllerRevision>(&r);
    check::<apps::DaemonSet>(&r);
    check::<apps::Deployment>(&r);
    check::<apps::ReplicaSet>(&r);
    check::<apps::StatefulSet>(&r);
    check::<events::Event>(&r);
    check::<authn::SelfSubjectReview>(&r);
    check::<authn::TokenReview>(&r);
    check::<authz::LocalSubjectAccessReview>(&r);
    check::<authz::SelfSubjectAccessReview>(&r);
    check::<authz::SelfSubjectRulesReview>(&r);
    check::<authz::SubjectAccessReview>(&r);
    check::<autoscaling::v2::HorizontalPodAutoscaler>(&r);
    check::<autoscaling::v1::HorizontalPodAutoscaler>(&r);
    check::<batch::CronJob>(&r);
    check::<batch::Job>(&r);
    check::<certs::CertificateSigningRequest>(&r);
    check::<networking::IngressClass>(&r);
    check::<networking::Ingress>(&r);
    check::<networking::IPAddress>(&r);
    check::<networking::NetworkPolicy>(&r);
    check::<networking::ServiceCIDR>(&r);
    check::<policy::PodDisruptionBudget>(&r);
    check::<rbac::ClusterRoleBinding>(&r);
    check::<rbac::ClusterRole>(&r);
    check::<rbac::RoleBinding>(&r);
    check::<rbac::Role>(&r);
    check::<storage::CSIDriver>(&r);
    check::<storage::CSINode>(&r);
    check::<storage::CSIStorageCapacity>(&r);
    check::<storage::StorageClass>(&r);
    check::<storage::VolumeAttachment>(&r);
    check::<admission::MutatingWebhookConfiguration>(&r);
    check::<admission::ValidatingAdmissionPolicy>(&r);
    check::<admission::ValidatingAdmissionPolicyBinding>(&r);
    check::<admission::ValidatingWebhookConfiguration>(&r);
    check::<apiext::CustomResourceDefinition>(&r);
    check::<scheduling::PriorityClass>(&r);
    check::<coordination::Lease>(&r);
    check::<node::RuntimeClass>(&r);
    check::<discovery::EndpointSlice>(&r);
    check::<flowcontrol::FlowSchema>(&r);
    check::<flowcontrol::PriorityLevelConfiguration>(&r);
    assert_eq!(r.all().count(), 61);
}

#[test]
fn no_resource_is_listed_twice() {
    let mut seen = BTreeSet::new();
    for t in reg().all() {
        assert!(
            seen.insert((t.group.clone(), t.version.clone(), t.plural.clone())),
            "{}/{}",
            t.api_version(),
            t.plural
        );
    }
}

#[test]
fn each_short_name_points_at_one_resource() {
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let plurals: BTreeSet<String> = reg().all().map(|t| t.plural.clone()).collect();
    for t in reg().all() {
        for s in &t.short_names {
            let prev = owner.entry(s.clone()).or_insert_with(|| t.plural.clone());
            assert_eq!(prev, &t.plural, "short name {s}");
            assert!(!plurals.contains(s), "short name {s} shadows a plural");
        }
    }
    for s in [
        "po", "svc", "deploy", "cm", "ns", "no", "pvc", "pv", "sa", "ds", "rs", "sts", "ep", "ev",
        "hpa", "cj", "ing", "netpol", "pdb", "pc", "sc", "crd", "crds", "csr", "limits", "quota",
        "rc", "cs",
    ] {
        assert!(owner.contains_key(s), "missing short name {s}");
    }
}

#[test]
fn storage_prefixes_are_shared_only_between_versions_of_one_resource() {
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for t in reg().all() {
        if t.storage_prefix.is_empty() {
            // Only computed answers go unstored: nothing to watch, update or delete.
            assert!(
                !t.has_verb("watch") && !t.has_verb("update") && !t.has_verb("delete"),
                "{}",
                t.plural
            );
            continue;
        }
        assert!(t.storage_prefix.starts_with("/registry/") && !t.storage_prefix.ends_with('/'));
        let prev = owner
            .entry(t.storage_prefix.clone())
            .or_insert_with(|| t.plural.clone());
        assert_eq!(prev, &t.plural, "{}", t.storage_prefix);
    }
    let r = reg();
    assert_eq!(
        r.by_resource("", "v1", "events").unwrap().storage_prefix,
        r.by_resource("events.k8s.io", "v1", "events")
            .unwrap()
            .storage_prefix
    );
    assert_eq!(
        r.by_resource("", "v1", "services")
            .unwrap()
            .key(Some("default"), "kubernetes"),
        "/registry/services/specs/default/kubernetes"
    );
    assert_eq!(
        r.by_resource("", "v1", "nodes").unwrap().key(None, "n1"),
        "/registry/minions/n1"
    );
}

#[test]
fn groups_come_in_upstream_discovery_order() {
    let groups: Vec<String> = reg().groups().into_iter().map(|g| g.group).collect();
    assert_eq!(
        groups,
        vec![
            "",
            "apiregistration.k8s.io",
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "certificates.k8s.io",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "admissionregistration.k8s.io",
            "apiextensions.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "node.k8s.io",
            "discovery.k8s.io",
            "flowcontrol.apiserver.k8s.io",
        ]
    );
    let autoscaling = reg()
        .groups()
        .into_iter()
        .find(|g| g.group == "autoscaling")
        .unwrap();
    assert_eq!(autoscaling.versions, vec!["v2", "v1"]);
}

#[test]
fn verbs_scope_and_subresources_follow_upstream() {
    let r = reg();
    let get = |g: &str, v: &str, p: &str| r.by_resource(g, v, p).unwrap().clone();
    assert_eq!(
        get("", "v1", "componentstatuses").verbs,
        vec!["get", "list"]
    );
    assert_eq!(get("", "v1", "bindings").verbs, vec!["create"]);
    assert!(!get("", "v1", "namespaces").has_verb("deletecollection"));
    assert!(!get("", "v1", "services").has_verb("deletecollection"));
    assert!(get("", "v1", "events").has_verb("deletecollection"));
    assert!(!get("", "v1", "nodes").namespaced);
    assert!(!get("rbac.authorization.k8s.io", "v1", "clusterroles").namespaced);
    assert!(get("authorization.k8s.io", "v1", "localsubjectaccessreviews").namespaced);
    let pod_subs: Vec<String> = get("", "v1", "pods")
        .subresources
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(
        pod_subs,
        [
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "resize",
            "status"
        ]
    );
    for (g, p) in [
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("", "replicationcontrollers"),
    ] {
        let t = get(g, "v1", p);
        let scale = t.subresource("scale").unwrap();
        assert_eq!(
            (
                scale.group.as_str(),
                scale.version.as_str(),
                scale.kind.as_str()
            ),
            ("autoscaling", "v1", "Scale")
        );
        assert_eq!(t.subresource("status").unwrap().kind, t.kind);
    }
    let token = get("", "v1", "serviceaccounts")
        .subresource("token")
        .unwrap()
        .clone();
    assert_eq!(
        (token.group.as_str(), token.kind.as_str()),
        ("authentication.k8s.io", "TokenRequest")
    );
    assert_eq!(
        get("", "v1", "namespaces")
            .subresource("finalize")
            .unwrap()
            .verbs,
        vec!["update"]
    );
    assert!(get("", "v1", "nodes").subresource("proxy").is_some());
    assert!(get("", "v1", "services").subresource("proxy").is_some());
    assert_eq!(
        get("", "v1", "pods").subresource("eviction").unwrap().group,
        "policy"
    );
}

#[test]
fn categories_follow_upstream() {
    let r = reg();
    let in_all: BTreeSet<String> = r
        .all()
        .filter(|t| t.categories.iter().any(|c| c == "all"))
        .map(|t| t.plural.clone())
        .collect();
    let want: BTreeSet<String> = [
        "pods",
        "services",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "replicationcontrollers",
        "horizontalpodautoscalers",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(in_all, want);
    let ext: BTreeSet<String> = r
        .all()
        .filter(|t| t.categories.iter().any(|c| c == "api-extensions"))
        .map(|t| t.plural.clone())
        .collect();
    assert!(
        ext.contains("customresourcedefinitions")
            && ext.contains("apiservices")
            && ext.contains("mutatingwebhookconfigurations")
    );
    assert_eq!(ext.len(), 6);
}

#[test]
fn pod_roundtrip_keeps_fields_and_drops_unknown_ones() {
    let codec = reg().by_resource("", "v1", "pods").unwrap().codec.unwrap();
    let pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "bogusMeta": 1},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}], "madeUp": true}]},
        "extra": "dropped"
    });
    let out = (codec.roundtrip)(pod).unwrap();
    assert_eq!(out["metadata"]["labels"]["app"], "web");
    assert_eq!(out["spec"]["containers"][0]["image"], "nginx");
    assert_eq!(
        out["spec"]["containers"][0]["ports"][0]["containerPort"],
        80
    );
    assert!(out.get("extra").is_none());
    assert!(out["metadata"].get("bogusMeta").is_none());
    assert!(out["spec"]["containers"][0].get("madeUp").is_none());
}

#[test]
fn roundtrip_rejects_wrong_kind_and_wrong_types() {
    let codec = reg().by_resource("", "v1", "pods").unwrap().codec.unwrap();
    assert!((codec.roundtrip)(json!({"kind": "Service"})).is_err());
    assert!((codec.roundtrip)(json!({"apiVersion": "apps/v1"})).is_err());
    assert!((codec.roundtrip)(json!({"spec": "nope"})).is_err());
    assert!((codec.roundtrip)(json!([1, 2])).is_err());
    assert!((codec.roundtrip)(json!({"spec": {"containers": [{"name": 5}]}})).is_err());
}

#[test]
fn schema_describes_the_kind() {
    let codec = reg().by_resource("", "v1", "pods").unwrap().codec.unwrap();
    let mut generator = schemars::SchemaGenerator::default();
    let schema = (codec.schema)(&mut generator);
    assert!(schema.as_value()["properties"].get("spec").is_some());
    assert_eq!((codec.schema_name)(), "io.k8s.api.core.v1.Pod");
}
