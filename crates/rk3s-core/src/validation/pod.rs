//! Pod and pod-template validation: containers, ports, resources, probes, volumes, and the
//! update rule that leaves only images and a few scheduling fields mutable.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::FieldError;
use super::fmt::go_quote;
use super::json::{arr_at, bool_at, get, i64_at, obj_at, str_at};
use crate::names::{is_dns1123_label, is_qualified_name};
use crate::quantity::Quantity;

pub(super) const PORT_RANGE_MSG: &str = "must be between 1 and 65535, inclusive";
pub(super) const NON_NEGATIVE_MSG: &str = "must be greater than or equal to 0";
pub(super) const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROBE_HANDLERS: &[&str] = &["exec", "httpGet", "tcpSocket", "grpc"];
const POD_UPDATE_MSG: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

pub(super) fn validate_pod(old: Option<&Value>, new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    validate_pod_spec(spec, "spec", errs);
    if let Some(old) = old {
        validate_pod_update(old, new, errs);
    }
}

pub(super) fn validate_pod_template(new: &Value, errs: &mut Vec<FieldError>) {
    let tmpl = get(new, &["template"]).unwrap_or(&Value::Null);
    validate_template(tmpl, "template", errs);
}

/// A `PodTemplateSpec` at `path`: its spec is a pod spec.
pub(super) fn validate_template(tmpl: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let spec = get(tmpl, &["spec"]).unwrap_or(&Value::Null);
    validate_pod_spec(spec, &format!("{path}.spec"), errs);
}

pub(super) fn validate_pod_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let volumes = validate_volumes(arr_at(spec, &["volumes"]), &format!("{path}.volumes"), errs);
    let containers = arr_at(spec, &["containers"]);
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut names = HashSet::new();
    let host_network = bool_at(spec, &["hostNetwork"]);
    // Regular containers first: a clashing init container name is reported on the init side.
    let mut host_ports = HashSet::new();
    for (list, key) in [
        (containers, "containers"),
        (arr_at(spec, &["initContainers"]), "initContainers"),
        (
            arr_at(spec, &["ephemeralContainers"]),
            "ephemeralContainers",
        ),
    ] {
        for (i, c) in list.iter().enumerate() {
            let cpath = format!("{path}.{key}[{i}]");
            validate_container(c, &cpath, &volumes, host_network, errs);
            let name = str_at(c, &["name"]).unwrap_or_default();
            if !name.is_empty() && !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{cpath}.name"),
                    go_quote(name),
                ));
            }
            match (key, str_at(c, &["restartPolicy"])) {
                (_, None) => {}
                ("initContainers", Some(rp)) => {
                    check_enum(rp, &["Always"], &format!("{cpath}.restartPolicy"), errs)
                }
                (_, Some(_)) => errs.push(FieldError::forbidden(
                    format!("{cpath}.restartPolicy"),
                    "may not be set for non-init containers",
                )),
            }
            for (j, p) in arr_at(c, &["ports"]).iter().enumerate() {
                let host_port = i64_at(p, &["hostPort"]).unwrap_or(0);
                if host_port == 0 || key == "ephemeralContainers" {
                    continue;
                }
                let proto = str_at(p, &["protocol"]).unwrap_or("TCP");
                let used = format!("{host_port}/{proto}");
                if !host_ports.insert(used.clone()) {
                    errs.push(FieldError::duplicate(
                        format!("{cpath}.ports[{j}].hostPort"),
                        go_quote(&used),
                    ));
                }
            }
        }
    }
    if let Some(rp) = str_at(spec, &["restartPolicy"]) {
        check_enum(rp, RESTART_POLICIES, &format!("{path}.restartPolicy"), errs);
    }
    if let Some(dp) = str_at(spec, &["dnsPolicy"]) {
        check_enum(dp, DNS_POLICIES, &format!("{path}.dnsPolicy"), errs);
        if dp == "None" && get(spec, &["dnsConfig"]).is_none() {
            errs.push(FieldError::required(
                format!("{path}.dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        }
    }
    if let Some(ads) = i64_at(spec, &["activeDeadlineSeconds"])
        && !(1..=i64::from(i32::MAX)).contains(&ads)
    {
        errs.push(FieldError::invalid(
            format!("{path}.activeDeadlineSeconds"),
            ads,
            "must be between 1 and 2147483647, inclusive",
        ));
    }
    for key in ["hostname", "subdomain"] {
        if let Some(v) = str_at(spec, &[key]).filter(|v| !v.is_empty()) {
            for msg in is_dns1123_label(v) {
                errs.push(FieldError::invalid_str(format!("{path}.{key}"), v, &msg));
            }
        }
    }
    for (i, t) in arr_at(spec, &["tolerations"]).iter().enumerate() {
        let tpath = format!("{path}.tolerations[{i}]");
        if let Some(op) = str_at(t, &["operator"]).filter(|o| !o.is_empty()) {
            check_enum(op, &["Equal", "Exists"], &format!("{tpath}.operator"), errs);
        }
        if let Some(effect) = str_at(t, &["effect"]).filter(|e| !e.is_empty()) {
            check_enum(
                effect,
                &["NoExecute", "NoSchedule", "PreferNoSchedule"],
                &format!("{tpath}.effect"),
                errs,
            );
        }
    }
}

pub(super) fn check_enum(value: &str, allowed: &[&str], path: &str, errs: &mut Vec<FieldError>) {
    if value.is_empty() {
        errs.push(FieldError::required(path, ""));
    } else if !allowed.contains(&value) {
        errs.push(FieldError::not_supported(path, value, allowed));
    }
}

pub(super) fn port_num_error(port: i64) -> Option<&'static str> {
    (!(1..=65535).contains(&port)).then_some(PORT_RANGE_MSG)
}

/// Upstream's `IsValidPortName` (an IANA service name).
pub(super) fn port_name_errors(name: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters");
    }
    if !name
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)");
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens");
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen");
    }
    errs
}

