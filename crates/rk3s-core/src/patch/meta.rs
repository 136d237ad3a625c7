//! Strategic-merge and list metadata of built-in types: the `patchStrategy`/`patchMergeKey`
//! struct tags and `listType`/`listMapKeys` markers of the upstream Go types, as a table keyed
//! by schema name and JSON field. Entry points: [`patch_meta`], [`patch_meta_table`].

/// How one field of a built-in type is patched and how its list is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchMeta {
    /// `merge`, `retainKeys`, `merge,retainKeys` or `replace`; `None` for the default
    /// (maps merge, lists are replaced).
    pub strategy: Option<&'static str>,
    /// The field identifying list items when the list merges.
    pub merge_key: Option<&'static str>,
    /// `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// For `list_type == Some("map")`: the fields that together identify an item.
    pub list_map_keys: &'static [&'static str],
}

impl PatchMeta {
    /// Whether the list merges (strategy `merge` or `merge,retainKeys`).
    pub fn merges_list(&self) -> bool {
        self.strategy
            .is_some_and(|s| s.split(',').any(|part| part == "merge"))
    }

    /// Whether the field is replaced wholesale (strategy `replace`).
    pub fn replaces(&self) -> bool {
        self.strategy == Some("replace")
    }
}

/// A list merged on `key`, which alone identifies items (`listType=map`, `listMapKey=key`).
const fn merge_on(key: &'static str, map_keys: &'static [&'static str]) -> PatchMeta {
    PatchMeta {
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some("map"),
        list_map_keys: map_keys,
    }
}

/// Like [`merge_on`] for lists whose items also carry `$retainKeys` (one-of unions like
/// volume sources).
const fn merge_retain_on(key: &'static str, map_keys: &'static [&'static str]) -> PatchMeta {
    PatchMeta {
        strategy: Some("merge,retainKeys"),
        merge_key: Some(key),
        list_type: Some("map"),
        list_map_keys: map_keys,
    }
}

/// A list replaced as a whole (`listType=atomic`).
const ATOMIC: PatchMeta = PatchMeta {
    strategy: None,
    merge_key: None,
    list_type: Some("atomic"),
    list_map_keys: &[],
};

/// A primitive list merged as a set (`patchStrategy=merge`, `listType=set`).
const MERGE_SET: PatchMeta = PatchMeta {
    strategy: Some("merge"),
    merge_key: None,
    list_type: Some("set"),
    list_map_keys: &[],
};

/// A set without a patch strategy: replaced by strategic merge patch.
const SET: PatchMeta = PatchMeta {
    strategy: None,
    merge_key: None,
    list_type: Some("set"),
    list_map_keys: &[],
};

/// A keyed list without a patch strategy: replaced by strategic merge patch.
const fn map_list(map_keys: &'static [&'static str]) -> PatchMeta {
    PatchMeta {
        strategy: None,
        merge_key: None,
        list_type: Some("map"),
        list_map_keys: map_keys,
    }
}

/// A conditions list merged on `type` (the common status shape).
const CONDITIONS: PatchMeta = merge_on("type", &["type"]);

/// A struct field whose stale union members are dropped (`patchStrategy=retainKeys`).
const RETAIN_KEYS: PatchMeta = PatchMeta {
    strategy: Some("retainKeys"),
    merge_key: None,
    list_type: None,
    list_map_keys: &[],
};

macro_rules! core {
    ($t:literal) => {
        concat!("io.k8s.api.core.v1.", $t)
    };
}
macro_rules! meta {
    ($t:literal) => {
        concat!("io.k8s.apimachinery.pkg.apis.meta.v1.", $t)
    };
}
macro_rules! api {
    ($group:literal, $t:literal) => {
        concat!("io.k8s.api.", $group, ".", $t)
    };
}

type Entry = (&'static str, &'static str, PatchMeta);

static TABLE: &[Entry] = &[
    // meta/v1
    (meta!("ObjectMeta"), "finalizers", MERGE_SET),
    (
        meta!("ObjectMeta"),
        "ownerReferences",
        merge_on("uid", &["uid"]),
    ),
    (meta!("ObjectMeta"), "managedFields", ATOMIC),
    (meta!("LabelSelector"), "matchExpressions", ATOMIC),
    (meta!("LabelSelectorRequirement"), "values", ATOMIC),
    // core/v1 PodSpec and containers
    (
        core!("PodSpec"),
        "volumes",
        merge_retain_on("name", &["name"]),
    ),
    (
        core!("PodSpec"),
        "initContainers",
        merge_on("name", &["name"]),
    ),
    (core!("PodSpec"), "containers", merge_on("name", &["name"])),
    (
        core!("PodSpec"),
        "ephemeralContainers",
        merge_on("name", &["name"]),
    ),
    (
        core!("PodSpec"),
        "imagePullSecrets",
        merge_on("name", &["name"]),
    ),
    (core!("PodSpec"), "hostAliases", merge_on("ip", &["ip"])),
    (core!("PodSpec"), "tolerations", ATOMIC),
    (core!("PodSpec"), "readinessGates", ATOMIC),
    (
        core!("PodSpec"),
        "topologySpreadConstraints",
        merge_on("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    (
        core!("PodSpec"),
        "resourceClaims",
        merge_retain_on("name", &["name"]),
    ),
    (
        core!("PodSpec"),
        "schedulingGates",
        merge_on("name", &["name"]),
    ),
    (core!("Container"), "command", ATOMIC),
    (core!("Container"), "args", ATOMIC),
    (
        core!("Container"),
        "ports",
        merge_on("containerPort", &["containerPort", "protocol"]),
    ),
    (core!("Container"), "envFrom", ATOMIC),
    (core!("Container"), "env", merge_on("name", &["name"])),
    (core!("Container"), "resizePolicy", ATOMIC),
    (
        core!("Container"),
        "volumeMounts",
        merge_on("mountPath", &["mountPath"]),
    ),
    (
        core!("Container"),
        "volumeDevices",
        merge_on("devicePath", &["devicePath"]),
    ),
    (core!("EphemeralContainer"), "command", ATOMIC),
    (core!("EphemeralContainer"), "args", ATOMIC),
    (
        core!("EphemeralContainer"),
        "ports",
        merge_on("containerPort", &["containerPort", "protocol"]),
    ),
    (core!("EphemeralContainer"), "envFrom", ATOMIC),
    (
        core!("EphemeralContainer"),
        "env",
        merge_on("name", &["name"]),
    ),
    (core!("EphemeralContainer"), "resizePolicy", ATOMIC),
    (
        core!("EphemeralContainer"),
        "volumeMounts",
        merge_on("mountPath", &["mountPath"]),
    ),
    (
        core!("EphemeralContainer"),
        "volumeDevices",
        merge_on("devicePath", &["devicePath"]),
    ),
    (core!("ResourceRequirements"), "claims", map_list(&["name"])),
    (core!("PodSecurityContext"), "supplementalGroups", ATOMIC),
    (core!("PodSecurityContext"), "sysctls", ATOMIC),
    (core!("Capabilities"), "add", ATOMIC),
    (core!("Capabilities"), "drop", ATOMIC),
    (core!("PodDNSConfig"), "nameservers", ATOMIC),
    (core!("PodDNSConfig"), "searches", ATOMIC),
    (core!("PodDNSConfig"), "options", ATOMIC),
    (core!("HostAlias"), "hostnames", ATOMIC),
    (core!("ExecAction"), "command", ATOMIC),
    (core!("HTTPGetAction"), "httpHeaders", ATOMIC),
    (core!("TopologySpreadConstraint"), "matchLabelKeys", ATOMIC),
    // core/v1 affinity
    (core!("NodeSelector"), "nodeSelectorTerms", ATOMIC),
    (core!("NodeSelectorTerm"), "matchExpressions", ATOMIC),
    (core!("NodeSelectorTerm"), "matchFields", ATOMIC),
    (core!("NodeSelectorRequirement"), "values", ATOMIC),
    (
        core!("NodeAffinity"),
        "preferredDuringSchedulingIgnoredDuringExecution",
        ATOMIC,
    ),
    (
        core!("PodAffinity"),
        "requiredDuringSchedulingIgnoredDuringExecution",
        ATOMIC,
    ),
    (
        core!("PodAffinity"),
        "preferredDuringSchedulingIgnoredDuringExecution",
        ATOMIC,
    ),
    (
        core!("PodAntiAffinity"),
        "requiredDuringSchedulingIgnoredDuringExecution",
        ATOMIC,
    ),
    (
        core!("PodAntiAffinity"),
        "preferredDuringSchedulingIgnoredDuringExecution",
        ATOMIC,
    ),
    (core!("PodAffinityTerm"), "namespaces", ATOMIC),
    (core!("PodAffinityTerm"), "matchLabelKeys", ATOMIC),
    (core!("PodAffinityTerm"), "mismatchLabelKeys", ATOMIC),
    (
        core!("TopologySelectorTerm"),
        "matchLabelExpressions",
        ATOMIC,
    ),
    (core!("TopologySelectorLabelRequirement"), "values", ATOMIC),
    // core/v1 volume sources
    (core!("ConfigMapVolumeSource"), "items", ATOMIC),
    (core!("SecretVolumeSource"), "items", ATOMIC),
    (core!("DownwardAPIVolumeSource"), "items", ATOMIC),
    (core!("ProjectedVolumeSource"), "sources", ATOMIC),
    (core!("ConfigMapProjection"), "items", ATOMIC),
    (core!("SecretProjection"), "items", ATOMIC),
    (core!("DownwardAPIProjection"), "items", ATOMIC),
    (core!("CephFSVolumeSource"), "monitors", ATOMIC),
    (core!("RBDVolumeSource"), "monitors", ATOMIC),
    (core!("ISCSIVolumeSource"), "portals", ATOMIC),
    (core!("FCVolumeSource"), "targetWWNs", ATOMIC),
    (core!("FCVolumeSource"), "wwids", ATOMIC),
    // core/v1 PodStatus
    (core!("PodStatus"), "conditions", CONDITIONS),
    (core!("PodStatus"), "podIPs", merge_on("ip", &["ip"])),
    (core!("PodStatus"), "hostIPs", merge_on("ip", &["ip"])),
    (core!("PodStatus"), "initContainerStatuses", ATOMIC),
    (core!("PodStatus"), "containerStatuses", ATOMIC),
    (core!("PodStatus"), "ephemeralContainerStatuses", ATOMIC),
    (
        core!("PodStatus"),
        "resourceClaimStatuses",
        merge_retain_on("name", &["name"]),
    ),
    (
        core!("ContainerStatus"),
        "volumeMounts",
        merge_on("mountPath", &["mountPath"]),
    ),
    (
        core!("ContainerStatus"),
        "allocatedResourcesStatus",
        merge_on("name", &["name"]),
    ),
    (
        core!("ResourceStatus"),
        "resources",
        map_list(&["resourceID"]),
    ),
    // core/v1 Node
    (core!("NodeSpec"), "podCIDRs", MERGE_SET),
    (core!("NodeSpec"), "taints", ATOMIC),
    (core!("NodeStatus"), "conditions", CONDITIONS),
    (
        core!("NodeStatus"),
        "addresses",
        merge_on("type", &["type"]),
    ),
    (core!("NodeStatus"), "images", ATOMIC),
    (core!("NodeStatus"), "volumesInUse", ATOMIC),
    (core!("NodeStatus"), "volumesAttached", ATOMIC),
    (core!("NodeStatus"), "runtimeHandlers", ATOMIC),
    (core!("ContainerImage"), "names", ATOMIC),
    // core/v1 Service, Endpoints
    (
        core!("ServiceSpec"),
        "ports",
        merge_on("port", &["port", "protocol"]),
    ),
    (core!("ServiceSpec"), "externalIPs", ATOMIC),
    (core!("ServiceSpec"), "loadBalancerSourceRanges", ATOMIC),
    (core!("ServiceSpec"), "clusterIPs", ATOMIC),
    (core!("ServiceSpec"), "ipFamilies", ATOMIC),
    (core!("ServiceStatus"), "conditions", CONDITIONS),
    (core!("LoadBalancerStatus"), "ingress", ATOMIC),
    (core!("LoadBalancerIngress"), "ports", ATOMIC),
    (core!("Endpoints"), "subsets", ATOMIC),
    (core!("EndpointSubset"), "addresses", ATOMIC),
    (core!("EndpointSubset"), "notReadyAddresses", ATOMIC),
    (core!("EndpointSubset"), "ports", ATOMIC),
    // core/v1 other kinds
    (core!("NamespaceSpec"), "finalizers", ATOMIC),
    (core!("NamespaceStatus"), "conditions", CONDITIONS),
    (core!("PersistentVolumeClaimSpec"), "accessModes", ATOMIC),
    (core!("PersistentVolumeClaimStatus"), "accessModes", ATOMIC),
    (
        core!("PersistentVolumeClaimStatus"),
        "conditions",
        CONDITIONS,
    ),
    (core!("PersistentVolumeSpec"), "accessModes", ATOMIC),
    (core!("PersistentVolumeSpec"), "mountOptions", ATOMIC),
    (
        core!("ServiceAccount"),
        "secrets",
        merge_on("name", &["name"]),
    ),
    (core!("ServiceAccount"), "imagePullSecrets", ATOMIC),
    (
        core!("ReplicationControllerStatus"),
        "conditions",
        CONDITIONS,
    ),
    (core!("LimitRangeSpec"), "limits", ATOMIC),
    (core!("ResourceQuotaSpec"), "scopes", ATOMIC),
    (core!("ScopeSelector"), "matchExpressions", ATOMIC),
    (core!("ScopedResourceSelectorRequirement"), "values", ATOMIC),
    (core!("ComponentStatus"), "conditions", CONDITIONS),
    // apps/v1
    (api!("apps.v1", "DeploymentSpec"), "strategy", RETAIN_KEYS),
    (
        api!("apps.v1", "DeploymentStatus"),
        "conditions",
        CONDITIONS,
    ),
    (api!("apps.v1", "DaemonSetStatus"), "conditions", CONDITIONS),
    (
        api!("apps.v1", "StatefulSetSpec"),
        "volumeClaimTemplates",
        ATOMIC,
    ),
    (
        api!("apps.v1", "StatefulSetStatus"),
        "conditions",
        CONDITIONS,
    ),
    (
        api!("apps.v1", "ReplicaSetStatus"),
        "conditions",
        CONDITIONS,
    ),
    // batch/v1
    (
        api!("batch.v1", "JobStatus"),
        "conditions",
        PatchMeta {
            strategy: Some("merge"),
            merge_key: Some("type"),
            list_type: Some("atomic"),
            list_map_keys: &[],
        },
    ),
    (api!("batch.v1", "PodFailurePolicy"), "rules", ATOMIC),
    (
        api!("batch.v1", "PodFailurePolicyRule"),
        "onPodConditions",
        ATOMIC,
    ),
    (
        api!("batch.v1", "PodFailurePolicyOnExitCodesRequirement"),
        "values",
        SET,
    ),
    (api!("batch.v1", "SuccessPolicy"), "rules", ATOMIC),
    (api!("batch.v1", "CronJobStatus"), "active", ATOMIC),
    // autoscaling/v2
    (
        api!("autoscaling.v2", "HorizontalPodAutoscalerSpec"),
        "metrics",
        ATOMIC,
    ),
    (
        api!("autoscaling.v2", "HorizontalPodAutoscalerStatus"),
        "currentMetrics",
        ATOMIC,
    ),
    (
        api!("autoscaling.v2", "HorizontalPodAutoscalerStatus"),
        "conditions",
        CONDITIONS,
    ),
    (
        api!("autoscaling.v2", "HPAScalingRules"),
        "policies",
        ATOMIC,
    ),
    // policy/v1
    (
        api!("policy.v1", "PodDisruptionBudgetStatus"),
        "conditions",
        CONDITIONS,
    ),
    // networking/v1
    (
        api!("networking.v1", "NetworkPolicySpec"),
        "ingress",
        ATOMIC,
    ),
    (api!("networking.v1", "NetworkPolicySpec"), "egress", ATOMIC),
    (
        api!("networking.v1", "NetworkPolicySpec"),
        "policyTypes",
        ATOMIC,
    ),
    (
        api!("networking.v1", "NetworkPolicyIngressRule"),
        "ports",
        ATOMIC,
    ),
    (
        api!("networking.v1", "NetworkPolicyIngressRule"),
        "from",
        ATOMIC,
    ),
    (
        api!("networking.v1", "NetworkPolicyEgressRule"),
        "ports",
        ATOMIC,
    ),
    (
        api!("networking.v1", "NetworkPolicyEgressRule"),
        "to",
        ATOMIC,
    ),
    (api!("networking.v1", "IngressSpec"), "tls", ATOMIC),
    (api!("networking.v1", "IngressSpec"), "rules", ATOMIC),
    (api!("networking.v1", "IngressTLS"), "hosts", ATOMIC),
    (
        api!("networking.v1", "HTTPIngressRuleValue"),
        "paths",
        ATOMIC,
    ),
    (
        api!("networking.v1", "IngressLoadBalancerStatus"),
        "ingress",
        ATOMIC,
    ),
    (
        api!("networking.v1", "IngressLoadBalancerIngress"),
        "ports",
        ATOMIC,
    ),
    // discovery/v1
    (api!("discovery.v1", "EndpointSlice"), "endpoints", ATOMIC),
    (api!("discovery.v1", "EndpointSlice"), "ports", ATOMIC),
    (api!("discovery.v1", "Endpoint"), "addresses", SET),
    (api!("discovery.v1", "EndpointHints"), "forZones", ATOMIC),
    // rbac/v1
    (api!("rbac.v1", "Role"), "rules", ATOMIC),
    (api!("rbac.v1", "ClusterRole"), "rules", ATOMIC),
    (api!("rbac.v1", "RoleBinding"), "subjects", ATOMIC),
    (api!("rbac.v1", "ClusterRoleBinding"), "subjects", ATOMIC),
    (api!("rbac.v1", "PolicyRule"), "verbs", ATOMIC),
    (api!("rbac.v1", "PolicyRule"), "apiGroups", ATOMIC),
    (api!("rbac.v1", "PolicyRule"), "resources", ATOMIC),
    (api!("rbac.v1", "PolicyRule"), "resourceNames", ATOMIC),
    (api!("rbac.v1", "PolicyRule"), "nonResourceURLs", ATOMIC),
    (
        api!("rbac.v1", "AggregationRule"),
        "clusterRoleSelectors",
        ATOMIC,
    ),
    // storage/v1
    (api!("storage.v1", "StorageClass"), "mountOptions", ATOMIC),
    (
        api!("storage.v1", "StorageClass"),
        "allowedTopologies",
        ATOMIC,
    ),
    (
        api!("storage.v1", "CSIDriverSpec"),
        "volumeLifecycleModes",
        SET,
    ),
    (api!("storage.v1", "CSIDriverSpec"), "tokenRequests", ATOMIC),
    (
        api!("storage.v1", "CSINodeSpec"),
        "drivers",
        merge_on("name", &["name"]),
    ),
    (api!("storage.v1", "CSINodeDriver"), "topologyKeys", ATOMIC),
    // admissionregistration/v1
    (
        api!("admissionregistration.v1", "ValidatingWebhookConfiguration"),
        "webhooks",
        merge_on("name", &["name"]),
    ),
    (
        api!("admissionregistration.v1", "MutatingWebhookConfiguration"),
        "webhooks",
        merge_on("name", &["name"]),
    ),
    (
        api!("admissionregistration.v1", "ValidatingWebhook"),
        "rules",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "ValidatingWebhook"),
        "admissionReviewVersions",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "ValidatingWebhook"),
        "matchConditions",
        merge_on("name", &["name"]),
    ),
    (
        api!("admissionregistration.v1", "MutatingWebhook"),
        "rules",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "MutatingWebhook"),
        "admissionReviewVersions",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "MutatingWebhook"),
        "matchConditions",
        merge_on("name", &["name"]),
    ),
    (
        api!("admissionregistration.v1", "RuleWithOperations"),
        "operations",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "RuleWithOperations"),
        "apiGroups",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "RuleWithOperations"),
        "apiVersions",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "RuleWithOperations"),
        "resources",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "ValidatingAdmissionPolicySpec"),
        "validations",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "ValidatingAdmissionPolicySpec"),
        "matchConditions",
        merge_on("name", &["name"]),
    ),
    (
        api!("admissionregistration.v1", "ValidatingAdmissionPolicySpec"),
        "auditAnnotations",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "ValidatingAdmissionPolicySpec"),
        "variables",
        ATOMIC,
    ),
    (
        api!(
            "admissionregistration.v1",
            "ValidatingAdmissionPolicyStatus"
        ),
        "conditions",
        map_list(&["type"]),
    ),
    (
        api!("admissionregistration.v1", "MatchResources"),
        "resourceRules",
        ATOMIC,
    ),
    (
        api!("admissionregistration.v1", "MatchResources"),
        "excludeResourceRules",
        ATOMIC,
    ),
    // certificates/v1
    (
        api!("certificates.v1", "CertificateSigningRequestSpec"),
        "usages",
        ATOMIC,
    ),
    (
        api!("certificates.v1", "CertificateSigningRequestStatus"),
        "conditions",
        map_list(&["type"]),
    ),
    // flowcontrol/v1
    (
        api!("flowcontrol.v1", "FlowSchemaStatus"),
        "conditions",
        CONDITIONS,
    ),
    (
        api!("flowcontrol.v1", "PriorityLevelConfigurationStatus"),
        "conditions",
        CONDITIONS,
    ),
    // node/v1
    (api!("node.v1", "Scheduling"), "tolerations", ATOMIC),
    // apiextensions/v1
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "versions",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "shortNames",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "categories",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        map_list(&["type"]),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "storedVersions",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "additionalPrinterColumns",
        ATOMIC,
    ),
    // apiregistration/v1
    (
        "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1.APIServiceStatus",
        "conditions",
        CONDITIONS,
    ),
];

/// The metadata of `field` of the type named `type_name` (a schema name such as
/// `io.k8s.api.core.v1.PodSpec`); `None` for fields with default behaviour.
pub fn patch_meta(type_name: &str, field: &str) -> Option<PatchMeta> {
    TABLE
        .iter()
        .find(|(t, f, _)| *t == type_name && *f == field)
        .map(|(_, _, m)| *m)
}

/// Every entry, for the OpenAPI generator's `x-kubernetes-patch-*` and `x-kubernetes-list-*`
/// extensions.
pub fn patch_meta_table() -> &'static [(&'static str, &'static str, PatchMeta)] {
    TABLE
}
