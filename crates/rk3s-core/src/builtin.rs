//! The built-in kinds rk3s serves, as upstream Kubernetes 1.33 serves them: names, scope, verbs,
//! subresources, storage prefixes and typed codecs. Entry point: [`resource_types`].
//!
//! The table is in discovery order: the core group, then the groups by upstream's priority
//! (apiregistration first), resources alphabetical within a group/version.
//! Kinds that are never persisted (bindings, the review kinds, componentstatuses) have an empty
//! `storage_prefix`.

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
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::registry::{ResourceType, Subresource, TypedCodec};

type Gv = (&'static str, &'static str);

const CORE: Gv = ("", "v1");
const APIREG: Gv = ("apiregistration.k8s.io", "v1");
const APPS: Gv = ("apps", "v1");
const EVENTS: Gv = ("events.k8s.io", "v1");
const AUTHN: Gv = ("authentication.k8s.io", "v1");
const AUTHZ: Gv = ("authorization.k8s.io", "v1");
const AUTOSCALING_V2: Gv = ("autoscaling", "v2");
const AUTOSCALING_V1: Gv = ("autoscaling", "v1");
const BATCH: Gv = ("batch", "v1");
const CERTS: Gv = ("certificates.k8s.io", "v1");
const NETWORKING: Gv = ("networking.k8s.io", "v1");
const POLICY: Gv = ("policy", "v1");
const RBAC: Gv = ("rbac.authorization.k8s.io", "v1");
const STORAGE: Gv = ("storage.k8s.io", "v1");
const ADMISSION: Gv = ("admissionregistration.k8s.io", "v1");
const APIEXT: Gv = ("apiextensions.k8s.io", "v1");
const SCHEDULING: Gv = ("scheduling.k8s.io", "v1");
const COORDINATION: Gv = ("coordination.k8s.io", "v1");
const NODE: Gv = ("node.k8s.io", "v1");
const DISCOVERY: Gv = ("discovery.k8s.io", "v1");
const FLOWCONTROL: Gv = ("flowcontrol.apiserver.k8s.io", "v1");

