//! Validation of the kinds that constrain workloads: HorizontalPodAutoscaler,
//! PodDisruptionBudget, PriorityClass, ResourceQuota and LimitRange.

use serde_json::Value;

use super::FieldError;
use super::fmt::{go_intstr, go_label_selector, go_quote};
use super::json::{get, i64_at, obj_at, str_at};
use super::pod::{NON_NEGATIVE_MSG, check_enum};
use crate::quantity::Quantity;
use crate::selectors::LabelSelector;

/// Upper bound of a user-defined priority; larger values are kept for system classes.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;
const SYSTEM_CLASSES: &[(&str, i64)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

pub(super) fn validate_hpa(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    for key in ["kind", "name"] {
        if str_at(spec, &["scaleTargetRef", key])
            .unwrap_or_default()
            .is_empty()
        {
            errs.push(FieldError::required(
                format!("spec.scaleTargetRef.{key}"),
                "",
            ));
        }
    }
    let min = i64_at(spec, &["minReplicas"]);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = i64_at(spec, &["maxReplicas"]).unwrap_or(0);
    if max < 1 {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| m > max) {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    if let Some(pct) = i64_at(spec, &["targetCPUUtilizationPercentage"]).filter(|p| *p < 1) {
        errs.push(FieldError::invalid(
            "spec.targetCPUUtilizationPercentage",
            pct,
            "must be greater than 0",
        ));
    }
    let metrics = get(spec, &["metrics"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, m) in metrics.iter().enumerate() {
        let ty = str_at(m, &["type"]).unwrap_or_default();
        check_enum(
            ty,
            &[
                "ContainerResource",
                "External",
                "Object",
                "Pods",
                "Resource",
            ],
            &format!("spec.metrics[{i}].type"),
            errs,
        );
    }
}

fn percent_or_int(v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match v {
        Value::String(s) => {
            let digits = s
                .strip_suffix('%')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            match digits {
                None => errs.push(FieldError::invalid(path, go_intstr(v), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")),
                Some(d) if d.parse::<u128>().map_or(true, |n| n > 100) => {
                    errs.push(FieldError::invalid(path, go_intstr(v), "must not be greater than 100%"))
                }
                Some(_) => {}
            }
        }
        other => {
            let n = other.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(path, n, NON_NEGATIVE_MSG));
            }
        }
    }
}

pub(super) fn validate_pdb(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    let min = get(spec, &["minAvailable"]);
    let max = get(spec, &["maxUnavailable"]);
    if min.is_some() && max.is_some() {
        errs.push(FieldError::invalid(
            "spec",
            format!(
                "policy.PodDisruptionBudgetSpec{{MinAvailable:{}, MaxUnavailable:{}}}",
                min.map(go_intstr).unwrap_or_default(),
                max.map(go_intstr).unwrap_or_default()
            ),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    if let Some(v) = min {
        percent_or_int(v, "spec.minAvailable", errs);
    }
    if let Some(v) = max {
        percent_or_int(v, "spec.maxUnavailable", errs);
    }
    if let Some(sel) = get(spec, &["selector"])
        && let Err(e) = LabelSelector::from_json(sel)
    {
        errs.push(FieldError::invalid(
            "spec.selector",
            go_label_selector(Some(sel)),
            &e.to_string(),
        ));
    }
    if let Some(p) = str_at(spec, &["unhealthyPodEvictionPolicy"]) {
        check_enum(
            p,
            &["AlwaysAllow", "IfHealthyBudget"],
            "spec.unhealthyPodEvictionPolicy",
            errs,
        );
    }
}

pub(super) fn validate_priority_class(
    old: Option<&Value>,
    new: &Value,
    errs: &mut Vec<FieldError>,
) {
    let name = str_at(new, &["metadata", "name"]).unwrap_or_default();
    let value = i64_at(new, &["value"]).unwrap_or(0);
    match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
        Some((_, want)) if value != *want => errs.push(FieldError::forbidden(
            "metadata.name",
            &format!("priority class {name} is reserved and must have value {want}"),
        )),
        Some(_) => {}
        None if name.starts_with("system-") => errs.push(FieldError::forbidden(
            "metadata.name",
            "priority class names with 'system-' prefix are reserved",
        )),
        None if value > HIGHEST_USER_PRIORITY => errs.push(FieldError::forbidden(
            "value",
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        )),
        None => {}
    }
    if let Some(p) = str_at(new, &["preemptionPolicy"]) {
        check_enum(
            p,
            &["Never", "PreemptLowerPriority"],
            "preemptionPolicy",
            errs,
        );
    }
    if let Some(old) = old {
        if get(old, &["value"]) != get(new, &["value"]) {
            errs.push(FieldError::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        let (o, n) = (
            str_at(old, &["preemptionPolicy"]),
            str_at(new, &["preemptionPolicy"]),
        );
        if o != n {
            errs.push(FieldError::invalid(
                "preemptionPolicy",
                go_quote(n.unwrap_or_default()),
                "field is immutable",
            ));
        }
    }
}

/// A map of resource quantities that must parse and not be negative.
fn quantity_map(
    obj: &Value,
    path: &[&str],
    field: &str,
    errs: &mut Vec<FieldError>,
) -> Vec<(String, Quantity)> {
    let mut out = Vec::new();
    let Some(map) = obj_at(obj, path) else {
        return out;
    };
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    for (name, v) in entries {
        let text = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        let fpath = format!("{field}[{name}]");
        match Quantity::parse(&text) {
            Err(e) => errs.push(FieldError::invalid_str(fpath, &text, &e.to_string())),
            Ok(q) if q.is_negative() => errs.push(FieldError::invalid_str(
                fpath,
                &q.to_string(),
                NON_NEGATIVE_MSG,
            )),
            Ok(q) => out.push((name.clone(), q)),
        }
    }
    out
}

pub(super) fn validate_resource_quota(new: &Value, errs: &mut Vec<FieldError>) {
    quantity_map(new, &["spec", "hard"], "spec.hard", errs);
    if let Some(scopes) = get(new, &["spec", "scopes"]).and_then(Value::as_array) {
        for (i, s) in scopes.iter().enumerate() {
            check_enum(
                s.as_str().unwrap_or_default(),
                &[
                    "BestEffort",
                    "CrossNamespacePodAffinity",
                    "NotBestEffort",
                    "NotTerminating",
                    "PriorityClass",
                    "Terminating",
                ],
                &format!("spec.scopes[{i}]"),
                errs,
            );
        }
    }
}

pub(super) fn validate_limit_range(new: &Value, errs: &mut Vec<FieldError>) {
    let items = get(new, &["spec", "limits"])
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("spec.limits[{i}]");
        check_enum(
            str_at(item, &["type"]).unwrap_or_default(),
            &["Container", "PersistentVolumeClaim", "Pod"],
            &format!("{ipath}.type"),
            errs,
        );
        let lookup = |list: &[(String, Quantity)], k: &str| {
            list.iter().find(|(n, _)| n == k).map(|(_, q)| *q)
        };
        let max = quantity_map(item, &["max"], &format!("{ipath}.max"), errs);
        let min = quantity_map(item, &["min"], &format!("{ipath}.min"), errs);
        let default = quantity_map(item, &["default"], &format!("{ipath}.default"), errs);
        let request = quantity_map(
            item,
            &["defaultRequest"],
            &format!("{ipath}.defaultRequest"),
            errs,
        );
        quantity_map(
            item,
            &["maxLimitRequestRatio"],
            &format!("{ipath}.maxLimitRequestRatio"),
            errs,
        );
        for (k, lo) in &min {
            if let Some(hi) = lookup(&max, k).filter(|hi| lo > hi) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.min[{k}]"),
                    &lo.to_string(),
                    &format!("min value {lo} is greater than max value {hi}"),
                ));
            }
        }
        for (k, d) in &default {
            if let Some(hi) = lookup(&max, k).filter(|hi| d > hi) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.default[{k}]"),
                    &d.to_string(),
                    &format!("default value {d} is greater than max value {hi}"),
                ));
            }
            if let Some(lo) = lookup(&min, k).filter(|lo| lo > d) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.default[{k}]"),
                    &d.to_string(),
                    &format!("min value {lo} is greater than default value {d}"),
                ));
            }
        }
        for (k, r) in &request {
            if let Some(d) = lookup(&default, k).filter(|d| r > d) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.defaultRequest[{k}]"),
                    &r.to_string(),
                    &format!("default request value {r} is greater than default limit value {d}"),
                ));
            }
            if let Some(hi) = lookup(&max, k).filter(|hi| r > hi) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.defaultRequest[{k}]"),
                    &r.to_string(),
                    &format!("default request value {r} is greater than max value {hi}"),
                ));
            }
            if let Some(lo) = lookup(&min, k).filter(|lo| lo > r) {
                errs.push(FieldError::invalid_str(
                    format!("{ipath}.defaultRequest[{k}]"),
                    &r.to_string(),
                    &format!("min value {lo} is greater than default request value {r}"),
                ));
            }
        }
    }
}
