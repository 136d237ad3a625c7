//! The named-group (`/apis`) rows of the built-in table, in upstream's group priority.

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, authentication::v1 as authn,
    authorization::v1 as authz, autoscaling, batch::v1 as batch, certificates::v1 as certs,
    coordination::v1 as coordination, discovery::v1 as discovery, events::v1 as events,
    flowcontrol::v1 as flowcontrol, networking::v1 as networking, node::v1 as node,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1 as apireg;

use super::*;

/// apiregistration through rbac, in upstream's group priority.
pub(super) fn apis_first() -> Vec<Def> {
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
pub(super) fn apis_rest() -> Vec<Def> {
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