const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces and services have no delete-collection endpoint upstream.
const NO_DELETECOLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const CREATE: &[&str] = &["create"];
const GET_LIST: &[&str] = &["get", "list"];
const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE_GET: &[&str] = &["create", "get"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

#[derive(Clone, Copy)]
enum Scope {
    Namespaced,
    Cluster,
}
use Scope::{Cluster, Namespaced};

fn roundtrip<T: DeserializeOwned + Serialize>(
    value: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    let typed: T = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

fn schema_name<T: schemars::JsonSchema>() -> String {
    T::schema_name().into_owned()
}

/// The codec of a k8s-openapi type.
pub fn codec<T>() -> TypedCodec
where
    T: DeserializeOwned + Serialize + schemars::JsonSchema,
{
    TypedCodec {
        roundtrip: roundtrip::<T>,
        schema: T::json_schema,
        schema_name: schema_name::<T>,
    }
}

/// One table row under construction; defaults: every verb, stored at `/registry/<plural>`.
struct Def(ResourceType);

fn res<T>(gv: Gv, kind: &str, plural: &str, scope: Scope) -> Def
where
    T: DeserializeOwned + Serialize + schemars::JsonSchema,
{
    Def(ResourceType {
        group: gv.0.to_string(),
        version: gv.1.to_string(),
        kind: kind.to_string(),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced: matches!(scope, Namespaced),
        verbs: strings(ALL_VERBS),
        subresources: Vec::new(),
        storage_prefix: format!("/registry/{plural}"),
        codec: Some(codec::<T>()),
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Def {
    fn short(mut self, names: &[&str]) -> Self {
        self.0.short_names = strings(names);
        self
    }

    /// In the `all` category (`kubectl get all`).
    fn all(mut self) -> Self {
        self.0.categories.push("all".to_string());
        self
    }

    /// In the `api-extensions` category.
    fn api_extension(mut self) -> Self {
        self.0.categories.push("api-extensions".to_string());
        self
    }

    fn verbs(mut self, verbs: &[&str]) -> Self {
        self.0.verbs = strings(verbs);
        self
    }

    fn at(mut self, prefix: &str) -> Self {
        self.0.storage_prefix = prefix.to_string();
        self
    }

    /// A kind that is only ever created and answered, never persisted.
    fn unstored(mut self) -> Self {
        self.0.storage_prefix = String::new();
        self
    }

    fn sub(mut self, name: &str, gv: Gv, kind: &str, verbs: &[&str]) -> Self {
        self.0.subresources.push(Subresource {
            name: name.to_string(),
            group: gv.0.to_string(),
            version: gv.1.to_string(),
            kind: kind.to_string(),
            verbs: strings(verbs),
        });
        self
    }

    /// The `status` subresource, answering with the kind itself.
    fn status(mut self) -> Self {
        self.0.subresources.push(Subresource {
            name: "status".to_string(),
            group: self.0.group.clone(),
            version: self.0.version.clone(),
            kind: self.0.kind.clone(),
            verbs: strings(GET_PATCH_UPDATE),
        });
        self
    }

    fn scale(self) -> Self {
        self.sub("scale", AUTOSCALING_V1, "Scale", GET_PATCH_UPDATE)
    }

    fn done(mut self) -> ResourceType {
        self.0.subresources.sort_by(|a, b| a.name.cmp(&b.name));
        self.0
    }
}

/// Every built-in resource type, in discovery order.
pub fn resource_types() -> Vec<ResourceType> {
    [core_v1(), apis_first(), apis_rest()]
        .into_iter()
        .flatten()
        .map(Def::done)
        .collect()
}

fn core_v1() -> Vec<Def> {
    vec![
        // Binding a pod to a node writes the pod; there is nothing of its own to store.
        res::<core::Binding>(CORE, "Binding", "bindings", Namespaced)
            .verbs(CREATE)
            .unstored(),
        res::<core::ComponentStatus>(CORE, "ComponentStatus", "componentstatuses", Cluster)
            .short(&["cs"])
            .verbs(GET_LIST)
            .unstored(),
        res::<core::ConfigMap>(CORE, "ConfigMap", "configmaps", Namespaced).short(&["cm"]),
        res::<core::Endpoints>(CORE, "Endpoints", "endpoints", Namespaced)
            .short(&["ep"])
            .at("/registry/services/endpoints"),
        res::<core::Event>(CORE, "Event", "events", Namespaced).short(&["ev"]),
        res::<core::LimitRange>(CORE, "LimitRange", "limitranges", Namespaced).short(&["limits"]),
        res::<core::Namespace>(CORE, "Namespace", "namespaces", Cluster)
            .short(&["ns"])
            .verbs(NO_DELETECOLLECTION)
            .status()
            .sub("finalize", CORE, "Namespace", &["update"]),
        res::<core::Node>(CORE, "Node", "nodes", Cluster)
            .short(&["no"])
            .at("/registry/minions")
            .status()
            .sub("proxy", CORE, "NodeProxyOptions", PROXY),
        res::<core::PersistentVolumeClaim>(
            CORE,
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            Namespaced,
        )
        .short(&["pvc"])
        .status(),
        res::<core::PersistentVolume>(CORE, "PersistentVolume", "persistentvolumes", Cluster)
            .short(&["pv"])
            .status(),
        res::<core::Pod>(CORE, "Pod", "pods", Namespaced)
            .short(&["po"])
            .all()
            .status()
            .sub("attach", CORE, "PodAttachOptions", CREATE_GET)
            .sub("binding", CORE, "Binding", CREATE)
            .sub("ephemeralcontainers", CORE, "Pod", GET_PATCH_UPDATE)
            .sub("eviction", POLICY, "Eviction", CREATE)
            .sub("exec", CORE, "PodExecOptions", CREATE_GET)
            .sub("log", CORE, "Pod", &["get"])
            .sub("portforward", CORE, "PodPortForwardOptions", CREATE_GET)
            .sub("proxy", CORE, "PodProxyOptions", PROXY)
            .sub("resize", CORE, "Pod", GET_PATCH_UPDATE),
        res::<core::PodTemplate>(CORE, "PodTemplate", "podtemplates", Namespaced),
        res::<core::ReplicationController>(
            CORE,
            "ReplicationController",
            "replicationcontrollers",
            Namespaced,
        )
        .short(&["rc"])
        .all()
        .at("/registry/controllers")
        .scale()
        .status(),
        res::<core::ResourceQuota>(CORE, "ResourceQuota", "resourcequotas", Namespaced)
            .short(&["quota"])
            .status(),
        res::<core::Secret>(CORE, "Secret", "secrets", Namespaced),
        res::<core::ServiceAccount>(CORE, "ServiceAccount", "serviceaccounts", Namespaced)
            .short(&["sa"])
            .sub("token", AUTHN, "TokenRequest", CREATE),
        res::<core::Service>(CORE, "Service", "services", Namespaced)
            .short(&["svc"])
            .all()
            .verbs(NO_DELETECOLLECTION)
            .at("/registry/services/specs")
            .status()
            .sub("proxy", CORE, "ServiceProxyOptions", PROXY),
    ]
}

/// apiregistration through rbac, in upstream's group priority.
fn apis_first() -> Vec<Def> {
    vec![
        res::<apireg::APIService>(APIREG, "APIService", "apiservices", Cluster)
            .api_extension()
            .at("/registry/apiregistration.k8s.io/apiservices")
            .status(),
        res::<apps::ControllerRevision>(
            APPS,
            "ControllerRevision",
            "controllerrevisions",
            Namespaced,
        ),
        res::<apps::DaemonSet>(APPS, "DaemonSet", "daemonsets", Namespaced)
            .short(&["ds"])
            .all()
            .status(),
        res::<apps::Deployment>(APPS, "Deployment", "deployments", Namespaced)
            .short(&["deploy"])
            .all()
            .scale()
            .status(),
        res::<apps::ReplicaSet>(APPS, "ReplicaSet", "replicasets", Namespaced)
            .short(&["rs"])
            .all()
            .scale()
            .status(),
        res::<apps::StatefulSet>(APPS, "StatefulSet", "statefulsets", Namespaced)
            .short(&["sts"])
            .all()
            .scale()
            .status(),
        // Shares storage with core/v1 events: one object, two served forms.
        res::<events::Event>(EVENTS, "Event", "events", Namespaced).short(&["ev"]),
        res::<authn::SelfSubjectReview>(AUTHN, "SelfSubjectReview", "selfsubjectreviews", Cluster)
            .verbs(CREATE)
            .unstored(),
        res::<authn::TokenReview>(AUTHN, "TokenReview", "tokenreviews", Cluster)
            .verbs(CREATE)
            .unstored(),
        res::<authz::LocalSubjectAccessReview>(
            AUTHZ,
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            Namespaced,
        )
        .verbs(CREATE)
        .unstored(),
        res::<authz::SelfSubjectAccessReview>(
            AUTHZ,
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            Cluster,
        )
        .verbs(CREATE)
        .unstored(),
        res::<authz::SelfSubjectRulesReview>(
            AUTHZ,
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            Cluster,
        )
        .verbs(CREATE)
        .unstored(),
        res::<authz::SubjectAccessReview>(
            AUTHZ,
            "SubjectAccessReview",
            "subjectaccessreviews",
            Cluster,
        )
        .verbs(CREATE)
        .unstored(),
        res::<autoscaling::v2::HorizontalPodAutoscaler>(
            AUTOSCALING_V2,
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            Namespaced,
        )
        .short(&["hpa"])
        .all()
        .status(),
        res::<autoscaling::v1::HorizontalPodAutoscaler>(
            AUTOSCALING_V1,
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            Namespaced,
        )
        .short(&["hpa"])
        .all()
        .status(),
        res::<batch::CronJob>(BATCH, "CronJob", "cronjobs", Namespaced)
            .short(&["cj"])
            .all()
            .status(),
        res::<batch::Job>(BATCH, "Job", "jobs", Namespaced)
            .all()
            .status(),
        res::<certs::CertificateSigningRequest>(
            CERTS,
            "CertificateSigningRequest",
            "certificatesigningrequests",
            Cluster,
        )
        .short(&["csr"])
        .sub(
            "approval",
            CERTS,
            "CertificateSigningRequest",
            GET_PATCH_UPDATE,
        )
        .status(),
        res::<networking::IngressClass>(NETWORKING, "IngressClass", "ingressclasses", Cluster),
        res::<networking::Ingress>(NETWORKING, "Ingress", "ingresses", Namespaced)
            .short(&["ing"])
            .at("/registry/ingress")
            .status(),
        res::<networking::IPAddress>(NETWORKING, "IPAddress", "ipaddresses", Cluster)
            .short(&["ip"]),
        res::<networking::NetworkPolicy>(
            NETWORKING,
            "NetworkPolicy",
            "networkpolicies",
            Namespaced,
        )
        .short(&["netpol"]),
        res::<networking::ServiceCIDR>(NETWORKING, "ServiceCIDR", "servicecidrs", Cluster).status(),
        res::<policy::PodDisruptionBudget>(
            POLICY,
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            Namespaced,
        )
        .short(&["pdb"])
        .status(),
        res::<rbac::ClusterRoleBinding>(RBAC, "ClusterRoleBinding", "clusterrolebindings", Cluster),
        res::<rbac::ClusterRole>(RBAC, "ClusterRole", "clusterroles", Cluster),
        res::<rbac::RoleBinding>(RBAC, "RoleBinding", "rolebindings", Namespaced),
        res::<rbac::Role>(RBAC, "Role", "roles", Namespaced),
    ]
}

/// storage through flowcontrol, in upstream's group priority.
fn apis_rest() -> Vec<Def> {
    vec![
        res::<storage::CSIDriver>(STORAGE, "CSIDriver", "csidrivers", Cluster),
        res::<storage::CSINode>(STORAGE, "CSINode", "csinodes", Cluster),
        res::<storage::CSIStorageCapacity>(
            STORAGE,
            "CSIStorageCapacity",
            "csistoragecapacities",
            Namespaced,
        ),
        res::<storage::StorageClass>(STORAGE, "StorageClass", "storageclasses", Cluster)
            .short(&["sc"]),
        res::<storage::VolumeAttachment>(STORAGE, "VolumeAttachment", "volumeattachments", Cluster)
            .status(),
        res::<admission::MutatingWebhookConfiguration>(
            ADMISSION,
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            Cluster,
        )
        .api_extension(),
        res::<admission::ValidatingAdmissionPolicy>(
            ADMISSION,
            "ValidatingAdmissionPolicy",
            "validatingadmissionpolicies",
            Cluster,
        )
        .api_extension()
        .status(),
        res::<admission::ValidatingAdmissionPolicyBinding>(
            ADMISSION,
            "ValidatingAdmissionPolicyBinding",
            "validatingadmissionpolicybindings",
            Cluster,
        )
        .api_extension(),
        res::<admission::ValidatingWebhookConfiguration>(
            ADMISSION,
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            Cluster,
        )
        .api_extension(),
        res::<apiext::CustomResourceDefinition>(
            APIEXT,
            "CustomResourceDefinition",
            "customresourcedefinitions",
            Cluster,
        )
        .short(&["crd", "crds"])
        .api_extension()
        .at("/registry/apiextensions.k8s.io/customresourcedefinitions")
        .status(),
        res::<scheduling::PriorityClass>(SCHEDULING, "PriorityClass", "priorityclasses", Cluster)
            .short(&["pc"]),
        res::<coordination::Lease>(COORDINATION, "Lease", "leases", Namespaced),
        res::<node::RuntimeClass>(NODE, "RuntimeClass", "runtimeclasses", Cluster),
        res::<discovery::EndpointSlice>(DISCOVERY, "EndpointSlice", "endpointslices", Namespaced),
        res::<flowcontrol::FlowSchema>(FLOWCONTROL, "FlowSchema", "flowschemas", Cluster).status(),
        res::<flowcontrol::PriorityLevelConfiguration>(
            FLOWCONTROL,
            "PriorityLevelConfiguration",
            "prioritylevelconfigurations",
            Cluster,
        )
        .status(),
    ]
}

#[cfg(test)]
mod tests {
    use std::any::TypeId;
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::json;

    use super::*;
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
            "po", "svc", "deploy", "cm", "ns", "no", "pvc", "pv", "sa", "ds", "rs", "sts", "ep",
            "ev", "hpa", "cj", "ing", "netpol", "pdb", "pc", "sc", "crd", "crds", "csr", "limits",
            "quota", "rc", "cs",
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
}