fn validate_container(
    c: &Value,
    path: &str,
    volumes: &HashSet<String>,
    host_network: bool,
    errs: &mut Vec<FieldError>,
) {
    match str_at(c, &["name"]).unwrap_or_default() {
        "" => errs.push(FieldError::required(format!("{path}.name"), "")),
        name => {
            for msg in is_dns1123_label(name) {
                errs.push(FieldError::invalid_str(format!("{path}.name"), name, &msg));
            }
        }
    }
    match str_at(c, &["image"]).unwrap_or_default() {
        "" => errs.push(FieldError::required(format!("{path}.image"), "")),
        image if image.trim() != image => errs.push(FieldError::invalid_str(
            format!("{path}.image"),
            image,
            "must not have leading or trailing whitespace",
        )),
        _ => {}
    }
    if let Some(p) = str_at(c, &["imagePullPolicy"]) {
        check_enum(p, PULL_POLICIES, &format!("{path}.imagePullPolicy"), errs);
    }
    if let Some(p) = str_at(c, &["terminationMessagePolicy"]) {
        check_enum(
            p,
            &["File", "FallbackToLogsOnError"],
            &format!("{path}.terminationMessagePolicy"),
            errs,
        );
    }
    validate_container_ports(
        arr_at(c, &["ports"]),
        &format!("{path}.ports"),
        host_network,
        errs,
    );
    validate_resources(get(c, &["resources"]), &format!("{path}.resources"), errs);
    for (i, e) in arr_at(c, &["env"]).iter().enumerate() {
        let epath = format!("{path}.env[{i}]");
        match str_at(e, &["name"]).unwrap_or_default() {
            "" => errs.push(FieldError::required(format!("{epath}.name"), "")),
            n if n.contains('=') || !n.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                errs.push(FieldError::invalid_str(
                    format!("{epath}.name"),
                    n,
                    "a valid environment variable name must consist only of printable ASCII characters other than '='",
                ))
            }
            _ => {}
        }
        let has_value = str_at(e, &["value"]).is_some_and(|v| !v.is_empty());
        if let Some(from) = obj_at(e, &["valueFrom"]) {
            let sources = from.values().filter(|v| !v.is_null()).count();
            if sources == 0 {
                errs.push(FieldError::invalid_str(
                    format!("{epath}.valueFrom"),
                    "",
                    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
                ));
            } else if sources > 1 {
                errs.push(FieldError::invalid_str(
                    format!("{epath}.valueFrom"),
                    "",
                    "may not have more than one field specified at a time",
                ));
            }
            if has_value {
                errs.push(FieldError::invalid_str(
                    format!("{epath}.valueFrom"),
                    "",
                    "may not be specified when `value` is not empty",
                ));
            }
        }
    }
    let mut mount_paths = HashSet::new();
    for (i, m) in arr_at(c, &["volumeMounts"]).iter().enumerate() {
        let mpath = format!("{path}.volumeMounts[{i}]");
        match str_at(m, &["name"]).unwrap_or_default() {
            "" => errs.push(FieldError::required(format!("{mpath}.name"), "")),
            n if !volumes.contains(n) => {
                errs.push(FieldError::not_found(format!("{mpath}.name"), go_quote(n)))
            }
            _ => {}
        }
        match str_at(m, &["mountPath"]).unwrap_or_default() {
            "" => errs.push(FieldError::required(format!("{mpath}.mountPath"), "")),
            mp if !mount_paths.insert(mp.to_string()) => errs.push(FieldError::invalid_str(
                format!("{mpath}.mountPath"),
                mp,
                "must be unique",
            )),
            _ => {}
        }
    }
    for (key, must_succeed_once) in [
        ("livenessProbe", true),
        ("readinessProbe", false),
        ("startupProbe", true),
    ] {
        if let Some(probe) = get(c, &[key]) {
            validate_probe(probe, &format!("{path}.{key}"), must_succeed_once, errs);
        }
    }
}

