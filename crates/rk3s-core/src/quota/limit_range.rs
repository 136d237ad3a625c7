//! LimitRange admission for pods and claims ([`apply_limit_ranges`]): container defaults filled
//! in, then min, max and limit/request ratio checked, with upstream's messages.

use serde_json::{Map, Value};

use super::amount::{self, Amount, Resources};
use super::pod::{self, Side};

/// Upstream's messages word for word (the double space after the full stop included).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitRangeError {
    #[error("minimum {resource} usage per {kind} is {enforced}.  No request is specified")]
    MinNoRequest {
        resource: String,
        kind: String,
        enforced: String,
    },
    #[error("minimum {resource} usage per {kind} is {enforced}, but request is {observed}")]
    BelowMinRequest {
        resource: String,
        kind: String,
        enforced: String,
        observed: String,
    },
    #[error("minimum {resource} usage per {kind} is {enforced}, but limit is {observed}")]
    BelowMinLimit {
        resource: String,
        kind: String,
        enforced: String,
        observed: String,
    },
    #[error("maximum {resource} usage per {kind} is {enforced}.  No request is specified")]
    MaxNoRequest {
        resource: String,
        kind: String,
        enforced: String,
    },
    #[error("maximum {resource} usage per {kind} is {enforced}.  No limit is specified")]
    MaxNoLimit {
        resource: String,
        kind: String,
        enforced: String,
    },
    #[error("maximum {resource} usage per {kind} is {enforced}, but limit is {observed}")]
    AboveMaxLimit {
        resource: String,
        kind: String,
        enforced: String,
        observed: String,
    },
    #[error("maximum {resource} usage per {kind} is {enforced}, but request is {observed}")]
    AboveMaxRequest {
        resource: String,
        kind: String,
        enforced: String,
        observed: String,
    },
    #[error(
        "{resource} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
    )]
    RatioNoRequest {
        resource: String,
        kind: String,
        enforced: String,
    },
    #[error(
        "{resource} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
    )]
    RatioNoLimit {
        resource: String,
        kind: String,
        enforced: String,
    },
    #[error(
        "{resource} max limit to request ratio per {kind} is {enforced}, but provided ratio is {ratio:.6}"
    )]
    RatioExceeded {
        resource: String,
        kind: String,
        enforced: String,
        ratio: f64,
    },
}

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// One entry of a LimitRange's `spec.limits`, with upstream's defaulting applied for Container
/// entries (default from max, defaultRequest from default, then from min).
struct Item {
    kind: String,
    min: Resources,
    max: Resources,
    default: Resources,
    default_request: Resources,
    ratio: Resources,
}

impl Item {
    fn parse(v: &Value) -> Item {
        let get = |k: &str| amount::resources_from_json(v.get(k));
        let mut item = Item {
            kind: v
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            min: get("min"),
            max: get("max"),
            default: get("default"),
            default_request: get("defaultRequest"),
            ratio: get("maxLimitRequestRatio"),
        };
        if item.kind == "Container" {
            for (k, v) in &item.max {
                item.default.entry(k.clone()).or_insert(*v);
            }
            for (k, v) in &item.default {
                item.default_request.entry(k.clone()).or_insert(*v);
            }
            for (k, v) in &item.min {
                item.default_request.entry(k.clone()).or_insert(*v);
            }
        }
        item
    }
}

fn items(limit_range: &Value) -> Vec<Item> {
    limit_range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(Item::parse)
        .collect()
}

/// LimitRange admission for a `Pod` (on create) or a `PersistentVolumeClaim` (create and
/// update): fill in container defaults from every range, then check each range in turn; the
/// first range that refuses gives the errors. Other kinds pass untouched.
pub fn apply_limit_ranges(
    kind: &str,
    obj: &mut Value,
    limit_ranges: &[Value],
) -> Result<(), Vec<String>> {
    let ranges: Vec<Vec<Item>> = limit_ranges
        .iter()
        .map(items)
        .filter(|i| !i.is_empty())
        .collect();
    match kind {
        "Pod" => {
            for items in &ranges {
                default_pod(obj, items);
            }
        }
        "PersistentVolumeClaim" => {}
        _ => return Ok(()),
    }
    for items in &ranges {
        let errors = match kind {
            "Pod" => validate_pod(obj, items),
            _ => validate_claim(obj, items),
        };
        if !errors.is_empty() {
            return Err(errors.iter().map(ToString::to_string).collect());
        }
    }
    Ok(())
}

