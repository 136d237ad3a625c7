//! Validation of the workload controllers' specs (apps, batch, replication controllers):
//! selectors that match their templates, counts, strategies and what may change on update.

use serde_json::Value;

use super::FieldError;
use super::cron::validate_schedule;
use super::fmt::{go_intstr, go_label_selector, go_quote, go_string_map};
use super::json::{arr_at, bool_at, get, i64_at, obj_at, str_at};
use super::pod::{NON_NEGATIVE_MSG, check_enum, validate_template};
use super::storage::validate_claim_spec;
use crate::selectors::LabelSelector;

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";
const IMMUTABLE: &str = "field is immutable";

fn non_negative(obj: &Value, path: &[&str], field: &str, errs: &mut Vec<FieldError>) {
    if let Some(n) = i64_at(obj, path).filter(|n| *n < 0) {
        errs.push(FieldError::invalid(field, n, NON_NEGATIVE_MSG));
    }
}

/// A structured selector that must be present, non-empty, valid and match the template.
/// `kind` is the lower-case word upstream uses in the empty-selector message; `controller` the
/// kind named in the `activeDeadlineSeconds` message (upstream names ReplicaSet for Deployments).
fn validate_selector_and_template(
    spec: &Value,
    kind: &str,
    controller: Option<&str>,
    errs: &mut Vec<FieldError>,
) {
    let tmpl = get(spec, &["template"]);
    match get(spec, &["selector"]) {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => match LabelSelector::from_json(sel) {
            Err(e) => errs.push(FieldError::invalid(
                "spec.selector",
                go_label_selector(Some(sel)),
                &e.to_string(),
            )),
            Ok(s) if s.is_everything() => errs.push(FieldError::invalid(
                "spec.selector",
                go_label_selector(Some(sel)),
                &format!("empty selector is invalid for {kind}"),
            )),
            Ok(s) => {
                let labels = tmpl.and_then(|t| obj_at(t, &["metadata", "labels"]));
                if tmpl.is_some() && !s.matches_json(labels) {
                    errs.push(FieldError::invalid(
                        "spec.template.metadata.labels",
                        go_string_map(labels),
                        SELECTOR_MISMATCH,
                    ));
                }
            }
        },
    }
    match tmpl {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(t) => {
            validate_template(t, "spec.template", errs);
            always_restart_template(t, controller, errs);
        }
    }
}