fn validate_container_ports(
    ports: &[Value],
    path: &str,
    host_network: bool,
    errs: &mut Vec<FieldError>,
) {
    let mut names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let ppath = format!("{path}[{i}]");
        if let Some(name) = str_at(p, &["name"]).filter(|n| !n.is_empty()) {
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid_str(format!("{ppath}.name"), name, msg));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{ppath}.name"),
                    go_quote(name),
                ));
            }
        }
        let container_port = i64_at(p, &["containerPort"]).unwrap_or(0);
        if container_port == 0 {
            errs.push(FieldError::required(format!("{ppath}.containerPort"), ""));
        } else if let Some(msg) = port_num_error(container_port) {
            errs.push(FieldError::invalid(
                format!("{ppath}.containerPort"),
                container_port,
                msg,
            ));
        }
        let host_port = i64_at(p, &["hostPort"]).unwrap_or(0);
        if host_port != 0 {
            if let Some(msg) = port_num_error(host_port) {
                errs.push(FieldError::invalid(
                    format!("{ppath}.hostPort"),
                    host_port,
                    msg,
                ));
            }
            if host_network && host_port != container_port {
                errs.push(FieldError::invalid(
                    format!("{ppath}.containerPort"),
                    container_port,
                    "must match `hostPort` when `hostNetwork` is true",
                ));
            }
        }
        if let Some(proto) = str_at(p, &["protocol"]) {
            check_enum(proto, PROTOCOLS, &format!("{ppath}.protocol"), errs);
        }
    }
}

