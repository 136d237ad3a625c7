//! ResourceQuota admission: whether creating or updating an object keeps every matching quota
//! within its hard limits ([`check_quota`]), and the quota statuses to persist when it does.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::amount::{self, Resources};
use super::pod;
use super::usage::{Evaluator, Facts, ScopeRequirement, Usage};

/// Upstream's messages word for word; the caller wraps them as `<kind> "<name>" is forbidden: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("failed quota: {quota}: must specify {missing}")]
    MissingRequirements { quota: String, missing: String },
    #[error("quota usage is negative for resource(s): {0}")]
    NegativeUsage(String),
    #[error("exceeded quota: {quota}, requested: {requested}, used: {used}, limited: {limited}")]
    Exceeded {
        quota: String,
        requested: String,
        used: String,
        limited: String,
    },
}

/// The quota statuses an admitted request changes: quota name and its new `status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuotaDecision {
    pub updates: Vec<(String, Value)>,
}

/// A ResourceQuota as far as admission reads it.
struct Quota {
    name: String,
    hard: Resources,
    scopes: Vec<ScopeRequirement>,
}

impl Quota {
    fn parse(v: &Value) -> Quota {
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Admission reads spec.hard: rk3s has no controller that copies it into status first.
        let hard = match v.pointer("/spec/hard") {
            Some(h @ Value::Object(_)) => amount::resources_from_json(Some(h)),
            _ => amount::resources_from_json(v.pointer("/status/hard")),
        };
        let mut scopes = Vec::new();
        for s in v
            .pointer("/spec/scopes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            scopes.push(ScopeRequirement {
                scope: s.to_string(),
                operator: "Exists".into(),
                values: Vec::new(),
            });
        }
        for e in v
            .pointer("/spec/scopeSelector/matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let text = |k: &str| {
                e.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            scopes.push(ScopeRequirement {
                scope: text("scopeName"),
                operator: text("operator"),
                values: e
                    .get("values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            });
        }
        Quota { name, hard, scopes }
    }

    fn hard_names(&self) -> BTreeSet<String> {
        self.hard.keys().cloned().collect()
    }

    fn status(&self, used: &Resources) -> Value {
        json!({
            "hard": amount::resources_to_json(&self.hard),
            "used": amount::resources_to_json(used),
        })
    }
}

/// Whether creating (`old` is `None`) or updating `obj` of resource `plural` in `group` keeps the
/// namespace within `quotas`, given what it uses now (`usage`, which for an update still holds
/// `old`). Allowed: the new status of each quota the object counts against. Refused: upstream's
/// message. Subresource requests and deletions do not come here.
pub fn check_quota(
    group: &str,
    plural: &str,
    old: Option<&Value>,
    obj: &Value,
    quotas: &[Value],
    usage: &Usage,
) -> Result<QuotaDecision, String> {
    check(group, plural, old, obj, quotas, usage).map_err(|e| e.to_string())
}

fn check(
    group: &str,
    plural: &str,
    old: Option<&Value>,
    obj: &Value,
    quotas: &[Value],
    usage: &Usage,
) -> Result<QuotaDecision, QuotaError> {
    let evaluator = Evaluator::for_resource(group, plural);
    if old.is_some() && !evaluator.handles_update() {
        return Ok(QuotaDecision::default());
    }
    let facts = Facts::of(&evaluator, obj);

    let mut pertinent = Vec::new();
    for q in quotas {
        let quota = Quota::parse(q);
        let restricted = evaluator.matching_resources(&quota.hard_names());
        if restricted.is_empty() || !quota.scopes.iter().all(|s| facts.matches(s)) {
            continue;
        }
        if evaluator == Evaluator::Pods {
            let missing = pod::missing_requirements(obj, &restricted);
            if !missing.is_empty() {
                let missing = missing
                    .iter()
                    .map(|(res, names)| {
                        let names: Vec<&str> = names.iter().map(String::as_str).collect();
                        format!("{res} for: {}", names.join(","))
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(QuotaError::MissingRequirements {
                    quota: quota.name,
                    missing,
                });
            }
        }
        pertinent.push(quota);
    }
    if pertinent.is_empty() {
        return Ok(QuotaDecision::default());
    }

    let mut delta = evaluator.usage(obj);
    let negative: Vec<&str> = delta
        .iter()
        .filter(|(_, a)| a.nanos() < 0)
        .map(|(k, _)| k.as_str())
        .collect();
    if !negative.is_empty() {
        return Err(QuotaError::NegativeUsage(negative.join(",")));
    }
    if let Some(old) = old {
        // An old object without a resourceVersion was never stored (create-on-update): charge
        // the whole object rather than a difference.
        let stored = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|rv| !rv.is_empty());
        if stored {
            delta = amount::subtract_non_negative(&delta, &evaluator.usage(old));
        }
    }
    if delta.values().all(|a| a.is_zero()) {
        return Ok(QuotaDecision::default());
    }

    let mut decision = QuotaDecision::default();
    for quota in pertinent {
        let used = usage.used(&quota.hard, &quota.scopes);
        let requested = amount::mask(&delta, quota.hard.keys());
        let new_used = amount::add(&used, &requested);
        let exceeded: Vec<String> = requested
            .keys()
            .filter(|k| match (new_used.get(*k), quota.hard.get(*k)) {
                (Some(n), Some(h)) => n.nanos() > h.nanos(),
                _ => false,
            })
            .cloned()
            .collect();
        if !exceeded.is_empty() {
            return Err(QuotaError::Exceeded {
                requested: amount::pretty(&amount::mask(&requested, &exceeded)),
                used: amount::pretty(&amount::mask(&used, &exceeded)),
                limited: amount::pretty(&amount::mask(&quota.hard, &exceeded)),
                quota: quota.name,
            });
        }
        decision
            .updates
            .push((quota.name.clone(), quota.status(&new_used)));
    }
    Ok(decision)
}

/// A quota's status recomputed from what the namespace uses, for when objects go away or a
/// quota is created or changed.
pub fn quota_status(quota: &Value, usage: &Usage) -> Value {
    let quota = Quota::parse(quota);
    quota.status(&usage.used(&quota.hard, &quota.scopes))
}