/// Upstream's aggregate of several errors: one message alone, else `[a, b]` with duplicates
/// dropped.
pub fn aggregate_message(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    match seen.as_slice() {
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn default_pod(pod: &mut Value, items: &[Item]) {
    let mut limits = Resources::new();
    let mut requests = Resources::new();
    for item in items.iter().filter(|i| i.kind == "Container") {
        limits.extend(item.default.iter().map(|(k, v)| (k.clone(), *v)));
        requests.extend(item.default_request.iter().map(|(k, v)| (k.clone(), *v)));
    }
    if limits.is_empty() && requests.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    for (field, label) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        let Some(list) = pod
            .pointer_mut(&format!("/spec/{field}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in list.iter_mut().filter(|c| c.is_object()) {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let set_limits = fill_missing(c, "limits", &limits);
            let set_requests = fill_missing(c, "requests", &requests);
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {label} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!(
                    "{} limit for {label} {name}",
                    set_limits.join(", ")
                ));
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if annotations.is_null() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.insert(
            ANNOTATION.into(),
            Value::String(format!("LimitRanger plugin set: {}", notes.join("; "))),
        );
    }
}

/// Adds each default the container does not state; returns the names added, sorted.
fn fill_missing(container: &mut Value, side: &str, defaults: &Resources) -> Vec<String> {
    let Some(c) = container.as_object_mut() else {
        return Vec::new();
    };
    let resources = c
        .entry("resources")
        .or_insert_with(|| Value::Object(Map::new()));
    if resources.is_null() {
        *resources = Value::Object(Map::new());
    }
    let Some(resources) = resources.as_object_mut() else {
        return Vec::new();
    };
    let mut set = Vec::new();
    let list_present = resources.get(side).is_some_and(|v| !v.is_null());
    let list = match resources.get(side) {
        Some(Value::Object(m)) => Some(m),
        _ => None,
    };
    if list_present && list.is_none() {
        return set;
    }
    for name in defaults.keys() {
        if !list.is_some_and(|m| m.contains_key(name)) {
            set.push(name.clone());
        }
    }
    if set.is_empty() {
        return set;
    }
    let entry = resources
        .entry(side)
        .or_insert_with(|| Value::Object(Map::new()));
    if entry.is_null() {
        *entry = Value::Object(Map::new());
    }
    if let Some(m) = entry.as_object_mut() {
        for name in &set {
            if let Some(v) = defaults.get(name) {
                m.insert(name.clone(), Value::String(v.to_string()));
            }
        }
    }
    set
}

fn validate_pod(pod: &Value, items: &[Item]) -> Vec<LimitRangeError> {
    let mut errors = Vec::new();
    for item in items {
        match item.kind.as_str() {
            "Container" => {
                for c in
                    pod::containers(pod, "containers").chain(pod::containers(pod, "initContainers"))
                {
                    let requests = pod::container_resources(c, Side::Requests);
                    let limits = pod::container_resources(c, Side::Limits);
                    check_item(item, &requests, &limits, &mut errors);
                }
            }
            "Pod" => {
                let requests = pod::aggregate(pod, Side::Requests, false);
                let limits = pod::aggregate(pod, Side::Limits, false);
                check_item(item, &requests, &limits, &mut errors);
            }
            _ => {}
        }
    }
    errors
}

fn validate_claim(pvc: &Value, items: &[Item]) -> Vec<LimitRangeError> {
    let requests = amount::resources_from_json(pvc.pointer("/spec/resources/requests"));
    let mut errors = Vec::new();
    for item in items.iter().filter(|i| i.kind == "PersistentVolumeClaim") {
        // A claim's limits are not the user's ask: min and max both judge the request.
        for (res, min) in &item.min {
            if let Err(e) = min_constraint(&item.kind, res, min, &requests, &Resources::new()) {
                errors.push(e);
            }
        }
        for (res, max) in &item.max {
            let ctx = Ctx::new(&item.kind, res, max);
            match requests.get(res) {
                None => errors.push(LimitRangeError::MaxNoRequest {
                    resource: ctx.resource,
                    kind: ctx.kind,
                    enforced: ctx.enforced,
                }),
                Some(req) => {
                    let (r, _, e) = common_precision(Some(req), None, max);
                    if r > e {
                        errors.push(LimitRangeError::AboveMaxRequest {
                            resource: ctx.resource,
                            kind: ctx.kind,
                            enforced: ctx.enforced,
                            observed: req.to_string(),
                        });
                    }
                }
            }
        }
    }
    errors
}

fn check_item(
    item: &Item,
    requests: &Resources,
    limits: &Resources,
    errors: &mut Vec<LimitRangeError>,
) {
    for (res, min) in &item.min {
        if let Err(e) = min_constraint(&item.kind, res, min, requests, limits) {
            errors.push(e);
        }
    }
    for (res, max) in &item.max {
        if let Err(e) = max_constraint(&item.kind, res, max, requests, limits) {
            errors.push(e);
        }
    }
    for (res, ratio) in &item.ratio {
        if let Err(e) = ratio_constraint(&item.kind, res, ratio, requests, limits) {
            errors.push(e);
        }
    }
}

struct Ctx {
    resource: String,
    kind: String,
    enforced: String,
}

impl Ctx {
    fn new(kind: &str, resource: &str, enforced: &Amount) -> Ctx {
        Ctx {
            resource: resource.to_string(),
            kind: kind.to_string(),
            enforced: enforced.to_string(),
        }
    }
}

/// Upstream's largest value whose milli-units fit an int64.
const MAX_MILLI_VALUE: i128 = (i64::MAX / 1000) as i128;

/// Request, limit and enforced value in milli-units when all fit, else in whole units, as
/// upstream compares them.
fn common_precision(
    request: Option<&Amount>,
    limit: Option<&Amount>,
    enforced: &Amount,
) -> (i128, i128, i128) {
    let zero = Amount::zero();
    let (r, l) = (request.unwrap_or(&zero), limit.unwrap_or(&zero));
    if r.value() <= MAX_MILLI_VALUE
        && l.value() <= MAX_MILLI_VALUE
        && enforced.value() <= MAX_MILLI_VALUE
    {
        (r.milli_value(), l.milli_value(), enforced.milli_value())
    } else {
        (r.value(), l.value(), enforced.value())
    }
}

fn min_constraint(
    kind: &str,
    res: &str,
    enforced: &Amount,
    requests: &Resources,
    limits: &Resources,
) -> Result<(), LimitRangeError> {
    let ctx = Ctx::new(kind, res, enforced);
    let (req, lim) = (requests.get(res), limits.get(res));
    let (r, l, e) = common_precision(req, lim, enforced);
    let Some(req) = req else {
        return Err(LimitRangeError::MinNoRequest {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
        });
    };
    if r < e {
        return Err(LimitRangeError::BelowMinRequest {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
            observed: req.to_string(),
        });
    }
    if let Some(lim) = lim
        && l < e
    {
        return Err(LimitRangeError::BelowMinLimit {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
            observed: lim.to_string(),
        });
    }
    Ok(())
}

fn max_constraint(
    kind: &str,
    res: &str,
    enforced: &Amount,
    requests: &Resources,
    limits: &Resources,
) -> Result<(), LimitRangeError> {
    let ctx = Ctx::new(kind, res, enforced);
    let (req, lim) = (requests.get(res), limits.get(res));
    let (r, l, e) = common_precision(req, lim, enforced);
    let Some(lim) = lim else {
        return Err(LimitRangeError::MaxNoLimit {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
        });
    };
    if l > e {
        return Err(LimitRangeError::AboveMaxLimit {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
            observed: lim.to_string(),
        });
    }
    if let Some(req) = req
        && r > e
    {
        return Err(LimitRangeError::AboveMaxRequest {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
            observed: req.to_string(),
        });
    }
    Ok(())
}

fn ratio_constraint(
    kind: &str,
    res: &str,
    enforced: &Amount,
    requests: &Resources,
    limits: &Resources,
) -> Result<(), LimitRangeError> {
    let ctx = Ctx::new(kind, res, enforced);
    let (req, lim) = (requests.get(res), limits.get(res));
    let (r, l, _) = common_precision(req, lim, enforced);
    if req.is_none() || r == 0 {
        return Err(LimitRangeError::RatioNoRequest {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
        });
    }
    if lim.is_none() || l == 0 {
        return Err(LimitRangeError::RatioNoLimit {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
        });
    }
    let ratio = l as f64 / r as f64;
    let (observed, allowed) = if enforced.value() <= MAX_MILLI_VALUE {
        (ratio * 1000.0, enforced.milli_value() as f64)
    } else {
        (ratio, enforced.value() as f64)
    };
    if observed > allowed {
        return Err(LimitRangeError::RatioExceeded {
            resource: ctx.resource,
            kind: ctx.kind,
            enforced: ctx.enforced,
            ratio,
        });
    }
    Ok(())
}