fn is_standard_container_resource(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// Requests and limits: known or domain-qualified names, valid non-negative quantities, and no
/// request above its limit.
pub(super) fn validate_resources(res: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let Some(res) = res else { return };
    let mut parsed: [BTreeMap<String, Quantity>; 2] = [BTreeMap::new(), BTreeMap::new()];
    for (slot, key) in ["limits", "requests"].into_iter().enumerate() {
        let Some(map) = obj_at(res, &[key]) else {
            continue;
        };
        let mut entries: Vec<(&String, &Value)> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in entries {
            let rpath = format!("{path}.{key}[{name}]");
            let qualified = name.contains('/') && is_qualified_name(name).is_empty();
            if !is_standard_container_resource(name) && !qualified {
                errs.push(FieldError::invalid_str(
                    &rpath,
                    name,
                    "must be a standard resource for containers",
                ));
                continue;
            }
            let text = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            match Quantity::parse(&text) {
                Err(e) => errs.push(FieldError::invalid_str(&rpath, &text, &e.to_string())),
                Ok(q) if q.is_negative() => errs.push(FieldError::invalid_str(
                    &rpath,
                    &q.to_string(),
                    NON_NEGATIVE_MSG,
                )),
                Ok(q) => {
                    parsed[slot].insert(name.clone(), q);
                }
            }
        }
    }
    let [limits, requests] = parsed;
    for (name, req) in &requests {
        if let Some(limit) = limits.get(name)
            && req > limit
        {
            errs.push(FieldError::invalid_str(
                format!("{path}.requests[{name}]"),
                &req.to_string(),
                &format!("must be less than or equal to {name} limit of {limit}"),
            ));
        }
    }
}

fn validate_probe(probe: &Value, path: &str, must_succeed_once: bool, errs: &mut Vec<FieldError>) {
    let present: Vec<&str> = PROBE_HANDLERS
        .iter()
        .copied()
        .filter(|h| get(probe, &[h]).is_some())
        .collect();
    match present.as_slice() {
        [] => errs.push(FieldError::required(path, "must specify a handler type")),
        [_] => {}
        [_, rest @ ..] => {
            for h in rest {
                errs.push(FieldError::forbidden(
                    format!("{path}.{h}"),
                    "may not specify more than 1 handler type",
                ));
            }
        }
    }
    for key in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
        "terminationGracePeriodSeconds",
    ] {
        if let Some(n) = i64_at(probe, &[key]).filter(|n| *n < 0) {
            errs.push(FieldError::invalid(
                format!("{path}.{key}"),
                n,
                NON_NEGATIVE_MSG,
            ));
        }
    }
    if must_succeed_once
        && let Some(n) = i64_at(probe, &["successThreshold"]).filter(|n| *n != 1 && *n >= 0)
    {
        errs.push(FieldError::invalid(
            format!("{path}.successThreshold"),
            n,
            "must be 1",
        ));
    }
    for handler in ["httpGet", "tcpSocket"] {
        if let Some(port) = get(probe, &[handler, "port"]) {
            validate_port_ref(port, &format!("{path}.{handler}.port"), errs);
        }
    }
}

/// A port given by number or by a named container port.
pub(super) fn validate_port_ref(port: &Value, path: &str, errs: &mut Vec<FieldError>) {
    match port {
        Value::String(name) => {
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid_str(path, name, msg));
            }
        }
        other => {
            let n = other.as_i64().unwrap_or(0);
            if let Some(msg) = port_num_error(n) {
                errs.push(FieldError::invalid(path, n, msg));
            }
        }
    }
}

