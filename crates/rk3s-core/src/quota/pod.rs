//! What a pod asks for, as upstream aggregates it: containers summed, sidecars (init containers
//! with `restartPolicy: Always`) added, ordinary init containers taken as a maximum.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::amount::{self, Amount, Resources};

/// Which half of `resources` to aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Requests,
    Limits,
}

impl Side {
    fn key(self) -> &'static str {
        match self {
            Side::Requests => "requests",
            Side::Limits => "limits",
        }
    }
}

pub(crate) fn containers<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.is_object())
}

pub(crate) fn container_resources(container: &Value, side: Side) -> Resources {
    amount::resources_from_json(container.pointer(&format!("/resources/{}", side.key())))
}

fn is_sidecar(container: &Value) -> bool {
    container.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// The pod's effective requests or limits; `overhead` adds `spec.overhead` as quota does.
pub(crate) fn aggregate(pod: &Value, side: Side, overhead: bool) -> Resources {
    let mut total = Resources::new();
    for c in containers(pod, "containers") {
        amount::add_into(&mut total, &container_resources(c, side));
    }
    let mut sidecars = Resources::new();
    let mut init_peak = Resources::new();
    for c in containers(pod, "initContainers") {
        let own = container_resources(c, side);
        let in_use = if is_sidecar(c) {
            amount::add_into(&mut total, &own);
            amount::add_into(&mut sidecars, &own);
            sidecars.clone()
        } else {
            // While an ordinary init container runs, the sidecars started before it run too.
            amount::add(&own, &sidecars)
        };
        amount::max_into(&mut init_peak, &in_use);
    }
    amount::max_into(&mut total, &init_peak);
    if overhead {
        let overhead = amount::resources_from_json(pod.pointer("/spec/overhead"));
        match side {
            Side::Requests => amount::add_into(&mut total, &overhead),
            // Upstream charges overhead only on limits the pod actually sets.
            Side::Limits => {
                for (k, v) in overhead {
                    if let Some(cur) = total.get(&k) {
                        let sum = cur.add(&v);
                        total.insert(k, sum);
                    }
                }
            }
        }
    }
    total
}

/// Terminal pods (Succeeded, Failed) hold no compute resources, so quota ignores them.
pub(crate) fn is_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded") | Some("Failed")
    )
}

pub(crate) fn is_terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0)
}

/// BestEffort QoS: no container requests or limits any cpu or memory.
pub(crate) fn is_best_effort(pod: &Value) -> bool {
    if let Some(class) = pod.pointer("/status/qosClass").and_then(Value::as_str)
        && !class.is_empty()
    {
        return class == "BestEffort";
    }
    let positive = |r: &Resources| {
        ["cpu", "memory"]
            .iter()
            .any(|k| r.get(*k).is_some_and(|a| a.nanos() > 0))
    };
    !containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .any(|c| {
            positive(&container_resources(c, Side::Requests))
                || positive(&container_resources(c, Side::Limits))
        })
}

pub(crate) fn priority_class(pod: &Value) -> Option<String> {
    pod.pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Whether any pod (anti-)affinity term reaches into other namespaces.
pub(crate) fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let crosses = |term: &Value| {
        term.get("namespaces")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let Some(aff) = pod.pointer(&format!("/spec/affinity/{kind}")) else {
            return false;
        };
        let required = aff
            .get("requiredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(crosses);
        let preferred = aff
            .get("preferredDuringSchedulingIgnoredDuringExecution")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|w| w.get("podAffinityTerm"))
            .any(crosses);
        required || preferred
    })
}

const HUGEPAGES: &str = "hugepages-";
const REQUESTS: &str = "requests.";

/// A resource name outside the `kubernetes.io` namespace, such as `example.com/gpu`.
pub(crate) fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with(REQUESTS)
}

/// Upstream's `podComputeUsageHelper`: the quota resource names a set of requests and limits
/// produce.
pub(crate) fn compute_usage(requests: &Resources, limits: &Resources) -> Resources {
    let mut out = Resources::new();
    out.insert("pods".into(), Amount::units(1));
    for res in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(r) = requests.get(res) {
            out.insert(res.into(), *r);
            out.insert(format!("{REQUESTS}{res}"), *r);
        }
        if let Some(l) = limits.get(res) {
            out.insert(format!("limits.{res}"), *l);
        }
    }
    for (name, r) in requests {
        if name.starts_with(HUGEPAGES) {
            out.insert(name.clone(), *r);
            out.insert(format!("{REQUESTS}{name}"), *r);
        }
        if is_extended(name) {
            out.insert(format!("{REQUESTS}{name}"), *r);
        }
    }
    out
}

/// The quota resources pods are measured in, out of `names`.
pub(crate) fn matching_resources(names: &BTreeSet<String>) -> BTreeSet<String> {
    const FIXED: [&str; 11] = [
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
        "pods",
    ];
    names
        .iter()
        .filter(|n| {
            FIXED.contains(&n.as_str())
                || n.starts_with(HUGEPAGES)
                || n.starts_with("requests.hugepages-")
                || n.strip_prefix(REQUESTS).is_some_and(is_extended)
        })
        .cloned()
        .collect()
}

/// Upstream's backward-compatible rule: a quota on cpu or memory makes every container state
/// that resource. Returns, per missing resource, the containers that lack it.
pub(crate) fn missing_requirements(
    pod: &Value,
    restricted: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    const VALIDATED: [&str; 6] = [
        "cpu",
        "memory",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    ];
    let required: Vec<&String> = restricted
        .iter()
        .filter(|r| VALIDATED.contains(&r.as_str()))
        .collect();
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if required.is_empty() {
        return missing;
    }
    for c in containers(pod, "containers").chain(containers(pod, "initContainers")) {
        let has = compute_usage(
            &container_resources(c, Side::Requests),
            &container_resources(c, Side::Limits),
        );
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        for r in &required {
            if !has.contains_key(*r) {
                missing
                    .entry((*r).clone())
                    .or_default()
                    .insert(name.to_string());
            }
        }
    }
    missing
}
