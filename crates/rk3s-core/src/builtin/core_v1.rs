//! The core group (`/api/v1`) rows of the built-in table.

use k8s_openapi::api::core::v1 as core;

use super::*;

pub(super) fn core_v1() -> Vec<Def> {
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