/// Validates volumes and returns their names for the mounts to refer to.
fn validate_volumes(volumes: &[Value], path: &str, errs: &mut Vec<FieldError>) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let vpath = format!("{path}[{i}]");
        match str_at(v, &["name"]).unwrap_or_default() {
            "" => errs.push(FieldError::required(format!("{vpath}.name"), "")),
            name => {
                for msg in is_dns1123_label(name) {
                    errs.push(FieldError::invalid_str(format!("{vpath}.name"), name, &msg));
                }
                if !names.insert(name.to_string()) {
                    errs.push(FieldError::duplicate(
                        format!("{vpath}.name"),
                        go_quote(name),
                    ));
                }
            }
        }
        let sources: Vec<&String> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, val)| k.as_str() != "name" && !val.is_null())
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        match sources.as_slice() {
            [] => errs.push(FieldError::required(&vpath, "must specify a volume type")),
            [_] => {}
            [_, rest @ ..] => {
                for k in rest {
                    errs.push(FieldError::forbidden(
                        format!("{vpath}.{k}"),
                        "may not specify more than 1 volume type",
                    ));
                }
            }
        }
        let required = [
            ("configMap", "name"),
            ("secret", "secretName"),
            ("persistentVolumeClaim", "claimName"),
            ("hostPath", "path"),
            ("nfs", "server"),
            ("nfs", "path"),
        ];
        for (source, field) in required {
            if get(v, &[source]).is_some()
                && str_at(v, &[source, field]).unwrap_or_default().is_empty()
            {
                errs.push(FieldError::required(
                    format!("{vpath}.{source}.{field}"),
                    "",
                ));
            }
        }
        for source in ["configMap", "secret", "projected", "downwardAPI"] {
            if let Some(mode) = i64_at(v, &[source, "defaultMode"])
                && !(0..=0o777).contains(&mode)
            {
                errs.push(FieldError::invalid(
                    format!("{vpath}.{source}.defaultMode"),
                    mode,
                    "must be a number between 0 and 0777 (octal), both inclusive",
                ));
            }
        }
        if let Some(limit) = str_at(v, &["emptyDir", "sizeLimit"])
            && let Err(e) = Quantity::parse(limit)
        {
            errs.push(FieldError::invalid_str(
                format!("{vpath}.emptyDir.sizeLimit"),
                limit,
                &e.to_string(),
            ));
        }
        if let Some(medium) = str_at(v, &["emptyDir", "medium"]).filter(|m| !m.is_empty())
            && medium != "Memory"
            && !medium.starts_with("HugePages")
        {
            errs.push(FieldError::not_supported(
                format!("{vpath}.emptyDir.medium"),
                medium,
                &["", "Memory", "HugePages"],
            ));
        }
    }
    names
}

/// Everything but images, the active deadline, tolerations and the grace period is frozen.
fn validate_pod_update(old: &Value, new: &Value, errs: &mut Vec<FieldError>) {
    let masked = |pod: &Value| -> Value {
        let mut spec = get(pod, &["spec"]).cloned().unwrap_or(Value::Null);
        if let Some(obj) = spec.as_object_mut() {
            for key in [
                "activeDeadlineSeconds",
                "tolerations",
                "terminationGracePeriodSeconds",
            ] {
                obj.remove(key);
            }
            for key in ["containers", "initContainers"] {
                if let Some(Value::Array(list)) = obj.get_mut(key) {
                    for c in list.iter_mut() {
                        if let Some(c) = c.as_object_mut() {
                            c.remove("image");
                        }
                    }
                }
            }
        }
        spec
    };
    let (old_spec, new_spec) = (masked(old), masked(new));
    if old_spec != new_spec {
        let mut diff = String::new();
        if let (Some(o), Some(n)) = (old_spec.as_object(), new_spec.as_object()) {
            let keys: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
            for k in keys {
                if o.get(k) != n.get(k) {
                    if let Some(v) = o.get(k) {
                        diff.push_str(&format!("-\t{k}: {v}\n"));
                    }
                    if let Some(v) = n.get(k) {
                        diff.push_str(&format!("+\t{k}: {v}\n"));
                    }
                }
            }
        }
        errs.push(FieldError::forbidden(
            "spec",
            &format!("{POD_UPDATE_MSG}\n{diff}"),
        ));
    }
    if i64_at(old, &["spec", "activeDeadlineSeconds"]).is_some()
        && i64_at(new, &["spec", "activeDeadlineSeconds"]).is_none()
    {
        errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        ));
    }
}
