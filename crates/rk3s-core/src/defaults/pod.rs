//! Pod, pod template and container defaults (`SetDefaults_Pod`, `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, volumes, probes) plus the pod fields the Priority, ServiceAccount
//! and DefaultTolerationSeconds admission plugins fill in.

use serde_json::{Map, Value, json};

use super::{child, existing, is_empty_or_absent, items, quantities, set, set_nonempty};

/// Whether an empty `restartPolicy` becomes `Always`. Jobs keep it empty so validation can
/// insist on `OnFailure` or `Never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestartDefault {
    Always,
    Leave,
}

const NOT_VOLUME_SOURCES: &[&str] = &["name"];

pub(crate) fn pod(root: &mut Map<String, Value>) {
    let Some(spec) = child(root, "spec") else {
        return;
    };
    pod_spec(spec, RestartDefault::Always);
    set(spec, "enableServiceLinks", json!(true));
    // Admission: Priority (no class given means the global default, 0).
    if is_empty_or_absent(spec, "priorityClassName") {
        set(spec, "priority", json!(0));
    }
    set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    // Admission: ServiceAccount.
    set(spec, "serviceAccountName", json!("default"));
    mirror_service_account(spec);
    default_tolerations(spec);
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for key in ["initContainers", "containers"] {
        for c in items(spec, key) {
            requests_from_limits(c);
            if host_network {
                for p in items(c, "ports") {
                    if let Some(cp) = p.get("containerPort").cloned() {
                        set(p, "hostPort", cp);
                    }
                }
            }
        }
    }
    let qos = qos_class(spec);
    if let Some(status) = child(root, "status") {
        set(status, "phase", json!("Pending"));
        set(status, "qosClass", json!(qos));
    }
}

/// A `PodTemplateSpec`.
pub(crate) fn template(tmpl: &mut Map<String, Value>, restart: RestartDefault) {
    if let Some(spec) = child(tmpl, "spec") {
        pod_spec(spec, restart);
    }
}

pub(crate) fn pod_spec(spec: &mut Map<String, Value>, restart: RestartDefault) {
    set_nonempty(spec, "dnsPolicy", json!("ClusterFirst"));
    if restart == RestartDefault::Always {
        set_nonempty(spec, "restartPolicy", json!("Always"));
    }
    set(spec, "securityContext", json!({}));
    quantities::resource_map(spec, "overhead");
    if let Some(res) = existing(spec, "resources") {
        quantities::resource_map(res, "limits");
        quantities::resource_map(res, "requests");
    }
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set_nonempty(spec, "schedulerName", json!("default-scheduler"));
    mirror_service_account(spec);
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for c in items(spec, key) {
            container(c);
        }
    }
    for v in items(spec, "volumes") {
        volume(v);
    }
}

/// `serviceAccount` is the deprecated spelling; upstream keeps the two in step.
fn mirror_service_account(spec: &mut Map<String, Value>) {
    let name = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let old = spec
        .get("serviceAccount")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match (name.map(str::to_string), old.map(str::to_string)) {
        (Some(n), None) => {
            spec.insert("serviceAccount".to_string(), json!(n));
        }
        (None, Some(o)) => {
            spec.insert("serviceAccountName".to_string(), json!(o));
        }
        _ => {}
    }
}

fn default_tolerations(spec: &mut Map<String, Value>) {
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter().any(|t| {
                    let k = t.get("key").and_then(Value::as_str).unwrap_or("");
                    let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                    let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
                    (k == key || (k.is_empty() && exists))
                        && (effect.is_empty() || effect == "NoExecute")
                })
            });
        if tolerated {
            continue;
        }
        set(spec, "tolerations", json!([]));
        if let Some(list) = spec.get_mut("tolerations").and_then(Value::as_array_mut) {
            list.push(json!({"effect": "NoExecute", "key": key, "operator": "Exists", "tolerationSeconds": 300}));
        }
    }
}

