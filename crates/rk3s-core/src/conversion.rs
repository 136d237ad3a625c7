//! Conversion between served versions that share one storage form: events (core/v1 and
//! events.k8s.io/v1, stored as core/v1) and horizontal pod autoscalers (autoscaling/v1 and v2,
//! stored as v2). Entry points: [`to_storage`] and [`from_storage`].

use serde_json::{Map, Value, json};

/// Whether the served form of `group/version` `plural` differs from its storage form.
pub fn converts(group: &str, version: &str, plural: &str) -> bool {
    matches!(
        (group, version, plural),
        ("events.k8s.io", "v1", "events") | ("autoscaling", "v1", "horizontalpodautoscalers")
    )
}

/// The served form `group/version` of `plural` turned into the storage form.
pub fn to_storage(group: &str, version: &str, plural: &str, obj: Value) -> Value {
    match (group, version, plural) {
        ("events.k8s.io", "v1", "events") => events_to_core(obj),
        ("autoscaling", "v1", "horizontalpodautoscalers") => hpa_v1_to_v2(obj),
        _ => obj,
    }
}

/// The stored object turned into the served form `group/version` of `plural`.
pub fn from_storage(group: &str, version: &str, plural: &str, obj: Value) -> Value {
    match (group, version, plural) {
        ("events.k8s.io", "v1", "events") => core_to_events(obj),
        ("autoscaling", "v1", "horizontalpodautoscalers") => hpa_v2_to_v1(obj),
        _ => obj,
    }
}

fn take(m: &mut Map<String, Value>, k: &str) -> Option<Value> {
    m.remove(k).filter(|v| !v.is_null())
}

fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.to_string(), v);
    }
}

/// events.k8s.io/v1 Event → core/v1 Event (upstream's field correspondence).
fn events_to_core(obj: Value) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    if m.get("apiVersion").and_then(Value::as_str) == Some("v1") {
        return Value::Object(m);
    }
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("v1"));
    out.insert("kind".into(), json!("Event"));
    put(&mut out, "metadata", take(&mut m, "metadata"));
    put(&mut out, "involvedObject", take(&mut m, "regarding"));
    put(&mut out, "related", take(&mut m, "related"));
    put(&mut out, "message", take(&mut m, "note"));
    put(&mut out, "reason", take(&mut m, "reason"));
    put(&mut out, "type", take(&mut m, "type"));
    put(&mut out, "action", take(&mut m, "action"));
    put(&mut out, "eventTime", take(&mut m, "eventTime"));
    put(
        &mut out,
        "reportingComponent",
        take(&mut m, "reportingController"),
    );
    put(
        &mut out,
        "reportingInstance",
        take(&mut m, "reportingInstance"),
    );
    put(&mut out, "source", take(&mut m, "deprecatedSource"));
    put(
        &mut out,
        "firstTimestamp",
        take(&mut m, "deprecatedFirstTimestamp"),
    );
    put(
        &mut out,
        "lastTimestamp",
        take(&mut m, "deprecatedLastTimestamp"),
    );
    put(&mut out, "count", take(&mut m, "deprecatedCount"));
    if let Some(Value::Object(mut series)) = take(&mut m, "series") {
        let mut s = Map::new();
        put(&mut s, "count", take(&mut series, "count"));
        put(
            &mut s,
            "lastObservedTime",
            take(&mut series, "lastObservedTime"),
        );
        out.insert("series".into(), Value::Object(s));
    }
    Value::Object(out)
}

/// core/v1 Event → events.k8s.io/v1 Event.
fn core_to_events(obj: Value) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("events.k8s.io/v1"));
    out.insert("kind".into(), json!("Event"));
    put(&mut out, "metadata", take(&mut m, "metadata"));
    put(&mut out, "regarding", take(&mut m, "involvedObject"));
    put(&mut out, "related", take(&mut m, "related"));
    put(&mut out, "note", take(&mut m, "message"));
    put(&mut out, "reason", take(&mut m, "reason"));
    put(&mut out, "type", take(&mut m, "type"));
    put(&mut out, "action", take(&mut m, "action"));
    put(&mut out, "eventTime", take(&mut m, "eventTime"));
    let controller = take(&mut m, "reportingComponent")
        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        .or_else(|| m.get("source").and_then(|s| s.get("component")).cloned());
    put(&mut out, "reportingController", controller);
    put(
        &mut out,
        "reportingInstance",
        take(&mut m, "reportingInstance"),
    );
    put(&mut out, "deprecatedSource", take(&mut m, "source"));
    put(
        &mut out,
        "deprecatedFirstTimestamp",
        take(&mut m, "firstTimestamp"),
    );
    put(
        &mut out,
        "deprecatedLastTimestamp",
        take(&mut m, "lastTimestamp"),
    );
    put(&mut out, "deprecatedCount", take(&mut m, "count"));
    if let Some(Value::Object(mut series)) = take(&mut m, "series") {
        let mut s = Map::new();
        put(&mut s, "count", take(&mut series, "count"));
        put(
            &mut s,
            "lastObservedTime",
            take(&mut series, "lastObservedTime"),
        );
        out.insert("series".into(), Value::Object(s));
    }
    Value::Object(out)
}

