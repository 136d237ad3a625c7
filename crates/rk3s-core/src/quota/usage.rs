//! How much of each quota resource one object uses ([`usage_of`]) and what a namespace uses in
//! total ([`Usage`]), including which quota scopes each object falls under.

use std::collections::BTreeSet;

use serde_json::Value;

use super::amount::{self, Amount, Resources};
use super::pod::{self, Side};
use crate::quantity::Quantity;

/// Upstream's per-resource quota evaluators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Evaluator {
    Pods,
    Services,
    Claims,
    /// Any other resource: counted as `count/<resource>.<group>`, plus a legacy bare name for a
    /// few core resources (`configmaps`, `secrets`, ...).
    Count {
        counted_as: String,
        alias: Option<&'static str>,
    },
}

impl Evaluator {
    pub(crate) fn for_resource(group: &str, plural: &str) -> Evaluator {
        match (group, plural) {
            ("", "pods") => Evaluator::Pods,
            ("", "services") => Evaluator::Services,
            ("", "persistentvolumeclaims") => Evaluator::Claims,
            _ => {
                let alias = match (group, plural) {
                    ("", "configmaps") => Some("configmaps"),
                    ("", "secrets") => Some("secrets"),
                    ("", "replicationcontrollers") => Some("replicationcontrollers"),
                    ("", "resourcequotas") => Some("resourcequotas"),
                    _ => None,
                };
                Evaluator::Count {
                    counted_as: format!("count/{}", group_resource(group, plural)),
                    alias,
                }
            }
        }
    }

    /// Whether an update can change usage; plain object counts only change on create.
    pub(crate) fn handles_update(&self) -> bool {
        !matches!(self, Evaluator::Count { .. })
    }

    /// The quota resources, out of `names`, this evaluator measures.
    pub(crate) fn matching_resources(&self, names: &BTreeSet<String>) -> BTreeSet<String> {
        let keep = |fixed: &[&str], extra: &dyn Fn(&str) -> bool| -> BTreeSet<String> {
            names
                .iter()
                .filter(|n| fixed.contains(&n.as_str()) || extra(n))
                .cloned()
                .collect()
        };
        match self {
            Evaluator::Pods => pod::matching_resources(names),
            Evaluator::Services => keep(
                &[
                    "count/services",
                    "services",
                    "services.nodeports",
                    "services.loadbalancers",
                ],
                &|_| false,
            ),
            Evaluator::Claims => keep(
                &[
                    "count/persistentvolumeclaims",
                    "persistentvolumeclaims",
                    "requests.storage",
                ],
                &|n| {
                    n.split_once(STORAGE_CLASS_SUFFIX).is_some_and(|(_, r)| {
                        r == "requests.storage" || r == "persistentvolumeclaims"
                    })
                },
            ),
            Evaluator::Count { counted_as, alias } => keep(
                &[counted_as.as_str(), alias.unwrap_or(counted_as.as_str())],
                &|_| false,
            ),
        }
    }

    pub(crate) fn usage(&self, obj: &Value) -> Resources {
        let mut out = Resources::new();
        let one = Amount::units(1);
        match self {
            Evaluator::Pods => {
                // count/pods covers every stored pod; the compute resources (and `pods`) only
                // those still running or about to.
                out.insert("count/pods".into(), one);
                if !pod::is_terminal(obj) {
                    let requests = pod::aggregate(obj, Side::Requests, true);
                    let limits = pod::aggregate(obj, Side::Limits, true);
                    amount::add_into(&mut out, &pod::compute_usage(&requests, &limits));
                }
            }
            Evaluator::Services => service_usage(obj, &mut out),
            Evaluator::Claims => claim_usage(obj, &mut out),
            Evaluator::Count { counted_as, alias } => {
                out.insert(counted_as.clone(), one);
                if let Some(a) = alias {
                    out.insert((*a).to_string(), one);
                }
            }
        }
        out
    }
}

/// `deployments.apps`, or just `pods` for the core group.
fn group_resource(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

fn service_usage(svc: &Value, out: &mut Resources) {
    let one = Amount::units(1);
    out.insert("count/services".into(), one);
    out.insert("services".into(), one);
    let ports: Vec<&Value> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let all_ports = Amount::units(ports.len() as i128);
    let (node_ports, load_balancers) = match svc.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => (all_ports, Amount::zero()),
        Some("LoadBalancer") => {
            let allocates = svc
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            // Without allocation only ports that name a node port explicitly take one.
            let node_ports = if allocates {
                all_ports
            } else {
                let explicit = ports
                    .iter()
                    .filter(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0)
                    .count();
                Amount::units(explicit as i128)
            };
            (node_ports, one)
        }
        _ => (Amount::zero(), Amount::zero()),
    };
    out.insert("services.nodeports".into(), node_ports);
    out.insert("services.loadbalancers".into(), load_balancers);
}

fn claim_usage(pvc: &Value, out: &mut Resources) {
    let one = Amount::units(1);
    out.insert("persistentvolumeclaims".into(), one);
    out.insert("count/persistentvolumeclaims".into(), one);
    let class = pvc
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            pvc.pointer("/spec/storageClassName")
                .and_then(Value::as_str)
        })
        .filter(|s| !s.is_empty());
    if let Some(class) = class {
        out.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            one,
        );
    }
    let requested = pvc
        .pointer("/spec/resources/requests/storage")
        .and_then(Amount::from_json);
    let Some(mut storage) = requested.map(|a| a.round_up_to_units()) else {
        return;
    };
    // A claim whose expansion already allocated more is charged for the allocation.
    if let Some(allocated) = pvc
        .pointer("/status/allocatedResources/storage")
        .and_then(Amount::from_json)
        && allocated.nanos() > storage.nanos()
    {
        storage = allocated.round_up_to_units();
    }
    out.insert("requests.storage".into(), storage);
    if let Some(class) = class {
        out.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"),
            storage,
        );
    }
}

