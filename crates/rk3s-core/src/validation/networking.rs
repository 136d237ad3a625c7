//! Ingress and NetworkPolicy validation: hosts, paths and path types, backends, peers, ports
//! and CIDRs.

use std::net::IpAddr;

use serde_json::Value;

use super::FieldError;
use super::json::{arr_at, get, i64_at, str_at};
use super::pod::{PROTOCOLS, check_enum, port_name_errors, port_num_error, validate_port_ref};
use crate::names::{is_dns1035_label, is_dns1123_subdomain};
use crate::selectors::LabelSelector;

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const CIDR_MSG: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// A host, possibly with a leading `*.` wildcard label.
fn host_errors(host: &str) -> Vec<String> {
    if host.parse::<IpAddr>().is_ok() {
        return vec!["must be a DNS name, not an IP address".to_string()];
    }
    match host.strip_prefix("*.") {
        Some(rest) => is_dns1123_subdomain(rest)
            .into_iter()
            .map(|_| "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
            .take(1)
            .collect(),
        None => is_dns1123_subdomain(host),
    }
}

fn validate_backend(b: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let service = get(b, &["service"]);
    let resource = get(b, &["resource"]);
    match (service, resource) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "networking.IngressBackend{...}",
            "cannot set both resource and service backends",
        )),
        (None, None) => errs.push(FieldError::invalid(
            path,
            "networking.IngressBackend{Service:(*networking.IngressServiceBackend)(nil), Resource:(*core.TypedLocalObjectReference)(nil)}",
            "resource or service backend is required",
        )),
        (Some(svc), None) => {
            match str_at(svc, &["name"]).unwrap_or_default() {
                "" => errs.push(FieldError::required(format!("{path}.service.name"), "")),
                name => {
                    for msg in is_dns1035_label(name) {
                        errs.push(FieldError::invalid_str(format!("{path}.service.name"), name, &msg));
                    }
                }
            }
            let port_name = str_at(svc, &["port", "name"]).filter(|n| !n.is_empty());
            let number = i64_at(svc, &["port", "number"]).filter(|n| *n != 0);
            let ppath = format!("{path}.service.port");
            match (port_name, number) {
                (Some(_), Some(_)) => errs.push(FieldError::invalid(
                    &ppath,
                    "networking.ServiceBackendPort{...}",
                    "cannot set both port name & port number",
                )),
                (Some(n), None) => {
                    for msg in port_name_errors(n) {
                        errs.push(FieldError::invalid_str(format!("{ppath}.name"), n, msg));
                    }
                }
                (None, Some(n)) => {
                    if let Some(msg) = port_num_error(n) {
                        errs.push(FieldError::invalid(format!("{ppath}.number"), n, msg));
                    }
                }
                (None, None) => errs.push(FieldError::required(
                    format!("{ppath}.name"),
                    "port name or number is required",
                )),
            }
        }
        (None, Some(res)) => {
            for key in ["kind", "name"] {
                if str_at(res, &[key]).unwrap_or_default().is_empty() {
                    errs.push(FieldError::required(format!("{path}.resource.{key}"), ""));
                }
            }
        }
    }
}

fn validate_path(p: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let text = str_at(p, &["path"]).unwrap_or_default();
    match str_at(p, &["pathType"]) {
        None => errs.push(FieldError::required(
            format!("{path}.pathType"),
            "pathType must be specified",
        )),
        Some(pt) if !PATH_TYPES.contains(&pt) => errs.push(FieldError::not_supported(
            format!("{path}.pathType"),
            pt,
            PATH_TYPES,
        )),
        Some("ImplementationSpecific") => {
            if !text.is_empty() && !text.starts_with('/') {
                errs.push(FieldError::invalid_str(
                    format!("{path}.path"),
                    text,
                    "must be an absolute path",
                ));
            }
        }
        Some(_) => {
            if !text.starts_with('/') {
                errs.push(FieldError::invalid_str(
                    format!("{path}.path"),
                    text,
                    "must be an absolute path",
                ));
            }
            for bad in ["//", "/./", "/../", "%2f", "%2F"] {
                if text.contains(bad) {
                    errs.push(FieldError::invalid_str(
                        format!("{path}.path"),
                        text,
                        &format!("must not contain '{bad}'"),
                    ));
                }
            }
            for bad in ["/..", "/."] {
                if text.ends_with(bad) {
                    errs.push(FieldError::invalid_str(
                        format!("{path}.path"),
                        text,
                        &format!("cannot end with '{bad}'"),
                    ));
                }
            }
        }
    }
    match get(p, &["backend"]) {
        None => errs.push(FieldError::required(format!("{path}.backend"), "")),
        Some(b) => validate_backend(b, &format!("{path}.backend"), errs),
    }
}