fn cpu_utilization_metric(target: Value) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
}

/// autoscaling/v1 → v2: the CPU target becomes a Resource metric.
fn hpa_v1_to_v2(obj: Value) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    if m.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v2") {
        return Value::Object(m);
    }
    m.insert("apiVersion".into(), json!("autoscaling/v2"));
    if let Some(Value::Object(spec)) = m.get_mut("spec")
        && let Some(t) = take(spec, "targetCPUUtilizationPercentage")
    {
        spec.insert("metrics".into(), json!([cpu_utilization_metric(t)]));
    }
    if let Some(Value::Object(status)) = m.get_mut("status") {
        if let Some(c) = take(status, "currentCPUUtilizationPercentage") {
            status.insert(
                "currentMetrics".into(),
                json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": c}}}]),
            );
        }
        status.remove("conditions");
    }
    Value::Object(m)
}

/// autoscaling/v2 → v1: only a CPU utilization target survives, as upstream's v1 view.
fn hpa_v2_to_v1(obj: Value) -> Value {
    let Value::Object(mut m) = obj else {
        return obj;
    };
    m.insert("apiVersion".into(), json!("autoscaling/v1"));
    if let Some(Value::Object(spec)) = m.get_mut("spec") {
        let metrics = take(spec, "metrics");
        spec.remove("behavior");
        let cpu = metrics.as_ref().and_then(Value::as_array).and_then(|ms| {
            ms.iter().find_map(|mt| {
                let r = mt.get("resource")?;
                (mt.get("type")? == "Resource" && r.get("name")? == "cpu")
                    .then(|| r.pointer("/target/averageUtilization").cloned())
                    .flatten()
            })
        });
        put(spec, "targetCPUUtilizationPercentage", cpu);
    }
    if let Some(Value::Object(status)) = m.get_mut("status") {
        let current = take(status, "currentMetrics");
        status.remove("conditions");
        let cpu = current.as_ref().and_then(Value::as_array).and_then(|ms| {
            ms.iter().find_map(|mt| {
                let r = mt.get("resource")?;
                (r.get("name")? == "cpu")
                    .then(|| r.pointer("/current/averageUtilization").cloned())
                    .flatten()
            })
        });
        put(status, "currentCPUUtilizationPercentage", cpu);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_events_k8s_io_event_round_trips_through_the_core_storage_form() {
        let ev = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "pulled image", "reason": "Pulled", "type": "Normal",
            "reportingController": "kubelet", "reportingInstance": "node-1",
            "eventTime": "2024-01-01T00:00:00.000000Z", "action": "Pull",
        });
        let stored = to_storage("events.k8s.io", "v1", "events", ev.clone());
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["message"], "pulled image");
        assert_eq!(stored["reportingComponent"], "kubelet");
        let back = from_storage("events.k8s.io", "v1", "events", stored);
        assert_eq!(back, ev);
    }

    #[test]
    fn a_core_event_reads_as_events_k8s_io_with_source_component_as_controller() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"name": "x"}, "message": "m", "source": {"component": "scheduler"}, "count": 3});
        let ev = from_storage("events.k8s.io", "v1", "events", core);
        assert_eq!(ev["reportingController"], "scheduler");
        assert_eq!(ev["deprecatedCount"], 3);
        assert_eq!(ev["note"], "m");
    }

    #[test]
    fn hpa_cpu_target_survives_v1_v2_v1() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 70}});
        let v2 = to_storage("autoscaling", "v1", "horizontalpodautoscalers", v1.clone());
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        let back = from_storage("autoscaling", "v1", "horizontalpodautoscalers", v2);
        assert_eq!(back, v1);
    }

    #[test]
    fn other_kinds_are_untouched_and_odd_values_do_not_panic() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(to_storage("", "v1", "configmaps", cm.clone()), cm);
        for odd in [json!(null), json!(3), json!({"spec": 1, "status": []})] {
            let _ = from_storage("autoscaling", "v1", "horizontalpodautoscalers", odd.clone());
            let _ = to_storage("events.k8s.io", "v1", "events", odd);
        }
    }
}