/// What an object is, as far as quota scopes care.
#[derive(Debug, Clone)]
pub(crate) enum Facts {
    Pod {
        terminating: bool,
        best_effort: bool,
        priority_class: Option<String>,
        cross_namespace_affinity: bool,
    },
    Claim {
        volume_attributes_classes: Vec<String>,
    },
    /// Objects no scope applies to: a scoped quota never counts them.
    Unscoped,
}

impl Facts {
    pub(crate) fn of(evaluator: &Evaluator, obj: &Value) -> Facts {
        match evaluator {
            Evaluator::Pods => Facts::Pod {
                terminating: pod::is_terminating(obj),
                best_effort: pod::is_best_effort(obj),
                priority_class: pod::priority_class(obj),
                cross_namespace_affinity: pod::uses_cross_namespace_affinity(obj),
            },
            Evaluator::Claims => {
                let mut names = Vec::new();
                for ptr in [
                    "/spec/volumeAttributesClassName",
                    "/status/currentVolumeAttributesClassName",
                    "/status/modifyVolumeStatus/targetVolumeAttributesClassName",
                ] {
                    if let Some(n) = obj.pointer(ptr).and_then(Value::as_str)
                        && !n.is_empty()
                        && !names.iter().any(|x| x == n)
                    {
                        names.push(n.to_string());
                    }
                }
                Facts::Claim {
                    volume_attributes_classes: names,
                }
            }
            _ => Facts::Unscoped,
        }
    }

    /// Whether the object falls under one scope requirement of a quota.
    pub(crate) fn matches(&self, scope: &ScopeRequirement) -> bool {
        match (self, scope.scope.as_str()) {
            (Facts::Pod { terminating, .. }, "Terminating") => *terminating,
            (Facts::Pod { terminating, .. }, "NotTerminating") => !*terminating,
            (Facts::Pod { best_effort, .. }, "BestEffort") => *best_effort,
            (Facts::Pod { best_effort, .. }, "NotBestEffort") => !*best_effort,
            (
                Facts::Pod {
                    cross_namespace_affinity,
                    ..
                },
                "CrossNamespacePodAffinity",
            ) => *cross_namespace_affinity,
            (Facts::Pod { priority_class, .. }, "PriorityClass") => {
                scope.matches_value(priority_class.as_deref())
            }
            (
                Facts::Claim {
                    volume_attributes_classes,
                },
                "VolumeAttributesClass",
            ) => {
                if volume_attributes_classes.is_empty() {
                    scope.matches_value(None)
                } else {
                    volume_attributes_classes
                        .iter()
                        .any(|n| scope.matches_value(Some(n)))
                }
            }
            _ => false,
        }
    }
}

/// One entry of `spec.scopes` (operator `Exists`) or `spec.scopeSelector.matchExpressions`.
#[derive(Debug, Clone)]
pub(crate) struct ScopeRequirement {
    pub(crate) scope: String,
    pub(crate) operator: String,
    pub(crate) values: Vec<String>,
}

impl ScopeRequirement {
    /// A selector over the one-label set `{scope: value}` (empty when there is no value).
    fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator.as_str() {
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            "In" => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            "NotIn" => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            _ => false,
        }
    }
}

/// The quota resources `obj` of resource `plural` in `group` uses, in canonical quantities.
pub fn usage_of(group: &str, plural: &str, obj: &Value) -> Vec<(String, Quantity)> {
    Evaluator::for_resource(group, plural)
        .usage(obj)
        .into_iter()
        .filter_map(|(name, a)| Some((name, a.to_quantity()?)))
        .collect()
}

#[derive(Debug, Clone)]
struct Entry {
    facts: Facts,
    usage: Resources,
}

/// What a namespace uses now, kept per object so each quota can count only the objects its
/// scopes select.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    entries: Vec<Entry>,
}

impl Usage {
    /// `objects_by_resource` pairs a resource (`pods`, `deployments.apps`) with the namespace's
    /// stored objects of it.
    pub fn from_objects(objects_by_resource: &[(&str, &[Value])]) -> Usage {
        let mut usage = Usage::default();
        for (resource, objects) in objects_by_resource {
            let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
            for obj in objects.iter() {
                usage.add_object(group, plural, obj);
            }
        }
        usage
    }

    pub fn add_object(&mut self, group: &str, plural: &str, obj: &Value) {
        let evaluator = Evaluator::for_resource(group, plural);
        self.entries.push(Entry {
            facts: Facts::of(&evaluator, obj),
            usage: evaluator.usage(obj),
        });
    }

    /// What the objects selected by `scopes` use of each resource in `hard` (zero when none).
    pub(crate) fn used(&self, hard: &Resources, scopes: &[ScopeRequirement]) -> Resources {
        let mut used: Resources = hard.keys().map(|k| (k.clone(), Amount::zero())).collect();
        for e in &self.entries {
            if !scopes.iter().all(|s| e.facts.matches(s)) {
                continue;
            }
            amount::add_into(&mut used, &amount::mask(&e.usage, hard.keys()));
        }
        used
    }
}