pub(super) fn validate_ingress(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    let rules = arr_at(spec, &["rules"]);
    let default_backend = get(spec, &["defaultBackend"]);
    if rules.is_empty() && default_backend.is_none() {
        errs.push(FieldError::invalid(
            "spec",
            "[]networking.IngressRule(nil)",
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        validate_backend(b, "spec.defaultBackend", errs);
    }
    if let Some(class) = str_at(spec, &["ingressClassName"]) {
        for msg in is_dns1123_subdomain(class) {
            errs.push(FieldError::invalid_str(
                "spec.ingressClassName",
                class,
                &msg,
            ));
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        let rpath = format!("spec.rules[{i}]");
        if let Some(host) = str_at(rule, &["host"]).filter(|h| !h.is_empty()) {
            for msg in host_errors(host) {
                errs.push(FieldError::invalid_str(format!("{rpath}.host"), host, &msg));
            }
        }
        if get(rule, &["http"]).is_some() {
            let paths = arr_at(rule, &["http", "paths"]);
            if paths.is_empty() {
                errs.push(FieldError::required(format!("{rpath}.http.paths"), ""));
            }
            for (j, p) in paths.iter().enumerate() {
                validate_path(p, &format!("{rpath}.http.paths[{j}]"), errs);
            }
        }
    }
    for (i, tls) in arr_at(spec, &["tls"]).iter().enumerate() {
        for (j, host) in arr_at(tls, &["hosts"]).iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            for msg in host_errors(host) {
                errs.push(FieldError::invalid_str(
                    format!("spec.tls[{i}].hosts[{j}]"),
                    host,
                    &msg,
                ));
            }
        }
    }
}

fn valid_cidr(cidr: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn validate_selector(sel: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if let Err(e) = LabelSelector::from_json(sel) {
        errs.push(FieldError::invalid(
            path,
            super::fmt::go_label_selector(Some(sel)),
            &e.to_string(),
        ));
    }
}

pub(super) fn validate_network_policy(new: &Value, errs: &mut Vec<FieldError>) {
    let spec = get(new, &["spec"]).unwrap_or(&Value::Null);
    match get(spec, &["podSelector"]) {
        Some(sel) => validate_selector(sel, "spec.podSelector", errs),
        None => errs.push(FieldError::required("spec.podSelector", "")),
    }
    for (key, peers_key) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in arr_at(spec, &[key]).iter().enumerate() {
            let rpath = format!("spec.{key}[{i}]");
            for (j, port) in arr_at(rule, &["ports"]).iter().enumerate() {
                let ppath = format!("{rpath}.ports[{j}]");
                if let Some(proto) = str_at(port, &["protocol"]) {
                    check_enum(proto, PROTOCOLS, &format!("{ppath}.protocol"), errs);
                }
                if let Some(p) = get(port, &["port"]) {
                    validate_port_ref(p, &format!("{ppath}.port"), errs);
                }
                if let Some(end) = i64_at(port, &["endPort"]) {
                    match get(port, &["port"]) {
                        Some(Value::Number(n)) => {
                            if end < n.as_i64().unwrap_or(0) {
                                errs.push(FieldError::invalid(
                                    format!("{ppath}.endPort"),
                                    end,
                                    "must be greater than or equal to `port`",
                                ));
                            }
                        }
                        _ => errs.push(FieldError::required(
                            format!("{ppath}.port"),
                            "must specify a numeric port when `endPort` is set",
                        )),
                    }
                }
            }
            for (j, peer) in arr_at(rule, &[peers_key]).iter().enumerate() {
                let ppath = format!("{rpath}.{peers_key}[{j}]");
                let pod_sel = get(peer, &["podSelector"]);
                let ns_sel = get(peer, &["namespaceSelector"]);
                let ip_block = get(peer, &["ipBlock"]);
                match (pod_sel.is_some() || ns_sel.is_some(), ip_block) {
                    (false, None) => errs.push(FieldError::required(&ppath, "must specify a peer")),
                    (true, Some(_)) => errs.push(FieldError::forbidden(
                        &ppath,
                        "may not specify both ipBlock and another peer",
                    )),
                    _ => {}
                }
                if let Some(s) = pod_sel {
                    validate_selector(s, &format!("{ppath}.podSelector"), errs);
                }
                if let Some(s) = ns_sel {
                    validate_selector(s, &format!("{ppath}.namespaceSelector"), errs);
                }
                if let Some(block) = ip_block {
                    let cidr = str_at(block, &["cidr"]).unwrap_or_default();
                    let bpath = format!("{ppath}.ipBlock");
                    if cidr.is_empty() {
                        errs.push(FieldError::required(format!("{bpath}.cidr"), ""));
                    } else if valid_cidr(cidr).is_none() {
                        errs.push(FieldError::invalid_str(
                            format!("{bpath}.cidr"),
                            cidr,
                            CIDR_MSG,
                        ));
                    }
                    for (k, ex) in arr_at(block, &["except"]).iter().enumerate() {
                        let ex = ex.as_str().unwrap_or_default();
                        if valid_cidr(ex).is_none() {
                            errs.push(FieldError::invalid_str(
                                format!("{bpath}.except[{k}]"),
                                ex,
                                CIDR_MSG,
                            ));
                        }
                    }
                }
            }
        }
    }
    let types = arr_at(spec, &["policyTypes"]);
    for (i, t) in types.iter().enumerate() {
        let t = t.as_str().unwrap_or_default();
        if t != "Ingress" && t != "Egress" {
            errs.push(FieldError::not_supported(
                format!("spec.policyTypes[{i}]"),
                t,
                &["Ingress", "Egress"],
            ));
        }
    }
    if types.len() > 2 {
        let list: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
        errs.push(FieldError::invalid(
            "spec.policyTypes",
            format!(
                "[]networking.PolicyType{{{}}}",
                list.iter()
                    .map(|s| super::fmt::go_quote(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "may not specify more than two policyTypes",
        ));
    }
}