fn requests_from_limits(c: &mut Map<String, Value>) {
    let Some(res) = existing(c, "resources") else {
        return;
    };
    let Some(limits) = res.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    if let Some(requests) = child(res, "requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

/// Upstream's QoS class from cpu and memory requests and limits (requests already defaulted).
fn qos_class(spec: &Map<String, Value>) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    let containers = ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| spec.get(k).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let res = c.get("resources");
        let get = |k: &str, r: &str| {
            res.and_then(|x| x.get(k))
                .and_then(|m| m.get(r))
                .and_then(Value::as_str)
                .and_then(|q| crate::quantity::Quantity::parse(q).ok())
                .filter(|q| !q.is_zero())
        };
        for r in ["cpu", "memory"] {
            let (req, lim) = (get("requests", r), get("limits", r));
            any |= req.is_some() || lim.is_some();
            if lim.is_none() || req != lim {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The tag of an image reference; a reference without tag or digest means `latest`.
fn image_tag(image: &str) -> Option<&str> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => Some(tag),
        None if digest.is_none() => Some("latest"),
        None => None,
    }
}

pub(crate) fn container(c: &mut Map<String, Value>) {
    if is_empty_or_absent(c, "imagePullPolicy") {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        let policy = if !image.is_empty() && image_tag(image) == Some("latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.insert("imagePullPolicy".to_string(), json!(policy));
    }
    set_nonempty(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_nonempty(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    if let Some(res) = existing(c, "resources") {
        quantities::resource_map(res, "limits");
        quantities::resource_map(res, "requests");
    }
    for p in items(c, "ports") {
        set_nonempty(p, "protocol", json!("TCP"));
    }
    for e in items(c, "env") {
        if let Some(field_ref) = existing(e, "valueFrom").and_then(|vf| existing(vf, "fieldRef")) {
            set_nonempty(field_ref, "apiVersion", json!("v1"));
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = existing(c, key) {
            probe(p);
        }
    }
    if let Some(lc) = existing(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = existing(lc, key).and_then(|h| existing(h, "httpGet")) {
                http_get(h);
            }
        }
    }
}

fn probe(p: &mut Map<String, Value>) {
    set(p, "timeoutSeconds", json!(1));
    set(p, "periodSeconds", json!(10));
    set(p, "successThreshold", json!(1));
    set(p, "failureThreshold", json!(3));
    if let Some(h) = existing(p, "httpGet") {
        http_get(h);
    }
}

fn http_get(h: &mut Map<String, Value>) {
    set_nonempty(h, "path", json!("/"));
    set_nonempty(h, "scheme", json!("HTTP"));
}

fn field_ref_items(src: &mut Map<String, Value>) {
    for item in items(src, "items") {
        if let Some(fr) = existing(item, "fieldRef") {
            set_nonempty(fr, "apiVersion", json!("v1"));
        }
    }
}

pub(crate) fn volume(v: &mut Map<String, Value>) {
    let has_source = v
        .iter()
        .any(|(k, val)| !NOT_VOLUME_SOURCES.contains(&k.as_str()) && !val.is_null());
    if !has_source {
        v.insert("emptyDir".to_string(), json!({}));
    }
    for key in ["configMap", "secret", "projected", "downwardAPI"] {
        if let Some(src) = existing(v, key) {
            set(src, "defaultMode", json!(420));
        }
    }
    if let Some(d) = existing(v, "downwardAPI") {
        field_ref_items(d);
    }
    if let Some(p) = existing(v, "projected") {
        for s in items(p, "sources") {
            if let Some(d) = existing(s, "downwardAPI") {
                field_ref_items(d);
            }
            if let Some(t) = existing(s, "serviceAccountToken") {
                set(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(h) = existing(v, "hostPath") {
        set(h, "type", json!(""));
    }
    if let Some(limit) = existing(v, "emptyDir").and_then(|e| e.get_mut("sizeLimit")) {
        quantities::one(limit);
    }
    let claim_spec = existing(v, "ephemeral")
        .and_then(|e| existing(e, "volumeClaimTemplate"))
        .and_then(|t| existing(t, "spec"));
    if let Some(spec) = claim_spec {
        set(spec, "volumeMode", json!("Filesystem"));
        if let Some(res) = existing(spec, "resources") {
            quantities::resource_map(res, "requests");
            quantities::resource_map(res, "limits");
        }
    }
}