/// Controllers that keep pods running need `restartPolicy: Always` and no active deadline.
fn always_restart_template(t: &Value, controller: Option<&str>, errs: &mut Vec<FieldError>) {
    let rp = str_at(t, &["spec", "restartPolicy"]).unwrap_or("Always");
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if let (Some(kind), Some(ads)) = (controller, i64_at(t, &["spec", "activeDeadlineSeconds"])) {
        errs.push(FieldError::invalid(
            "spec.template.spec.activeDeadlineSeconds",
            ads,
            &format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

fn selector_immutable(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    if let Some(old) = old {
        let (o, n) = (
            get(old, &["spec", "selector"]),
            get(new, &["spec", "selector"]),
        );
        if o != n {
            errs.push(FieldError::invalid(
                "spec.selector",
                go_label_selector(n),
                IMMUTABLE,
            ));
        }
    }
}

/// Upstream's `ValidatePositiveIntOrPercent` plus the 100% cap; returns whether it is zero.
fn validate_int_or_percent(
    v: &Value,
    path: &str,
    cap_100: bool,
    errs: &mut Vec<FieldError>,
) -> bool {
    match v {
        Value::String(s) => {
            let digits = s
                .strip_suffix('%')
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
            match digits {
                None => {
                    errs.push(FieldError::invalid(path, go_intstr(v), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                    false
                }
                Some(d) => {
                    let n: u128 = d.parse().unwrap_or(u128::MAX);
                    if cap_100 && n > 100 {
                        errs.push(FieldError::invalid(
                            path,
                            go_intstr(v),
                            "must not be greater than 100%",
                        ));
                    }
                    n == 0
                }
            }
        }
        other => {
            let n = other.as_i64().unwrap_or(0);
            if n < 0 {
                errs.push(FieldError::invalid(path, n, NON_NEGATIVE_MSG));
            }
            n == 0
        }
    }
}

fn validate_rolling_update(ru: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let unavailable_zero = get(ru, &["maxUnavailable"])
        .map(|v| validate_int_or_percent(v, &format!("{path}.maxUnavailable"), true, errs));
    let surge_zero = get(ru, &["maxSurge"])
        .map(|v| validate_int_or_percent(v, &format!("{path}.maxSurge"), false, errs));
    if unavailable_zero == Some(true) && surge_zero.unwrap_or(true) {
        let v = get(ru, &["maxUnavailable"]).unwrap_or(&Value::Null);
        errs.push(FieldError::invalid(
            format!("{path}.maxUnavailable"),
            go_intstr(v),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
}

pub(super) fn validate_deployment(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    non_negative(spec, &["replicas"], "spec.replicas", errs);
    validate_selector_and_template(spec, "deployment", Some("ReplicaSet"), errs);
    if let Some(t) = str_at(spec, &["strategy", "type"]) {
        check_enum(
            t,
            &["Recreate", "RollingUpdate"],
            "spec.strategy.type",
            errs,
        );
        let ru = get(spec, &["strategy", "rollingUpdate"]);
        if t == "Recreate" && ru.is_some() {
            errs.push(FieldError::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ));
        }
        if let (Some(ru), "RollingUpdate") = (ru, t) {
            validate_rolling_update(ru, "spec.strategy.rollingUpdate", errs);
        }
    }
    non_negative(
        spec,
        &["revisionHistoryLimit"],
        "spec.revisionHistoryLimit",
        errs,
    );
    non_negative(spec, &["minReadySeconds"], "spec.minReadySeconds", errs);
    if let Some(pds) = i64_at(spec, &["progressDeadlineSeconds"]) {
        if pds < 0 {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                NON_NEGATIVE_MSG,
            ));
        } else if pds <= i64_at(spec, &["minReadySeconds"]).unwrap_or(0) {
            errs.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    selector_immutable(old, new, errs);
}

pub(super) fn validate_replicaset(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    non_negative(spec, &["replicas"], "spec.replicas", errs);
    non_negative(spec, &["minReadySeconds"], "spec.minReadySeconds", errs);
    validate_selector_and_template(spec, "replicaset", Some("ReplicaSet"), errs);
    selector_immutable(old, new, errs);
}

pub(super) fn validate_daemonset(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    validate_selector_and_template(spec, "daemonset", None, errs);
    non_negative(
        spec,
        &["revisionHistoryLimit"],
        "spec.revisionHistoryLimit",
        errs,
    );
    non_negative(spec, &["minReadySeconds"], "spec.minReadySeconds", errs);
    if let Some(t) = str_at(spec, &["updateStrategy", "type"]) {
        check_enum(
            t,
            &["OnDelete", "RollingUpdate"],
            "spec.updateStrategy.type",
            errs,
        );
        if let (Some(ru), "RollingUpdate") = (get(spec, &["updateStrategy", "rollingUpdate"]), t) {
            validate_rolling_update(ru, "spec.updateStrategy.rollingUpdate", errs);
        }
    }
    selector_immutable(old, new, errs);
}

pub(super) fn validate_statefulset(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    non_negative(spec, &["replicas"], "spec.replicas", errs);
    non_negative(spec, &["minReadySeconds"], "spec.minReadySeconds", errs);
    non_negative(
        spec,
        &["revisionHistoryLimit"],
        "spec.revisionHistoryLimit",
        errs,
    );
    validate_selector_and_template(spec, "statefulset", Some("StatefulSet"), errs);
    if let Some(p) = str_at(spec, &["podManagementPolicy"]) {
        check_enum(
            p,
            &["OrderedReady", "Parallel"],
            "spec.podManagementPolicy",
            errs,
        );
    }
    if let Some(t) = str_at(spec, &["updateStrategy", "type"]) {
        check_enum(
            t,
            &["OnDelete", "RollingUpdate"],
            "spec.updateStrategy.type",
            errs,
        );
        non_negative(
            spec,
            &["updateStrategy", "rollingUpdate", "partition"],
            "spec.updateStrategy.rollingUpdate.partition",
            errs,
        );
    }
    for (i, claim) in arr_at(spec, &["volumeClaimTemplates"]).iter().enumerate() {
        let cspec = get(claim, &["spec"]).unwrap_or(&Value::Null);
        validate_claim_spec(cspec, &format!("spec.volumeClaimTemplates[{i}].spec"), errs);
    }
    for key in ["whenDeleted", "whenScaled"] {
        if let Some(p) = str_at(spec, &["persistentVolumeClaimRetentionPolicy", key]) {
            check_enum(
                p,
                &["Retain", "Delete"],
                &format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                errs,
            );
        }
    }
    if let Some(old) = old {
        let frozen = |o: &Value| -> Value {
            let mut spec = get(o, &["spec"]).cloned().unwrap_or(Value::Null);
            if let Some(m) = spec.as_object_mut() {
                for key in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                ] {
                    m.remove(key);
                }
            }
            spec
        };
        if frozen(old) != frozen(new) {
            errs.push(FieldError::forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"));
        }
    }
}

/// Unlike the apps kinds, a replication controller's selector may change.
pub(super) fn validate_rc(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    non_negative(spec, &["replicas"], "spec.replicas", errs);
    non_negative(spec, &["minReadySeconds"], "spec.minReadySeconds", errs);
    let selector = obj_at(spec, &["selector"]).filter(|s| !s.is_empty());
    let tmpl = get(spec, &["template"]);
    match selector {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let labels = tmpl.and_then(|t| obj_at(t, &["metadata", "labels"]));
            let matches = sel
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if tmpl.is_some() && !matches {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    go_string_map(labels),
                    SELECTOR_MISMATCH,
                ));
            }
        }
    }
    match tmpl {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(t) => {
            validate_template(t, "spec.template", errs);
            always_restart_template(t, Some("ReplicationController"), errs);
        }
    }
}

/// The job spec at `path` (`spec` of a Job, `spec.jobTemplate.spec` of a CronJob).
fn validate_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for key in ["parallelism", "completions", "backoffLimit"] {
        if let Some(n) = i64_at(spec, &[key]).filter(|n| *n < 0) {
            errs.push(FieldError::invalid(
                format!("{path}.{key}"),
                n,
                NON_NEGATIVE_MSG,
            ));
        }
    }
    if let Some(n) = i64_at(spec, &["activeDeadlineSeconds"]).filter(|n| *n <= 0) {
        errs.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            n,
            "must be greater than 0",
        ));
    }
    if let Some(n) = i64_at(spec, &["ttlSecondsAfterFinished"]).filter(|n| *n < 0) {
        errs.push(FieldError::invalid(
            format!("{path}.ttlSecondsAfterFinished"),
            n,
            NON_NEGATIVE_MSG,
        ));
    }
    if let Some(mode) = str_at(spec, &["completionMode"]) {
        check_enum(
            mode,
            &["NonIndexed", "Indexed"],
            &format!("{path}.completionMode"),
            errs,
        );
        if mode == "Indexed" && i64_at(spec, &["completions"]).is_none() {
            errs.push(FieldError::required(
                format!("{path}.completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    if let Some(p) = str_at(spec, &["podReplacementPolicy"]) {
        check_enum(
            p,
            &["TerminatingOrFailed", "Failed"],
            &format!("{path}.podReplacementPolicy"),
            errs,
        );
    }
    let tmpl = get(spec, &["template"]);
    if bool_at(spec, &["manualSelector"]) && get(spec, &["selector"]).is_none() {
        errs.push(FieldError::required(format!("{path}.selector"), ""));
    }
    if let (Some(sel), Some(t)) = (get(spec, &["selector"]), tmpl) {
        match LabelSelector::from_json(sel) {
            Err(e) => errs.push(FieldError::invalid(
                format!("{path}.selector"),
                go_label_selector(Some(sel)),
                &e.to_string(),
            )),
            Ok(s) => {
                let labels = obj_at(t, &["metadata", "labels"]);
                if !s.matches_json(labels) {
                    errs.push(FieldError::invalid(
                        format!("{path}.template.metadata.labels"),
                        go_string_map(labels),
                        SELECTOR_MISMATCH,
                    ));
                }
            }
        }
    }
    match tmpl {
        None => errs.push(FieldError::required(format!("{path}.template"), "")),
        Some(t) => {
            validate_template(t, &format!("{path}.template"), errs);
            // A missing policy is what upstream would have defaulted to Always.
            let rp = str_at(t, &["spec", "restartPolicy"]).unwrap_or("Always");
            if rp != "OnFailure" && rp != "Never" {
                errs.push(FieldError::not_supported(
                    format!("{path}.template.spec.restartPolicy"),
                    rp,
                    &["OnFailure", "Never"],
                ));
            }
        }
    }
    let rules = arr_at(spec, &["podFailurePolicy", "rules"]).len();
    if rules > 20 {
        errs.push(FieldError::too_many(
            format!("{path}.podFailurePolicy.rules"),
            rules,
            20,
        ));
    }
}

pub(super) fn validate_job(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    validate_job_spec(spec, "spec", errs);
    let Some(old) = old else { return };
    if get(old, &["spec", "selector"]) != get(new, &["spec", "selector"]) {
        errs.push(FieldError::invalid(
            "spec.selector",
            go_label_selector(get(new, &["spec", "selector"])),
            IMMUTABLE,
        ));
    }
    // A suspended job that never started may have its scheduling directives rewritten (queue
    // controllers do this); everything else in the template is fixed.
    let unstarted =
        bool_at(old, &["spec", "suspend"]) && get(old, &["status", "startTime"]).is_none();
    let frozen = |job: &Value| -> Value {
        let mut t = get(job, &["spec", "template"])
            .cloned()
            .unwrap_or(Value::Null);
        if unstarted {
            if let Some(tmpl) = t.as_object_mut()
                && let Some(meta) = tmpl.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.remove("labels");
                meta.remove("annotations");
                if meta.is_empty() {
                    tmpl.remove("metadata");
                }
            }
            if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
                for key in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                    spec.remove(key);
                }
            }
        }
        t
    };
    if frozen(old) != frozen(new) {
        let shown = get(new, &["spec", "template"])
            .cloned()
            .unwrap_or(Value::Null);
        errs.push(FieldError::invalid(
            "spec.template",
            format!("core.PodTemplateSpec{shown}"),
            IMMUTABLE,
        ));
    }
    for key in ["completionMode", "completions"] {
        let (o, n) = (get(old, &["spec", key]), get(new, &["spec", key]));
        if o != n {
            let shown = match n {
                Some(Value::String(s)) => go_quote(s),
                Some(v) => v.to_string(),
                None => "null".to_string(),
            };
            errs.push(FieldError::invalid(format!("spec.{key}"), shown, IMMUTABLE));
        }
    }
}

pub(super) fn validate_cronjob(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    match str_at(spec, &["schedule"]).unwrap_or_default() {
        "" => errs.push(FieldError::required("spec.schedule", "")),
        schedule => {
            if let Err(msg) = validate_schedule(schedule, get(spec, &["timeZone"]).is_some()) {
                errs.push(FieldError::invalid_str("spec.schedule", schedule, &msg));
            }
        }
    }
    if let Some(tz) = str_at(spec, &["timeZone"]) {
        let ok = !tz.is_empty()
            && !tz.contains(' ')
            && !tz.starts_with('/')
            && !tz.contains("..")
            && tz != "Local"
            && tz
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
        if !ok {
            errs.push(FieldError::invalid_str(
                "spec.timeZone",
                tz,
                "unknown time zone",
            ));
        }
    }
    if let Some(p) = str_at(spec, &["concurrencyPolicy"]) {
        check_enum(
            p,
            &["Allow", "Forbid", "Replace"],
            "spec.concurrencyPolicy",
            errs,
        );
    }
    for key in [
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ] {
        non_negative(spec, &[key], &format!("spec.{key}"), errs);
    }
    match get(spec, &["jobTemplate", "spec"]) {
        None => errs.push(FieldError::required("spec.jobTemplate.spec", "")),
        Some(js) => validate_job_spec(js, "spec.jobTemplate.spec", errs),
    }
}
