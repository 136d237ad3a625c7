//! Defaults of the workload controllers: apps (Deployment, ReplicaSet, StatefulSet, DaemonSet),
//! batch (Job, CronJob) and ReplicationController, including their pod templates.

use serde_json::{Map, Value, json};

use super::pod::{RestartDefault, template};
use super::storage::pvc;
use super::{child, existing, is_empty_or_absent, items, set, set_nonempty};

fn spec_with_template(
    root: &mut Map<String, Value>,
    restart: RestartDefault,
) -> Option<&mut Map<String, Value>> {
    let spec = child(root, "spec")?;
    if let Some(t) = existing(spec, "template") {
        template(t, restart);
    }
    Some(spec)
}

pub(crate) fn deployment(root: &mut Map<String, Value>) {
    let Some(spec) = spec_with_template(root, RestartDefault::Always) else {
        return;
    };
    set(spec, "replicas", json!(1));
    if let Some(strategy) = child(spec, "strategy") {
        if is_empty_or_absent(strategy, "type") {
            strategy.insert("type".to_string(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            set(ru, "maxUnavailable", json!("25%"));
            set(ru, "maxSurge", json!("25%"));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
    set(spec, "progressDeadlineSeconds", json!(600));
}

pub(crate) fn replica_set(root: &mut Map<String, Value>) {
    if let Some(spec) = spec_with_template(root, RestartDefault::Always) {
        set(spec, "replicas", json!(1));
    }
}

/// The template's labels, when it has some (the v1 kinds copy them to selector and labels).
fn template_labels(root: &Map<String, Value>) -> Option<Map<String, Value>> {
    root.get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned()
}

/// The object's own labels default to the template's when it has none.
fn labels_from_template(root: &mut Map<String, Value>, labels: &Map<String, Value>) {
    if let Some(meta) = child(root, "metadata")
        && is_empty_or_absent(meta, "labels")
    {
        meta.insert("labels".to_string(), Value::Object(labels.clone()));
    }
}

pub(crate) fn replication_controller(root: &mut Map<String, Value>) {
    let labels = template_labels(root);
    if let Some(labels) = &labels {
        if let Some(spec) = child(root, "spec")
            && is_empty_or_absent(spec, "selector")
        {
            spec.insert("selector".to_string(), Value::Object(labels.clone()));
        }
        labels_from_template(root, labels);
    }
    if let Some(spec) = spec_with_template(root, RestartDefault::Always) {
        set(spec, "replicas", json!(1));
    }
}

pub(crate) fn stateful_set(root: &mut Map<String, Value>) {
    let Some(spec) = spec_with_template(root, RestartDefault::Always) else {
        return;
    };
    set_nonempty(spec, "podManagementPolicy", json!("OrderedReady"));
    if let Some(strategy) = child(spec, "updateStrategy") {
        if is_empty_or_absent(strategy, "type") {
            strategy.insert("type".to_string(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            set(ru, "partition", json!(0));
        }
    }
    if let Some(policy) = child(spec, "persistentVolumeClaimRetentionPolicy") {
        set_nonempty(policy, "whenDeleted", json!("Retain"));
        set_nonempty(policy, "whenScaled", json!("Retain"));
    }
    set(spec, "replicas", json!(1));
    set(spec, "revisionHistoryLimit", json!(10));
    for claim in items(spec, "volumeClaimTemplates") {
        set(claim, "apiVersion", json!("v1"));
        set(claim, "kind", json!("PersistentVolumeClaim"));
        pvc(claim);
    }
}

pub(crate) fn daemon_set(root: &mut Map<String, Value>) {
    let Some(spec) = spec_with_template(root, RestartDefault::Always) else {
        return;
    };
    if let Some(strategy) = child(spec, "updateStrategy") {
        if is_empty_or_absent(strategy, "type") {
            strategy.insert("type".to_string(), json!("RollingUpdate"));
        }
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
            && let Some(ru) = child(strategy, "rollingUpdate")
        {
            set(ru, "maxUnavailable", json!(1));
            set(ru, "maxSurge", json!(0));
        }
    }
    set(spec, "revisionHistoryLimit", json!(10));
}

fn job_spec(spec: &mut Map<String, Value>) {
    let completions_unset = is_empty_or_absent(spec, "completions");
    if completions_unset && is_empty_or_absent(spec, "parallelism") {
        spec.insert("completions".to_string(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    if is_empty_or_absent(spec, "backoffLimit") {
        let limit = if is_empty_or_absent(spec, "backoffLimitPerIndex") {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".to_string(), json!(limit));
    }
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    let has_failure_policy = !is_empty_or_absent(spec, "podFailurePolicy");
    if let Some(pfp) = existing(spec, "podFailurePolicy") {
        for rule in items(pfp, "rules") {
            for cond in items(rule, "onPodConditions") {
                set(cond, "status", json!("True"));
            }
        }
    }
    let replacement = if has_failure_policy {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    set(spec, "podReplacementPolicy", json!(replacement));
}

pub(crate) fn job(root: &mut Map<String, Value>) {
    let labels = template_labels(root);
    if let Some(spec) = spec_with_template(root, RestartDefault::Leave) {
        job_spec(spec);
    }
    if let Some(labels) = &labels {
        labels_from_template(root, labels);
    }
}

pub(crate) fn cron_job(root: &mut Map<String, Value>) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    set_nonempty(spec, "concurrencyPolicy", json!("Allow"));
    set(spec, "suspend", json!(false));
    set(spec, "successfulJobsHistoryLimit", json!(3));
    set(spec, "failedJobsHistoryLimit", json!(1));
    // Only the pod template inside is defaulted; the job fields wait until a Job is created.
    let tmpl = existing(spec, "jobTemplate")
        .and_then(|jt| existing(jt, "spec"))
        .and_then(|js| existing(js, "template"));
    if let Some(t) = tmpl {
        template(t, RestartDefault::Leave);
    }
}
